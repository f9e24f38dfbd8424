"""Helpers for tests/test_faults.py: fast restarts of `lensbot telegram` and a gate in front of the fake API.

Why these exist
---------------
Starting `lensbot telegram` costs about a second, nearly all of it importing SQLAlchemy, Alembic,
pydantic and python-telegram-bot. A crash test that kills the bot fifty times would spend most of
its time importing. Two helpers remove that cost without changing what runs:

* :class:`Zygote` is one Python process that imports lensbot once and then forks a child per
  request; the child runs ``bot.cli.main(["telegram", ...])``, exactly what the ``lensbot`` console
  script runs, with its own environment, working directory, stdout and stderr files. A child is a
  real process: it is SIGKILLed like any other and its exit status is reported back.
* :class:`ApiGate` is a small HTTP proxy between the bot processes and the fake Bot API. Every
  process gets its own path prefix (``/g<N>/bot``). While a process's gate is *held*, its start-up
  calls (getMe, setMyCommands, deleteWebhook) pass but its ``getUpdates`` waits: a standby process
  starts completely (lens, database, Application) while the previous one still runs, and takes over
  the moment its gate opens, so the restart after a kill costs milliseconds. (PTB waits up to its
  long-poll timeout plus 5 s for getUpdates, 35 s for `lensbot telegram`.) Closing a gate cancels
  the requests of a killed process still in the proxy, as a dropped connection would.

The zygote's children run the same code path as the console script (with the two shortcuts of
tests/support/shortcuts.py that the test process has too: one TLS context, no search for sniffio);
the crash test still starts a part of its processes with the real ``lensbot`` executable (see
test_faults.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import ClientSession, ClientTimeout, web

ROOT = Path(__file__).resolve().parents[2]
LENSBOT = Path(sys.executable).with_name("lensbot")
# CPU seconds of every zygote child that has ended in this process (tests/support/cpu_report.py adds
# them to a test's child processes: the zygote reaps them, so the test process's rusage cannot see them).
CHILDREN_CPU = [0.0]


# -- the zygote ---------------------------------------------------------------------------
def _zygote_main() -> None:  # pragma: no cover - runs in the zygote process
    """Import lensbot once, then fork one child per command line read from stdin.

    Commands (JSON lines): {"id": N, "args": [...], "env": {...}, "cwd": DIR, "out": FILE, "err": FILE}
    and optionally "in": FILE (standard input; /dev/null without it).
    Replies (JSON lines): {"id": N, "pid": PID} and, when a child ends, {"exit": PID, "rc": CODE}.
    """
    import gc
    import selectors
    import tempfile
    import traceback

    from tests.support.shortcuts import remember_that_sniffio_is_missing, share_the_tls_context

    share_the_tls_context()   # as in the test process: a child's bots reuse the zygote's TLS context
    remember_that_sniffio_is_missing()
    import bot.cli
    import bot.telegram.app
    import bot.web.server
    import dialogs.reports.picture  # noqa: F401  (imported lazily by the bot on the first summary)

    _warm_up()
    gc.collect()
    gc.freeze()   # keep the collector off the inherited objects: fewer copy-on-write pages per child
    out = sys.stdout
    children: set[int] = set()
    sel = selectors.DefaultSelector()
    sel.register(0, selectors.EVENT_READ)
    buffer = b""

    def reply(data: dict[str, Any]) -> None:
        out.write(json.dumps(data) + "\n")
        out.flush()

    def fork(cmd: dict[str, Any]) -> None:
        out.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid:
            children.add(pid)
            reply({"id": cmd["id"], "pid": pid})
            return
        rc = 1
        try:
            sel.close()
            null = os.open(cmd.get("in") or os.devnull, os.O_RDONLY)
            os.dup2(null, 0)
            for fd, path in ((1, cmd["out"]), (2, cmd["err"])):
                if fd == 2 and path == cmd["out"]:   # 2>&1: one file, one offset
                    os.dup2(1, 2)
                    continue
                target = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
                os.dup2(target, fd)
                os.close(target)
            os.close(null)
            sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
            os.chdir(cmd["cwd"])
            os.environ.clear()
            os.environ.update(cmd["env"])
            tempfile.tempdir = None   # gettempdir() looks at this child's TMPDIR, not the zygote's
            sys.argv = ["lensbot", *cmd["args"]]
            rc = int(bot.cli.main(list(cmd["args"])) or 0)
        except SystemExit as exc:
            rc = exc.code if isinstance(exc.code, int) else 1
        except BaseException:
            traceback.print_exc()
            rc = 1
        finally:
            with contextlib.suppress(Exception):
                sys.stdout.flush()
                sys.stderr.flush()
            os._exit(rc)

    reply({"ready": os.getpid()})
    while True:
        for _key, _ in sel.select(0.005):
            data = os.read(0, 65536)
            if not data:   # the test is gone: take the children along
                for pid in children:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
                os._exit(0)
            buffer += data
            while b"\n" in buffer:
                line, buffer = buffer.split(b"\n", 1)
                if line.strip():
                    fork(json.loads(line))
        while children:
            try:
                pid, status, usage = os.wait4(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break
            children.discard(pid)
            reply({"exit": pid, "rc": os.waitstatus_to_exitcode(status),
                   "cpu": usage.ru_utime + usage.ru_stime})


def _warm_up() -> None:  # pragma: no cover - runs in the zygote process
    """Do once what every child would do first (lazy imports, first-use caches), on a throw-away
    in-memory database; nothing is left running (no threads, sockets or event loops) before forking."""
    from datetime import UTC, datetime

    from bot.telegram.app import Settings, build_application
    from dialogs.reports.model import CaseInfo
    from dialogs.reports.picture import lens_picture
    from dialogs.service import IntakeService
    from matrix.scoring import assess
    from storage.repo import Store
    from tests.support.app import lens_under_test

    lens = lens_under_test()
    store = Store("sqlite://")
    store.upgrade()
    service = IntakeService(store, lens)
    app = build_application(Settings(token="123456789:warm-up-token-not-used-anywhere"), service, store)
    app.bot_data["rt"].executor.shutdown(wait=True)
    at = datetime.now(UTC)
    lens_picture(lens, assess(lens, {}), CaseInfo(code="AA-AAAA", mode="full", lens_version=lens.version,
                                                   created_at=at, updated_at=at, completed_at=None))
    store.dispose()


class Zygote:
    """Client side of the fork server; see the module docstring. Usable from any event loop."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", "from tests.support.faults import _zygote_main; _zygote_main()"],
            cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=clean_env(), bufsize=0)
        self._lock = threading.Condition()   # held to read or change the tables; notified on each message
        self._pids: dict[int, int] = {}
        self._exits: dict[int, int] = {}
        self._ready = threading.Event()
        self._ids = 0
        self._reader = threading.Thread(target=self._read, daemon=True, name="zygote-reader")
        self._reader.start()
        if not self._ready.wait(30):
            self.close()
            raise RuntimeError("the zygote did not start within 30 s")

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            msg = json.loads(raw)
            with self._lock:
                if "ready" in msg:
                    self._ready.set()
                elif "pid" in msg:
                    self._pids[msg["id"]] = msg["pid"]
                elif "exit" in msg:
                    self._exits[msg["exit"]] = msg["rc"]
                    CHILDREN_CPU[0] += msg.get("cpu", 0.0)
                self._lock.notify_all()
        with self._lock:
            self._lock.notify_all()   # the zygote is gone: wake anyone waiting

    def _send(self, args: Sequence[str], env: dict[str, str], cwd: Path, out: Path, err: Path,
              stdin: Path | None = None) -> int:
        with self._lock:
            self._ids += 1
            ident = self._ids
        cmd = {"id": ident, "args": list(args), "env": env, "cwd": str(cwd), "out": str(out), "err": str(err)}
        if stdin is not None:
            cmd["in"] = str(stdin)
        assert self.proc.stdin is not None
        self.proc.stdin.write((json.dumps(cmd) + "\n").encode())
        return ident

    def _forked(self, ident: int) -> int | None:
        """The child's pid once the zygote has forked it; raises when it cannot have."""
        with self._lock:
            pid = self._pids.pop(ident, None)
        if pid is None and self.proc.poll() is not None:
            raise RuntimeError("the zygote is gone")
        return pid

    async def spawn(self, args: Sequence[str], env: dict[str, str], cwd: Path, out: Path, err: Path) -> int:
        ident = self._send(args, env, cwd, out, err)
        deadline = time.monotonic() + 10
        while (pid := self._forked(ident)) is None:
            if time.monotonic() > deadline:
                raise RuntimeError("the zygote did not fork")
            await asyncio.sleep(0.002)
        return pid

    def start(self, args: Sequence[str], env: dict[str, str], cwd: Path, out: Path, err: Path,
              timeout: float = 30) -> int:
        """Fork `lensbot ARGS` and return its pid once forked (synchronous; see returncode)."""
        ident = self._send(args, env, cwd, out, err)
        with self._lock:
            self._lock.wait_for(lambda: ident in self._pids or self.proc.poll() is not None, timeout)
            pid = self._pids.pop(ident, None)
        if pid is None:
            raise RuntimeError("the zygote did not fork")
        return pid

    def wait(self, pid: int, timeout: float) -> int | None:
        """The exit code of a forked child, waiting up to `timeout` s for it (None: still running)."""
        with self._lock:
            self._lock.wait_for(lambda: pid in self._exits or self.proc.poll() is not None, timeout)
            return self._exits.get(pid)

    def run(self, args: Sequence[str], env: dict[str, str], cwd: Path, out: Path, err: Path,
            stdin: Path | None, timeout: float) -> int:
        """Fork `lensbot ARGS`, wait for it to end and return its exit code (synchronous, for plain tests).

        Raises subprocess.TimeoutExpired after SIGKILLing a child still running after `timeout` s."""
        ident = self._send(args, env, cwd, out, err, stdin)
        deadline = time.monotonic() + timeout
        with self._lock:
            forked = self._lock.wait_for(lambda: ident in self._pids or self.proc.poll() is not None, timeout)
            pid = self._pids.pop(ident, None)
            if pid is None:
                raise RuntimeError("the zygote did not fork" if forked else "the zygote did not answer")
            self._lock.wait_for(lambda: pid in self._exits or self.proc.poll() is not None,
                                max(0.0, deadline - time.monotonic()))
            if pid in self._exits:
                return self._exits.pop(pid)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        if self.proc.poll() is not None:
            raise RuntimeError(f"the zygote ended while `lensbot {' '.join(args)}` ran")
        raise subprocess.TimeoutExpired(["lensbot", *args], timeout)

    def returncode(self, pid: int) -> int | None:
        with self._lock:
            return self._exits.get(pid)

    def close(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(OSError):
                assert self.proc.stdin is not None
                self.proc.stdin.close()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


def clean_env(**settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("TELEGRAM_", "LENSBOT_")) or k in ("LENSBOT_LENS", "LENSBOT_CONTACTS")}
    env.update(settings)
    env["PYTHONUNBUFFERED"] = "1"
    return env


# -- one bot process ------------------------------------------------------------------------
class BotLife:
    """One `lensbot <args>` process: forked by the zygote (kind "fork") or the real executable ("exec")."""

    def __init__(self, kind: str, number: int, workdir: Path) -> None:
        self.kind, self.number = kind, number
        self.out = workdir / f"life{number}.stdout"
        self.err = workdir / f"life{number}.stderr"
        self.pid: int | None = None
        self._proc: asyncio.subprocess.Process | None = None
        self._zygote: Zygote | None = None
        self.killed = False

    @classmethod
    async def start(cls, kind: str, number: int, workdir: Path, args: Sequence[str], env: dict[str, str],
                    zygote: Zygote | None = None, cwd: Path | None = None) -> BotLife:
        life = cls(kind, number, workdir)
        full_env = clean_env(**env)
        if kind == "fork":
            assert zygote is not None
            life._zygote = zygote
            life.pid = await zygote.spawn(args, full_env, cwd or workdir, life.out, life.err)
        else:
            with open(life.out, "wb") as out, open(life.err, "wb") as err:
                life._proc = await asyncio.create_subprocess_exec(
                    str(LENSBOT), *args, env=full_env, cwd=cwd or workdir, stdin=subprocess.DEVNULL, stdout=out,
                    stderr=err)
            life.pid = life._proc.pid
        return life

    @property
    def returncode(self) -> int | None:
        if self._proc is not None:
            return self._proc.returncode
        assert self._zygote is not None and self.pid is not None
        return self._zygote.returncode(self.pid)

    @property
    def stderr(self) -> str:
        return self.err.read_text(encoding="utf-8", errors="replace") if self.err.exists() else ""

    @property
    def stdout(self) -> str:
        return self.out.read_text(encoding="utf-8", errors="replace") if self.out.exists() else ""

    def alive(self) -> bool:
        """True while running; fails the test with the process's stderr once it has exited."""
        if self.returncode is not None:
            raise AssertionError(f"lensbot ({self.kind} #{self.number}) exited with {self.returncode}; "
                                 f"stderr:\n{self.stderr}")
        return True

    def kill(self) -> None:
        """SIGKILL, synchronously: nothing else runs in the test's event loop before it lands."""
        assert self.pid is not None
        self.killed = True
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGKILL)

    async def wait_exit(self, timeout: float = 15.0) -> int:
        if self._proc is not None:
            return await asyncio.wait_for(self._proc.wait(), timeout)
        deadline = time.monotonic() + timeout
        while (rc := self.returncode) is None:
            if time.monotonic() > deadline:
                raise AssertionError(f"lensbot #{self.number} did not exit within {timeout}s")
            await asyncio.sleep(0.003)
        return rc

    async def close(self) -> None:
        if self.returncode is None:
            self.kill()
            with contextlib.suppress(AssertionError, TimeoutError):
                await self.wait_exit(10)


# -- the gate -----------------------------------------------------------------------------
@dataclass
class _Gate:
    opened: asyncio.Event = field(default_factory=asyncio.Event)
    closed: bool = False
    waiting: int = 0
    tasks: set[asyncio.Task[Any]] = field(default_factory=set)
    requests: int = 0


class ApiGate:
    """An HTTP proxy in front of a FakeBotAPI with one gate per bot process (see the module docstring)."""

    def __init__(self, upstream_base_url: str) -> None:
        self.upstream = upstream_base_url        # "http://127.0.0.1:PORT/bot"
        self.port: int | None = None
        self._gates: dict[int, _Gate] = {}
        self._runner: web.AppRunner | None = None
        self._session: ClientSession | None = None

    async def __aenter__(self) -> ApiGate:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/g{gate}/bot{rest:.*}", self._forward)
        self._runner = web.AppRunner(app, handler_cancellation=True, access_log=None, shutdown_timeout=0.2)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = int(self._runner.addresses[0][1])
        self._session = ClientSession(timeout=ClientTimeout(total=None))
        return self

    async def __aexit__(self, *exc: object) -> None:
        for number in list(self._gates):
            await self.close(number)
        if self._session is not None:
            await self._session.close()
        if self._runner is not None:
            await self._runner.cleanup()

    def url(self, number: int) -> str:
        """TELEGRAM_API_BASE_URL for bot process `number`; its gate starts held."""
        self._gates.setdefault(number, _Gate())
        return f"http://127.0.0.1:{self.port}/g{number}/bot"

    def ready(self, number: int) -> bool:
        """Process `number` has started and waits at its held gate for its first updates."""
        return self._gates[number].waiting > 0

    def requests(self, number: int) -> int:
        return self._gates[number].requests

    def open(self, number: int) -> None:
        self._gates[number].opened.set()

    async def close(self, number: int) -> None:
        """The process is gone: cancel whatever it still has in flight here."""
        gate = self._gates.get(number)
        if gate is None:
            return
        gate.closed = True
        gate.opened.set()
        tasks = list(gate.tasks)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def _forward(self, request: web.Request) -> web.StreamResponse:
        gate = self._gates.get(int(request.match_info["gate"]))
        if gate is None or gate.closed:
            return web.Response(status=503)
        task = asyncio.current_task()
        assert task is not None
        gate.tasks.add(task)
        try:
            if not gate.opened.is_set() and request.match_info["rest"].lower().endswith("/getupdates"):
                gate.waiting += 1
                try:
                    await gate.opened.wait()
                finally:
                    gate.waiting -= 1
            if gate.closed:
                return web.Response(status=503)
            gate.requests += 1
            body = await request.read()
            headers = {"Content-Type": request.headers.get("Content-Type", "application/octet-stream")}
            assert self._session is not None
            async with self._session.request(request.method, self.upstream + request.match_info["rest"], data=body,
                                             headers=headers) as upstream:
                data = await upstream.read()
                return web.Response(status=upstream.status, body=data,
                                    headers={"Content-Type": upstream.headers.get("Content-Type",
                                                                                  "application/json")})
        finally:
            gate.tasks.discard(task)


# -- SQLite lock holder ----------------------------------------------------------------------
LOCK_HOLDER = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=10)
conn.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
sys.stdin.readline()
conn.execute("ROLLBACK")
conn.close()
print("released", flush=True)
"""


class SqliteLock:
    """A separate Python process holding `BEGIN EXCLUSIVE` on a SQLite file until released."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.proc: subprocess.Popen[str] | None = None

    def __enter__(self) -> SqliteLock:
        self.proc = subprocess.Popen([sys.executable, "-c", LOCK_HOLDER, str(self.path)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().strip()
        if line != "locked":
            self.proc.kill()
            raise RuntimeError(f"the lock holder did not lock {self.path}: {line!r}")
        return self

    def release(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write("\n")
        self.proc.stdin.flush()
        assert self.proc.stdout.readline().strip() == "released"
        self.proc.wait(10)

    def __exit__(self, *exc: object) -> None:
        try:
            self.release()
        finally:
            if self.proc is not None and self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait(10)
