"""Shared fixtures: the default lens, and a fresh database on SQLite and (when configured) PostgreSQL.

PostgreSQL tests run when LENSBOT_TEST_POSTGRES_URL is set (`.ci/run` sets it); each test gets
its own schema so tests never see each other's rows.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from matrix.lens import Lens
from matrix.loader import load_lens
from storage.db import normalise_url
from storage.repo import Store

POSTGRES_URL = os.environ.get("LENSBOT_TEST_POSTGRES_URL")


@pytest.fixture(scope="session")
def lens() -> Lens:
    return load_lens()


def _postgres_schema_url() -> Iterator[str]:
    assert POSTGRES_URL
    schema = f"lb_{uuid.uuid4().hex[:12]}"
    admin = create_engine(normalise_url(POSTGRES_URL))
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in POSTGRES_URL else "?"
    try:
        yield f"{POSTGRES_URL}{sep}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database URL for a fresh, empty database on each supported engine."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'lensbot.db'}"
        return
    if not POSTGRES_URL:
        pytest.skip("LENSBOT_TEST_POSTGRES_URL is not set")
    yield from _postgres_schema_url()


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    s = Store(db_url)
    s.upgrade()
    yield s
    s.dispose()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'lensbot.db'}"


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Say how many PostgreSQL-parametrised tests passed, so CI can insist on more than zero."""
    passed = [r for r in terminalreporter.stats.get("passed", []) if "[postgresql" in r.nodeid]
    terminalreporter.write_line(f"postgresql tests passed: {len(passed)}")
