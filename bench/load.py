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
Two reference runs follow: the floor (--floor: update_cost.py's bare PTB bot, answer and edit, no
database, saturated by 100 users: what PTB itself manages on this machine), and (--throttled,
SQLite) the interactive phase again with lensbot's production rate limiter, whose 30 messages a
second overall is what Telegram allows a bot for bulk messages.

Latency is measured per update from feeding it (JSON parse included) to its handler finishing,
through PTB's update processor (lensbot's per-chat ordering, 256 concurrent updates at most).
After each run the answer log is counted against the taps: every answer was committed.

Run: .venv/bin/python bench/load.py [--levels 10,100,1000] [--db sqlite,postgresql] [--think 5] [--reps 1]
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

from aiolimiter import AsyncLimiter
from inproc import (
    TOKEN,
    InProcessBotAPI,
    PgSchema,
    SimUser,
    clock,
    feed,
    git_free_revision,
    median,
    percentile,
    pg_available,
    print_machine,
    start_lensbot,
    stop_lensbot,
)
from sqlalchemy import func, insert, select
from telegram.constants import FloodLimit
from telegram.ext import Application, ApplicationBuilder, CallbackQueryHandler
from update_cost import FLOOR_TEXT, floor_callback, floor_keyboard

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
        data = sim.choose(("n", "x", "f", "g", "A"))   # Nee, no note, finish, Begin, the first age
        raw = sim.command("/nieuw") if data is None else sim.tap(data)
        t0 = clock()
        await feed(app, raw)
        done = clock()
        phase.latencies.append(done - t0)
        phase.answers += data is not None and data.endswith((":n", ":A"))   # the age is an answer too
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
    app = await start_lensbot(store, lens, api)
    sims = [SimUser(api, FIRST_UID + i) for i in range(n)]
    phases: dict[str, Phase] = {}
    try:
        await asyncio.gather(*(feed(app, s.command("/nieuw")) for s in sims))   # set-up, not measured
        await asyncio.gather(*(feed(app, s.tap(s.choose(("g",)) or "")) for s in sims))
        if throttle:   # set-up ran unthrottled (2,000 messages at 30/s would take a minute); now PTB's default
            app.bot.rate_limiter._base_limiter = AsyncLimiter(FloodLimit.MESSAGES_PER_SECOND, 1)  # type: ignore
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


async def floor_saturation(n: int, seconds: float) -> Phase:
    """The bare PTB bot of update_cost.py (answer the query, edit the message), n users tapping without pause."""
    api = InProcessBotAPI()
    app = ApplicationBuilder().token(TOKEN).request(api).get_updates_request(api).concurrent_updates(256).build()
    app.add_handler(CallbackQueryHandler(floor_callback))
    await app.initialize()
    await app.start()
    sims = [SimUser(api, 7_000_000 + i) for i in range(n)]
    for sim in sims:
        await app.bot.send_message(sim.id, FLOOR_TEXT, parse_mode="HTML", reply_markup=floor_keyboard(0))
    phase = Phase()

    async def tapper(sim: SimUser, until: float) -> None:
        while clock() < until:
            raw = sim.tap(sim.choose(("n",)) or "")
            t0 = clock()
            await feed(app, raw)
            phase.last = clock()
            phase.latencies.append(phase.last - t0)
            phase.answers += 1

    try:
        t0 = clock()
        await asyncio.gather(*(tapper(sim, t0 + seconds) for sim in sims))
        phase.wall = phase.last - t0
    finally:
        await app.stop()
        await app.shutdown()
    return phase


async def main_async(args: argparse.Namespace) -> None:
    lens = load_lens()
    levels = [int(x) for x in args.levels.split(",")]
    dbs = args.db.split(",")
    pg = pg_available() if "postgresql" in dbs else None
    results: dict[tuple[str, int, str], list[Phase]] = {}
    with tempfile.TemporaryDirectory(prefix="lensbot-load-") as tmp:
        await run_level(f"sqlite:///{Path(tmp) / 'warm.db'}", lens, 5, argparse.Namespace(
            duration=0.5, interactive=0.5, think=0.05))
        for rep in range(args.reps):   # repetitions alternate over all runs, so noise spreads evenly
            for db in dbs:
                if db == "postgresql" and pg is None:
                    if rep == 0:
                        print("postgresql: no server reachable, skipped")
                    continue
                for n in levels:
                    with ExitStack() as stack:
                        url = (f"sqlite:///{Path(tmp) / f'load-{n}-{rep}.db'}" if db == "sqlite"
                               else stack.enter_context(PgSchema(pg or "")))
                        phases = await run_level(url, lens, n, args)
                    for name, phase in phases.items():
                        results.setdefault((db, n, name), []).append(phase)
                        a, u, p50, p99 = phase.row()
                        print(f"  {db:10} {n:5} conversations  {name:11}  {a:7.0f} answers/s  {u:7.0f} updates/s  "
                              f"p50 {p50:7.1f} ms  p99 {p99:7.1f} ms", flush=True)
        floors = [await floor_saturation(args.floor, args.duration) for _ in range(args.reps if args.floor else 0)]
        throttled: list[Phase] = []
        for rep in range(args.reps if args.throttled else 0):
            phases = await run_level(f"sqlite:///{Path(tmp) / f'throttled-{rep}.db'}", lens, args.throttled, args, True)
            throttled.append(phases["interactive"])

    def cell(phases: list[Phase]) -> tuple[float, float, float, int]:
        rows = [p.row() for p in phases]
        return (median([r[0] for r in rows]), median([r[2] for r in rows]), median([r[3] for r in rows]),
                round(median([len(p.latencies) for p in phases])))

    print()
    print(f"{'database':10} {'conv.':>6} | {'think ' + format(args.think, 'g') + ' s: answers/s':>20} "
          f"{'p50 ms':>7} {'p99 ms':>7} {'updates':>8} | {'saturation: answers/s':>21} {'p50 ms':>7} {'p99 ms':>7}")
    for db in dbs:
        for n in levels:
            if (db, n, "saturation") not in results:
                continue
            inter, sat = cell(results[(db, n, "interactive")]), cell(results[(db, n, "saturation")])
            print(f"{db:10} {n:6} | {inter[0]:20.0f} {inter[1]:7.1f} {inter[2]:7.1f} {inter[3]:8d} | "
                  f"{sat[0]:21.0f} {sat[1]:7.1f} {sat[2]:7.1f}")
    if floors:
        rate, p50, p99, _ = cell(floors)
        print(f"{'floor':10} {args.floor:6} | {'':20} {'':7} {'':7} {'':8} | {rate:21.0f} {p50:7.1f} {p99:7.1f}"
              f"   bare PTB bot: answer + edit, no database")
    if throttled:
        a, p50, p99, count = cell(throttled)
        print(f"{'sqlite':10} {args.throttled:6} | {a:20.0f} {p50:7.1f} {p99:7.1f} {count:8d} | "
              f"with PTB's default AIORateLimiter: 30 messages/s overall")
    print(f"\n(median of {args.reps} repetition(s); interactive {args.interactive:g} s, then saturation "
          f"{args.duration:g} s, on the same conversations; latency over every update; code {git_free_revision()}; "
          f"AIORateLimiter without its 30 msg/s throttle"
          f"{'; reports rendered on the database thread' if args.reports_on_db_thread else ''})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--levels", default="10,100,1000", help="conversations per run (default 10,100,1000)")
    parser.add_argument("--db", default="sqlite,postgresql", help="databases (default sqlite,postgresql)")
    parser.add_argument("--interactive", type=float, default=5.0, help="seconds of the interactive phase (5)")
    parser.add_argument("--duration", type=float, default=3.0, help="seconds of the saturation phase (3)")
    parser.add_argument("--think", type=float, default=5.0,
                        help="mean pause in s before each tap in the interactive phase (default 5: read, decide, tap)")
    parser.add_argument("--reps", type=int, default=1, help="repetitions of every run; medians are printed (1)")
    parser.add_argument("--floor", type=int, default=100,
                        help="also saturate a bare PTB bot (update_cost.py's floor) with this many users; 0: skip")
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
