"""The per-answer hot path without Telegram: the user lookup and `IntakeService.handle`.

What update_cost.py measures through PTB, split into its storage and dialog parts, on SQLite (a
file in a temp dir, WAL) and, when reachable, PostgreSQL (a fresh schema). For each database
it runs complete intakes (Begin, "Nee" to every question, no note) the way a Telegram tap does:
`Access.user(id)`, then `service.handle(..., update=("telegram", id))` (the age question, asked
first in every mode, is answered with its first band), and reports the median
µs of each, plus a breakdown of one handle() by statement kind with --profile.

Run: .venv/bin/python bench/hot_path.py [--intakes 10] [--reps 5] [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import tempfile
from pathlib import Path

from inproc import PgSchema, clock, git_free_revision, median, pg_available, print_machine

from dialogs.access import Access
from dialogs.render import option_event
from dialogs.service import IntakeService
from matrix.lens import Lens
from matrix.loader import load_lens
from storage import accounts
from storage.repo import Store


def intakes(store: Store, lens: Lens, n: int, uid: int, profile: cProfile.Profile | None = None
            ) -> tuple[list[float], list[float]]:
    service = IntakeService(store, lens)
    access = Access(store, "telegram")
    accounts.set_role(store, "telegram", str(uid), "professional")
    lookups, handles = [], []
    update_id = uid * 10_000
    for _ in range(n):
        user = access.user(uid)
        assert user is not None
        reply = service.start(user, "nl")
        while reply.prompt is not None:
            ids = [o.id for o in reply.prompt.options]
            if reply.prompt.question_id == lens.age_item:   # every mode asks the age band first
                option = ids[0]
            else:
                option = next(o for o in ("no", "begin", "no_note", "finish") if o in ids)
            event, value = option_event(option)
            update_id += 1
            t0 = clock()
            user = access.user(uid)
            t1 = clock()
            if profile:
                profile.enable()
            reply = service.handle(user, reply.case_code, event, value, reply.step, None, ("telegram", update_id))
            if profile:
                profile.disable()
            t2 = clock()
            assert not reply.refused, reply.toast
            lookups.append(t1 - t0)
            handles.append(t2 - t1)
    return lookups, handles


def measure(url: str, lens: Lens, args: argparse.Namespace, rep: int,
            profile: cProfile.Profile | None = None) -> tuple[float, float]:
    store = Store(url)
    store.ensure_schema(auto_upgrade=True)
    try:
        lookups, handles = intakes(store, lens, args.intakes, 9_000 + rep, profile)
    finally:
        store.dispose()
    return median(lookups) * 1e6, median(handles) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--intakes", type=int, default=10, help="complete intakes per repetition (default 10)")
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--profile", action="store_true", help="cProfile of handle() on SQLite")
    args = parser.parse_args()
    print_machine("hot_path: user lookup and IntakeService.handle per answer, no Telegram")
    lens = load_lens()
    pg = pg_available()
    results: dict[str, list[tuple[float, float]]] = {"sqlite": [], "postgresql": []}
    with tempfile.TemporaryDirectory(prefix="lensbot-bench-") as tmp:
        measure(f"sqlite:///{Path(tmp) / 'warm.db'}", lens, args, 99)
        for rep in range(args.reps):
            results["sqlite"].append(measure(f"sqlite:///{Path(tmp) / f'r{rep}.db'}", lens, args, rep))
            if pg:
                with PgSchema(pg) as url:
                    results["postgresql"].append(measure(url, lens, args, rep))
        if args.profile:
            prof = cProfile.Profile()
            measure(f"sqlite:///{Path(tmp) / 'prof.db'}", lens, args, 77, prof)
            pstats.Stats(prof).sort_stats("cumulative").print_stats(40)
    print(f"{'database':12} {'user lookup µs':>15} {'handle µs':>10}   (medians of {args.reps} repetitions × "
          f"{args.intakes} intakes; code {git_free_revision()})")
    for db, rows in results.items():
        if rows:
            print(f"{db:12} {median([r[0] for r in rows]):15.0f} {median([r[1] for r in rows]):10.0f}")
        else:
            print(f"{db:12} {'skipped (no server)':>26}")


if __name__ == "__main__":
    main()
