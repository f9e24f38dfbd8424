"""Round trips to PostgreSQL per answer: counted on the wire, with libpq's protocol trace.

Every connection of the Store is traced (psycopg's `PGconn.trace`); a round trip is one
ReadyForQuery from the server, the moment the client waits for an answer. For each answer tap
(IntakeService.handle with an update id, as Telegram sends it) the script prints the round trips,
what the client sent in each (a simple Query: BEGIN, COMMIT, the pool's ping ";"; or a statement
with parameters, ended by a Sync), the statements SQLAlchemy saw, and the time. Counting on the wire
makes old and new code comparable whatever does the sending (the driver, the pool, SQLAlchemy).

PostgreSQL as for the other scripts (bench/README.md); without a server the script says so and ends.

Run: .venv/bin/python bench/round_trips.py [--postgres URL] [--answers 20]
     (against older code: PYTHONPATH=<checkout> .venv/bin/python <checkout>/bench/round_trips.py)
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from inproc import PgSchema, pg_available, postgres_url, print_machine
from sqlalchemy import event

from dialogs.service import IntakeService
from matrix.loader import load_lens
from storage.repo import Store


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--postgres", default=postgres_url())
    parser.add_argument("--answers", type=int, default=20)
    args = parser.parse_args()
    print_machine("round_trips: PostgreSQL round trips per answer tap, counted on the wire")

    from psycopg import pq

    if args.postgres == postgres_url() and pg_available() is None:
        print(f"no PostgreSQL at {args.postgres}: nothing to count")
        return
    with PgSchema(args.postgres) as url:
        count(Store(url), args.answers, pq)


def count(store: Store, answers: int, pq: Any) -> None:
    trace = tempfile.NamedTemporaryFile("w+", prefix="lensbot-trace-", delete=False)   # noqa: SIM115

    @event.listens_for(store.engine, "connect")
    def _trace(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.pgconn.trace(trace.fileno())
        dbapi_conn.pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS)

    statements: list[str] = []
    event.listen(store.engine, "before_cursor_execute",
                 lambda _c, _cu, statement, *_a: statements.append(statement.split()[0].upper()))
    try:
        store.upgrade()
        lens = load_lens()
        service = IntakeService(store, lens)
        user = store.user("telegram", "4242", create_role="professional")
        assert user is not None
        reply = service.start(user, "nl")
        reply = service.handle(user, reply.case_code, "begin", step=reply.step)
        trips: list[int] = []
        times: list[float] = []
        sent: Counter[str] = Counter()
        said: Counter[str] = Counter()
        for i in range(answers):
            assert reply.prompt is not None and not reply.finished
            option = next((o.id for o in reply.prompt.options if o.id == "no"), reply.prompt.options[0].id)
            trace.flush()
            start, statements[:] = Path(trace.name).stat().st_size, []
            t0 = time.perf_counter()
            reply = service.handle(user, reply.case_code, "answer", option, step=reply.step, update=("bench", i))
            times.append((time.perf_counter() - t0) * 1000)
            assert not reply.refused, reply
            with open(trace.name) as f:
                f.seek(start)
                lines = [line.split("\t") for line in f.read().splitlines()]
            trips.append(sum(1 for part in lines if part[0] == "B" and part[2].startswith("ReadyForQuery")))
            for part in lines:
                if len(part) > 2 and part[0] == "F" and part[2].strip() == "Query":
                    sent[part[3].strip().strip('"').split()[0].upper() or ";"] += 1
                elif len(part) > 2 and part[0] == "F" and part[2].strip() == "Sync":
                    sent["statement (extended protocol)"] += 1
            said.update(statements)
        n = answers
        print(f"answer taps: {n}, the first {n} questions of the default lens, each with an update id")
        print(f"round trips per answer: median {statistics.median(trips)}, min {min(trips)}, max {max(trips)}")
        print("sent per answer (mean): " + ", ".join(f"{k} {v / n:.1f}" for k, v in sorted(sent.items())))
        print("statements SQLAlchemy executed per answer (mean): "
              + ", ".join(f"{k} {v / n:.1f}" for k, v in sorted(said.items())))
        print(f"time per answer (IntakeService.handle): median {statistics.median(times):.2f} ms")
    finally:
        store.dispose()
        Path(trace.name).unlink(missing_ok=True)


if __name__ == "__main__":
    main()
