"""Cost per answered question: lensbot's real Application against the floor of a bare PTB bot.

Both run in this process on the same in-process Bot API transport (bench/inproc.py, no sockets),
updates fed one at a time through each application's update processor, in alternating
repetitions so the machine's noise hits both alike.

- lensbot: `bot.telegram.app.build_application` (AIORateLimiter, per-chat processor, the DB thread
  pool), a real SQLite file (WAL) in a temp dir, N users added with `storage.accounts.set_role`.
  Each user sends /nieuw, taps Begin, answers every question ("Nee", or "Ja" with probability
  --p-yes) to the end, and skips the closing note. Every answer is committed before the reply;
  after each repetition the stored answers are counted against the taps.
- floor: a bare `Application` with one CallbackQueryHandler that answers the query and edits the
  message (same text length, same five-button keyboard), fed the same number of taps.
- floor + AIORateLimiter: the floor with lensbot's rate limiter, to show what that costs.

Both rate limiters run without AIORateLimiter's 30 messages/s overall throttle (which would make
this measure PTB's token bucket); --throttle keeps it.

Prints µs per update (median over repetitions of each repetition's mean, and of the median answer
tap that edits the question in place), the ratio lensbot / floor, lensbot's updates by kind
(answer taps, phase changes, the summary with the lens picture, ...) and the machine. --profile
adds a cProfile of one lensbot run, the event loop and the database thread together.

Run: .venv/bin/python bench/update_cost.py [--users 20] [--reps 5] [--p-yes 0.05] [--profile] [--throttle]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import logging
import pstats
import random
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from inproc import (
    TOKEN,
    InProcessBotAPI,
    SimUser,
    clock,
    feed,
    git_free_revision,
    median,
    percentile,
    print_machine,
    unthrottled_limiter,
)
from sqlalchemy import func, select
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import AIORateLimiter, Application, ApplicationBuilder, CallbackQueryHandler, ContextTypes

from bot.telegram.app import Settings, build_application
from dialogs.service import IntakeService
from matrix.lens import Lens
from matrix.loader import load_lens
from storage import accounts
from storage.models import Answer, Case
from storage.repo import Store

AGE = "B"   # the age question comes first (lens 2.0): its second band, "12 tot 18 jaar"
FLOOR_TEXT = "<b>Wonen &amp; Financiën · 3/18</b>\n\n" + "Is er sprake van schulden of geldproblemen? " * 3


@dataclass
class Run:
    wall: float = 0.0                                  # seconds for all updates
    updates: int = 0
    taps: list[float] = field(default_factory=list)    # seconds per answer tap (edited in place)
    all: list[float] = field(default_factory=list)     # seconds per update, every kind
    kinds: dict[str, list[float]] = field(default_factory=dict)   # seconds per update by what it caused

    @property
    def per_update_us(self) -> float:
        return self.wall / self.updates * 1e6


# -- lensbot -------------------------------------------------------------------------------------
async def lensbot_run(lens: Lens, users: int, p_yes: float, seed: int, profile: cProfile.Profile | None = None,
                      throttle: bool = False) -> Run:
    first_uid = 5_000_000
    with tempfile.TemporaryDirectory(prefix="lensbot-bench-") as tmp:
        store = Store(f"sqlite:///{Path(tmp) / 'lensbot.db'}")
        store.ensure_schema(auto_upgrade=True)
        uids = [first_uid + i for i in range(users)]
        for uid in uids:
            accounts.set_role(store, "telegram", str(uid), "professional")
        api = InProcessBotAPI()
        limiter = None if throttle else unthrottled_limiter()
        app = build_application(Settings(token=TOKEN), IntakeService(store, lens), store, request=api,
                                rate_limiter=limiter)
        await app.initialize()
        assert app.post_init is not None
        await app.post_init(app)
        await app.start()
        worker_profile = None
        if profile:   # cProfile sees one thread: give the database thread its own profiler
            worker_profile = cProfile.Profile()
            rt = app.bot_data["rt"]
            rt.executor.shutdown()
            rt.executor = ThreadPoolExecutor(max_workers=1, initializer=worker_profile.enable)
        rng = random.Random(seed)
        run = Run()
        answered = 0
        try:
            if profile:
                profile.enable()
            for uid in uids:
                user = SimUser(api, uid)
                raw = user.command("/nieuw")
                t0 = clock()
                await feed(app, raw)
                run.all.append(clock() - t0)
                run.kinds.setdefault("/nieuw (new case, intro)", []).append(run.all[-1])
                while True:
                    prefer = ("y", "n") if rng.random() < p_yes else ("n",)
                    data = user.choose((*prefer, AGE, "g", "x", "f"))
                    if data is None:
                        break
                    raw = user.tap(data)
                    is_answer = data.rsplit(":", 1)[-1] in ("y", "n", AGE)
                    before, photos = api.calls["sendMessage"], api.calls["sendPhoto"]
                    t0 = clock()
                    await feed(app, raw)
                    dt = clock() - t0
                    run.all.append(dt)
                    answered += is_answer
                    in_place = api.calls["sendMessage"] == before
                    if is_answer and in_place:
                        run.taps.append(dt)
                    kind = ("answer, question edited in place" if is_answer and in_place else
                            "answer + summary + lens picture" if api.calls["sendPhoto"] > photos else
                            "answer, new phase (messages sent)" if is_answer else "Begin / no note")
                    run.kinds.setdefault(kind, []).append(dt)
                api.forget(uid)
            if profile:
                profile.disable()
            if worker_profile:
                app.bot_data["rt"].executor.submit(worker_profile.disable).result()
                profile.worker = worker_profile   # type: ignore[attr-defined]
        finally:
            await app.stop()
            await app.shutdown()
            assert app.post_shutdown is not None
            await app.post_shutdown(app)
        run.wall, run.updates = sum(run.all), len(run.all)
        check = Store(f"sqlite:///{Path(tmp) / 'lensbot.db'}")
        with check.engine.connect() as conn:
            stored = conn.execute(select(func.count()).select_from(Answer)).scalar_one()
            done = conn.execute(select(func.count()).select_from(Case).where(Case.status == "completed")).scalar_one()
        check.dispose()
        if stored != answered or done != users:
            raise SystemExit(f"not every answer was committed: {stored} stored of {answered}, {done}/{users} done")
    return run


# -- the floor -----------------------------------------------------------------------------------
def floor_keyboard(step: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([
        [InlineKeyboardButton(label, callback_data=f"q:K7QX3M:{step}:{c}") for label, c in
         (("Ja", "y"), ("Nee", "n"), ("Weet ik niet", "u"))],
        [InlineKeyboardButton(label, callback_data=f"q:K7QX3M:{step}:{c}") for label, c in
         (("← Terug", "b"), ("Sla leefgebied over", "s"))],
    ])


async def floor_callback(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    assert query is not None and query.data is not None
    step = int(query.data.split(":")[2]) + 1
    await query.answer()
    await query.edit_message_text(FLOOR_TEXT, parse_mode="HTML", reply_markup=floor_keyboard(step))


async def floor_run(updates: int, rate_limiter: bool, users: int, throttle: bool = False) -> Run:
    api = InProcessBotAPI()
    builder = ApplicationBuilder().token(TOKEN).request(api).get_updates_request(api)
    if rate_limiter:
        builder = builder.rate_limiter(AIORateLimiter(max_retries=3) if throttle else unthrottled_limiter())
    app: Application = builder.build()
    app.add_handler(CallbackQueryHandler(floor_callback))
    await app.initialize()
    await app.start()
    run = Run()
    sims = [SimUser(api, 7_000_000 + i) for i in range(users)]
    for sim in sims:   # the question message each user taps on
        await app.bot.send_message(sim.id, FLOOR_TEXT, parse_mode="HTML", reply_markup=floor_keyboard(0))
    try:
        for i in range(updates):
            sim = sims[i * users // updates]
            raw = sim.tap(sim.choose(("n",)) or "")
            t0 = clock()
            await feed(app, raw)
            dt = clock() - t0
            run.all.append(dt)
            run.taps.append(dt)
    finally:
        await app.stop()
        await app.shutdown()
    run.wall, run.updates = sum(run.all), len(run.all)
    return run


async def main_async(args: argparse.Namespace) -> None:
    lens = load_lens()
    rows: dict[str, list[Run]] = {"floor": [], "floor+ratelimiter": [], "lensbot": []}
    # warm-up: imports, first-call caches, the PNG font
    await lensbot_run(lens, 1, args.p_yes, 0)
    await floor_run(200, False, 1)
    for rep in range(args.reps):
        lb = await lensbot_run(lens, args.users, args.p_yes, seed=rep, throttle=args.throttle)
        rows["lensbot"].append(lb)
        rows["floor"].append(await floor_run(lb.updates, False, args.users))
        rows["floor+ratelimiter"].append(await floor_run(lb.updates, True, args.users, args.throttle))
        print(f"  rep {rep + 1}/{args.reps}: lensbot {lb.per_update_us:7.0f} µs/update, "
              f"floor {rows['floor'][-1].per_update_us:6.0f}, "
              f"floor+RL {rows['floor+ratelimiter'][-1].per_update_us:6.0f}", flush=True)
    print()
    floor = median([r.per_update_us for r in rows["floor"]])
    floor_tap = median([median(r.taps) * 1e6 for r in rows["floor"]])
    print(f"{'variant':20} {'µs/update (mean)':>17} {'ratio':>6} {'answer tap p50':>15} {'ratio':>6} "
          f"{'tap p99':>8} {'updates/rep':>12}")
    for name, runs in rows.items():
        mean_us = median([r.per_update_us for r in runs])
        tap_us = median([median(r.taps) * 1e6 for r in runs])
        p99 = median([percentile(r.taps, 99) * 1e6 for r in runs])
        print(f"{name:20} {mean_us:17.0f} {mean_us / floor:6.2f} {tap_us:15.0f} {tap_us / floor_tap:6.2f} "
              f"{p99:8.0f} {runs[0].updates:12d}")
    print("\nlensbot's updates by kind (median over repetitions):")
    print(f"  {'kind':36} {'per intake':>10} {'µs p50':>8} {'share of time':>14}")
    lb = rows["lensbot"]
    for kind in lb[0].kinds:
        count = len(lb[0].kinds[kind]) / args.users
        p50 = median([median(r.kinds[kind]) * 1e6 for r in lb])
        share = median([sum(r.kinds[kind]) / r.wall for r in lb])
        print(f"  {kind:36} {count:10.0f} {p50:8.0f} {share:14.0%}")
    print(f"\n(median of {args.reps} repetitions; {args.users} complete intakes per repetition; "
          f"code {git_free_revision()}; AIORateLimiter without its 30 msg/s throttle, see --throttle)")
    print("µs/update (mean): wall time of all updates of complete intakes (commands, taps, phase changes, "
          "summary with picture) / number of updates")
    print("answer tap p50: median of the answer taps answered by editing the question in place")

    if args.profile:
        prof = cProfile.Profile()
        await lensbot_run(lens, args.users, args.p_yes, seed=99, profile=prof)
        print("cProfile of one lensbot run, event loop and database thread together (the loop's idle\n"
              "wait for the database thread shows up as select/poll):")
        for order, lines in (("cumulative", 45), ("tottime", 30)):
            out = io.StringIO()
            stats = pstats.Stats(prof, stream=out)
            stats.add(prof.worker)   # type: ignore[attr-defined]
            stats.sort_stats(order).print_stats(lines)
            print(out.getvalue())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=20, help="complete intakes per repetition (default 20)")
    parser.add_argument("--reps", type=int, default=5, help="repetitions (default 5)")
    parser.add_argument("--p-yes", type=float, default=0.05, help="probability of tapping Ja (default 0.05)")
    parser.add_argument("--throttle", action="store_true",
                        help="keep AIORateLimiter's 30 messages/s overall throttle (lensbot's production setting)")
    parser.add_argument("--profile", action="store_true", help="also profile one lensbot run with cProfile")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    print_machine("update_cost: µs per update, lensbot vs a bare PTB bot, same in-process transport")
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
