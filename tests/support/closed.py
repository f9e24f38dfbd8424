"""Let a test's completed cases count in a month that has ended.

The local picture is published only for closed months and quarters (dialogs/counts.py), and cases
completed in a test complete now, in the open month. Moving the counts of this month into the
previous one is what the calendar does to them at the end of the month; the contributor hashes
go with the month's end as they do in production (storage/repo.py `Tx.add_counts`).
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import delete, update

from dialogs.counts import Period
from storage.models import StatsContributor, StatsCount, StatsSalt
from storage.repo import Store


def last_month() -> str:
    return Period.last_closed_month(datetime.now(UTC).date()).label


def close_this_month(store: Store, into: str | None = None) -> str:
    """Move this month's counts into `into` (default: last month); that month's label."""
    into = into or last_month()
    current = f"{datetime.now(UTC):%Y-%m}"
    with store.transaction() as tx:
        tx.conn.execute(update(StatsCount).where(StatsCount.month == current).values(month=into))
        tx.conn.execute(delete(StatsContributor))
        tx.conn.execute(delete(StatsSalt))
    return into
