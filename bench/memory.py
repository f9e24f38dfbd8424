"""Memory of a running bot: RSS with 1k, 10k and 100k stored cases, and with 1,000 conversations open.

For each size a SQLite database is filled with completed full intakes by bulk SQL (every case with
its 93 answers and 93 answer-log rows, as the service would have stored them; generating 100k cases
through the service would take an hour). Then fresh child processes (--children, default 3; the
median of each figure is shown) start lensbot's real Application on that database (the in-process
Bot API of bench/inproc.py, no sockets) and report VmRSS from /proc/self/status:

- started:      after build_application, post_init and start (the bot is ready for updates)
- serving:      after 10 users ran a complete intake each (summary and lens picture included)
- housekeeping: after the retention purge, the reminder scan and the forget-updates job ran once
- peak:         VmHWM, the high-water mark of the whole child

A last child (one) runs on the 1k database with 1,000 conversations in progress (each user sent
/nieuw, tapped Begin and answered 5 questions) and reports RSS before and after opening them.

The figures from "serving" on are bimodal by ~8 MiB from one child to the next, whatever the
database size: whether the buffers of the last lens picture (a 1080x1858 RGB image) have gone
back to the OS. Hence the medians.

Run: .venv/bin/python bench/memory.py [--sizes 1000,10000,100000] [--conversations 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import gc
import json
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from inproc import (
    ROOT,
    InProcessBotAPI,
    SimUser,
    clock,
    feed,
    git_free_revision,
    print_machine,
    start_lensbot,
    stop_lensbot,
)

from storage.repo import new_case_code

FIRST_UID = 10_000_000


def settle() -> None:
    """Collect garbage and hand glibc's free heap pages back to the OS, so VmRSS shows what is in use
    rather than where the allocator's per-thread arenas happen to stand."""
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):   # not glibc: RSS then includes free arena pages
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def rss_kib(field: str = "VmRSS") -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


# -- the parent: databases ----------------------------------------------------------------------
def generate(path: Path, cases: int) -> float:
    """A migrated SQLite file holding `cases` completed full intakes; returns the seconds it took."""
    from dialogs.service import IntakeService
    from matrix.loader import load_lens
    from storage.repo import Store

    t0 = clock()
    lens = load_lens()
    store = Store(f"sqlite:///{path}")
    store.ensure_schema(auto_upgrade=True)
    IntakeService(store, lens)   # stores the lens version the cases refer to
    store.dispose()
    users = max(1, cases // 20)
    codes: set[str] = set()
    while len(codes) < cases:
        codes.add(new_case_code())
    trail = ",".join(str(i) for i in lens.full_script)
    items = sorted(lens.all_questions[i].item_id for i in lens.full_script)
    # a week ago: inside the retention period, so the purge keeps them (and has to look at them all)
    at = (datetime.now(UTC) - timedelta(days=7)).strftime("%Y-%m-%d %H:%M:%S.%f")
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=OFF")   # bulk load only; the bot reopens it in WAL mode
    conn.execute("PRAGMA synchronous=OFF")
    conn.execute("PRAGMA cache_size=-400000")
    conn.execute("BEGIN")
    conn.executemany("INSERT INTO users (channel, external_id, role, lang, reminders, created_at) "
                     "VALUES ('telegram', ?, 'professional', 'nl', 1, ?)",
                     [(str(FIRST_UID + i), at) for i in range(users)])
    conn.executemany("INSERT INTO cases (code, user_id, mode, status, state, step, trail, skipped, lang, lens_version,"
                     " created_at, updated_at, completed_at) VALUES (?, ?, 'full', 'completed', 'done', ?, ?, '', 'nl',"
                     " ?, ?, ?, ?)",
                     [(code, 1 + i % users, len(lens.full_script) + 2, trail, lens.version, at, at, at)
                      for i, code in enumerate(sorted(codes))])
    conn.execute("CREATE TEMP TABLE items (item_id TEXT, k INTEGER)")
    conn.executemany("INSERT INTO items VALUES (?, ?)", [(item, k) for k, item in enumerate(items)])
    # answers in primary-key order, so the B-trees grow by appending: ~3x faster than random order
    conn.execute("INSERT INTO answers (case_id, item_id, value, answered_at) SELECT c.id, i.item_id, "
                 "CASE (c.id * 7 + i.k * 13) % 20 WHEN 0 THEN 'yes' WHEN 1 THEN 'unknown' WHEN 2 THEN 'unknown' "
                 "ELSE 'no' END, ? FROM cases c CROSS JOIN items i ORDER BY c.id, i.item_id", (at,))
    conn.execute("INSERT INTO answer_log (case_id, item_id, value, at) "
                 "SELECT case_id, item_id, value, answered_at FROM answers ORDER BY case_id, item_id")
    conn.execute("COMMIT")
    conn.execute("PRAGMA journal_mode=WAL")
    conn.close()
    return clock() - t0


def child(db: Path, conversations: int, runs: int = 1) -> dict[str, int]:
    """The median of each figure over `runs` fresh child processes (one in ~3 lands ~7 MiB higher in
    every column from "serving" on, whatever the database size: where glibc's per-thread arenas land)."""
    figures = [one_child(db, conversations) for _ in range(runs)]
    return {key: int(statistics.median(f[key] for f in figures)) for key in figures[0]}


def one_child(db: Path, conversations: int) -> dict[str, int]:
    proc = subprocess.run([sys.executable, __file__, "--child", str(db), "--conversations", str(conversations)],
                          capture_output=True, text=True, cwd=ROOT, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"child failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


# -- the child: one running bot -----------------------------------------------------------------
async def child_main(db: Path, conversations: int) -> dict[str, int]:
    from bot.telegram import app as telegram_app
    from matrix.loader import load_lens
    from storage.repo import Store

    out = {"baseline": rss_kib()}
    lens = load_lens()
    store = Store(f"sqlite:///{db}")
    store.ensure_schema(auto_upgrade=True)
    api = InProcessBotAPI()
    app = await start_lensbot(store, lens, api)
    uid = 20_000_000
    try:
        settle()
        out["started"] = rss_kib()
        rng = random.Random(1)
        for i in range(10):   # complete intakes: summary, lens picture, every kind of update
            await store_user(store, uid + i)
            sim = SimUser(api, uid + i)
            await feed(app, sim.command("/nieuw"))
            while (data := sim.choose(("y", "n") if rng.random() < 0.05 else ("n", "x", "f", "g"))) is not None:
                await feed(app, sim.tap(data))
            api.forget(sim.id)
        settle()
        out["serving"] = rss_kib()
        context = type("Ctx", (), {"bot_data": app.bot_data, "bot": app.bot})()
        await telegram_app._purge(context)            # type: ignore[arg-type]
        await telegram_app._remind(context)           # type: ignore[arg-type]
        await telegram_app._forget_updates(context)   # type: ignore[arg-type]
        settle()
        out["housekeeping"] = rss_kib()
        if conversations:
            sims = [SimUser(api, uid + 1000 + i) for i in range(conversations)]
            for sim in sims:
                await store_user(store, sim.id)
            await asyncio.gather(*(feed(app, s.command("/nieuw")) for s in sims))
            for _ in range(6):   # Begin, then five answers each
                await asyncio.gather(*(feed(app, s.tap(s.choose(("n", "g")) or "")) for s in sims))
            settle()
            out["in_progress"] = rss_kib()
            out["open_cases"] = conversations
    finally:
        await stop_lensbot(app)
    out["peak"] = rss_kib("VmHWM")
    return out


async def store_user(store: object, uid: int) -> None:
    from storage import accounts

    accounts.set_role(store, "telegram", str(uid), "professional")   # type: ignore[arg-type]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,100000", help="stored cases per run (default 1k,10k,100k)")
    parser.add_argument("--conversations", type=int, default=1000, help="conversations in progress (default 1000)")
    parser.add_argument("--children", type=int, default=3, help="child processes per row; medians (default 3)")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(asyncio.run(child_main(args.child, args.conversations))))
        return
    print_machine("memory: RSS of a running lensbot with stored cases and conversations in progress")
    sizes = [int(x) for x in args.sizes.split(",")]
    rows = []
    with tempfile.TemporaryDirectory(prefix="lensbot-memory-") as tmp:
        for n in sizes:
            db = Path(tmp) / f"cases-{n}.db"
            took = generate(db, n)
            size_mb = db.stat().st_size / 1e6
            figures = child(db, 0, args.children)
            rows.append((f"{n:,} stored cases", figures, size_mb, took))
            print(f"  {n:>7,} cases: database {size_mb:6.0f} MB (generated in {took:4.1f} s), RSS {figures}",
                  flush=True)
            if n != sizes[0]:
                db.unlink()
        if args.conversations:
            db = Path(tmp) / f"cases-{sizes[0]}.db"
            figures = child(db, args.conversations)   # one child: 7,000 updates take a while
            rows.append((f"{sizes[0]:,} stored + {args.conversations:,} in progress", figures, db.stat().st_size / 1e6,
                         0.0))
    print()
    print(f"{'run':34} {'db MB':>6} {'python+imports':>14} {'started':>8} {'serving':>8} {'housekeep':>9} "
          f"{'in progress':>11} {'peak':>6}   (MiB)")
    for name, f, size_mb, _ in rows:
        def mib(key: str, f: dict[str, int] = f) -> str:
            return f"{f[key] / 1024:.1f}" if key in f else "-"
        print(f"{name:34} {size_mb:6.0f} {mib('baseline'):>14} {mib('started'):>8} {mib('serving'):>8} "
              f"{mib('housekeeping'):>9} {mib('in_progress'):>11} {mib('peak'):>6}")
    print(f"\n(median of {args.children} fresh child processes per row, one for the in-progress row; VmRSS after "
          f"gc.collect() and malloc_trim(0); code {git_free_revision()})")


if __name__ == "__main__":
    main()
