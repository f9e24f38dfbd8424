"""Run every benchmark with its defaults, one after the other, and print their reports.

Each script is a separate process (no state shared between them); the whole run takes about
ten minutes. The figures in bench/README.md come from such a run.

Run: .venv/bin/python bench/run_all.py [--skip memory,startup]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SCRIPTS = ("update_cost", "hot_path", "load", "memory", "startup", "per_user_reads", "batch_jobs", "round_trips",
           "sync_cost")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip", default="", help="comma-separated scripts to leave out")
    args = parser.parse_args()
    skip = set(filter(None, args.skip.split(",")))
    failed = []
    for name in SCRIPTS:
        if name in skip:
            continue
        print(f"\n{'=' * 100}\n$ {Path(sys.executable).name} bench/{name}.py\n", flush=True)
        t0 = time.perf_counter()
        rc = subprocess.run([sys.executable, str(HERE / f"{name}.py")], check=False).returncode
        print(f"\n[{name}: {time.perf_counter() - t0:.0f} s, exit {rc}]", flush=True)
        if rc:
            failed.append(name)
    if failed:
        print(f"failed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
