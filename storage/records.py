"""Everything kept about cases beyond the cases themselves: anonymous monthly counts (the local
picture), the audit log, and the retention purge that removes old cases but not the counts.

The two jobs (purge, reminders) work in batches of JOB_BATCH cases, one short transaction each
(purge_batch, remind_batch): on SQLite a transaction holds the one write lock, and every chat
waits while it does. Each batch writes its audit rows in its own transaction, so what the log
says was purged, was. Between batches the job pauses for JOB_PAUSE seconds: a writer that waits
for the lock polls it (SQLite's busy handler sleeps up to 100 ms between tries), and a job that
took the lock again at once would keep it from that writer for the whole purge. A caller with
one database thread for every chat (the Telegram bot on SQLite) runs batch by batch through that
thread instead, so the chats' own work is queued between batches.

An erased case leaves no copy behind: the purge deletes the rows (answers, answer log, notes,
message ids cascade), replaces the case's code in the audit log by its keyed hash in the same
transaction, and ends with a WAL checkpoint (Store.erase_case does the same for one case). The
purge remembers when it last ran (`housekeeping`), so dialogs/ can refuse a run after a clock jump.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Select, and_, delete, func, insert, select, update

from storage.models import AuditEntry, Case, StatsContributor, StatsCount, StatsSalt, User
from storage.repo import Store, audit_hash, audit_values, aware, now

JOB_BATCH = 500    # cases per transaction of the purge and reminder jobs (bench/batch_jobs.py)
JOB_PAUSE = 0.1    # seconds between two batches: longer than the longest sleep of SQLite's busy handler


# -- the local picture (counts are added with Tx.add_counts, in the transaction of the answer) ---
def read_counts(store: Store, since: str | None = None, until: str | None = None
                ) -> list[tuple[str, str, str, int, int]]:
    """(month, metric, key, count, distinct professionals up to 3) between two months ("YYYY-MM"),
    both inclusive. Which months may be published is decided in dialogs/counts.py."""
    stmt = select(StatsCount.month, StatsCount.metric, StatsCount.key, StatsCount.count, StatsCount.contributors)
    if since:
        stmt = stmt.where(StatsCount.month >= since)
    if until:
        stmt = stmt.where(StatsCount.month <= until)
    with store.reading() as conn:
        return [(r.month, r.metric, r.key, r.count, r.contributors)
                for r in conn.execute(stmt.order_by(StatsCount.month))]


def seal_closed_months(store: Store, current_month: str) -> None:
    """Delete the contributor hashes and salts of every month before `current_month`: a closed
    month keeps numbers only. (Tx.add_counts does the same at the next completion; this covers
    a quiet month before a closed one is published.)"""
    with store.transaction() as tx:
        tx.conn.execute(delete(StatsContributor).where(StatsContributor.month < current_month))
        tx.conn.execute(delete(StatsSalt).where(StatsSalt.month < current_month))


# -- audit -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class AuditRow:
    at: datetime
    actor: str
    action: str
    case_code: str | None
    detail: str | None


def audit(store: Store, actor: str, action: str, case_code: str | None = None, detail: str | None = None) -> None:
    """An audit row on its own, for what changes nothing (a view, a report); an action that
    changes something writes its row in its own transaction with `Tx.audit`."""
    with store.transaction() as tx:
        tx.audit(actor, action, case_code, detail)


def read_audit(store: Store, since: datetime | None = None) -> list[AuditRow]:
    stmt = select(AuditEntry.at, AuditEntry.actor, AuditEntry.action, AuditEntry.case_code, AuditEntry.detail)
    if since:
        stmt = stmt.where(AuditEntry.at >= since)
    with store.reading() as conn:
        rows = conn.execute(stmt.order_by(AuditEntry.id)).all()
    return [AuditRow(aware(r.at), r.actor, r.action, r.case_code, r.detail) for r in rows]


# -- retention ---------------------------------------------------------------------------------
PURGE_LAST_RUN = "purge.last_run"   # housekeeping key: when the purge last ran to the end (ISO, UTC)


@dataclass(frozen=True)
class PurgePlan:
    """What a purge at `at` would do: `due` of `total` cases, and when the purge last ran (None: never)."""

    at: datetime
    due: int
    total: int
    last_run: datetime | None


def purge_plan(store: Store, older_than_days: int, at: datetime | None = None) -> PurgePlan:
    at = at or now()
    with store.transaction() as tx:
        due = tx.conn.execute(select(func.count()).select_from(_due_for_purge(older_than_days, at).subquery()))
        total = tx.conn.execute(select(func.count()).select_from(Case))
        last = tx.housekeeping(PURGE_LAST_RUN)
        return PurgePlan(at, int(due.scalar_one()), int(total.scalar_one()),
                         aware(datetime.fromisoformat(last)) if last else None)


def mark_purged(store: Store, at: datetime) -> None:
    """Remember that the purge ran to the end at `at`; a clock that went back keeps the later time."""
    with store.transaction() as tx:
        last = tx.housekeeping(PURGE_LAST_RUN)
        if last is None or aware(datetime.fromisoformat(last)) < at:
            tx.set_housekeeping(PURGE_LAST_RUN, at.isoformat())


def purge(store: Store, older_than_days: int, dry_run: bool = False, batch: int = JOB_BATCH,
          pause: float = JOB_PAUSE, at: datetime | None = None) -> list[str]:
    """Delete cases (with answers, notes and message ids) whose last activity is older than the limit.

    `batch` cases per transaction (purge_batch), `pause` seconds between two, then a WAL
    checkpoint; `at` is the moment the limit counts from (default: now). The monthly counts stay:
    they were added when each case completed. Whether the purge may run at all is for the caller
    to decide (dialogs.app.admin: the clock-jump guard).
    """
    at = at or now()
    if dry_run:
        with store.reading() as conn:
            return [r.code for r in conn.execute(_due_for_purge(older_than_days, at))]
    codes: list[str] = []
    while True:
        done = purge_batch(store, older_than_days, batch, at)
        codes += done
        if len(done) < batch:
            break
        time.sleep(pause)
    store.checkpoint()
    return codes


def purge_batch(store: Store, older_than_days: int, batch: int = JOB_BATCH, at: datetime | None = None) -> list[str]:
    """Delete up to `batch` due cases in one transaction with their audit rows; their codes.

    Fewer than `batch` codes: nothing more is due. A case touched meanwhile is no longer due and
    stays. The codes leave the audit log in the same transaction (their keyed hashes stay).
    """
    at = at or now()
    detail = f"inactive > {older_than_days} days"
    with store.transaction() as tx:
        # Several instances may run this job: on PostgreSQL each row goes to one of them only.
        due = _due_for_purge(older_than_days, at).limit(batch).with_for_update(of=Case, skip_locked=True)
        rows = tx.conn.execute(due).all()
        if rows:
            tx.conn.execute(delete(Case).where(Case.id.in_([r.id for r in rows])))
            key = store.audit_key(tx)
            hashes = {r.code: audit_hash(key, r.code) for r in rows}
            tx.forget_codes(hashes)
            stamp = now()
            tx.conn.execute(insert(AuditEntry), [audit_values("retention", "purge", hashes[r.code], detail, stamp)
                                                 for r in rows])
    return [r.code for r in rows]


def _due_for_purge(older_than_days: int, at: datetime) -> Select[tuple[int, str]]:
    limit = at - timedelta(days=older_than_days)
    return select(Case.id, Case.code).where(Case.updated_at < limit)   # ix_cases_updated_at


# -- reminders ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Reminder:
    code: str
    external_id: str
    lang: str


def due_reminders(store: Store, channel: str, idle: timedelta, modes: tuple[str, ...], batch: int = JOB_BATCH,
                  pause: float = JOB_PAUSE) -> list[Reminder]:
    """Open cases of `modes` idle for `idle` whose owner wants reminders and was not reminded yet; marks them.

    dialogs/ passes the real modes: the reminder points to /hervat and /verwijder, which do not
    show a practice case (and a trainee may not use /verwijder at all). `batch` cases per
    transaction (remind_batch), `pause` seconds between two.
    """
    reminders: list[Reminder] = []
    while True:
        done = remind_batch(store, channel, idle, modes, batch)
        reminders += done
        if len(done) < batch:
            return reminders
        time.sleep(pause)


def remind_batch(store: Store, channel: str, idle: timedelta, modes: tuple[str, ...],
                 batch: int = JOB_BATCH) -> list[Reminder]:
    """Up to `batch` due reminders, marked as sent in one transaction; fewer: nothing more is due.

    A marked case leaves the selection, so the next batch starts where this one ended."""
    limit = now() - idle
    due = (
        select(Case.id, Case.code, User.external_id, User.lang)
        .join(User, User.id == Case.user_id)
        .where(and_(Case.status == "open", Case.reminded_at.is_(None), Case.updated_at < limit,
                    Case.mode.in_(modes), User.channel == channel, User.reminders.is_(True)))
        .limit(batch)   # found through ix_cases_reminder_due
        # Several instances run this job: on PostgreSQL each row goes to one of them only.
        .with_for_update(of=Case, skip_locked=True)
    )
    with store.transaction() as tx:
        rows = tx.conn.execute(due).all()
        if rows:
            tx.conn.execute(update(Case).where(Case.id.in_([r.id for r in rows])).values(reminded_at=now()))
    return [Reminder(r.code, r.external_id, r.lang) for r in rows]


def set_reminders(store: Store, user_id: int, enabled: bool) -> None:
    with store.transaction() as tx:
        tx.conn.execute(update(User).where(User.id == user_id).values(reminders=enabled))


def count_cases(store: Store) -> int:
    with store.reading() as conn:
        return int(conn.execute(select(func.count()).select_from(Case)).scalar_one())
