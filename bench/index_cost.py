"""What revision 0005's indexes cost an answer tap on SQLite, measured apart from the machine's noise.

Every answer rewrites its case's updated_at, so every index holding that column is updated on
every tap: before 0005 one (user_id, updated_at), since then three (user_id, status, updated_at),
(updated_at) and (status, reminded_at, updated_at). Two SQLite files in one process, one migrated
to revision 0004 and one to the head, each with --background stored cases; the same code answers
the same intakes on both, alternating tap by tap, so load on the machine hits both alike.
Prints the median µs of IntakeService.handle per answer tap on each, and the difference.

Run: .venv/bin/python bench/index_cost.py [--intakes 10] [--background 20000]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from inproc import print_machine
from per_user_reads import LENS, _sqlite_build

from dialogs.service import IntakeService
from matrix.loader import load_lens
from storage import migrate
from storage.repo import Store


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--intakes", type=int, default=10)
    parser.add_argument("--background", type=int, default=20_000, help="stored cases in each database")
    args = parser.parse_args()
    print_machine("index_cost: an answer tap on SQLite with the indexes of revision 0004 and of 0005")
    lens = load_lens()
    with tempfile.TemporaryDirectory(prefix="lensbot-index-") as tmp:
        services: dict[str, tuple[IntakeService, Store]] = {}
        for revision in ("0004", "head"):
            path = Path(tmp) / f"{revision}.db"
            store = Store(f"sqlite:///{path}")
            migrate.upgrade(store.engine, revision)
            store.ensure_lens_version(LENS, "1", "0" * 64, {})
            store.dispose()
            _sqlite_build(path, args.background, 20, 40)
            store = Store(f"sqlite:///{path}")
            services[revision] = (IntakeService(store, lens), store)
        times: dict[str, list[float]] = {r: [] for r in services}
        for i in range(args.intakes):
            state = {}
            for revision, (service, store) in services.items():
                user = store.user("bench", str(i), create_role="professional")
                assert user is not None
                reply = service.start(user, "nl")
                state[revision] = (user, service.handle(user, reply.case_code, "begin", step=reply.step))
            while True:
                for revision, (service, _) in services.items():
                    user, reply = state[revision]
                    if reply.finished or reply.prompt is None:
                        continue
                    options = [o.id for o in reply.prompt.options]
                    choice = next((o for o in ("no", "no_note") if o in options), options[0])
                    event = "no_note" if choice == "no_note" else "answer"
                    t0 = time.perf_counter()
                    reply = service.handle(user, reply.case_code, event, None if event == "no_note" else choice,
                                           step=reply.step)
                    times[revision].append((time.perf_counter() - t0) * 1e6)
                    state[revision] = (user, reply)
                if all(r.finished or r.prompt is None for _, r in state.values()):
                    break
        for _, store in services.values():
            store.dispose()
    before, after = (statistics.median(times[r]) for r in ("0004", "head"))
    print(f"answer taps per database: {len(times['head'])}, {args.background:,} stored cases each")
    print(f"  IntakeService.handle, median µs: revision 0004 {before:.0f}, revision 0005 {after:.0f}, "
          f"difference {after - before:+.0f} ({(after - before) / before:+.1%})")


if __name__ == "__main__":
    main()
