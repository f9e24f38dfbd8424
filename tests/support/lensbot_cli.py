"""`lensbot ARGS` for the tests: a real process, forked from one zygote per test worker.

Why: a `lensbot` command costs about 1.5 s of CPU on a 2-core test machine before it does anything,
nearly all of it importing SQLAlchemy, pydantic, Alembic and python-telegram-bot. The suite ran ~90
of them, a quarter of its CPU. The zygote (tests/support/faults.py) imports lensbot once and forks a
child per command; the child runs ``bot.cli.main(ARGS)``, exactly what the console script runs, with
the test's environment, working folder, standard input (a file holding the text) and standard output
and error (files, read back when it has ended). It is a real process with its own exit code.

What stays a real `lensbot` executable: the tests about processes themselves (a pty console,
Ctrl-C, SIGKILL, a closed pipe, the Telegram and web servers), and every command when
LENSBOT_TEST_EXEC=1 is set, to check that both ways give the same results.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

from tests.support.faults import Zygote

LENSBOT = Path(sys.executable).with_name("lensbot")
EXEC = bool(os.environ.get("LENSBOT_TEST_EXEC"))
_zygote: list[Zygote] = []
_starting = threading.Lock()


def lensbot_cmd(*args: str) -> list[str]:
    """The command line of the real executable (the console script, or `python -m bot.cli` without it)."""
    return [str(LENSBOT), *args] if LENSBOT.exists() else [sys.executable, "-m", "bot.cli", *args]


def zygote() -> Zygote:
    """The worker's zygote, started at first use."""
    with _starting:
        if not _zygote or _zygote[0].proc.poll() is not None:
            _zygote[:] = [Zygote()]
            atexit.register(_zygote[0].close)
        return _zygote[0]


def _text(data: bytes) -> str:
    """Bytes as subprocess.run(text=True) gives them: UTF-8, universal newlines."""
    return data.decode("utf-8", errors="replace").replace("\r\n", "\n").replace("\r", "\n")


def run_lensbot(*args: str, env: dict[str, str], input: str | None = None, cwd: Path | str | None = None,
                timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run `lensbot ARGS` to its end, like subprocess.run(..., capture_output=True, text=True)."""
    if EXEC:
        return subprocess.run(lensbot_cmd(*args), input=input, env=env, cwd=cwd, capture_output=True, text=True,
                              timeout=timeout, stdin=None if input is not None else subprocess.DEVNULL)
    with tempfile.TemporaryDirectory(prefix="lensbot-run-") as folder:
        here = Path(folder)
        stdin = None
        if input is not None:
            stdin = here / "in"
            stdin.write_bytes(input.encode("utf-8"))
        out, err = here / "out", here / "err"
        code = zygote().run(list(args), dict(env), Path(cwd or os.getcwd()), out, err, stdin, timeout)
        return subprocess.CompletedProcess(["lensbot", *args], code, _text(out.read_bytes() if out.exists() else b""),
                                           _text(err.read_bytes() if err.exists() else b""))


class Forked:
    """A long-running `lensbot ARGS` (a server) forked by the zygote, handled like a subprocess.Popen."""

    def __init__(self, zygote: Zygote, pid: int) -> None:
        self.zygote, self.pid = zygote, pid

    def poll(self) -> int | None:
        return self.zygote.returncode(self.pid)

    def wait(self, timeout: float | None = None) -> int:
        code = self.zygote.wait(self.pid, 3600 if timeout is None else timeout)
        if code is None:
            raise subprocess.TimeoutExpired(["lensbot"], timeout or 0)
        return code

    def send_signal(self, signum: int) -> None:
        if self.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signum)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)


def start_lensbot(*args: str, env: dict[str, str], output: Path,
                  cwd: Path | str | None = None) -> Forked | subprocess.Popen[bytes]:
    """Start `lensbot ARGS` (a server), its standard output and error going to the file `output`."""
    if EXEC:
        with open(output, "wb") as out:
            return subprocess.Popen(lensbot_cmd(*args), env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=out,
                                    stderr=subprocess.STDOUT)
    forker = zygote()
    return Forked(forker, forker.start(list(args), dict(env), Path(cwd or os.getcwd()), output, output))
