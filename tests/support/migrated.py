"""A fresh SQLite database at the schema's head, as a copy of one migrated once per test process.

Running the migrations (Alembic, its scripts, a dozen CREATE statements) costs ~50 ms of CPU idle and
0.1 s loaded, and most tests need a fresh database only to start from (the `store` fixture, the
in-process Telegram bot of tests/support/harness.py); a copy of the small migrated file costs well under
a millisecond and holds the very same schema. The migrations themselves stay tested where they are the
subject: tests/test_storage_queries.py goes down and up again, every `lensbot` process in the suite
migrates its own new file, and every PostgreSQL test migrates its own schema.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from pathlib import Path

from storage import migrate
from storage.repo import Store

_template: list[Path] = []


def _migrated_template() -> Path:
    if not _template:
        folder = Path(tempfile.mkdtemp(prefix="lensbot-migrated-"))
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
        path = folder / "lensbot.db"
        store = Store(f"sqlite:///{path}")
        try:
            store.upgrade()
            assert migrate.is_current(store.engine)
        finally:
            store.dispose()   # the last connection: SQLite checkpoints the WAL into the file and removes it
        assert not path.with_name(path.name + "-wal").exists()
        _template.append(path)
    return _template[0]


def sqlite_path(url: str) -> Path | None:
    """The file of an SQLite URL (sqlite:///path), None for another database or SQLite in memory."""
    return Path(url.removeprefix("sqlite:///")) if url.startswith("sqlite:///") else None


def start_migrated(url: str) -> bool:
    """Make the database at `url` a fresh one at the schema's head, when it is an SQLite file that does
    not exist yet; whether it did (otherwise the caller migrates as before)."""
    path = sqlite_path(url)
    if path is None or path.exists():
        return False
    shutil.copyfile(_migrated_template(), path)
    return True
