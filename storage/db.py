"""Engines for the two supported databases, configured for one short transaction per answer.

lensbot uses SQLAlchemy's synchronous engine: measured on this project's machines a
three-statement transaction costs ~0.25 ms on sqlite3 against ~1.9 ms through the async
engine with aiosqlite, and every answer is its own transaction. Plain URLs are accepted
(`sqlite:///lensbot.db`, `postgresql://user@host/db`); the driver is chosen here.
"""

from __future__ import annotations

import os
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url

DEFAULT_URL = "sqlite:///lensbot.db"
SQLITE_BUSY_TIMEOUT_MS = 5000


def database_url(url: str | None = None) -> str:
    return url or os.environ.get("LENSBOT_DATABASE_URL") or DEFAULT_URL


def normalise_url(url: str) -> str:
    """Map plain URLs to the drivers lensbot ships with (sqlite3 and psycopg 3)."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend in ("postgres", "postgresql"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    elif backend == "sqlite":
        parsed = parsed.set(drivername="sqlite+pysqlite")
    else:
        raise ValueError(f"unsupported database '{backend}': use sqlite:///FILE or postgresql://...")
    return parsed.render_as_string(hide_password=False)


def make_engine(url: str | None = None, **kwargs: Any) -> Engine:
    full = normalise_url(database_url(url))
    if full.startswith("sqlite"):
        engine = create_engine(full, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}, **kwargs)
        _configure_sqlite(engine)
        return engine
    return create_engine(full, pool_pre_ping=True, **kwargs)


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def _configure_sqlite(engine: Engine) -> None:
    """WAL, busy timeout, foreign keys, and BEGIN IMMEDIATE.

    IMMEDIATE takes the write lock at the start of the transaction: a transaction that read the
    case and then writes its answer can then never fail half-way on a lock upgrade, it waits
    (up to the busy timeout) before it has done anything.
    """

    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")
