"""Start-up: loading and validating the lens in-process, and `lensbot telegram` to its first getUpdates.

1. In this process, median of --runs: `matrix.loader.load_lens()` (read the YAML, validate with
   pydantic, build the lens) and `IntakeDialog(lens)` (build the state machine once).
2. `lensbot telegram` as a child process (the console script, so the interpreter start and every
   import are counted) pointed at the fake Bot API of tests/support/fake_bot_api.py on
   127.0.0.1 (getMe, deleteWebhook, setMyCommands, getUpdates). Timed from just before the
   process is spawned to the fake server receiving the first getUpdates call, median of --runs:
   - first start: an empty SQLite file, so the Alembic migrations run;
   - warm start: the same, already migrated file.
   Also `python -c pass` and the imports of bot.cli alone, for scale.

Run: .venv/bin/python bench/startup.py [--runs 5]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from inproc import ROOT, TOKEN, clock, git_free_revision, median, print_machine

from dialogs.intake import IntakeDialog
from matrix.loader import load_lens
from tests.support.fake_bot_api import FakeBotAPI

LENSBOT = Path(sys.executable).with_name("lensbot")


def in_process(runs: int) -> tuple[float, float]:
    load_lens()   # first call: imports and pydantic's schema build, not what a start pays twice
    loads, dialogs = [], []
    for _ in range(runs):
        t0 = clock()
        lens = load_lens()
        t1 = clock()
        IntakeDialog(lens)
        t2 = clock()
        loads.append(t1 - t0)
        dialogs.append(t2 - t1)
    return median(loads), median(dialogs)


def child_env(server: FakeBotAPI, db: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "LENSBOT_"))}
    env.update(TELEGRAM_BOT_TOKEN=TOKEN, TELEGRAM_API_BASE_URL=server.base_url, LENSBOT_DATABASE_URL=f"sqlite:///{db}",
               PYTHONUNBUFFERED="1")
    return env


async def until_polling(server: FakeBotAPI, db: Path) -> float:
    """Seconds from spawning `lensbot telegram` to its first getUpdates; the process is then stopped."""
    before = len(server.calls)
    t0 = clock()
    proc = await asyncio.create_subprocess_exec(str(LENSBOT), "telegram", env=child_env(server, db),
                                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                                stderr=subprocess.PIPE)
    try:
        while not any(name == "getUpdates" for name, _ in server.calls[before:]):
            if proc.returncode is not None:
                err = await proc.stderr.read() if proc.stderr else b""
                raise SystemExit(f"lensbot telegram exited with {proc.returncode}:\n{err.decode()[-2000:]}")
            await asyncio.sleep(0.001)
        return clock() - t0
    finally:
        proc.terminate()
        await proc.wait()


def once(args: list[str]) -> float:
    t0 = clock()
    subprocess.run(args, check=True, cwd=ROOT)
    return clock() - t0


async def main_async(runs: int) -> None:
    load_ms, dialog_ms = (x * 1e3 for x in in_process(runs))
    python, imports, first, warm = [], [], [], []
    async with FakeBotAPI(token=TOKEN) as server:
        with tempfile.TemporaryDirectory(prefix="lensbot-startup-") as tmp:
            for i in range(runs):   # interleaved, so the machine's noise hits all four alike
                python.append(once([sys.executable, "-c", "pass"]))
                imports.append(once([sys.executable, "-c", "import bot.cli, bot.telegram.app"]))
                db = Path(tmp) / f"first-{i}.db"
                first.append(await until_polling(server, db))
                warm.append(await until_polling(server, db))
    python_ms, imports_ms = median(python) * 1e3, median(imports) * 1e3
    print(f"{'what':58} {'median':>9}")
    print(f"{'load_lens(): read + validate the bundled lens, in-process':58} {load_ms:7.1f} ms")
    print(f"{'IntakeDialog(lens): build the state machine, in-process':58} {dialog_ms:7.1f} ms")
    print(f"{'python -c pass':58} {python_ms:7.1f} ms")
    label = 'python -c "import bot.cli, bot.telegram.app"'
    print(f"{label:58} {imports_ms:7.1f} ms")
    print(f"{'lensbot telegram → first getUpdates, new SQLite (migrations)':58} {median(first) * 1e3:7.1f} ms")
    print(f"{'lensbot telegram → first getUpdates, migrated SQLite':58} {median(warm) * 1e3:7.1f} ms")
    print(f"\n(median of {runs} runs each; code {git_free_revision()})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    print_machine("startup: lens loading in-process, and lensbot telegram until its first getUpdates")
    asyncio.run(main_async(args.runs))


if __name__ == "__main__":
    main()
