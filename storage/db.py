"""Engines for the two supported databases, configured for one short transaction per answer.

lensbot uses SQLAlchemy's synchronous engine: measured on this project's machines a
three-statement transaction costs ~0.25 ms on sqlite3 against ~1.9 ms through the async
engine with aiosqlite, and every answer is its own transaction. Plain URLs are accepted
(`sqlite:///lensbot.db`, `postgresql://user@host/db`); the driver is chosen here.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

DEFAULT_URL = "sqlite:///lensbot.db"
SQLITE_BUSY_TIMEOUT_MS = 5000   # default; the settings (LENSBOT_SQLITE_BUSY_TIMEOUT_MS) pass another


def database_url(url: str | None = None) -> str:
    return url or DEFAULT_URL


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


def make_engine(url: str | None = None, busy_timeout_ms: int | None = None, **kwargs: Any) -> Engine:
    """An engine for `url`; `busy_timeout_ms` is how long a SQLite transaction waits for another
    writer's lock before giving up (default SQLITE_BUSY_TIMEOUT_MS)."""
    full = normalise_url(database_url(url))
    if full.startswith("sqlite"):
        busy_ms = SQLITE_BUSY_TIMEOUT_MS if busy_timeout_ms is None else busy_timeout_ms
        engine = create_engine(full, connect_args={"timeout": busy_ms / 1000}, hide_parameters=True, **kwargs)
        _configure_sqlite(engine, busy_ms)
        return engine
    engine = create_engine(full, isolation_level="AUTOCOMMIT", hide_parameters=True, **kwargs)
    _configure_postgresql(engine)
    return engine


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def _configure_postgresql(engine: Engine) -> None:
    """BEGIN sent by us, at the start of the transaction, instead of by psycopg with its first statement.

    The driver runs in autocommit mode, and every SQLAlchemy transaction starts with an explicit
    BEGIN (COMMIT and ROLLBACK stay psycopg's: it sends them whenever the server is in a
    transaction). The round trips are those of before, but a pooled connection that the server
    closed (a restart) now fails at the BEGIN, before anything of the caller has run, and
    Store.transaction() takes a fresh connection and begins again (see Store._begun). That
    replaces pool_pre_ping, which cost one more round trip on every checkout: 1 of the 9 an
    answer cost.
    """

    import psycopg  # here: a SQLite-only start does not load it

    @event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        if conn.get_execution_options().get("isolation_level") == "AUTOCOMMIT":
            return   # asked for on purpose (VACUUM, CREATE INDEX CONCURRENTLY): no transaction
        try:
            conn.connection.dbapi_connection.execute("BEGIN")
        except psycopg.Error as exc:
            raise DBAPIError.instance("BEGIN", (), exc, psycopg.Error) from exc


def _configure_sqlite(engine: Engine, busy_ms: int = SQLITE_BUSY_TIMEOUT_MS) -> None:
    """WAL, busy timeout, foreign keys, synchronous=FULL, secure_delete, and BEGIN IMMEDIATE.

    synchronous=FULL: in WAL mode NORMAL syncs the WAL only at a checkpoint, so an answer the
    user saw acknowledged could roll back after a power loss; FULL syncs it at every commit
    (what that costs per answer: bench/sync_cost.py, bench/README.md). secure_delete: deleted
    rows (an erased case's note) are overwritten with zeros instead of left in free space; with
    checkpoint() after an erasure they are then in neither the database file nor its -wal file.

    IMMEDIATE takes the write lock at the start of the transaction: a transaction that read the
    case and then writes its answer can then never fail half-way on a lock upgrade, it waits
    (up to the busy timeout) before it has done anything.
    """

    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={busy_ms}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA secure_delete=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        # Straight on the sqlite3 connection rather than conn.exec_driver_sql: the statement needs
        # no compilation, parameters or result, and skipping SQLAlchemy's execution path makes
        # every transaction 57 µs instead of 82 µs (an empty BEGIN IMMEDIATE ... COMMIT, median).
        # A busy timeout still surfaces as SQLAlchemy's OperationalError, as exec_driver_sql raised it.
        try:
            conn.connection.dbapi_connection.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise DBAPIError.instance("BEGIN IMMEDIATE", (), exc, sqlite3.Error) from exc


def checkpoint(engine: Engine) -> bool:
    """SQLite: copy the WAL into the database file and truncate the WAL to zero bytes.

    Run after an erasure: the WAL still holds the pages as they were before the delete (the
    note), until a checkpoint copies the zeroed pages back and the file is truncated. Waits up to
    the busy timeout for readers of an older snapshot; False if one still held it (the WAL then
    keeps its frames until the next checkpoint). PostgreSQL: nothing to do here (True).
    """
    if not is_sqlite(engine):
        return True
    raw = engine.raw_connection()
    try:
        busy, _, _ = raw.driver_connection.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    finally:
        raw.close()
    return busy == 0
