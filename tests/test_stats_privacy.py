"""The local picture cannot be differenced (issue 11, item 7).

The audit found: `lensbot stats --since 2026-01 --until 2026-01` against `--until 2026-02` showed
a month with 2 cases and which signals one had, and an admin comparing `/overzicht` before and
after a colleague's intake learned that case's answers. Here an attacker with every published
period (three months and their quarter) subtracts whatever can be subtracted and learns nothing
below 5; old window flags are refused; an open month never shows; a cell from fewer than three
professionals is "<5" even when it counts more cases; and what lets lensbot count professionals
leaves no trace once the month has ended.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import random
import subprocess
from collections.abc import AsyncIterator
from contextlib import redirect_stderr, redirect_stdout
from datetime import UTC, datetime
from typing import Any
from unittest.mock import patch

import pytest
from sqlalchemy import func, select

from bot.cli import main
from dialogs.counts import Period
from dialogs.reports.service import Reports
from dialogs.service import IntakeService
from matrix.lens import Lens
from storage.models import StatsContributor, StatsCount, StatsSalt
from storage.repo import Store
from tests.support.closed import close_this_month
from tests.support.generate import run_case
from tests.support.telegram_env import TelegramEnv, after, running_bot, texts

pytestmark = pytest.mark.slow(seconds=8)   # about its wall time on one worker: handed out early (tests/conftest.py)

TODAY = datetime.now(UTC).date()
QUARTER = Period.last_closed_quarter(TODAY)
SECTIONS = ("leefgebieden", "indicators", "signals_yes", "signals_unknown", "phenomena")


def lensbot(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """`lensbot ARGS` as an operator runs it, in this process (bot.cli.main) to keep the file fast."""
    out, err = io.StringIO(), io.StringIO()
    with patch.dict(os.environ, env, clear=True), redirect_stdout(out), redirect_stderr(err):
        code = main(list(args))
    return subprocess.CompletedProcess(["lensbot", *args], code, out.getvalue(), err.getvalue())


def cases_in(store: Store, service: IntakeService, month: str, who: list[str], n: int, seed: int,
             p_yes: float = 0.3) -> None:
    """`n` completed quick scans by the professionals `who` (in turn), counted in `month`."""
    rng = random.Random(seed)
    users = [store.user("console", name, create_role="professional") for name in who]
    for i in range(n):
        run_case(service, users[i % len(users)], rng, "quick", p_yes=p_yes, p_unknown=0.2)  # type: ignore[arg-type]
    close_this_month(store, into=month)


@pytest.fixture(scope="module")
def quarter_db(tmp_path_factory: pytest.TempPathFactory, lens: Lens) -> dict[str, str]:
    """The last closed quarter: two busy months (three professionals) and one quiet month in which
    only one colleague completed two cases, the cases an attacker is after."""
    url = f"sqlite:///{tmp_path_factory.mktemp('quarter') / 'lensbot.db'}"
    store = Store(url)
    store.upgrade()
    service = IntakeService(store, lens)
    first, second, third = QUARTER.months
    cases_in(store, service, first, ["ann", "bob", "cas"], 7, seed=1)
    cases_in(store, service, second, ["ann", "bob", "cas"], 6, seed=2)
    cases_in(store, service, third, ["dirk"], 2, seed=3, p_yes=0.9)
    store.dispose()
    return dict(os.environ, LENSBOT_DATABASE_URL=url)


def published(env: dict[str, str], period: str) -> dict[str, Any]:
    out = lensbot(env, "stats", "--period", period, "--format", "json")
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def unknowns(outputs: dict[str, dict[str, Any]]) -> tuple[dict[tuple[str, ...], int | None], list[list[Any]]]:
    """Every published number as a variable (None: suppressed, or not listed), and every relation
    "total = sum of parts" an attacker can write down between them."""
    value: dict[tuple[str, ...], int | None] = {}

    def var(period: str, section: str, key: str, shown: str | None) -> tuple[str, ...]:
        name = (period, section, key)
        value[name] = int(shown) if shown not in (None, "<5", "*") else None   # type: ignore[arg-type]
        return name

    relations: list[list[Any]] = []
    for period, data in outputs.items():
        total = var(period, "cases", "all", data["completed_cases"])
        relations.append([total, [var(period, "concern", k, v) for k, v in data["concern"].items()]])
        relations.append([total, [var(period, "lens", r["version"], r["count"]) for r in data["lens_versions"]]])
        for section in SECTIONS:
            for row in data[section]:
                var(period, section, row["id"], row["count"])
    quarter = outputs[QUARTER.label]
    # The quarter's trend per month is each month's own total.
    relations.append([(QUARTER.label, "cases", "all"), [(m, "cases", "all") for m in QUARTER.months]])
    for row in quarter["per_month"]:
        assert row["count"] == outputs[row["month"]]["completed_cases"]
    # Every cell of the quarter is the sum of the same cell in its three months; an id a month
    # does not list is unknown there (0, or suppressed).
    keys = {name[1:] for name in value}
    for section, key in keys:
        parts = []
        for month in QUARTER.months:
            parts.append((month, section, key))
            value.setdefault((month, section, key), None)
        value.setdefault((QUARTER.label, section, key), None)
        relations.append([(QUARTER.label, section, key), parts])
    return value, relations


def attack(value: dict[tuple[str, ...], int | None], relations: list[list[Any]]) -> dict[tuple[str, ...], int]:
    """Subtract until nothing more follows: what the attacker learns beyond what was shown."""
    learned: dict[tuple[str, ...], int] = {}
    progress = True
    while progress:
        progress = False
        for total, parts in relations:
            members = [total, *parts]
            missing = [m for m in members if value[m] is None]
            if len(missing) != 1:
                continue
            (m,) = missing
            known = sum(value[p] for p in parts if p != m)   # type: ignore[misc]
            value[m] = known if m == total else value[total] - known   # type: ignore[operator]
            learned[m] = value[m]   # type: ignore[assignment]
            progress = True
    return learned


def test_no_published_period_can_be_subtracted_to_a_small_count(quarter_db: dict[str, str]) -> None:
    outputs = {p: published(quarter_db, p) for p in (*QUARTER.months, QUARTER.label)}
    quiet = outputs[QUARTER.months[2]]
    assert quiet["completed_cases"] == "<5"                     # the colleague's two cases
    assert quiet["signals_yes"] == [] and quiet["phenomena"] == []   # not even which signals were there
    assert outputs[QUARTER.months[0]]["completed_cases"] == "7"
    for data in outputs.values():   # nothing between 1 and 4 is ever printed
        numbers = [row["count"] for s in SECTIONS for row in data[s]] + list(data["concern"].values())
        numbers += [data["completed_cases"]] + [r["count"] for r in data["per_month"] + data["lens_versions"]]
        assert all(n in ("<5", "*") or int(n) >= 5 for n in numbers), data

    value, relations = unknowns(outputs)
    learned = attack(value, relations)
    small = {name: n for name, n in learned.items() if n < 5}
    assert small == {}, small
    assert value[(QUARTER.months[2], "cases", "all")] is None   # the quiet month stays unknown
    assert outputs[QUARTER.label]["completed_cases"] == "*"     # 15 would give the 2 away against 7 and 6


def test_windows_and_open_periods_are_refused(quarter_db: dict[str, str]) -> None:
    first, second, _ = QUARTER.months
    for args in (("--since", first, "--until", first), ("--until", second), ("--since", first)):
        out = lensbot(quarter_db, "stats", *args)
        assert out.returncode == 2 and "--period" in out.stderr and out.stdout == "", out
    this_month = f"{TODAY:%Y-%m}"
    this_quarter = f"{TODAY.year}-Q{(TODAY.month - 1) // 3 + 1}"
    for period in (this_month, this_quarter, "2099-01"):
        out = lensbot(quarter_db, "stats", "--period", period)
        assert out.returncode == 2 and "has not ended yet" in out.stderr and out.stdout == "", out
    for period in ("2026-13", "2026-Q5", "2026", "2026-01-15"):
        out = lensbot(quarter_db, "stats", "--period", period)
        assert out.returncode == 2 and "is not a period" in out.stderr, out
    default = lensbot(quarter_db, "stats", "--format", "json")   # the last quarter that ended
    assert default.returncode == 0 and json.loads(default.stdout)["period"] == QUARTER.label


def test_a_cell_needs_three_professionals_and_keeps_no_trace_of_them(store: Store, lens: Lens) -> None:
    service = IntakeService(store, lens)
    reports = Reports(service)
    few, many = "2025-01", "2025-02"
    cases_in(store, service, few, ["eva", "fred"], 8, seed=4)          # 8 cases, 2 professionals
    cases_in(store, service, many, ["eva", "fred", "gijs"], 8, seed=4)  # 8 cases, 3 professionals
    assert json.loads(reports.stats("json", "nl", Period.parse(few)))["completed_cases"] == "<5"  # type: ignore[arg-type]
    assert json.loads(reports.stats("json", "nl", Period.parse(many)))["completed_cases"] == "8"  # type: ignore[arg-type]

    # While a month is open, a cell under three professionals holds salted hashes, never an id.
    users = [store.user("console", name) for name in ("eva", "fred")]
    run_case(service, users[0], random.Random(5), "quick")  # type: ignore[arg-type]
    with store.reading() as conn:
        tokens = [r.token for r in conn.execute(select(StatsContributor.token))]
        people = {r.contributors for r in conn.execute(select(StatsCount.contributors))}
    assert tokens and people <= {0, 1, 2, 3}
    for u in users:   # neither the id nor its plain hash
        assert u is not None and str(u.id) not in tokens
        assert hashlib.sha256(str(u.id).encode()).hexdigest()[:16] not in tokens
    # Once the month has ended and is published, only the numbers are left.
    close_this_month(store, into="2025-03")
    reports.stats("json", "nl", Period.parse(few))
    with store.reading() as conn:
        assert conn.execute(select(func.count()).select_from(StatsContributor)).scalar_one() == 0
        assert conn.execute(select(func.count()).select_from(StatsSalt)).scalar_one() == 0


# -- Telegram: an admin's /overzicht before and after a colleague's intake ---------------------------
@pytest.fixture
async def env(lens: Lens, sqlite_url: str) -> AsyncIterator[TelegramEnv]:
    async with running_bot(lens, sqlite_url) as e:
        yield e


async def test_overview_does_not_move_with_a_colleagues_intake(env: TelegramEnv) -> None:
    colleagues = [env.member(3000 + i) for i in range(3)]
    for i in range(6):   # earlier this month
        env.complete(colleagues[i % 3], yes=("schulden",))
    admin = env.admin()

    async def overview(arg: str = "") -> str:
        before = admin.last_message.message_id if admin.last_message else 0
        await admin.send_and_wait(f"/overzicht {arg}".strip())
        return texts([m for m in after(admin, before) if m.kind == "text"])

    before = await overview()
    env.complete(colleagues[0], yes=("schulden", "veel_aanloop_woning"))   # one colleague's intake, now
    assert await overview() == before                                      # nothing published moved
    refused = await overview(f"{TODAY:%Y-%m}")                             # the open month itself: refused
    assert "alleen voor een maand of kwartaal dat voorbij is" in refused and "Afgeronde zaken" not in refused
