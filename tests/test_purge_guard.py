"""A wrong clock does not wipe every case: the retention purge waits for an admin after a clock jump
or when it would delete too large a share of all cases, and says so loudly (without case codes).

The server restarts with its clock 400 days ahead (LENSBOT_CLOCK_OFFSET_DAYS, read by the real
Telegram Application and by `lensbot purge` alike; the system clock is not touched). The daily
job deletes nothing and warns; `lensbot purge` refuses too; `lensbot purge --confirm` deletes.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import update

from bot.cli import main
from storage import records
from storage.models import Case
from storage.repo import Store, now
from tests.support.app import Lens
from tests.support.telegram_env import running_bot

TOKEN = "123456789:TEST-lensbot-purgeguard-token-abcd"
MARKER = "QWXZ-purge-marker-4410"
OFFSET = "LENSBOT_CLOCK_OFFSET_DAYS"


def refusals(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records
            if r.levelno == logging.WARNING and "RETENTION PURGE REFUSED" in r.getMessage()]


async def test_a_clock_400_days_ahead_purges_nothing_until_an_admin_confirms(
        lens: Lens, sqlite_url: str, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv(OFFSET, raising=False)
    async with running_bot(lens, sqlite_url, token=TOKEN, caplog=caplog) as env:
        ann = env.member(2002)
        codes = [env.complete(ann, note=f"{MARKER} {i}") for i in range(3)] + [env.open_case(ann)]
        await env.run_job("_purge")                            # an ordinary day: nothing due, the run remembered
        assert all(env.case(c) is not None for c in codes) and refusals(caplog) == []

    monkeypatch.setenv(OFFSET, "400")                          # restarted with the clock 400 days ahead
    async with running_bot(lens, sqlite_url, token=TOKEN, caplog=caplog) as env:
        await env.run_job("_purge")
        assert all(env.case(c) is not None for c in codes)     # nothing deleted
        (warning,) = refusals(caplog)
        assert "400.0 days forward" in warning and "lensbot purge --confirm" in warning
        assert not any(c in r.getMessage() for r in caplog.records for c in codes)   # loud, but no codes

        assert main(["--database", sqlite_url, "purge"]) == 1  # the operator's run waits too
        assert "--confirm" in capsys.readouterr().err and all(env.case(c) is not None for c in codes)

        assert main(["--database", sqlite_url, "purge", "--confirm"]) == 0
        assert "deleted 4 case(s)" in capsys.readouterr().out
        assert all(env.case(c) is None for c in codes)
        path = Path(sqlite_url.removeprefix("sqlite:///"))
        wal = path.with_name(path.name + "-wal")
        assert MARKER.encode() not in path.read_bytes() + (wal.read_bytes() if wal.exists() else b"")
        assert not {c for c in codes} & {a.case_code for a in records.read_audit(env.store)}

        caplog.clear()
        await env.run_job("_purge")                            # confirmed: the next daily run goes ahead
        assert refusals(caplog) == []


def cases(store: Store, count: int, idle_days: float) -> None:
    user = store.user("console", "ann", create_role="professional")
    assert user is not None
    store.ensure_lens_version("v1", "1", "0" * 64, {})
    for _ in range(count):
        case = store.create_case(user.id, "v1", "intro", "nl")
        assert case is not None
        with store.engine.begin() as conn:
            conn.execute(update(Case).where(Case.id == case.id).values(updated_at=now() - timedelta(days=idle_days)))


def test_a_purge_of_too_large_a_share_waits_but_a_small_database_still_purges(
        sqlite_url: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv(OFFSET, raising=False)
    store = Store(sqlite_url)
    store.upgrade()
    cases(store, 3, idle_days=100)                             # a tiny database, all of it due: it purges
    assert main(["--database", sqlite_url, "purge"]) == 0 and records.count_cases(store) == 0
    assert refusals(caplog) == []

    cases(store, 10, idle_days=1)
    cases(store, 25, idle_days=100)                            # 25 of 35 due: more than 20 and more than 20 %
    assert main(["--database", sqlite_url, "purge"]) == 1
    assert "it would delete 25 of 35 cases" in capsys.readouterr().err and records.count_cases(store) == 35
    (warning,) = refusals(caplog)
    assert "25 of 35" in warning

    monkeypatch.setenv("LENSBOT_PURGE_MAX_SHARE", "0.8")       # an operator who expects it allows more
    assert main(["--database", sqlite_url, "purge"]) == 0 and records.count_cases(store) == 10
    store.dispose()
