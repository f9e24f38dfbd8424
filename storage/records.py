"""Everything kept about cases beyond the cases themselves: anonymous monthly counts (the local
picture), the audit log, and the retention purge that removes old cases but not the counts."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, and_, delete, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from storage.models import AuditEntry, Case, StatsCount, User
from storage.repo import Store, aware, now


# -- the local picture -----------------------------------------------------------------------
def add_counts(conn: Connection, month: str, keys: Iterable[tuple[str, str]]) -> None:
    """Add 1 to each (metric, key) of `month`, in the caller's transaction."""
    rows = [{"month": month, "metric": m, "key": k, "count": 1} for m, k in dict.fromkeys(keys)]
    if not rows:
        return
    dialect = conn.dialect.name
    ins = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(StatsCount)
    stmt = ins.on_conflict_do_update(index_elements=["month", "metric", "key"],
                                     set_={"count": StatsCount.count + 1})
    conn.execute(stmt, rows)


def read_counts(store: Store, since: str | None = None, until: str | None = None) -> list[tuple[str, str, str, int]]:
    """(month, metric, key, count) between two months ("YYYY-MM"), both inclusive."""
    stmt = select(StatsCount.month, StatsCount.metric, StatsCount.key, StatsCount.count)
    if since:
        stmt = stmt.where(StatsCount.month >= since)
    if until:
        stmt = stmt.where(StatsCount.month <= until)
    with store.engine.connect() as conn:
        return [(r.month, r.metric, r.key, r.count) for r in conn.execute(stmt.order_by(StatsCount.month))]


# -- audit -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class AuditRow:
    at: datetime
    actor: str
    action: str
    case_code: str | None
    detail: str | None


def audit(store: Store, actor: str, action: str, case_code: str | None = None, detail: str | None = None,
          conn: Connection | None = None) -> None:
    values = {"at": now(), "actor": actor[:80], "action": action, "case_code": case_code,
              "detail": (detail or None) and detail[:120]}
    if conn is not None:
        conn.execute(insert(AuditEntry).values(**values))
        return
    with store.transaction() as tx:
        tx.conn.execute(insert(AuditEntry).values(**values))


def read_audit(store: Store, since: datetime | None = None) -> list[AuditRow]:
    stmt = select(AuditEntry.at, AuditEntry.actor, AuditEntry.action, AuditEntry.case_code, AuditEntry.detail)
    if since:
        stmt = stmt.where(AuditEntry.at >= since)
    with store.engine.connect() as conn:
        rows = conn.execute(stmt.order_by(AuditEntry.id)).all()
    return [AuditRow(aware(r.at), r.actor, r.action, r.case_code, r.detail) for r in rows]


# -- retention ---------------------------------------------------------------------------------
def purge(store: Store, older_than_days: int, dry_run: bool = False) -> list[str]:
    """Delete cases (with answers and notes) whose last activity is older than the limit.

    The monthly counts stay: they were added when each case completed.
    """
    limit = now() - timedelta(days=older_than_days)
    with store.transaction() as tx:
        codes = [r.code for r in tx.conn.execute(select(Case.code).where(Case.updated_at < limit))]
        if codes and not dry_run:
            tx.conn.execute(delete(Case).where(Case.code.in_(codes)))
            for code in codes:
                audit(store, "retention", "purge", code, f"inactive > {older_than_days} days", conn=tx.conn)
    return codes


# -- reminders ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Reminder:
    code: str
    external_id: str
    lang: str


def due_reminders(store: Store, channel: str, idle: timedelta, modes: tuple[str, ...]) -> list[Reminder]:
    """Open cases of `modes` idle for `idle` whose owner wants reminders and was not reminded yet; marks them.

    dialogs/ passes the real modes: the reminder points to /hervat and /verwijder, which do not
    show a practice case (and a trainee may not use /verwijder at all).
    """
    limit = now() - idle
    with store.transaction() as tx:
        rows = tx.conn.execute(
            select(Case.id, Case.code, User.external_id, User.lang)
            .join(User, User.id == Case.user_id)
            .where(and_(Case.status == "open", Case.mode.in_(modes), Case.updated_at < limit,
                        Case.reminded_at.is_(None),
                        User.channel == channel, User.reminders.is_(True)))
            # Several instances run this job: on PostgreSQL each row goes to one of them only.
            .with_for_update(of=Case, skip_locked=True)
        ).all()
        if rows:
            tx.conn.execute(update(Case).where(Case.id.in_([r.id for r in rows])).values(reminded_at=now()))
    return [Reminder(r.code, r.external_id, r.lang) for r in rows]


def set_reminders(store: Store, user_id: int, enabled: bool) -> None:
    with store.transaction() as tx:
        tx.conn.execute(update(User).where(User.id == user_id).values(reminders=enabled))


def count_cases(store: Store) -> int:
    with store.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(Case)).scalar_one())
