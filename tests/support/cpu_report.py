"""An opt-in report of CPU and wall time per test file (LENSBOT_TEST_CPU=1), to find and check speed work.

Each test's setup, call and teardown are measured together (module fixtures are torn down in the last
test's teardown, so a file's sum holds them): user+system CPU of the worker process and of the child
processes it waited for (`lensbot` subprocesses, Playwright's driver and Chromium), and wall time.
The figures ride on the teardown report's user_properties, so under pytest-xdist the controller sums
every worker's files. Registered by tests/conftest.py; without the variable it does nothing.
"""

from __future__ import annotations

import os
import resource
import subprocess
import time
from collections import defaultdict
from collections.abc import Iterator

import pytest

from tests.support.faults import CHILDREN_CPU

ENABLED = bool(os.environ.get("LENSBOT_TEST_CPU"))
_KEY = "lensbot_cpu"
_start: dict[str, tuple[float, float, float]] = {}
_files: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0, 0.0, 0.0, 0.0])
_started = [0]   # `lensbot` processes this worker started (subprocess.Popen, not the fault tests' zygote forks)


def _count_lensbot_processes() -> None:
    """Count the `lensbot` commands started through subprocess (the CLI's start-up is a large share of
    the suite's CPU: each process imports SQLAlchemy, pydantic and the lens loader)."""
    original = subprocess.Popen.__init__

    def counting(self: subprocess.Popen[bytes], args: object, *rest: object, **kwargs: object) -> None:
        words = [str(a) for a in args] if isinstance(args, list | tuple) else [str(args)]
        if any(w.endswith("/lensbot") or w == "bot.cli" for w in words):
            _started[0] += 1
        original(self, args, *rest, **kwargs)   # type: ignore[arg-type]

    subprocess.Popen.__init__ = counting   # type: ignore[method-assign]


if ENABLED:
    _count_lensbot_processes()


def _now() -> tuple[float, float, float, int]:
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    forked = CHILDREN_CPU[0]   # `lensbot` processes forked by a zygote (tests/support/lensbot_cli.py)
    return (own.ru_utime + own.ru_stime, kids.ru_utime + kids.ru_stime + forked, time.perf_counter(), _started[0])


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item) -> Iterator[None]:
    _start[item.nodeid] = _now()   # before the setup phase
    yield


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    if call.when == "teardown" and item.nodeid in _start:
        own0, kids0, wall0, n0 = _start.pop(item.nodeid)
        own1, kids1, wall1, n1 = _now()
        outcome.get_result().user_properties.append((_KEY, (own1 - own0, kids1 - kids0, wall1 - wall0, n1 - n0)))


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    for key, value in report.user_properties:
        if key == _KEY:
            totals = _files[report.nodeid.split("::")[0]]
            totals[0] += value[0]
            totals[1] += value[1]
            totals[2] += value[2]
            totals[3] += 1
            totals[4] += value[3] if len(value) > 3 else 0


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not _files:
        return
    write = terminalreporter.write_line
    write(f"{'file':<40} {'tests':>5} {'cpu s':>7} {'(own':>7} {'kids)':>7} {'wall s':>7} {'lensbot':>7}")
    rows = sorted(_files.items(), key=lambda kv: -(kv[1][0] + kv[1][1]))
    for name, (own, kids, wall, n, procs) in rows:
        write(f"{name:<40} {int(n):>5} {own + kids:>7.1f} {own:>7.1f} {kids:>7.1f} {wall:>7.1f} {int(procs):>7}")
    own = sum(v[0] for v in _files.values())
    kids = sum(v[1] for v in _files.values())
    wall = sum(v[2] for v in _files.values())
    procs = sum(int(v[4]) for v in _files.values())
    write(f"{'total':<40} {sum(int(v[3]) for v in _files.values()):>5} {own + kids:>7.1f} {own:>7.1f} "
          f"{kids:>7.1f} {wall:>7.1f} {procs:>7}")
