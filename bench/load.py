"""Throughput and latency under load: 10, 100 and 1,000 conversations on SQLite and PostgreSQL.

lensbot's real Application (build_application) on the in-process Bot API (bench/inproc.py), a
fresh database per run (a temp SQLite file; a new PostgreSQL schema migrated by Alembic). Each
conversation is one Telegram user in a private chat who sends /nieuw, taps Begin and then answers
"Nee" to every question; at the end of an intake (summary, lens picture, no note) they start the
next one. A user taps only after the bot has answered the previous tap, as a person does.

Two phases per run, on the same conversations, one after the other:
- interactive: before each tap the user pauses (exponential, mean --think s, default 5 s: read
  the question, decide, tap), so N conversations offer about N/5 taps a second. p50/p99 are what
  a user waits for. The conversations are early in their intake here (a few taps each).
- saturation: no pause at all. answers/s is the instance's capacity; latency then is mostly
  queueing (Little's law: N updates in flight / throughput), and summaries with the lens picture
  are part of the mix once conversations reach the end of an intake.
A last run (--throttled, SQLite) repeats the interactive phase with lensbot's production rate
limiter, whose 30 messages a second overall is what Telegram allows a bot for bulk messages.

Latency is measured per update from feeding it (JSON parse included) to its handler finishing,
through PTB's update processor (lensbot's per-chat ordering, 256 concurrent updates at most).
After each run the answer log is counted against the taps: every answer was committed.

Run: .venv/bin/python bench/load.py [--levels 10,100,1000] [--db sqlite,postgresql] [--think 5]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import random
import tempfile
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

from inproc import (
    InProcessBotAPI,
    PgSchema,
    SimUser,
    clock,
    feed,
    git_free_revision,
    percentile,
    pg_available,
    print_machine,
    start_lensbot,
    stop_lensbot,
)
from sqlalchemy import func, insert, select
from telegram.ext import Application

from matrix.lens import Lens
from matrix.loader import load_lens
from storage.models import AnswerLog, User
from storage.repo import Store, now

FIRST_UID = 3_000_000


@dataclass
class Phase:
    latencies: list[float] = field(default_factory=list)
    answers: int = 0
    wall: float = 0.0      # from the phase's start to its last update finishing
    last: float = 0.0

    def row(self) -> tuple[float, float, float, float]:
        return (self.answers / self.wall, len(self.latencies) / self.wall, percentile(self.latencies, 50) * 1e3,
                percentile(self.latencies, 99) * 1e3)


async def converse(app: Application, sim: SimUser, until: float, think: float, rng: random.Random,
                   phase: Phase) -> None:
    while True:
        if think:   # never past the end of the phase: the phase's rate is counted over its own window
            await asyncio.sleep(min(rng.expovariate(1 / think), max(0.0, until - clock())))
        if clock() >= until:
            return
        data = sim.choose(("n", "x", "f", "g"))   # Nee, no note, finish, Begin
        raw = sim.command("/nieuw") if data is None else sim.tap(data)
        t0 = clock()
        await feed(app, raw)
        done = clock()
        phase.latencies.append(done - t0)
        phase.answers += data is not None and data.endswith(":n")
        phase.last = max(phase.last, done)


async def run_level(url: str, lens: Lens, n: int, args: argparse.Namespace, throttle: bool = False
                    ) -> dict[str, Phase]:
    store = Store(url)
    store.ensure_schema(auto_upgrade=True)
    at = now()
    with store.transaction() as tx:   # n users at once; the service path is what we measure, not set-up
        tx.conn.execute(insert(User), [{"channel": "telegram", "external_id": str(FIRST_UID + i),
                                        "role": "professional", "lang": "nl", "created_at": at} for i in range(n)])
    api = InProcessBotAPI()
    app = await start_lensbot(store, lens, api, throttle=throttle)
    sims = [SimUser(api, FIRST_UID + i) for i in range(n)]
    phases: dict[str, Phase] = {}
    try:
        await asyncio.gather(*(feed(app, s.command("/nieuw")) for s in sims))   # set-up, not measured
        await asyncio.gather(*(feed(app, s.tap(s.choose(("g",)) or "")) for s in sims))
        if getattr(args, "reports_on_db_thread", False):   # as before the rendering thread existed
            app.bot_data["rt"].renderer = None
        plan = [("interactive", args.think, args.interactive), ("saturation", 0.0, args.duration)]
        for name, think, seconds in plan[:1] if throttle else plan:
            phase = phases[name] = Phase()
            rng = random.Random(n)
            t0 = clock()
            until = t0 + seconds
            await asyncio.gather(*(converse(app, s, until, think, random.Random(rng.random()), phase) for s in sims))
            phase.wall = phase.last - t0
    finally:
        await stop_lensbot(app)
    check = Store(url)
    with check.engine.connect() as conn:
        logged = conn.execute(select(func.count()).select_from(AnswerLog)).scalar_one()
    check.dispose()
    taps = sum(p.answers for p in phases.values())
    if logged != taps:
        raise SystemExit(f"answers lost: {logged} in the answer log for {taps} answer taps")
    return phases


async def main_async(args: argparse.Namespace) -> None:
    lens = load_lens()
    levels = [int(x) for x in args.levels.split(",")]
    dbs = args.db.split(",")
    pg = pg_available() if "postgresql" in dbs else None
    results: list[tuple[str, int, str, Phase]] = []
    with tempfile.TemporaryDirectory(prefix="lensbot-load-") as tmp:
        await run_level(f"sqlite:///{Path(tmp) / 'warm.db'}", lens, 5, argparse.Namespace(
            duration=0.5, interactive=0.5, think=0.05))
        for db in dbs:
            if db == "postgresql" and pg is None:
                print("postgresql: no server reachable, skipped")
                continue
            for n in levels:
                with ExitStack() as stack:
                    url = (f"sqlite:///{Path(tmp) / f'load-{n}.db'}" if db == "sqlite"
                           else stack.enter_context(PgSchema(pg or "")))
                    phases = await run_level(url, lens, n, args)
                for name, phase in phases.items():
                    results.append((db, n, name, phase))
                    a, u, p50, p99 = phase.row()
                    print(f"  {db:10} {n:5} conversations  {name:11}  {a:7.0f} answers/s  {u:7.0f} updates/s  "
                          f"p50 {p50:7.1f} ms  p99 {p99:7.1f} ms", flush=True)
    print()
    print(f"{'database':10} {'conv.':>6} | {'think ' + format(args.think, 'g') + ' s: answers/s':>20} "
          f"{'p50 ms':>7} {'p99 ms':>7} {'updates':>8} | {'saturation: answers/s':>21} {'p50 ms':>7} {'p99 ms':>7}")
    for db in dbs:
        for n in levels:
            rows = {name: phase for d, m, name, phase in results if d == db and m == n}
            if not rows:
                continue
            sat, inter = rows["saturation"].row(), rows["interactive"].row()
            print(f"{db:10} {n:6} | {inter[0]:20.0f} {inter[2]:7.1f} {inter[3]:7.1f} "
                  f"{len(rows['interactive'].latencies):8d} | {sat[0]:21.0f} {sat[2]:7.1f} {sat[3]:7.1f}")
    if args.throttled:
        with tempfile.TemporaryDirectory(prefix="lensbot-load-") as tmp:
            phases = await run_level(f"sqlite:///{Path(tmp) / 'throttled.db'}", lens, args.throttled, args, True)
        a, _, p50, p99 = phases["interactive"].row()
        print(f"{'sqlite':10} {args.throttled:6} | {a:20.0f} {p50:7.1f} {p99:7.1f} "
              f"{len(phases['interactive'].latencies):8d} | with PTB's default AIORateLimiter: 30 messages/s overall")
    print(f"\n(interactive {args.interactive:g} s, then saturation {args.duration:g} s, on the same conversations; "
          f"latency over every update; code {git_free_revision()}; AIORateLimiter without its 30 msg/s throttle"
          f"{'; reports rendered on the database thread' if args.reports_on_db_thread else ''})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--levels", default="10,100,1000", help="conversations per run (default 10,100,1000)")
    parser.add_argument("--db", default="sqlite,postgresql", help="databases (default sqlite,postgresql)")
    parser.add_argument("--interactive", type=float, default=6.0, help="seconds of the interactive phase (6)")
    parser.add_argument("--duration", type=float, default=3.0, help="seconds of the saturation phase (3)")
    parser.add_argument("--think", type=float, default=5.0,
                        help="mean pause in s before each tap in the interactive phase (default 5: read, decide, tap)")
    parser.add_argument("--throttled", type=int, default=1000,
                        help="also run this many conversations (interactive, SQLite) with the production rate "
                             "limiter's 30 messages/s overall throttle; 0: skip (default 1000)")
    parser.add_argument("--reports-on-db-thread", action="store_true",
                        help="render the lens picture on the database thread, as lensbot did before (comparison)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    print_machine("load: answers/s and latency per update with 10, 100 and 1,000 conversations")
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
