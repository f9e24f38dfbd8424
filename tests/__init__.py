"""The lensbot test package.

Importing it (pytest does so before tests/conftest.py and any lensbot module) turns bytecode caching on
for the test run (see cache_bytecode) and puts the run's temporary files in memory (see files_in_memory).
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

# The machine's temporary folder before files_in_memory: the suite lock (tests/conftest.py) stays
# there, shared with every other lensbot test run on this machine.
MACHINE_TMP = Path(tempfile.gettempdir())


def cache_bytecode() -> None:
    """Keep compiled bytecode between runs even where PYTHONDONTWRITEBYTECODE is set.

    With it set, every process compiles lensbot's modules from source, and pytest rewrites and compiles
    every test module again in each xdist worker: measured on a 2-core machine, collecting the suite took
    6.8 s of CPU instead of 3.1 s, and each `lensbot` subprocess 0.1-0.15 s more (of ~0.8 s). So the
    test run (and every process it starts: workers, the zygotes, `lensbot` children) writes bytecode next
    to the sources, in `__pycache__` folders that .gitignore leaves out. Not under a PYTHONPYCACHEPREFIX
    folder: Python then looks for every module's bytecode only there, so the installed packages (compiled
    by pip at install time) were compiled again by each process of a first run, ~3 s of CPU for each
    (`import bot.cli, bot.telegram.app, bot.web.server`: 5.3 s with a prefix that is not yet written,
    2.0 s without). A prefix the person set is kept.
    """
    if not os.environ.get("PYTHONDONTWRITEBYTECODE"):
        return
    del os.environ["PYTHONDONTWRITEBYTECODE"]
    sys.dont_write_bytecode = False


def files_in_memory(shm: Path = Path("/dev/shm")) -> None:
    """Temporary files of the run (pytest's tmp_path, so every test's SQLite file; Chromium's profiles) in
    /dev/shm, a tmpfs, unless TMPDIR is set.

    SQLite here syncs every commit to disk (synchronous=FULL, storage/db.py), and on a disk shared with
    other work an fsync took 0.4 ms idle and up to ~10 ms busy: tests/test_local_picture.py, which makes
    212 cases through the real service (thousands of commits), took 62 s of wall time on /tmp and 17 s
    on /dev/shm back to back at the same load, with the same CPU. The files are as real (the same
    SQLite, WAL and locking); only a power cut would tell them apart, and no test simulates one: the
    SIGKILL tests kill processes, whose writes the kernel keeps either way. Child processes (`lensbot`,
    Chromium) inherit TMPDIR.
    """
    if os.environ.get("TMPDIR") or not (shm.is_dir() and os.access(shm, os.W_OK | os.X_OK)):
        return
    free = os.statvfs(shm)
    if free.f_bavail * free.f_frsize < 4 * 1024**3:   # a container's small /dev/shm (often 64 MB): stay on disk
        return
    os.environ["TMPDIR"] = str(shm)
    tempfile.tempdir = None   # gettempdir() looks again, now at TMPDIR


cache_bytecode()
files_in_memory()
