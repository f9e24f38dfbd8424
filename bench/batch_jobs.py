"""The retention purge and the reminder job: how long does one transaction hold SQLite's write lock?

Builds a SQLite database (bench/per_user_reads.py's builder: 40 answers per case, each also in the
log) with --due cases past the 90-day retention and --fresh recent ones, then runs
records.purge(store, 90) and, on a fresh copy, records.due_reminders. It prints the longest and
the total time of the job's transactions (engine events, from the lock taken at BEGIN IMMEDIATE
to the commit) and, what a user notices, the longest wait of a writer that meanwhile claims an
update id every 5 ms in another thread, as every answer tap does.

Before storage/records.py took batches, each job was one transaction. The same script runs
against that code (it has no `batch` parameter; PYTHONPATH=<checkout> .venv/bin/python
<checkout>/bench/batch_jobs.py) and, with --batch 0, against today's code in one transaction.

Run: .venv/bin/python bench/batch_jobs.py [--due 40000] [--fresh 10000] [--batch 500]
"""

from __future__ import annotations

import argparse
import inspect
import shutil
import sqlite3
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from inproc import print_machine
from per_user_reads import LENS, _sqlite_build
from sqlalchemy import event

from storage import records
from storage.repo import StorageUnavailable, Store


def build(path: Path, due: int, fresh: int) -> None:
    store = Store(f"sqlite:///{path}")
    store.upgrade()
    store.ensure_lens_version(LENS, "1", "0" * 64, {})
    store.dispose()
    _sqlite_build(path, due + fresh, 20, 40)
    con = sqlite3.connect(path, isolation_level=None)
    con.execute(f"""UPDATE cases
                    SET updated_at = strftime('%Y-%m-%d %H:%M:%f000', 'now', '-100 days', printf('-%d seconds', id))
                    WHERE id <= {due}""")
    con.close()


def run(path: Path, job: Callable[[Store], Any]) -> tuple[int, list[float], float, int]:
    """(items handled, durations of the job's transactions in s, longest wait of the other writer,
    how many of its writes gave up after the busy timeout)."""
    store = Store(f"sqlite:///{path}")
    job_thread = threading.get_ident()
    began: dict[int, float] = {}
    spans: list[float] = []

    @event.listens_for(store.engine, "begin")
    def _begin(conn: Any) -> None:   # after lensbot's own listener: the lock is taken
        if threading.get_ident() == job_thread:
            began[id(conn)] = time.perf_counter()

    @event.listens_for(store.engine, "commit")
    def _commit(conn: Any) -> None:
        if id(conn) in began:
            spans.append(time.perf_counter() - began.pop(id(conn)))

    other = Store(f"sqlite:///{path}")   # the bot's answers: another connection, writing all along
    waits: list[float] = []
    failed: list[int] = []
    stop = threading.Event()

    def writer() -> None:
        n = 0
        while not stop.is_set():
            t0 = time.perf_counter()
            try:
                other.claim_update("bench", n)
            except StorageUnavailable:   # waited the whole busy timeout: a user got "try again"
                failed.append(n)
            waits.append(time.perf_counter() - t0)
            n += 1
            time.sleep(0.005)

    thread = threading.Thread(target=writer)
    thread.start()
    time.sleep(0.2)
    try:
        handled = len(job(store))
    finally:
        stop.set()
        thread.join()
        store.dispose()
        other.dispose()
    return handled, spans, max(waits), len(failed)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--due", type=int, default=40_000, help="cases past the retention")
    parser.add_argument("--fresh", type=int, default=10_000, help="recent cases that stay")
    parser.add_argument("--batch", type=int, default=500, help="cases per transaction; 0: all in one")
    parser.add_argument("--pause", type=float, default=None, help="seconds between batches (default: JOB_PAUSE)")
    args = parser.parse_args()
    print_machine("batch_jobs: the longest transaction of the purge and the reminder job (SQLite)")
    batched = "batch" in inspect.signature(records.purge).parameters
    kwargs: dict[str, Any] = {"batch": args.batch or 10**9} if batched else {}
    if batched and args.pause is not None:
        kwargs["pause"] = args.pause
    mode = f"batches of {args.batch}" if batched and args.batch else "one transaction"
    if batched and args.batch:
        mode += f", {kwargs.get('pause', records.JOB_PAUSE)} s apart"
    mode += "" if batched else " (old code)"
    with tempfile.TemporaryDirectory(prefix="lensbot-jobs-") as tmp:
        source = Path(tmp) / "source.db"
        t0 = time.perf_counter()
        build(source, args.due, args.fresh)
        print(f"{args.due:,} cases past 90 days and {args.fresh:,} recent ones, 40 answers each: "
              f"{source.stat().st_size / 1e9:.2f} GB, built in {time.perf_counter() - t0:.0f} s; jobs in {mode}\n")
        print(f"  {'job':10} {'handled':>8} {'transactions':>13} {'longest s':>10} {'total s':>8} "
              f"{'other writer: longest wait s':>29}")
        jobs = {"purge": lambda s: records.purge(s, 90, **kwargs),
                "reminders": lambda s: records.due_reminders(s, "telegram", timedelta(days=1), ("full", "quick"),
                                                             **kwargs)}
        for name, job in jobs.items():
            path = Path(tmp) / f"{name}.db"
            shutil.copy(source, path)
            handled, spans, wait, failed = run(path, job)
            print(f"  {name:10} {handled:>8,} {len(spans):>13,} {max(spans):>10.3f} {sum(spans):>8.2f} "
                  f"{wait:>29.3f}" + (f"  ({failed} gave up: 'try again')" if failed else ""))
            path.unlink()


if __name__ == "__main__":
    main()
