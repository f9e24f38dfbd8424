"""The local picture, retention and the audit log, through the real service, storage and CLI."""

from __future__ import annotations

import csv
import io
import json
import os
import random
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import update

from dialogs.reports.service import Reports
from dialogs.service import IntakeService
from matrix.lens import Lens
from storage import accounts, records
from storage.models import Case
from storage.repo import Store, audit_hash, now
from tests.support.closed import close_this_month, last_month
from tests.support.generate import run_case
from tests.support.lensbot_cli import run_lensbot

pytestmark = pytest.mark.slow(seconds=18)   # about its wall time on one worker: handed out early (tests/conftest.py)

LENSBOT = Path(sys.executable).with_name("lensbot")


def lensbot(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return run_lensbot(*args, env=env)


def age_cases(store: Store, days: int) -> None:
    with store.transaction() as tx:
        tx.conn.execute(update(Case).values(updated_at=now() - timedelta(days=days)))


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory, lens: Lens) -> tuple[str, dict[str, str]]:
    """A database with 212 completed real cases (200 quick scans, 12 full intakes) and training."""
    folder = tmp_path_factory.mktemp("big")
    url = f"sqlite:///{folder / 'lensbot.db'}"
    store = Store(url)
    store.upgrade()
    service = IntakeService(store, lens)
    rng = random.Random(7)
    users = [store.user("console", f"u{i}", create_role="professional") for i in range(5)]
    for i in range(200):
        run_case(service, users[i % 5], rng, "quick", p_yes=0.3, p_unknown=0.2)
    for i in range(12):
        run_case(service, users[i % 5], rng, "full", p_yes=0.1)
    trainee = store.user("console", "trainee", create_role="trainee")
    for _ in range(3):
        run_case(service, trainee, rng, "training", p_yes=0.9)
    close_this_month(store)   # the picture is published once the month has ended
    store.dispose()
    env = dict(os.environ, LENSBOT_DATABASE_URL=url)
    return url, env


def test_stats_show_the_local_picture_with_small_counts_suppressed(big: tuple[str, dict[str, str]],
                                                                   lens: Lens) -> None:
    url, env = big
    out = lensbot(env, "stats", "--period", last_month(), "--format", "json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["completed_cases"] == "212"                 # training cases never count
    months = {row["month"] for row in data["per_month"]}
    assert months == {last_month()}
    counts = [row["count"] for section in ("indicators", "signals_yes", "signals_unknown", "phenomena")
              for row in data[section]]
    assert "<5" in counts or all(int(c) >= 5 for c in counts)
    assert all(c == "<5" or int(c) >= 5 for c in counts)   # nothing between 1 and 4 is ever printed
    text = lensbot(env, "stats", "--period", last_month()).stdout
    assert "Afgeronde zaken: 212" in text
    assert "Blinde vlekken" in text and "partners om te betrekken" in text
    store = Store(url)
    codes = [c.code for u in range(5) for c in store.list_cases(store.user("console", f"u{u}").id)]  # type: ignore[union-attr]
    assert len(codes) == 212 and not any(code in text for code in codes)   # no case code in the picture
    store.dispose()
    csv_out = lensbot(env, "stats", "--period", last_month(), "--format", "csv-plain").stdout
    assert csv_out.splitlines()[0] == "section,id,count" and "completed_cases,,212" in csv_out


def test_purge_removes_old_cases_but_keeps_the_local_picture(big: tuple[str, dict[str, str]]) -> None:
    url, env = big
    before = json.loads(lensbot(env, "stats", "--period", last_month(), "--format", "json").stdout)
    store = Store(url)
    total = records.count_cases(store)
    age_cases(store, 40)
    dry = lensbot(dict(env, LENSBOT_RETENTION_DAYS="30"), "purge", "--dry-run")
    assert f"would delete {total} case(s)" in dry.stdout
    assert records.count_cases(store) == total
    refused = lensbot(dict(env, LENSBOT_RETENTION_DAYS="30"), "purge")   # every case: the guard asks first
    assert refused.returncode == 1 and "--confirm" in refused.stderr and records.count_cases(store) == total
    done = lensbot(dict(env, LENSBOT_RETENTION_DAYS="30"), "purge", "--confirm")
    assert done.returncode == 0 and f"deleted {total} case(s)" in done.stdout
    assert records.count_cases(store) == 0
    after = json.loads(lensbot(env, "stats", "--period", last_month(), "--format", "json").stdout)
    assert after == before
    assert any(r.action == "purge" for r in records.read_audit(store))
    bad = lensbot(dict(env, LENSBOT_RETENTION_DAYS="soon"), "purge")
    assert bad.returncode == 2 and "LENSBOT_RETENTION_DAYS" in bad.stderr
    store.dispose()


def test_reports_are_only_for_the_owner_and_every_access_is_audited(store: Store, lens: Lens) -> None:
    service = IntakeService(store, lens)
    reports = Reports(service)
    ann = store.user("console", "ann", create_role="professional")
    bob = store.user("console", "bob", create_role="professional")
    assert ann is not None and bob is not None
    code = run_case(service, ann, random.Random(3), "full", p_yes=0.2)
    for fmt in ("json", "csv"):
        assert reports.case_report(bob, code, fmt, "nl") is None
    assert service.summary(bob, code, "nl") is None and not service.delete(bob, code)
    assert code.encode() not in reports.export_all(bob)
    data = json.loads(reports.case_report(ann, code, "json", "nl") or b"{}")
    assert data["case"] == code and data["assessment"]["lens_version"] == lens.version
    assert code.encode() in reports.export_all(ann)
    assert service.summary(ann, code, "nl") is not None
    accounts.create_invite(store, "trainee", actor="console:admin")
    accounts.set_role(store, "telegram", "77", "professional", actor="console:admin")
    assert service.delete(ann, code)
    log = [(r.actor, r.action, r.case_code) for r in records.read_audit(store)]
    gone = audit_hash(store.audit_key(), code)   # the deleted case's code left the audit log
    assert ("console:ann", "export", gone) in log
    assert ("console:ann", "view", gone) in log
    assert ("console:ann", "delete", gone) in log
    assert ("console:admin", "invite", None) in log and ("console:admin", "role", None) in log
    assert not any(actor == "console:bob" and c in (code, gone) for actor, _, c in log)   # refused: nothing seen
    for row in records.read_audit(store):                                          # no answer content
        assert "yes" not in (row.detail or "") and "ja" not in (row.detail or "").split()


def test_training_cases_are_never_listed_or_counted(store: Store, lens: Lens) -> None:
    service = IntakeService(store, lens)
    ann = store.user("console", "ann", create_role="professional")
    assert ann is not None
    run_case(service, ann, random.Random(5), "training", p_yes=0.5)
    assert store.list_cases(ann.id) == []
    assert len(store.list_cases(ann.id, modes=("training",))) == 1
    assert records.read_counts(store) == []


def test_a_quick_scan_export_tells_never_asked_from_dont_know(store: Store, lens: Lens) -> None:
    """2.0: the CSV lists every signal a quick scan never asked as `not_asked`, each with its kind."""
    service = IntakeService(store, lens)
    ann = store.user("console", "ann", create_role="professional")
    assert ann is not None
    code = run_case(service, ann, random.Random(11), "quick", p_yes=0.3, p_unknown=0.3)
    plain = Reports(service).case_report(ann, code, "csv-plain", "nl") or b""   # the CSV for programs
    rows = list(csv.DictReader(io.StringIO(plain.decode())))
    by_item = {r["question"]: r for r in rows}
    assert len(rows) == len(by_item)                               # one row per question
    asked = {lens.all_questions[i].item_id for i in lens.quick_script}
    assert set(by_item) == asked | set(lens.signals)               # what was asked, and every signal
    assert by_item[lens.age_item or ""]["kind"] == "age"
    assert by_item[lens.age_item or ""]["answer"] in lens.age_bands
    for item, row in by_item.items():
        if item in lens.signals:
            assert row["signal_kind"] == lens.signals[item].kind
            assert (row["answer"] == "not_asked") == (item not in asked), row
        else:
            assert row["signal_kind"] == "" and row["answer"] != "not_asked", row
    assert {r["answer"] for r in rows if r["question"] in asked and r["kind"] == "signal"} <= {"yes", "no", "unknown"}
