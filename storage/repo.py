"""The repository: the only code that opens database connections.

One answer is one short transaction (`Store.transaction()`): read the case (row-locked on
PostgreSQL, under SQLite's write lock otherwise), check the step, write, commit. SQLAlchemy
Core statements keep that transaction cheap; the ORM classes in models.py define the schema.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, delete, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError, OperationalError

from storage import migrate
from storage.db import is_sqlite, make_engine
from storage.models import Answer, AnswerLog, Case, LensVersion, Note, ProcessedUpdate, User

CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: codes are read aloud and retyped


class StorageUnavailable(Exception):
    """The database could not be reached or stayed locked; nothing was written."""


class SchemaOutdated(Exception):
    """The database schema is older than this lensbot; run `lensbot db upgrade`."""


def now() -> datetime:
    return datetime.now(UTC)


def new_case_code() -> str:
    """A pseudonymous code like K7-QX3M: short enough to type, ~30 bits of randomness."""
    pick = secrets.choice
    return "".join(pick(CODE_ALPHABET) for _ in range(2)) + "-" + "".join(pick(CODE_ALPHABET) for _ in range(4))


def normalise_code(code: str) -> str:
    code = code.strip().upper().replace(" ", "")
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
    return CaseRow(
        id=row.id, code=row.code, user_id=row.user_id, mode=row.mode, status=row.status, state=row.state,
        step=row.step, trail=[int(x) for x in row.trail.split(",") if x],
        skipped=[x for x in row.skipped.split(",") if x], lang=row.lang, lens_version=row.lens_version,
        created_at=aware(row.created_at), updated_at=aware(row.updated_at),
        script=None if row.script is None else [int(x) for x in row.script.split(",") if x], vignette=row.vignette,
        completed_at=aware(row.completed_at) if row.completed_at else None,
    )


def aware(value: datetime) -> datetime:
    """SQLite hands back naive datetimes; everything stored is UTC."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)


# The per-answer statements are built once: constructing a Core statement costs more than
# running it on SQLite, and every answer runs these.
_LOAD_CASE = select(*_CASE_COLUMNS).where(Case.code == bindparam("b_code"))
_LOAD_CASE_LOCKED = _LOAD_CASE.with_for_update()
_ANSWERS = select(Answer.item_id, Answer.value).where(Answer.case_id == bindparam("b_case"))
_INSERT_LOG = insert(AnswerLog)


def _per_dialect() -> dict[str, tuple[Any, Any]]:
    """(claim, upsert answer) for each dialect: one statement each instead of two or three.

    Both dialects speak INSERT ... ON CONFLICT. Measured side by side on SQLite / PostgreSQL
    (bench/README.md, "what we changed"): claiming an update id with ON CONFLICT DO NOTHING and
    its rowcount costs 83 / 324 µs against 521 / 1022 µs for the former SAVEPOINT + INSERT +
    RELEASE; the answer upsert 99 / 336 µs against 170 / 574 µs for UPDATE, then INSERT.
    """
    out = {}
    for name, dialect in (("sqlite", sqlite), ("postgresql", postgresql)):
        claim = dialect.insert(ProcessedUpdate).on_conflict_do_nothing(index_elements=["channel", "update_id"])
        ins = dialect.insert(Answer)
        upsert = ins.on_conflict_do_update(index_elements=["case_id", "item_id"],
                                           set_={"value": ins.excluded.value, "answered_at": ins.excluded.answered_at})
        out[name] = (claim, upsert)
    return out


_CLAIM_UPSERT = _per_dialect()
_SAVE_CASE = update(Case).where(Case.id == bindparam("b_id")).values(
    state=bindparam("b_state"), step=bindparam("b_step"), status=bindparam("b_status"), lang=bindparam("b_lang"),
    mode=bindparam("b_mode"), script=bindparam("b_script"), trail=bindparam("b_trail"),
    skipped=bindparam("b_skipped"), updated_at=bindparam("b_at"))
_COMPLETE_CASE = update(Case).where(Case.id == bindparam("b_id")).values(completed_at=bindparam("b_at"))


class Tx:
    """Statements available inside one transaction."""

    def __init__(self, conn: Connection, lock_rows: bool) -> None:
        self.conn = conn
        self._lock = lock_rows
        self._claim, self._upsert = _CLAIM_UPSERT[conn.dialect.name]

    def load_case(self, code: str) -> CaseRow | None:
        stmt = _LOAD_CASE_LOCKED if self._lock else _LOAD_CASE
        row = self.conn.execute(stmt, {"b_code": normalise_code(code)}).first()
        return _case_row(row) if row else None

    def answers(self, case_id: int) -> dict[str, str]:
        # dict() over the rows as pairs, not r.item_id / r.value per row: for a case with all 93
        # answers 175 µs against 520 µs on SQLite (392 against 704 µs on PostgreSQL), every answer.
        return dict(self.conn.execute(_ANSWERS, {"b_case": case_id}).all())

    def set_answers(self, case_id: int, changes: dict[str, str], at: datetime) -> None:
        """Upsert the current answers and append every change to the log."""
        if changes:
            self.conn.execute(self._upsert, [
                {"case_id": case_id, "item_id": item, "value": value, "answered_at": at}
                for item, value in changes.items()
            ])
            self.conn.execute(_INSERT_LOG, [
                {"case_id": case_id, "item_id": item, "value": value, "at": at} for item, value in changes.items()
            ])

    def save_case(self, case: CaseRow, at: datetime, completed: bool = False) -> None:
        self.conn.execute(_SAVE_CASE, {
            "b_id": case.id, "b_state": case.state, "b_step": case.step, "b_status": case.status,
            "b_lang": case.lang, "b_mode": case.mode,
            "b_script": None if case.script is None else ",".join(map(str, case.script)),
            "b_trail": ",".join(map(str, case.trail)), "b_skipped": ",".join(case.skipped), "b_at": at,
        })
        if completed:
            self.conn.execute(_COMPLETE_CASE, {"b_id": case.id, "b_at": at})

    def add_note(self, case_id: int, text: str, at: datetime) -> None:
        self.conn.execute(insert(Note).values(case_id=case_id, text=text, created_at=at))

    def claim_update(self, channel: str, update_id: int) -> bool:
        """Remember an update id; False when it was handled before (a redelivery).

        Claimed in the same transaction as the change it causes: if that rolls back, so does
        the claim, and the redelivered update is handled then.
        """
        # INSERT ... ON CONFLICT DO NOTHING: a redelivery inserts no row (rowcount 0). No savepoint
        # is needed because nothing fails; see _per_dialect for the figures.
        row = {"channel": channel, "update_id": update_id, "at": now()}
        return self.conn.execute(self._claim, row).rowcount == 1


class Store:
    """Entry point of storage; create one per process and share it."""

    def __init__(self, url: str | None = None, engine: Engine | None = None) -> None:
        self.engine = engine or make_engine(url)
        self._sqlite = is_sqlite(self.engine)

    # -- schema ----------------------------------------------------------------------------
    def upgrade(self) -> None:
        migrate.upgrade(self.engine)

    def ensure_schema(self, auto_upgrade: bool) -> None:
        """SQLite files are upgraded in place; a shared PostgreSQL is migrated once, on purpose."""
        try:
            current = migrate.is_current(self.engine)
        except OperationalError as exc:
            raise StorageUnavailable(str(exc.orig)) from exc
        if current:
            return
        if auto_upgrade or self._sqlite:
            self.upgrade()
        else:
            raise SchemaOutdated("the database schema is not up to date: run `lensbot db upgrade`")

    # -- transactions ----------------------------------------------------------------------
    @contextmanager
    def transaction(self) -> Iterator[Tx]:
        try:
            with self.engine.begin() as conn:
                yield Tx(conn, lock_rows=not self._sqlite)
        except OperationalError as exc:
            raise StorageUnavailable(str(exc.orig)) from exc

    # -- users -----------------------------------------------------------------------------
    def user(self, channel: str, external_id: str, create_role: str | None = None) -> UserRow | None:
        """Look a user up; with `create_role`, create them when they do not exist yet."""
        with self.transaction() as tx:
            stmt = select(User.id, User.channel, User.external_id, User.role, User.lang).where(
                User.channel == channel, User.external_id == str(external_id))
            row = tx.conn.execute(stmt).first()
            if row is None and create_role is not None:
                tx.conn.execute(insert(User).values(
                    channel=channel, external_id=str(external_id), role=create_role, lang="nl", created_at=now()))
                row = tx.conn.execute(stmt).first()
        if row is None:
            return None
        return UserRow(row.id, row.channel, row.external_id, row.role, row.lang)

    def set_user_lang(self, user_id: int, lang: str) -> None:
        with self.transaction() as tx:
            tx.conn.execute(update(User).where(User.id == user_id).values(lang=lang))

    # -- lens versions ---------------------------------------------------------------------
    def ensure_lens_version(self, version: str, declared: str, content_hash: str, content: dict[str, Any]) -> None:
        with self.transaction() as tx:
            exists = tx.conn.execute(select(LensVersion.version).where(LensVersion.version == version)).first()
            if exists:
                return
            payload = json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
            try:
                with tx.conn.begin_nested():
                    tx.conn.execute(insert(LensVersion).values(
                        version=version, declared=declared, content_hash=content_hash, content=payload,
                        created_at=now()))
            except IntegrityError:
                pass  # another instance stored the same version at the same moment

    def lens_content(self, version: str) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(LensVersion.content).where(LensVersion.version == version)).first()
        return json.loads(row.content) if row else None

    # -- cases -----------------------------------------------------------------------------
    def create_case(self, user_id: int, lens_version: str, state: str, lang: str, mode: str = "full",
                    claim: tuple[str, int] | None = None, script: list[int] | None = None,
                    trail: list[int] | None = None, vignette: str | None = None) -> CaseRow | None:
        """A new case with a fresh code; None if `claim` shows the update was handled before."""
        for _ in range(10):
            code = new_case_code()
            at = now()
            try:
                with self.transaction() as tx:
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
            except IntegrityError:
                continue  # code collision: draw again
        raise StorageUnavailable("could not allocate a unique case code")

    def list_cases(self, user_id: int, status: str | None = None,
                   modes: tuple[str, ...] = ("full", "quick")) -> list[CaseSummary]:
        """A user's cases; training cases only when asked for (`modes=("training",)`)."""
        counts = (select(Answer.case_id, func.count().label("n")).group_by(Answer.case_id).subquery())
        stmt = (
            select(Case.code, Case.mode, Case.status, Case.state, Case.lens_version, Case.created_at,
                   Case.updated_at, func.coalesce(counts.c.n, 0).label("n"))
            .outerjoin(counts, counts.c.case_id == Case.id)
            .where(Case.user_id == user_id)
            .order_by(Case.updated_at.desc())
        )
        if status:
            stmt = stmt.where(Case.status == status)
        stmt = stmt.where(Case.mode.in_(modes))
        with self.engine.connect() as conn:
            rows = conn.execute(stmt.add_columns(Case.vignette)).all()
        return [CaseSummary(r.code, r.mode, r.status, r.state, r.n, r.lens_version, aware(r.created_at),
                            aware(r.updated_at), r.vignette) for r in rows]

    def notes(self, case_id: int) -> list[str]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(Note.text).where(Note.case_id == case_id).order_by(Note.id)).all()
        return [r.text for r in rows]

    def answer_log(self, case_id: int) -> list[tuple[str, str]]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(AnswerLog.item_id, AnswerLog.value).where(AnswerLog.case_id == case_id).order_by(AnswerLog.id)
            ).all()
        return [(r.item_id, r.value) for r in rows]

    def delete_case(self, case_id: int) -> None:
        with self.transaction() as tx:
            tx.conn.execute(delete(Case).where(Case.id == case_id))

    def claim_update(self, channel: str, update_id: int) -> bool:
        with self.transaction() as tx:
            return tx.claim_update(channel, update_id)

    def forget_updates(self, before: datetime) -> int:
        with self.transaction() as tx:
            return tx.conn.execute(delete(ProcessedUpdate).where(ProcessedUpdate.at < before)).rowcount

    def dispose(self) -> None:
        self.engine.dispose()
