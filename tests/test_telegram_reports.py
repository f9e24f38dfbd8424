"""End-to-end tests of lensbot's reports over Telegram: the real PTB Application against the fake Bot API.

Lens picture after the summary, the PDF dossier (/rapport), the CSV export (/export), the admin's
local picture (/overzicht), the reminder and retention jobs of the job queue, and the audit log.
Each test reads like a transcript; the fixture checks Telegram's limits (`server.violations`),
that every tap was answered, that nobody got the generic error message and that nothing logged an error.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from pypdf import PdfReader

from bot.telegram.callback import Callback
from dialogs.counts import Period
from dialogs.reports.export import CSV_COLUMNS
from storage.records import read_audit, read_counts
from storage.repo import audit_hash
from tests.support.app import REMIND_AFTER, Lens
from tests.support.closed import close_this_month
from tests.support.fake_bot_api import FakeUser, SentMessage, UploadedFile
from tests.support.telegram_env import (
    NOTE_KEYS,
    TelegramEnv,
    after,
    running_bot,
    taps,
    texts,
)
from tests.support.telegram_env import start_intake as shared_start_intake

pytestmark = pytest.mark.slow(seconds=12)   # about its wall time on one worker: handed out early (tests/conftest.py)

TOKEN = "123456789:TEST-lensbot-reports-token-abcdefgh"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
ROLE_REFUSED = "Dit is niet beschikbaar voor jouw rol."
STRONG = ("veel_aanloop_woning", "woning_gebruikt_door_derden")   # together: Woonomstandigheden


# -- fixture and helpers -------------------------------------------------------------------
@pytest.fixture
async def env(lens: Lens, sqlite_url: str, caplog: pytest.LogCaptureFixture) -> AsyncIterator[TelegramEnv]:
    async with running_bot(lens, sqlite_url, token=TOKEN, caplog=caplog) as e:
        yield e


def upload(message: SentMessage) -> UploadedFile:
    assert message.file is not None, message.describe()
    return message.file


def pdf_text(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


def csv_rows(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8"))))


async def overview(admin: FakeUser, period: str = "") -> list[SentMessage]:
    """/overzicht: the text arrives first, the chart a moment later (it is drawn in between)."""
    before = admin.last_message.message_id if admin.last_message else 0
    await admin.send_and_wait(f"/overzicht {period}".strip())
    await admin.server.wait_for(lambda: any(m.kind == "photo" for m in after(admin, before)), timeout=10,
                                message="the local-picture chart")
    return after(admin, before)


async def start_intake(user: FakeUser) -> str:
    """/nieuw, Begin and the age: the case code."""
    code, _ = await shared_start_intake(user)
    return code


# -- 1. the lens picture after the summary -----------------------------------------------------
async def test_summary_then_lens_picture_then_note_prompt(env: TelegramEnv) -> None:
    ann = env.member(2002)
    code = await start_intake(ann)
    await taps(ann, *["Nee"] * len(env.lens.red_flags))
    # Wonen & Financiën: "veel aanloop" and "gebruikt door derden" yes, the rest no
    wonen = [q.item_id for q in env.lens.questions if q.phase == "wonen_financien"]
    assert set(STRONG) <= set(wonen)
    await taps(ann, *["Ja" if item in STRONG else "Nee" for item in wonen])
    await taps(ann, *["Sla leefgebied over"] * (len(env.lens.leefgebieden) - 2))
    last_question = ann.last_message
    assert last_question is not None
    await ann.tap("Sla leefgebied over")
    await env.server.wait_for(lambda: ann.buttons() == NOTE_KEYS, timeout=10, message="the closing-note prompt")

    new = after(ann, last_question.message_id)
    kinds = [m.kind for m in new]
    assert kinds[-2:] == ["photo", "text"] and set(kinds[:-2]) == {"text"}, ann.transcript()
    summary, photo, prompt = new[:-2], new[-2], new[-1]
    assert f"Overzicht zaak {code}" in summary[-1].text    # issue 15: the short summary, its buttons below it
    assert summary[-1].buttons == [["Details", "Plaatje", "PDF-dossier"]]
    assert photo.caption == f"Lensbeeld zaak {code}" and photo.buttons == []
    picture = upload(photo)
    assert picture.filename == f"lens-{code}.png"
    assert picture.data.startswith(PNG_MAGIC) and picture.size == len(picture.data) > 10_000
    assert "notitie" in prompt.text and prompt.buttons == NOTE_KEYS
    assert [u.filename for u in env.server.uploads] == [f"lens-{code}.png"]   # sent once

    ann.tap("Details", summary[-1].message_id)
    await env.server.wait_for(lambda: "Woonomstandigheden" in texts(after(ann, prompt.message_id)), timeout=10,
                              message="the full summary behind Details (the indicator the two yes answers trigger)")
    await ann.tap_and_wait("Geen notitie")
    case = env.case(code)
    assert case is not None and case.status == "completed"
    assert len(env.server.uploads) == 1                    # finishing sends no second picture
    entries = [(a.action, a.case_code, a.detail) for a in read_audit(env.store) if a.action == "report"]
    assert entries == [("report", code, "png")]


# -- 2. the PDF dossier ------------------------------------------------------------------------

async def test_report_sends_the_pdf_dossier_of_an_own_case_only(env: TelegramEnv) -> None:
    ann, bob = env.member(2002), env.member(2003)
    note = "Gesprek met mentor gepland"
    code = env.complete(ann, yes=STRONG, note=note)

    (doc,) = await ann.send_and_wait(f"/rapport {code}")
    assert doc.kind == "document" and doc.caption == f"Rapport zaak {code} — vastlegging van signalen, geen diagnose."
    pdf = upload(doc)
    assert pdf.filename == f"lensbot-{code}.pdf" and pdf.data.startswith(b"%PDF")
    text = pdf_text(pdf.data)
    assert code in text
    assert "Woonomstandigheden" in text                      # the triggered indicator
    assert note in " ".join(text.split())                   # the closing note belongs in the dossier

    # typed the way people type it: lower case, no dash -> the same case, named properly
    (doc,) = await ann.send_and_wait(f"/rapport {code.lower().replace('-', '')}")
    assert doc.kind == "document" and upload(doc).filename == f"lensbot-{code}.pdf"
    assert doc.caption is not None and doc.caption.startswith(f"Rapport zaak {code} ")

    uploads = len(env.server.uploads)
    (nope,) = await bob.send_and_wait(f"/rapport {code}")    # someone else's case
    assert nope.kind == "text" and nope.text == f"Zaak {code} is niet gevonden."
    (nope,) = await ann.send_and_wait("/rapport k7qx3m")     # no such case: shown like a code
    assert nope.text == "Zaak K7-QX3M is niet gevonden."
    (nope,) = await ann.send_and_wait("/rapport a<b>&cd")    # plain text: shown as typed
    assert nope.text == "Zaak A<B>&CD is niet gevonden."
    (usage,) = await ann.send_and_wait("/rapport")
    assert usage.text.startswith("Gebruik: /rapport CODE") and usage.kind == "text"
    assert len(env.server.uploads) == uploads                # no document for any of these

    reports = [(a.actor, a.case_code, a.detail) for a in read_audit(env.store) if a.action == "report"]
    assert reports == [("telegram:2002", code, "pdf")] * 2


# -- 3. the CSV export -------------------------------------------------------------------------
async def test_export_holds_one_row_per_answer_of_own_real_cases_only(env: TelegramEnv) -> None:
    ann, bob = env.member(2002), env.member(2003)
    full = env.complete(ann, yes=STRONG)
    quick = env.run_case(ann, seed=5, mode="quick")
    open_ = env.open_case(ann)
    training = env.complete(ann, mode="training")
    theirs = env.complete(bob, yes=STRONG)

    (doc,) = await ann.send_and_wait("/export")
    assert doc.kind == "document"
    assert doc.caption == ("Je zaken als CSV: één regel per antwoord, en per vraag die niet gesteld is één regel "
                           "met not_asked.")
    data = upload(doc)
    assert data.filename == "lensbot-cases.csv"
    header, *rows = csv_rows(data.data)
    assert header == list(CSV_COLUMNS)
    assert all(len(r) == len(CSV_COLUMNS) for r in rows)
    mine = {code: env.answers(ann, code) for code in (full, quick, open_)}
    # one row per answer, and one per signal the case never asked ("not_asked": not "weet ik niet", not "nee")
    never = {code: {s: "not_asked" for s in env.lens.signals if s not in answers} for code, answers in mine.items()}
    assert never[quick] and never[open_]
    assert len(rows) == sum(len(answers) + len(never[code]) for code, answers in mine.items())
    col = {name: i for i, name in enumerate(CSV_COLUMNS)}
    for code, answers in mine.items():
        got = {r[col["question"]]: r[col["answer"]] for r in rows if r[col["case"]] == code}
        assert got == answers | never[code], code
        ages = [(r[col["question"]], r[col["answer"]]) for r in rows
                if r[col["case"]] == code and r[col["kind"]] == "age"]
        assert ages == [(env.lens.age_item, answers[env.lens.age_item])], code   # every case asked the age
    assert {r[col["case"]] for r in rows} == set(mine)       # not bob's, not the training case
    assert theirs not in data.data.decode() and training not in data.data.decode()
    assert {r[col["mode"]] for r in rows} == {"full", "quick"}
    assert {r[col["status"]] for r in rows if r[col["case"]] == open_} == {"open"}

    (doc,) = await bob.send_and_wait("/export")
    _, *rows = csv_rows(upload(doc).data)
    assert {r[col["case"]] for r in rows} == {theirs}

    trainee = env.member(2004, role="trainee")
    (refused,) = await trainee.send_and_wait("/export")      # trainees hold no real cases
    assert refused.text == ROLE_REFUSED and refused.kind == "text"


# -- 4. the local picture ----------------------------------------------------------------------
async def test_local_picture_for_admins_only_with_small_counts_hidden(env: TelegramEnv) -> None:
    ann = env.member(2002)
    codes = [env.complete(ann, yes=STRONG) for _ in range(3)]
    codes += [env.complete(ann, mode="training")]            # practice never counts
    uploads = len(env.server.uploads)

    (refused,) = await ann.send_and_wait("/overzicht")
    assert refused.text == ROLE_REFUSED
    assert len(env.server.uploads) == uploads

    admin = env.admin()
    *shown, chart = await overview(admin)
    assert shown and all(m.kind == "text" for m in shown) and chart.kind == "photo", admin.transcript()
    text = texts(shown)
    assert text.startswith("Lokaal beeld criminele uitbuiting")
    lines = text.split("\n")
    assert "Afgeronde zaken: <5" in lines                     # 3 cases: not shown as 3
    assert "Te weinig afgeronde zaken in deze periode om iets te laten zien." in lines, text
    assert not any(re.search(r"(:|—) [1-4]$", line) for line in lines), text   # no small count leaks
    assert not any(code in text for code in codes)
    assert chart.caption is not None and chart.caption.startswith("Lokaal beeld: trend per maand")
    picture = upload(chart)
    assert picture.filename == "lokaal-beeld.png" and picture.data.startswith(PNG_MAGIC) and picture.size > 10_000
    assert not any(code in chart.caption for code in codes)

    quarter = Period.last_closed_quarter(datetime.now(UTC).date()).label   # the default: the last closed quarter
    stats = [(a.actor, a.detail) for a in read_audit(env.store) if a.action == "stats"]
    assert stats == [("telegram:1001", f"{quarter} text"), ("telegram:1001", f"{quarter} png")]

    # Six cases now, all ann's, in a month that has ended: one professional, so still not shown as 6.
    codes += [env.complete(ann, yes=STRONG) for _ in range(3)]
    month = close_this_month(env.store)
    shown = [m for m in await overview(admin, month) if m.kind == "text"]
    assert f"Lokaal beeld criminele uitbuiting ({month})" in texts(shown)
    assert "Afgeronde zaken: <5" in texts(shown).split("\n")
    assert not any(code in texts(shown) for code in codes)


# -- 5. reminders ------------------------------------------------------------------------------
def reminder_text(code: str) -> str:
    return (f"Zaak {code} staat al een paar dagen open. Ga verder met /hervat, of verwijder hem met "
            f"/verwijder {code}. (Herinneringen uitzetten: /herinneringen uit)")


async def test_reminder_job_sends_one_message_per_idle_open_case(env: TelegramEnv) -> None:
    app = env.harness.app
    assert app is not None and app.job_queue is not None
    (job,) = app.job_queue.get_jobs_by_name("_remind")
    assert job.job.trigger.interval == timedelta(hours=1)   # scheduled by the running application

    ann, bob = env.member(2002), env.member(2003)
    idle = env.open_case(ann)
    fresh = env.open_case(ann)
    done = env.complete(ann)
    theirs = env.open_case(bob)
    for code in (idle, done, theirs):
        env.backdate(code, days=4)
    env.backdate(fresh, days=2)                                   # not idle long enough yet
    assert timedelta(days=3) == REMIND_AFTER                 # the 4 and 2 days above straddle it
    seen_ann, seen_bob = len(ann.messages), len(bob.messages)

    await env.run_job("_remind")
    assert [m.text for m in ann.messages[seen_ann:]] == [reminder_text(idle)]   # not the completed case
    assert [m.text for m in bob.messages[seen_bob:]] == [reminder_text(theirs)]
    assert all(m.buttons == [] for m in ann.messages[seen_ann:])

    await env.run_job("_remind")                             # once per case, however long it stays open
    env.backdate(fresh, days=5)
    await env.run_job("_remind")
    assert [m.text for m in ann.messages[seen_ann:]] == [reminder_text(idle), reminder_text(fresh)]
    assert len(bob.messages) == seen_bob + 1

    # what the reminder says works: /hervat shows the case
    (choose,) = await ann.send_and_wait("/hervat")
    assert any(label.startswith(idle) for row in choose.buttons for label in row), choose.buttons


async def test_reminders_off_means_no_message_and_on_again_means_one(env: TelegramEnv) -> None:
    ann = env.member(2002)
    (off,) = await ann.send_and_wait("/herinneringen uit")
    assert off.text == "Herinneringen staan uit."
    code = env.open_case(ann)
    env.backdate(code, days=4)
    seen = len(ann.messages)
    await env.run_job("_remind")
    assert len(ann.messages) == seen and len(env.server.calls_to("sendMessage")) == seen

    (usage,) = await ann.send_and_wait("/herinneringen misschien")
    assert usage.text == "Gebruik: /herinneringen aan of /herinneringen uit"
    (on,) = await ann.send_and_wait("/herinneringen aan")
    assert on.text.startswith("Herinneringen staan aan")
    seen = len(ann.messages)
    await env.run_job("_remind")
    assert [m.text for m in ann.messages[seen:]] == [reminder_text(code)]


async def test_no_reminder_that_points_to_commands_that_cannot_show_the_case(env: TelegramEnv) -> None:
    """A practice case is not "een zaak": /hervat does not list it, a trainee may not /verwijder."""
    ann, dana = env.member(2002), env.member(2005, role="trainee")
    codes = [env.open_case(ann, mode="training"), env.open_case(dana, mode="training")]
    for code in codes:
        env.backdate(code, days=4)
    seen_ann, seen_dana = len(ann.messages), len(dana.messages)
    await env.run_job("_remind")
    assert len(ann.messages) == seen_ann and len(dana.messages) == seen_dana
    (none,) = await ann.send_and_wait("/hervat")
    assert none.text == "Er staat geen zaak open. Start een intake met /nieuw."


# -- 6. retention --------------------------------------------------------------------------------
async def test_retention_job_removes_old_cases_but_keeps_the_local_picture(env: TelegramEnv) -> None:
    app = env.harness.app
    assert app is not None and app.job_queue is not None
    (job,) = app.job_queue.get_jobs_by_name("_purge")
    assert job.job.trigger.interval == timedelta(days=1)
    assert app.bot_data["rt"].retention_days == 90           # the default (LENSBOT_RETENTION_DAYS unset)

    ann = env.member(2002)
    old_done = env.complete(ann, yes=STRONG, note="oude notitie")
    old_open = env.open_case(ann)
    kept = env.complete(ann, yes=STRONG)
    old_ids = [env.case(c).id for c in (old_done, old_open)]  # type: ignore[union-attr]
    env.backdate(old_done, days=100)
    env.backdate(old_open, days=91)
    env.backdate(kept, days=80)
    counts = read_counts(env.store)
    assert counts, "completing real cases adds to the local picture"

    await env.run_job("_purge")
    assert env.case(old_done) is None and env.case(old_open) is None
    assert env.case(kept) is not None
    assert all(env.store.answer_log(i) == [] and env.store.notes(i) == [] for i in old_ids)
    assert read_counts(env.store) == counts                   # the local picture does not shrink
    purged = [(a.actor, a.case_code) for a in read_audit(env.store) if a.action == "purge"]
    gone = [audit_hash(env.store.audit_key(), c) for c in (old_done, old_open)]   # codes leave the audit log
    assert sorted(purged) == sorted([("retention", h) for h in gone])
    assert all(a.detail == "inactive > 90 days" for a in read_audit(env.store) if a.action == "purge")

    (listing,) = await ann.send_and_wait("/zaken")
    assert kept in listing.text and old_done not in listing.text and old_open not in listing.text
    (nope,) = await ann.send_and_wait(f"/rapport {old_done}")
    assert nope.text == f"Zaak {old_done} is niet gevonden."
    admin = env.admin()
    shown = [m for m in await overview(admin) if m.kind == "text"]
    assert "Afgeronde zaken: <5" in texts(shown).split("\n")

    await env.run_job("_purge")                               # nothing left to purge: nothing logged
    assert len([a for a in read_audit(env.store) if a.action == "purge"]) == 2


# -- 7. the audit log --------------------------------------------------------------------------
async def test_audit_log_names_actor_action_and_case_but_no_content(env: TelegramEnv) -> None:
    ann = env.member(2002)
    note = "Zag drie keer dure kleding, nooit gezegd waarvandaan"
    code = env.complete(ann, yes=STRONG, unknown=("schulden",), note=note)
    answers = env.answers(ann, code)
    start = len(read_audit(env.store))

    await ann.send_and_wait(f"/samenvatting {code}")
    await ann.send_and_wait(f"/rapport {code}")
    await ann.send_and_wait("/export")
    (confirm,) = await ann.send_and_wait(f"/verwijder {code}")
    await ann.tap_and_wait("Ja, verwijder")                   # the summary, PDF and export go too
    assert confirm.text.startswith(f"Zaak {code} is verwijderd.") and env.case(code) is None
    admin = env.admin()
    (invite,) = await admin.send_and_wait("/uitnodigen")
    assert "code:" in invite.text

    entries = read_audit(env.store)[start:]
    gone = audit_hash(env.store.audit_key(), code)   # the deleted case's code left the audit log
    assert [(a.actor, a.action, a.case_code, a.detail) for a in entries] == [
        ("telegram:2002", "view", gone, "summary"),
        ("telegram:2002", "report", gone, "pdf"),
        ("telegram:2002", "export", None, "all cases (1)"),
        ("telegram:2002", "delete", gone, None),
        ("telegram:1001", "invite", None, "created for role professional"),
    ]
    assert [a.at for a in entries] == sorted(a.at for a in entries)
    assert all(a.at.tzinfo is not None for a in entries)
    # no answer content anywhere in the log: no note, no question, no signal, no answer
    forbidden = [note, *answers, *(env.lens.question_text(i).get("nl") for i in answers)]
    for entry in read_audit(env.store):
        line = " ".join(str(v) for v in (entry.actor, entry.action, entry.case_code, entry.detail) if v)
        assert not any(f in line for f in forbidden), line
        assert not re.search(r"\b(yes|no|unknown|ja|nee|weet ik niet)\b", line, re.IGNORECASE), line
        assert "Ann" not in line and invite.text.split("code: ")[1].split("\n")[0] not in line


# -- 8. never someone else's case --------------------------------------------------------------
async def test_nobody_gets_a_report_export_summary_or_deletion_of_another_users_case(env: TelegramEnv) -> None:
    ann, bob = env.member(2002), env.member(2003)
    code = env.complete(ann, yes=STRONG, note="alleen voor Ann")
    open_code = env.open_case(ann)
    own = env.complete(bob)
    not_found = f"Zaak {code} is niet gevonden."
    before = len(env.server.uploads)

    (nope,) = await bob.send_and_wait(f"/rapport {code}")
    assert nope.text == not_found and nope.kind == "text"
    (nope,) = await bob.send_and_wait(f"/samenvatting {code}")
    assert nope.text == not_found
    (nope,) = await bob.send_and_wait(f"/verwijder {code}")
    assert nope.text == not_found and nope.buttons == []
    assert len(env.server.uploads) == before

    (doc,) = await bob.send_and_wait("/export")
    exported = upload(doc).data.decode()
    assert code not in exported and open_code not in exported and own in exported

    # forged buttons: a delete confirmation, a resume and an answer for Ann's cases
    (confirm,) = await bob.send_and_wait(f"/verwijder {own}")
    await bob.wait_handled(bob.tap_data(Callback("d", code, option="y").encode(), confirm.message_id))
    assert bob.message(confirm.message_id).text == not_found
    seen = len(bob.messages)
    await bob.wait_handled(bob.tap_data(Callback("r", open_code).encode()))
    step = env.case(open_code).step  # type: ignore[union-attr]
    await bob.wait_handled(bob.tap_data(Callback("q", open_code, step, "yes").encode()))
    assert len(bob.messages) == seen                          # nothing of Ann's case shown
    assert bob.toasts == [f"Zaak {open_code} is niet gevonden."] * 2
    assert env.case(code) is not None and env.case(own) is not None
    assert env.case(open_code).step == step  # type: ignore[union-attr]
    assert env.answers(ann, open_code) == {env.lens.age_item: "a12_17", env.lens.questions[0].item_id: "no",
                                           env.lens.questions[1].item_id: "yes"}

    # nothing bob did touched Ann's cases in the log either
    assert not any(a.actor == "telegram:2003" and a.case_code in (code, open_code) for a in read_audit(env.store))
    shown = texts(bob.messages)
    assert "alleen voor Ann" not in shown and "Woonomstandigheden" not in shown
