"""Schema migrations with Alembic, run from code so no alembic.ini has to be found on disk."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

if TYPE_CHECKING:
    from alembic.config import Config

# Alembic is imported inside the functions: it costs ~0.1 s of CPU (a sixth of `lensbot` start-up), and
# commands that never open a database (assess, matrix check, dialog graph) should not pay for it.

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(engine: Engine) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    from alembic import command

    command.upgrade(alembic_config(engine), revision)


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision(engine: Engine) -> str | None:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config(engine)).get_current_head()


def is_current(engine: Engine) -> bool:
    """Whether the database is at the newest revision: what every command that opens a database asks first.

    Answered without Alembic when it can be (~0.1 s of CPU less for each `lensbot` command on an existing
    database): the revision in alembic_version against the one head of the scripts' revision chain,
    read from their `revision = ...`/`down_revision = ...` lines. Anything unusual (no single head, a
    version row that is not one plain revision) is left to Alembic, as before.
    """
    head, current = _plain_head(), _plain_current(engine)
    if head is None or current is False:
        return current_revision(engine) == head_revision(engine)
    return current == head


_REVISION = re.compile(r"""^(down_revision|revision)\s*(?::[^=]*)?=\s*(None|['"](\w+)['"])\s*(?:#.*)?$""", re.M)


def _plain_head() -> str | None:
    """The one revision no script names as its down_revision; None when the chain is not that simple."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for script in (MIGRATIONS / "versions").glob("*.py"):
        found = {key: name for key, _, name in _REVISION.findall(script.read_text(encoding="utf-8"))}
        if "revision" not in found or not found["revision"] or "down_revision" not in found:
            return None   # a merge (a tuple of down revisions) or a layout this reader does not know
        revisions.add(found["revision"])
        if found["down_revision"]:
            parents.add(found["down_revision"])
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 and parents <= revisions else None


def _plain_current(engine: Engine) -> str | bool | None:
    """The revision alembic_version holds (None: no table or no row, as a new database); False when it
    holds more than one row (branches: Alembic decides)."""
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    except DBAPIError:
        with engine.connect() as conn:
            if not engine.dialect.has_table(conn, "alembic_version"):
                return None
        raise
    if len(rows) > 1:
        return False
    return rows[0] if rows else None
