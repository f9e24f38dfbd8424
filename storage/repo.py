"""The repository: the only code that opens database connections.

One answer is one short transaction (`Store.transaction()`): read the case (row-locked on
PostgreSQL, under SQLite's write lock otherwise), check the step, write, commit. SQLAlchemy
Core statements keep that transaction cheap; the ORM classes in models.py define the schema.
Reads outside a transaction go through `Store.reading()`. Either way, every database error
reaches the caller as StorageUnavailable (a unique-key collision as its subclass StorageConflict).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, delete, func, insert, or_, select, text, update
from sqlalchemy import case as sql_case
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError, IntegrityError, SQLAlchemyError

from storage import migrate
from storage.db import checkpoint, is_sqlite, make_engine
from storage.models import (
    Answer,
    AnswerLog,
    AuditEntry,
    Case,
    CaseMessage,
    Housekeeping,
    LensVersion,
    Note,
    ProcessedUpdate,
    StatsContributor,
    StatsCount,
    StatsSalt,
    User,
    WebSession,
)

CONTRIBUTORS_NEEDED = 3   # distinct professionals a cell of the local picture needs (dialogs/counts.py)
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: codes are read aloud and retyped


class StorageUnavailable(Exception):
    """The database could not be reached, stayed locked or failed otherwise; nothing was written."""


class StorageConflict(StorageUnavailable):
    """A write collided with a row that must be unique (a race with another writer); nothing was written."""


def _storage_error(exc: SQLAlchemyError) -> StorageUnavailable:
    detail = str(getattr(exc, "orig", None) or exc)
    return StorageConflict(detail) if isinstance(exc, IntegrityError) else StorageUnavailable(detail)


class SchemaOutdated(Exception):
    """The database schema is older than this lensbot; run `lensbot db upgrade`."""


def now() -> datetime:
    return datetime.now(UTC)


def new_case_code() -> str:
    """A pseudonymous code like K7-QX3M: short enough to type, ~30 bits of randomness."""
    pick = secrets.choice
    return "".join(pick(CODE_ALPHABET) for _ in range(2)) + "-" + "".join(pick(CODE_ALPHABET) for _ in range(4))


def normalise_code(code: str) -> str:
    # NUL is never part of a code, and PostgreSQL cannot even compare a text with one in it
    code = code.replace("\x00", "").strip().upper().replace(" ", "")
    if len(code) == 6 and "-" not in code:
        code = f"{code[:2]}-{code[2:]}"
    return code


@dataclass(frozen=True)
class UserRow:
    id: int
    channel: str
    external_id: str
    role: str
    lang: str
    source: str = "database"     # users.role_source: "database" or "configuration" (LENSBOT_ADMIN_IDS)
    configured: bool = False     # set by dialogs.access: the role is admin because of LENSBOT_ADMIN_IDS


@dataclass
class CaseRow:
    id: int
    code: str
    user_id: int
    mode: str
    status: str
    state: str
    step: int
    trail: list[int]
    skipped: list[str]
    lang: str
    lens_version: str
    created_at: datetime
    updated_at: datetime
    script: list[int] | None = None
    vignette: str | None = None
    completed_at: datetime | None = None


@dataclass(frozen=True)
class CaseSummary:
    code: str
    mode: str
    status: str
    state: str
    answers: int
    lens_version: str
    created_at: datetime
    updated_at: datetime
    vignette: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "code": self.code, "mode": self.mode, "status": self.status, "state": self.state,
            "answers": self.answers, "lens_version": self.lens_version,
            "created": self.created_at.isoformat(timespec="seconds"),
            "updated": self.updated_at.isoformat(timespec="seconds"),
        }


_CASE_COLUMNS = (Case.id, Case.code, Case.user_id, Case.mode, Case.status, Case.state, Case.step, Case.trail,
                 Case.skipped, Case.lang, Case.lens_version, Case.created_at, Case.updated_at, Case.script,
                 Case.vignette, Case.completed_at)


def _case_row(row: Any) -> CaseRow:
    # positional, not row.id, row.code, ...: a Row's attribute lookup costs ~0.5 µs a column
    (id_, code, user_id, mode, status, state, step, trail, skipped, lang, lens_version, created_at, updated_at,
     script, vignette, completed_at) = row
    return CaseRow(
        id=id_, code=code, user_id=user_id, mode=mode, status=status, state=state,
        step=step, trail=[int(x) for x in trail.split(",") if x],
        skipped=[x for x in skipped.split(",") if x], lang=lang, lens_version=lens_version,
        created_at=aware(created_at), updated_at=aware(updated_at),
        script=None if script is None else [int(x) for x in script.split(",") if x], vignette=vignette,
        completed_at=aware(completed_at) if completed_at else None,
    )


def aware(value: datetime) -> datetime:
    """SQLite hands back naive datetimes; everything stored is UTC."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)


class _Hot:
    """A per-answer statement, built once, that runs straight on the sqlite3 cursor on SQLite.

    Through `Connection.execute` a statement costs ~61 µs on SQLite, of which the database's part
    is ~16 µs: the rest is SQLAlchemy's per-execution work (cache key, parameters, result object).
    An answer runs six of these, so on SQLite they skip it: the statement is compiled once,
    SQLAlchemy's own bind and result processors are applied (datetimes are stored exactly as
    before), and sqlite3 errors are raised as SQLAlchemy's exceptions. One handle() of an answer
    went from 741 to 392 µs (median, bench/hot_path.py's intakes, timed per part). PostgreSQL, whose
    cost is the round trip, keeps `Connection.execute` and with it the pool's disconnect handling.
    """

    def __init__(self, stmt: Any, keys: tuple[str, ...] = ()) -> None:
        self.stmt, self.keys = stmt, keys
        self._compiled: tuple[str, tuple[str, ...], list[Any], list[Any]] | None = None

    def _sqlite(self, conn: Connection) -> tuple[str, tuple[str, ...], list[Any], list[Any]]:
        if self._compiled is None:
            dialect = conn.dialect
            compiled = self.stmt.compile(dialect=dialect, column_keys=list(self.keys) or None)
            names = tuple(compiled.positiontup or ())
            binds = [compiled.binds[n].type.dialect_impl(dialect).bind_processor(dialect) for n in names]
            columns = getattr(self.stmt, "selected_columns", ())
            results = [c.type.dialect_impl(dialect).result_processor(dialect, None) for c in columns]
            self._compiled = (compiled.string, names, binds, results)
        return self._compiled

    def _run(self, conn: Connection, params: dict[str, Any] | list[dict[str, Any]]) -> Any:
        sql, names, binds, _ = self._sqlite(conn)

        def args(p: dict[str, Any]) -> tuple[Any, ...]:
            return tuple(b(p[n]) if b else p[n] for n, b in zip(names, binds, strict=True))

        cursor = conn.connection.dbapi_connection.cursor()
        try:
            if isinstance(params, list):
                cursor.executemany(sql, [args(p) for p in params])
            else:
                cursor.execute(sql, args(params))
        except sqlite3.Error as exc:
            raise DBAPIError.instance(sql, params, exc, sqlite3.Error) from exc
        return cursor

    def rows(self, conn: Connection, params: dict[str, Any], direct: bool) -> list[Any]:
        if not direct:
            return conn.execute(self.stmt, params).all()
        cursor = self._run(conn, params)
        rows = cursor.fetchall()
        cursor.close()
        results = self._sqlite(conn)[3]
        if any(results):
            rows = [tuple(r(v) if r else v for r, v in zip(results, row, strict=True)) for row in rows]
        return rows

    def write(self, conn: Connection, params: dict[str, Any] | list[dict[str, Any]], direct: bool) -> int:
        if not direct:
            return conn.execute(self.stmt, params).rowcount
        cursor = self._run(conn, params)
        count = cursor.rowcount
        cursor.close()
        return count


# The per-answer statements are built once: constructing a Core statement costs more than
# running it on SQLite, and every answer runs these.
_LOAD_CASE = select(*_CASE_COLUMNS).where(Case.code == bindparam("b_code"))
_LOAD_CASE_LOCKED = _LOAD_CASE.with_for_update()
_ANSWERS = select(Answer.item_id, Answer.value).where(Answer.case_id == bindparam("b_case"))
_INSERT_LOG = insert(AnswerLog)
_LOG_KEYS = ("case_id", "item_id", "value", "at")


def _per_dialect() -> dict[str, tuple[Any, Any]]:
    """(claim, upsert answer) for each dialect: one statement each instead of two or three.

    Both dialects speak INSERT ... ON CONFLICT. Measured side by side on SQLite / PostgreSQL
    (bench/README.md, "what we changed"): claiming an update id with ON CONFLICT DO NOTHING and
    its rowcount costs 83 / 324 µs against 521 / 1022 µs for the former SAVEPOINT + INSERT +
    RELEASE; the answer upsert 99 / 336 µs against 170 / 574 µs for UPDATE, then INSERT.
    """
    out = {}
    for name, dialect in (("sqlite", sqlite), ("postgresql", postgresql)):
        claim = (dialect.insert(ProcessedUpdate).on_conflict_do_nothing(index_elements=["channel", "update_id"])
                 .execution_options(preserve_rowcount=True))   # an INSERT's rowcount is otherwise not kept
        ins = dialect.insert(Answer)
        upsert = ins.on_conflict_do_update(index_elements=["case_id", "item_id"],
                                           set_={"value": ins.excluded.value, "answered_at": ins.excluded.answered_at})
        out[name] = (_Hot(claim, ("channel", "update_id", "at")),
                     _Hot(upsert, ("case_id", "item_id", "value", "answered_at")))
    return out


_CLAIM_UPSERT = _per_dialect()
_SAVE_CASE = _Hot(update(Case).where(Case.id == bindparam("b_id")).values(
    state=bindparam("b_state"), step=bindparam("b_step"), status=bindparam("b_status"), lang=bindparam("b_lang"),
    mode=bindparam("b_mode"), script=bindparam("b_script"), trail=bindparam("b_trail"),
    skipped=bindparam("b_skipped"), updated_at=bindparam("b_at")))
_COMPLETE_CASE = update(Case).where(Case.id == bindparam("b_id")).values(completed_at=bindparam("b_at"))
_HOT_LOAD_CASE = _Hot(_LOAD_CASE)
_HOT_LOAD_CASE_LOCKED = _Hot(_LOAD_CASE_LOCKED)
_HOT_ANSWERS = _Hot(_ANSWERS)
_HOT_INSERT_LOG = _Hot(_INSERT_LOG, _LOG_KEYS)
# The case with its owner's rights (dialogs/access.py checks them in the acting transaction).
_LOAD_OWNED = (select(*_CASE_COLUMNS, User.role, User.role_source).join(User, User.id == Case.user_id)
               .where(Case.code == bindparam("b_code")))
_HOT_LOAD_OWNED = _Hot(_LOAD_OWNED)
_HOT_LOAD_OWNED_LOCKED = _Hot(_LOAD_OWNED.with_for_update(of=Case))
_HOT_RIGHTS = _Hot(select(User.role, User.role_source).where(User.id == bindparam("b_user")))
# A case's notes and answer log, read for every summary, report and dossier: built once, as above.
_HOT_NOTES = _Hot(select(Note.text).where(Note.case_id == bindparam("b_case")).order_by(Note.id))
_HOT_DATED_NOTES = _Hot(select(Note.text, Note.created_at).where(Note.case_id == bindparam("b_case"))
                        .order_by(Note.id))
_HOT_ANSWER_LOG = _Hot(select(AnswerLog.item_id, AnswerLog.value).where(AnswerLog.case_id == bindparam("b_case"))
                       .order_by(AnswerLog.id))

# PostgreSQL: the answer's writes (upsert the current answers, append them to the log, save the
# case) as one statement, one round trip instead of three. The changes travel as two arrays;
# WITH ORDINALITY keeps their order in the log. The three parts touch different tables, so
# their shared snapshot changes nothing; the case row is already locked by load_case.
_PG_WRITE_ANSWER = text("""WITH changes AS (
    SELECT c.item_id, c.value, c.n
    FROM unnest(CAST(:b_items AS text[]), CAST(:b_values AS text[])) WITH ORDINALITY AS c(item_id, value, n)
), upserted AS (
    INSERT INTO answers (case_id, item_id, value, answered_at)
    SELECT :b_id, item_id, value, :b_at FROM changes
    ON CONFLICT (case_id, item_id) DO UPDATE SET value = excluded.value, answered_at = excluded.answered_at
), logged AS (
    INSERT INTO answer_log (case_id, item_id, value, at)
    SELECT :b_id, item_id, value, :b_at FROM changes ORDER BY n
)
UPDATE cases SET state = :b_state, step = :b_step, status = :b_status, lang = :b_lang, mode = :b_mode,
    script = :b_script, trail = :b_trail, skipped = :b_skipped, updated_at = :b_at,
    completed_at = CASE WHEN CAST(:b_done AS boolean) THEN :b_at ELSE completed_at END
WHERE id = :b_id
""")


class Tx:
    """Statements available inside one transaction.

    On PostgreSQL the answers given to set_answers wait for save_case and go with it in one
    statement (_PG_WRITE_ANSWER); any other statement of this Tx, and the end of the
    transaction, writes them first, so the order of effects within the transaction is kept.
    """

    def __init__(self, conn: Connection, lock_rows: bool) -> None:
        self._conn = conn
        self._lock = lock_rows
        self._direct = conn.dialect.name == "sqlite"   # see _Hot
        self._claim, self._upsert = _CLAIM_UPSERT[conn.dialect.name]
        self._dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
        self._pending: tuple[int, dict[str, str], datetime] | None = None   # PostgreSQL: see above

    @property
    def conn(self) -> Connection:
        """The connection, for statements of storage/ itself; pending answers are written first."""
        self.flush()
        return self._conn

    def flush(self) -> None:
        """Write answers still waiting for save_case (PostgreSQL only; nothing waits on SQLite)."""
        if self._pending is not None:
            case_id, changes, at = self._pending
            self._pending = None
            self._write_answers(case_id, changes, at)

    def _write_answers(self, case_id: int, changes: dict[str, str], at: datetime) -> None:
        self._upsert.write(self._conn, [
            {"case_id": case_id, "item_id": item, "value": value, "answered_at": at}
            for item, value in changes.items()
        ], self._direct)
        _HOT_INSERT_LOG.write(self._conn, [
            {"case_id": case_id, "item_id": item, "value": value, "at": at} for item, value in changes.items()
        ], self._direct)

    def load_case(self, code: str) -> CaseRow | None:
        self.flush()
        stmt = _HOT_LOAD_CASE_LOCKED if self._lock else _HOT_LOAD_CASE
        rows = stmt.rows(self._conn, {"b_code": normalise_code(code)}, self._direct)
        return _case_row(rows[0]) if rows else None

    def load_owned_case(self, code: str) -> tuple[CaseRow, str, str] | None:
        """The case with its owner's stored role and role source, read in one statement: a use case
        checks the owner's rights as they are now, in the transaction that acts (no extra round trip)."""
        self.flush()
        stmt = _HOT_LOAD_OWNED_LOCKED if self._lock else _HOT_LOAD_OWNED
        rows = stmt.rows(self._conn, {"b_code": normalise_code(code)}, self._direct)
        if not rows:
            return None
        *case, role, source = rows[0]
        return _case_row(case), role, source

    def rights(self, user_id: int) -> tuple[str, str] | None:
        """(role, role source) of a user as stored now, or None when the user is gone."""
        self.flush()
        rows = _HOT_RIGHTS.rows(self._conn, {"b_user": user_id}, self._direct)
        return (rows[0][0], rows[0][1]) if rows else None

    def answers(self, case_id: int) -> dict[str, str]:
        self.flush()
        # dict() over the rows as pairs, not r.item_id / r.value per row: for a case with all 93
        # answers 175 µs against 520 µs on SQLite (392 against 704 µs on PostgreSQL), every answer.
        return dict(_HOT_ANSWERS.rows(self._conn, {"b_case": case_id}, self._direct))

    def set_answers(self, case_id: int, changes: dict[str, str], at: datetime) -> None:
        """Upsert the current answers and append every change to the log."""
        self.flush()
        if not changes:
            return
        if self._direct:
            self._write_answers(case_id, changes, at)
        else:
            self._pending = (case_id, dict(changes), at)

    def save_case(self, case: CaseRow, at: datetime, completed: bool = False) -> None:
        params = {
            "b_id": case.id, "b_state": case.state, "b_step": case.step, "b_status": case.status,
            "b_lang": case.lang, "b_mode": case.mode,
            "b_script": None if case.script is None else ",".join(map(str, case.script)),
            "b_trail": ",".join(map(str, case.trail)), "b_skipped": ",".join(case.skipped), "b_at": at,
        }
        pending, self._pending = self._pending, None
        if pending is not None and pending[0] == case.id:
            _, changes, answered_at = pending
            if answered_at == at:
                self._conn.execute(_PG_WRITE_ANSWER, {**params, "b_items": list(changes),
                                                      "b_values": list(changes.values()), "b_done": completed})
                return
        if pending is not None:
            self._write_answers(*pending)
        _SAVE_CASE.write(self._conn, params, self._direct)
        if completed:
            self._conn.execute(_COMPLETE_CASE, {"b_id": case.id, "b_at": at})

    def add_note(self, case_id: int, text: str, at: datetime) -> None:
        self.conn.execute(insert(Note).values(case_id=case_id, text=text, created_at=at))

    def replace_note(self, case_id: int, text: str, at: datetime) -> None:
        """The case's note becomes `text` (the old text is deleted, not kept beside it)."""
        self.conn.execute(delete(Note).where(Note.case_id == case_id))
        self.add_note(case_id, text, at)

    def claim_update(self, channel: str, update_id: int) -> bool:
        """Remember an update id; False when it was handled before (a redelivery).

        Claimed in the same transaction as the change it causes: if that rolls back, so does
        the claim, and the redelivered update is handled then.
        """
        self.flush()
        # INSERT ... ON CONFLICT DO NOTHING: a redelivery inserts no row (rowcount 0). No savepoint
        # is needed because nothing fails; see _per_dialect for the figures.
        row = {"channel": channel, "update_id": update_id, "at": now()}
        return self._claim.write(self._conn, row, self._direct) == 1

    def add_counts(self, month: str, keys: Iterable[tuple[str, str]], contributor: int | None = None) -> None:
        """Add 1 to each (metric, key) of `month` of the local picture, in this transaction.

        `contributor` (the professional's user id) is counted once per cell, up to
        CONTRIBUTORS_NEEDED, through a salted hash that is kept only while the cell needs it and
        the month is open (models.StatsContributor); the id itself is never stored here."""
        rows = [{"month": month, "metric": m, "key": k, "count": 1} for m, k in dict.fromkeys(keys)]
        if not rows:
            return
        ins = self._dialect.insert(StatsCount)
        stmt = ins.on_conflict_do_update(index_elements=["month", "metric", "key"],
                                         set_={"count": StatsCount.count + 1})
        self.conn.execute(stmt, rows)
        self.conn.execute(delete(StatsContributor).where(StatsContributor.month < month))   # ended months:
        self.conn.execute(delete(StatsSalt).where(StatsSalt.month < month))                 # numbers only
        if contributor is None:
            return
        open_cells = {(r.metric, r.key) for r in self.conn.execute(
            select(StatsCount.metric, StatsCount.key).where(
                StatsCount.month == month, StatsCount.contributors < CONTRIBUTORS_NEEDED))}
        needed = [r for r in rows if (r["metric"], r["key"]) in open_cells]
        if not needed:
            return
        self.conn.execute(self._dialect.insert(StatsSalt).on_conflict_do_nothing(),
                          [{"month": month, "salt": secrets.token_hex(16)}])
        salt = self.conn.execute(select(StatsSalt.salt).where(StatsSalt.month == month)).scalar_one()
        token = hashlib.sha256(f"{salt}:{contributor}".encode()).hexdigest()[:16]
        self.conn.execute(self._dialect.insert(StatsContributor).on_conflict_do_nothing(),
                          [{"month": month, "metric": r["metric"], "key": r["key"], "token": token} for r in needed])
        tokens = (select(func.count()).select_from(StatsContributor)
                  .where(StatsContributor.month == bindparam("m"), StatsContributor.metric == bindparam("mt"),
                         StatsContributor.key == bindparam("k")).scalar_subquery())
        self.conn.execute(update(StatsCount).where(StatsCount.month == bindparam("m"),
                                                   StatsCount.metric == bindparam("mt"),
                                                   StatsCount.key == bindparam("k"))
                          .values(contributors=sql_case((tokens >= CONTRIBUTORS_NEEDED, CONTRIBUTORS_NEEDED),
                                                        else_=tokens)),
                          [{"m": month, "mt": r["metric"], "k": r["key"]} for r in needed])
        full = (select(StatsCount.metric, StatsCount.key)
                .where(StatsCount.month == month, StatsCount.contributors >= CONTRIBUTORS_NEEDED))
        done = [{"m": month, "mt": mt, "k": k} for mt, k in self.conn.execute(full)
                if (mt, k) in open_cells]
        if done:   # three distinct professionals: enough for good, the hashes are not needed any more
            self.conn.execute(delete(StatsContributor).where(
                StatsContributor.month == bindparam("m"), StatsContributor.metric == bindparam("mt"),
                StatsContributor.key == bindparam("k")), done)

    def audit(self, actor: str, action: str, case_code: str | None = None, detail: str | None = None) -> None:
        """An audit row, committed or rolled back with the action it records."""
        self.conn.execute(insert(AuditEntry), [audit_values(actor, action, case_code, detail)])

    def list_cases(self, user_id: int, status: str | None = None,
                   modes: tuple[str, ...] = ("full", "quick")) -> list[CaseSummary]:
        """Store.list_cases, inside this transaction."""
        return _list_cases(self.conn, user_id, status, modes)

    def delete_case(self, case_id: int) -> bool:
        """Delete a case with its answers, log, notes and message ids (foreign keys cascade); False if it was gone."""
        return bool(self.conn.execute(delete(Case).where(Case.id == case_id)).rowcount)

    def case_messages(self, case_ids: list[int]) -> list[MessageRef]:
        """The messages channels recorded for these cases (each once), oldest first."""
        if not case_ids:
            return []
        rows = self.conn.execute(
            select(CaseMessage.chat_id, CaseMessage.message_id, func.min(CaseMessage.kind),
                   func.min(CaseMessage.sent_at))
            .where(CaseMessage.case_id.in_(case_ids))
            .group_by(CaseMessage.chat_id, CaseMessage.message_id)
            .order_by(CaseMessage.message_id)).all()
        return [MessageRef(chat, int(mid), kind, aware(at)) for chat, mid, kind, at in rows]

    def erase(self, case_id: int, code: str, actor: str | None, key: bytes) -> list[MessageRef]:
        """Erase a case in this transaction: its rows (the foreign keys cascade), its code in the audit
        log replaced by the keyed hash, and (with `actor`) the "delete" row naming the hash. The
        messages channels recorded for it are returned, for the channel to delete."""
        from storage.sharing import forget_case  # sharing builds on this module

        messages = self.case_messages([case_id])
        forget_case(self, case_id)   # contributions and history go, share requests become closed stubs
        self.delete_case(case_id)
        # A web form parked when a session expired (web_sessions.pending) may hold an answer or a
        # note of this case, return_to its code, and flash what an answer of it showed: all go with the case.
        self.conn.execute(update(WebSession).where(or_(WebSession.pending.contains(code),
                                                       WebSession.return_to.contains(code)))
                          .values(pending=None, return_to=None))
        self.conn.execute(update(WebSession).where(WebSession.flash.contains(code)).values(flash=None))
        hashed = audit_hash(key, code)
        self.forget_codes({code: hashed})
        if actor is not None:
            self.audit(actor, "delete", hashed)
        return messages

    def forget_codes(self, codes: dict[str, str]) -> None:
        """Replace case codes in the audit log by their keyed hashes ({code: hash}), in this transaction."""
        if codes:
            self.conn.execute(update(AuditEntry).where(AuditEntry.case_code == bindparam("b_code"))
                              .values(case_code=bindparam("b_hash")),
                              [{"b_code": c, "b_hash": h} for c, h in codes.items()])

    def forget_user_cases(self, channel: str, external_id: str, key: bytes) -> None:
        """Before a user is deleted (their cases cascade): their case codes leave the audit log."""
        codes = self.conn.execute(select(Case.code).join(User, User.id == Case.user_id).where(
            User.channel == channel, User.external_id == str(external_id))).scalars().all()
        self.forget_codes({c: audit_hash(key, c) for c in codes})

    def housekeeping(self, key: str) -> str | None:
        row = self.conn.execute(select(Housekeeping.value).where(Housekeeping.key == key)).first()
        return None if row is None else row.value

    def set_housekeeping(self, key: str, value: str) -> None:
        ins = self._dialect.insert(Housekeeping).values(key=key, value=value)
        self.conn.execute(ins.on_conflict_do_update(index_elements=["key"], set_={"value": ins.excluded.value}))


@dataclass(frozen=True)
class MessageRef:
    """A message a channel sent (or received) for a case: where, which, when."""

    chat_id: str
    message_id: int
    kind: str          # "chat" (the bot's), "note" (the user's own note), "export" (a file of several cases)
    sent_at: datetime


AUDIT_KEY = "audit.key"   # housekeeping key of the derived audit key (when LENSBOT_AUDIT_KEY is not set)
HASH_PREFIX = "h:"        # an erased case's code in the audit log: "h:" and 14 hex digits (56 bits)


def audit_hash(key: bytes, code: str) -> str:
    """The keyed hash that stands for an erased case's code in the audit log (fits its 16 characters)."""
    digest = hmac.new(key, normalise_code(code).encode(), hashlib.sha256).hexdigest()
    return HASH_PREFIX + digest[:16 - len(HASH_PREFIX)]


def _list_cases(conn: Connection, user_id: int, status: str | None, modes: tuple[str, ...]) -> list[CaseSummary]:
    answers = (select(func.count()).select_from(Answer).where(Answer.case_id == Case.id)
               .correlate(Case).scalar_subquery())
    stmt = (
        select(Case.code, Case.mode, Case.status, Case.state, Case.lens_version, Case.created_at,
               Case.updated_at, answers.label("n"), Case.vignette)
        .where(Case.user_id == user_id)
        .order_by(Case.updated_at.desc())
    )
    if status:
        stmt = stmt.where(Case.status == status)
    stmt = stmt.where(Case.mode.in_(modes))
    rows = conn.execute(stmt).all()
    return [CaseSummary(r.code, r.mode, r.status, r.state, r.n, r.lens_version, aware(r.created_at),
                        aware(r.updated_at), r.vignette) for r in rows]


def audit_values(actor: str, action: str, case_code: str | None = None, detail: str | None = None,
                 at: datetime | None = None) -> dict[str, Any]:
    """The columns of one audit row; actor and detail cut to their column's length."""
    return {"at": at or now(), "actor": actor[:80], "action": action, "case_code": case_code,
            "detail": (detail or None) and detail[:120]}


# -- the user cache ----------------------------------------------------------------------------
# Every Telegram update starts with "who is this?". Reading the users row is its own transaction:
# 627 µs on SQLite and 1,283 µs on PostgreSQL (median, bench/hot_path.py), a third of the whole
# per-answer work, plus a thread-pool hop. Known users are therefore kept in memory for
# USER_CACHE_TTL seconds, keyed by database and (channel, external id): 2-5 µs a lookup, and the
# Telegram guard skips the hop (dialogs/access.py, bot/telegram/guard.py).
# - The cache holds the row as stored (role and its source), never a right it grants by itself:
#   dialogs/access.py works out the role from it and from LENSBOT_ADMIN_IDS each time, and every
#   privileged use case (start or answer a real case, see, list, report, export or delete cases,
#   invite, the local picture) reads the user's role again inside its own transaction
#   (Tx.rights, Tx.load_owned_case) and refuses when it was taken away. So a demotion or removal,
#   made in this process, on the command line or on another instance, takes effect at the next
#   action; the cache only decides what the guard lets reach a use case, and a refusal by a cached
#   row is read again (someone just given a role is let in at once).
# - Changes made in this process refresh the entry at once: every uncached read (`Store.user`,
#   which accounts.set_role and accounts.redeem_invite end with) refreshes it, set_user_lang and
#   forget_user drop it, and the cache is shared by all Stores on the same database in this process.
USER_CACHE_TTL = 30.0
_USER_CACHE_MAX = 50_000   # entries; expired ones are dropped when it grows past this
_user_cache: dict[tuple[str, str, str], tuple[float, UserRow]] = {}


def _prune_user_cache() -> None:
    moment = time.monotonic()
    for key, (expires, _) in list(_user_cache.items()):
        if expires < moment:
            _user_cache.pop(key, None)
    if len(_user_cache) >= _USER_CACHE_MAX:   # all fresh: a flood of users, start over
        _user_cache.clear()


def _cache_scope(engine: Engine) -> str:
    """One scope per database: its URL, or the engine itself for a private in-memory SQLite."""
    url = engine.url
    if url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:"):
        return f"engine:{id(engine)}"
    return url.render_as_string(hide_password=False)


class Store:
    """Entry point of storage; create one per process and share it."""

    def __init__(self, url: str | None = None, engine: Engine | None = None, audit_key: str | None = None) -> None:
        self.engine = engine or make_engine(url)
        # LENSBOT_AUDIT_KEY when set; otherwise drawn once and kept in the database (audit_key())
        self._audit_key: bytes | None = audit_key.encode() if audit_key else None
        self._sqlite = is_sqlite(self.engine)
        self._scope = _cache_scope(self.engine)

    # -- schema ----------------------------------------------------------------------------
    def upgrade(self) -> None:
        try:
            migrate.upgrade(self.engine)
        except SQLAlchemyError as exc:
            raise _storage_error(exc) from exc

    def ensure_schema(self, auto_upgrade: bool) -> None:
        """SQLite files are upgraded in place; a shared PostgreSQL is migrated once, on purpose."""
        try:
            current = migrate.is_current(self.engine)
        except SQLAlchemyError as exc:
            raise _storage_error(exc) from exc
        if current:
            return
        if auto_upgrade or self._sqlite:
            self.upgrade()
        else:
            raise SchemaOutdated("the database schema is not up to date: run `lensbot db upgrade`")

    # -- transactions ----------------------------------------------------------------------
    @contextmanager
    def transaction(self) -> Iterator[Tx]:
        """One transaction: committed when the block ends, rolled back when it raises.

        Every database error, raised inside the block or at the commit, leaves as
        StorageUnavailable (StorageConflict for a unique-key collision); other exceptions pass as
        they are, after the rollback."""
        try:
            with self._begun() as conn, conn.get_transaction():   # type: ignore[union-attr]
                tx = Tx(conn, lock_rows=not self._sqlite)
                yield tx
                tx.flush()
        except SQLAlchemyError as exc:
            raise _storage_error(exc) from exc

    @contextmanager
    def reading(self) -> Iterator[Connection]:
        """A connection for reads outside a transaction; every database error is StorageUnavailable,
        as in transaction(). (The per-update user lookup used to fail first and hide the difference;
        with the user cache, /hervat during an outage reaches list_cases itself.)"""
        try:
            with self._begun() as conn:
                yield conn
        except SQLAlchemyError as exc:
            raise _storage_error(exc) from exc

    def _begun(self) -> Connection:
        """A connection with its transaction begun; on PostgreSQL a second try when the first was dead.

        A pooled PostgreSQL connection the server closed meanwhile (a restart) fails at the BEGIN
        (storage/db.py), before anything else was sent: then every pooled connection is from before
        the break, the pool is emptied and a fresh connection begins. No statement of the caller is
        ever repeated, and no ping is spent on the connections that are fine."""
        for attempt in (1, 2):
            conn = self.engine.connect()
            try:
                conn.begin()
                return conn
            except DBAPIError as exc:
                dbapi_conn = conn.connection.dbapi_connection
                lost = not self._sqlite and self.engine.dialect.is_disconnect(exc.orig, dbapi_conn, None)
                if lost:
                    conn.invalidate(exc)
                conn.close()
                if not lost or attempt == 2:
                    raise
                self.engine.dispose()
        raise AssertionError("unreachable")

    # -- users -----------------------------------------------------------------------------
    def user(self, channel: str, external_id: str, create_role: str | None = None,
             create_source: str = "database") -> UserRow | None:
        """Look a user up (the row as stored: role and its source); with `create_role`, create them
        when they do not exist yet."""
        with self.transaction() as tx:
            stmt = select(User.id, User.channel, User.external_id, User.role, User.lang, User.role_source).where(
                User.channel == channel, User.external_id == str(external_id))
            row = tx.conn.execute(stmt).first()
            if row is None and create_role is not None:   # created at the same moment elsewhere: that one
                tx.conn.execute(self._insert(User).values(
                    channel=channel, external_id=str(external_id), role=create_role, role_source=create_source,
                    lang="nl", created_at=now(),
                ).on_conflict_do_nothing(index_elements=["channel", "external_id"]))
                row = tx.conn.execute(stmt).first()
        key = (self._scope, channel, str(external_id))
        if row is None:
            _user_cache.pop(key, None)
            return None
        user = UserRow(row.id, row.channel, row.external_id, row.role, row.lang, row.role_source)
        if len(_user_cache) >= _USER_CACHE_MAX:
            _prune_user_cache()
        _user_cache[key] = (time.monotonic() + USER_CACHE_TTL, user)
        return user

    def cached_user(self, channel: str, external_id: str) -> UserRow | None:
        """The user as read within the last USER_CACHE_TTL seconds, or None; never touches the database."""
        entry = _user_cache.get((self._scope, channel, external_id))
        if entry is None or entry[0] < time.monotonic():
            return None
        return entry[1]

    def forget_user(self, channel: str, external_id: str) -> None:
        """Drop a user's cache entry: the next lookup reads the database."""
        _user_cache.pop((self._scope, channel, str(external_id)), None)

    def set_user_lang(self, user_id: int, lang: str) -> None:
        with self.transaction() as tx:
            tx.conn.execute(update(User).where(User.id == user_id).values(lang=lang))
        for key, (_, user) in list(_user_cache.items()):
            if key[0] == self._scope and user.id == user_id:
                _user_cache.pop(key, None)

    # -- lens versions ---------------------------------------------------------------------
    def ensure_lens_version(self, version: str, declared: str, content_hash: str, content: dict[str, Any]) -> None:
        with self.transaction() as tx:
            exists = tx.conn.execute(select(LensVersion.version).where(LensVersion.version == version)).first()
            if exists:
                return
            payload = json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
            # another instance may store the same version at the same moment: then nothing happens
            tx.conn.execute(self._insert(LensVersion).values(
                version=version, declared=declared, content_hash=content_hash, content=payload,
                created_at=now()).on_conflict_do_nothing(index_elements=["version"]))

    def lens_content(self, version: str) -> dict[str, Any] | None:
        with self.reading() as conn:
            row = conn.execute(select(LensVersion.content).where(LensVersion.version == version)).first()
        return json.loads(row.content) if row else None

    # -- cases -----------------------------------------------------------------------------
    def create_case(self, user_id: int, lens_version: str, state: str, lang: str, mode: str = "full",
                    claim: tuple[str, int] | None = None, script: list[int] | None = None,
                    trail: list[int] | None = None, vignette: str | None = None,
                    check: Callable[[Tx], object] | None = None) -> CaseRow | None:
        """A new case with a fresh code; None if `claim` shows the update was handled before.

        `check(tx)` runs first in the same transaction (dialogs: may this user still start one?)
        and stops everything by raising."""
        for _ in range(10):
            code = new_case_code()
            at = now()
            try:
                with self.transaction() as tx:
                    if check is not None:
                        check(tx)
                    if claim is not None and not tx.claim_update(*claim):
                        return None
                    tx.conn.execute(insert(Case).values(
                        code=code, user_id=user_id, mode=mode, status="open", state=state, step=0,
                        trail=",".join(map(str, trail or [])), skipped="", lang=lang, lens_version=lens_version,
                        created_at=at, updated_at=at, vignette=vignette,
                        script=None if script is None else ",".join(map(str, script))))
                    case = tx.load_case(code)
                assert case is not None
                return case
            except StorageConflict:
                continue  # code collision: draw again
        raise StorageUnavailable("could not allocate a unique case code")

    def list_cases(self, user_id: int, status: str | None = None,
                   modes: tuple[str, ...] = ("full", "quick")) -> list[CaseSummary]:
        """A user's cases, most recently touched first; training cases only when asked for
        (`modes=("training",)`).

        Runs on every typed message (the open case it belongs to): the user's cases come from
        ix_cases_user_status_updated and each one's answers are counted on the answers' primary
        key, so the cost follows this user's rows, never the size of the database
        (bench/per_user_reads.py). `Tx.list_cases` is the same inside a transaction."""
        with self.reading() as conn:
            return _list_cases(conn, user_id, status, modes)

    def notes(self, case_id: int) -> list[str]:
        with self.reading() as conn:
            rows = _HOT_NOTES.rows(conn, {"b_case": case_id}, self._sqlite)
        return [note for (note,) in rows]

    def dated_notes(self, case_id: int) -> list[tuple[str, datetime]]:
        """The notes with when each was written: a dossier dates every note (issue 15)."""
        with self.reading() as conn:
            rows = _HOT_DATED_NOTES.rows(conn, {"b_case": case_id}, self._sqlite)
        return [(note, aware(at)) for note, at in rows]

    def answer_log(self, case_id: int) -> list[tuple[str, str]]:
        with self.reading() as conn:
            rows = _HOT_ANSWER_LOG.rows(conn, {"b_case": case_id}, self._sqlite)
        return [(item, value) for item, value in rows]

    def delete_case(self, case_id: int, actor: str | None = None, code: str | None = None) -> bool:
        """Erase a case (erase_case); with `actor`, its "delete" audit row is written in the same transaction."""
        return self.erase_case(case_id, actor, code) is not None

    def erase_case(self, case_id: int, actor: str | None = None, code: str | None = None) -> list[MessageRef] | None:
        """Delete a case and every copy kept of it; the messages channels recorded for it, or None if it was gone.

        In one transaction: the case with its answers, answer log, notes and message ids (the
        foreign keys cascade), its code in the audit log replaced by the keyed hash, and (with
        `actor`) the "delete" audit row, naming the hash. Then, on SQLite, a WAL checkpoint: with
        secure_delete (storage/db.py) the note is then in neither the database nor the -wal file.
        """
        with self.transaction() as tx:
            row = tx.conn.execute(select(Case.code).where(Case.id == case_id)).first()
            if row is None:
                return None
            messages = tx.erase(case_id, row.code, actor, self.audit_key(tx))
        self.checkpoint()
        return messages

    def record_messages(self, codes: list[str], chat_id: str, message_ids: list[int], at: datetime,
                        kind: str = "chat") -> None:
        """Remember messages a channel sent (or received) for these cases, so erasing a case reaches them."""
        if not codes or not message_ids:
            return
        with self.transaction() as tx:
            wanted = [normalise_code(c) for c in codes]
            ids = [r.id for r in tx.conn.execute(select(Case.id).where(Case.code.in_(wanted)))]
            rows = [{"case_id": c, "chat_id": str(chat_id), "message_id": m, "kind": kind, "sent_at": at}
                    for c in ids for m in message_ids]
            if rows:
                tx.conn.execute(insert(CaseMessage), rows)

    def audit_key(self, tx: Tx | None = None) -> bytes:
        """The key of the audit log's hashes: LENSBOT_AUDIT_KEY, or one drawn once and kept in the database.

        The stored key needs no configuration and is the same for every instance, but whoever
        holds the database (or a backup) holds it too and can hash all ~10^9 codes; a key kept
        outside the database (LENSBOT_AUDIT_KEY) does not travel with it. See SECURITY.md.
        Inside a transaction pass its `tx` (on SQLite a second one would wait for the first).
        """
        if self._audit_key is None:
            if tx is None:
                with self.transaction() as own:
                    return self.audit_key(own)
            stored = tx.housekeeping(AUDIT_KEY)
            if stored is None:
                tx.conn.execute(self._insert(Housekeeping).values(key=AUDIT_KEY, value=secrets.token_hex(32))
                                .on_conflict_do_nothing(index_elements=["key"]))
                stored = tx.housekeeping(AUDIT_KEY)   # another instance may have drawn it first
            assert stored is not None
            self._audit_key = bytes.fromhex(stored)
        return self._audit_key

    def checkpoint(self) -> bool:
        """See storage.db.checkpoint; any database error is StorageUnavailable."""
        try:
            return checkpoint(self.engine)
        except (SQLAlchemyError, sqlite3.Error) as exc:
            raise StorageUnavailable(str(exc)) from exc

    def claim_update(self, channel: str, update_id: int) -> bool:
        with self.transaction() as tx:
            return tx.claim_update(channel, update_id)

    def forget_updates(self, before: datetime) -> int:
        with self.transaction() as tx:
            return tx.conn.execute(delete(ProcessedUpdate).where(ProcessedUpdate.at < before)).rowcount

    def _insert(self, table: Any) -> Any:
        """INSERT with this database's ON CONFLICT clauses."""
        return (sqlite if self._sqlite else postgresql).insert(table)

    def dispose(self) -> None:
        self.engine.dispose()
