"""Shared fixtures: the lens under test, and a fresh database on SQLite and (when configured) PostgreSQL.

PostgreSQL tests run when LENSBOT_TEST_POSTGRES_URL is set (`.ci/run` sets it); each test gets
its own schema so tests never see each other's rows, and every SQLite file lives in the test's own
tmp_path, so the pytest-xdist workers (pyproject's addopts) share nothing but the server.

The lens under test is the bundled one, or the folder LENSBOT_LENS names: the suite is meant to
pass on any lens that `lensbot matrix check` accepts (tests/test_lens_edit.py proves it for a copy
of the default lens with one signal more). Only test_bundled_lens_has_the_documented_shape in
tests/test_lens_loader.py pins the default lens's numbers.

A test marked `restarts_postgres` stops the PostgreSQL server: it takes the suite lock exclusively
(every other test holds it shared), so it never runs beside another test, on any worker.
"""

from __future__ import annotations

import fcntl
import functools
import os
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from matrix.lens import Lens
from storage.db import normalise_url
from storage.repo import Store
from tests import MACHINE_TMP
from tests.support.app import lens_under_test
from tests.support.migrated import start_migrated
from tests.support.shortcuts import remember_that_sniffio_is_missing, share_the_tls_context

if os.environ.get("LENSBOT_TEST_CPU"):   # opt-in: CPU and wall per test file (tests/support/cpu_report.py)
    pytest_plugins = ["tests.support.cpu_report"]


share_the_tls_context()
remember_that_sniffio_is_missing()

POSTGRES_URL = os.environ.get("LENSBOT_TEST_POSTGRES_URL")
# Without LENSBOT_DATABASE_URL lensbot uses the user data folder (dialogs/app/settings.py): tests that
# rely on that default get a folder of their own, never the real ~/.local/share/lensbot.
os.environ["XDG_DATA_HOME"] = tempfile.mkdtemp(prefix="lensbot-test-data-")
# The console wraps to COLUMNS (bot/terminal.py); pytest-xdist's workers set it to 80. Tests that want a
# width set it themselves; the rest see the console as a pipe does (100 columns).
os.environ.pop("COLUMNS", None)
# One lock for every lensbot test run on this machine: the PostgreSQL server is shared by all of them.
SUITE_LOCK = MACHINE_TMP / f"lensbot-tests-{os.getuid()}.lock"   # not TMPDIR (tests/__init__.py)


@pytest.fixture(scope="session")
def lens() -> Lens:
    """The lens under test: LENSBOT_LENS if set, else the bundled default lens."""
    return lens_under_test()


@pytest.fixture(autouse=True)
def _suite_lock(request: pytest.FixtureRequest) -> Iterator[None]:
    """Shared for every test, exclusive for one that restarts PostgreSQL (it then runs alone).

    A turnstile (a second lock) gives the exclusive taker priority: while it waits, no new test
    starts, so the tests already running finish and it gets its turn.
    """
    if os.environ.get("LENSBOT_TESTS_UNDER_LOCK"):   # a run inside a test that already holds it
        yield
        return
    exclusive = request.node.get_closest_marker("restarts_postgres") is not None
    if not exclusive and not _may_touch_postgres(request.node):   # a PostgreSQL restart cannot disturb it
        yield
        return
    with open(SUITE_LOCK.with_suffix(".turnstile"), "a") as turnstile, open(SUITE_LOCK, "a") as lock:
        fcntl.flock(turnstile, fcntl.LOCK_EX)
        try:
            fcntl.flock(lock, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        finally:
            if not exclusive:
                fcntl.flock(turnstile, fcntl.LOCK_UN)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
            if exclusive:
                fcntl.flock(turnstile, fcntl.LOCK_UN)


@functools.cache
def _module_mentions_postgres(path: str) -> bool:
    return "POSTGRES" in Path(path).read_text(encoding="utf-8")


def _may_touch_postgres(item: pytest.Item) -> bool:
    """Whether a test may use the PostgreSQL server: a `postgresql` parameter, or (to be safe) any
    test in a module that names it, unless marked `sqlite_only`. Only those take the suite lock, so
    SQLite-only tests go on while the PostgreSQL restart test runs."""
    callspec = getattr(item, "callspec", None)
    if callspec is not None and "postgresql" in (str(v) for v in callspec.params.values()):
        return True
    if item.get_closest_marker("sqlite_only") is not None:
        return False
    return _module_mentions_postgres(str(item.path))


def _postgres_schema_url() -> Iterator[str]:
    assert POSTGRES_URL
    schema = f"lb_{uuid.uuid4().hex[:12]}"
    admin = create_engine(normalise_url(POSTGRES_URL))
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in POSTGRES_URL else "?"
    try:
        yield f"{POSTGRES_URL}{sep}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database URL for a fresh, empty database on each supported engine."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'lensbot.db'}"
        return
    if not POSTGRES_URL:
        pytest.skip("LENSBOT_TEST_POSTGRES_URL is not set")
    yield from _postgres_schema_url()


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    """A Store on a fresh database at the schema's head: on SQLite a copy of a migrated file
    (tests/support/migrated.py), on PostgreSQL a new schema migrated here."""
    migrated = start_migrated(db_url)
    s = Store(db_url)
    if not migrated:
        s.upgrade()
    yield s
    s.dispose()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'lensbot.db'}"


DEFAULT_SLOW_SECONDS = 10.0   # a bare @pytest.mark.slow


def _slow_seconds(item: pytest.Item) -> float:
    """How long the `slow` marker says the item's file takes on one worker (0 when unmarked)."""
    marks = list(item.iter_markers("slow"))
    return max((float(m.kwargs.get("seconds", DEFAULT_SLOW_SECONDS)) for m in marks), default=0.0)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The PostgreSQL restart test first (it waits for no running test then), then the files longest
    first, as their `slow` markers estimate them (`pytestmark = pytest.mark.slow(seconds=30)`: about
    how long the file takes on one idle worker), then the rest in collection order.

    The xdist workers (`--dist loadfile`) take whole files in the order their tests come here, each
    worker the next file when it is free: longest first is what lets the two end together. A long
    file picked up last would leave one worker running alone at the end.
    """
    weight: dict[str, float] = {}
    restart: set[str] = set()
    for item in items:
        path = str(item.path)
        weight[path] = max(weight.get(path, 0.0), _slow_seconds(item))
        if item.get_closest_marker("restarts_postgres") is not None:
            restart.add(path)
    order = {id(item): n for n, item in enumerate(items)}
    items.sort(key=lambda item: (item.get_closest_marker("restarts_postgres") is None,
                                 str(item.path) not in restart, -weight[str(item.path)], order[id(item)]))


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Say how many PostgreSQL-parametrised tests passed, so CI can insist on more than zero.

    Under pytest-xdist this runs in the controller, which receives every worker's reports.
    """
    passed = [r for r in terminalreporter.stats.get("passed", []) if "[postgresql" in r.nodeid]
    terminalreporter.write_line(f"postgresql tests passed: {len(passed)}")
    browser = [r for r in terminalreporter.stats.get("passed", []) if "browser" in r.keywords]
    terminalreporter.write_line(f"browser tests passed: {len(browser)}")
