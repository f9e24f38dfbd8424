"""What SQLite's synchronous=FULL costs per answer, against NORMAL, in the same run.

storage/db.py sets synchronous=FULL on every SQLite connection: in WAL mode NORMAL syncs the WAL
only at checkpoints, so an answer the user saw acknowledged could roll back after a power loss.
FULL makes every commit wait for an fsync of the WAL. This runs the same complete intakes
(Begin, "Nee" to every question, no note; one `IntakeService.handle` per tap, each its own
transaction, as a Telegram tap) on a SQLite file once with each setting, alternating, and reports
the median µs of one answer and the difference. The file lives in --dir (default: a temporary
directory): the fsync is what is measured, so put it on the disk the database will live on.

Run: .venv/bin/python bench/sync_cost.py [--intakes 5] [--reps 4] [--dir /var/lib/lensbot]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path
from typing import Any

from inproc import clock, git_free_revision, median, percentile, print_machine
from sqlalchemy import event

from dialogs.render import option_event
from dialogs.service import IntakeService
from matrix.lens import Lens
from matrix.loader import load_lens
from storage import accounts
from storage.db import make_engine
from storage.repo import Store


def store_with(url: str, synchronous: str) -> Store:
    """lensbot's own engine; with NORMAL, a listener after lensbot's sets the pragma back."""
    engine = make_engine(url)
    if synchronous != "FULL":
        @event.listens_for(engine, "connect")
        def _sync(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.execute(f"PRAGMA synchronous={synchronous}")
    store = Store(engine=engine)
    store.ensure_schema(auto_upgrade=True)
    with store.reading() as conn:
        level = conn.exec_driver_sql("PRAGMA synchronous").scalar()
    assert level == {"NORMAL": 1, "FULL": 2}[synchronous], level
    return store


def answers(store: Store, lens: Lens, n: int) -> list[float]:
    """Seconds per handle() over `n` complete intakes."""
    service = IntakeService(store, lens)
    user = accounts.set_role(store, "telegram", "9001", "professional")
    times, update_id = [], 0
    for _ in range(n):
        reply = service.start(user, "nl")
        while reply.prompt is not None:
            ids = [o.id for o in reply.prompt.options]
            option = next((o for o in ("no", "begin", "no_note", "finish") if o in ids), ids[0])   # ids[0]: an age
            event_name, value = option_event(option)
            update_id += 1
            t0 = clock()
            reply = service.handle(user, reply.case_code, event_name, value, reply.step, None, ("telegram", update_id))
            times.append(clock() - t0)
            assert not reply.refused, reply.toast
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--intakes", type=int, default=5, help="complete intakes per repetition (default 5)")
    parser.add_argument("--reps", type=int, default=4, help="repetitions of each setting, alternating")
    parser.add_argument("--dir", help="where the database file goes (default: a temporary directory)")
    args = parser.parse_args()
    print_machine("sync_cost: one answer (IntakeService.handle) on SQLite, synchronous NORMAL vs FULL")
    lens = load_lens()
    results: dict[str, list[float]] = {"NORMAL": [], "FULL": []}
    with tempfile.TemporaryDirectory(prefix="lensbot-sync-", dir=args.dir) as tmp:
        for rep in range(args.reps):
            for setting in ("NORMAL", "FULL") if rep % 2 == 0 else ("FULL", "NORMAL"):
                store = store_with(f"sqlite:///{Path(tmp) / f'{setting}-{rep}.db'}", setting)
                try:
                    results[setting] += answers(store, lens, args.intakes)
                finally:
                    store.dispose()
    print(f"{'synchronous':12} {'answers':>8} {'median µs':>10} {'p90 µs':>8}   (code {git_free_revision()})")
    for setting, times in results.items():
        print(f"{setting:12} {len(times):8d} {median(times) * 1e6:10.0f} {percentile(times, 90) * 1e6:8.0f}")
    extra = (median(results["FULL"]) - median(results["NORMAL"])) * 1e6
    print(f"FULL costs {extra:.0f} µs more per answer (median against median)")


if __name__ == "__main__":
    main()
