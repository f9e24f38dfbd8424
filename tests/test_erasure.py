"""Erasure erases: /verwijder, `lensbot cases delete` and the console chat leave no copy lensbot made.

Ann runs an intake over Telegram (the real Application against the fake Bot API), types a note
with a marker no other text holds, asks for the PDF and the export, and deletes the case. Then
the chat no longer holds a message about it, the database file and its -wal file (read as raw
bytes while the bot still runs) no longer hold the note, the audit log names the case only by its
keyed hash, and no table has a row of it. Messages older than Telegram's 48 hours are not
attempted: the bot says so and asks her to clear them. The command line and the console chat
delete the same way, after a yes.
"""

from __future__ import annotations

import getpass
import io
import json
import sys
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from bot.cli import main
from bot.console import ConsoleChat
from dialogs.app import Door, Settings
from storage.models import Answer, AnswerLog, CaseMessage, Note
from storage.records import read_audit
from storage.repo import audit_hash, now
from tests.support.app import Lens, Store
from tests.support.fake_bot_api import FakeUser, SentMessage
from tests.support.telegram_env import TelegramEnv, running_bot, to_note
from tests.support.telegram_env import start_intake as shared_start_intake

TOKEN = "123456789:TEST-lensbot-erasure-token-abcdefgh"
MARKER = "ZQXJ-erasure-marker-7781"   # in the note only: where these bytes are, the note is


@pytest.fixture
async def env(lens: Lens, sqlite_url: str, caplog: pytest.LogCaptureFixture) -> AsyncIterator[TelegramEnv]:
    async with running_bot(lens, sqlite_url, token=TOKEN, caplog=caplog) as e:
        yield e


def raw_bytes(sqlite_url: str) -> bytes:
    """The database file and its -wal file, as they are on disk now."""
    path = Path(sqlite_url.removeprefix("sqlite:///"))
    wal = path.with_name(path.name + "-wal")
    return path.read_bytes() + (wal.read_bytes() if wal.exists() else b"")


def rows_left(store: Store, case_id: int) -> dict[str, int]:
    with store.reading() as conn:
        return {t.__tablename__: int(conn.execute(select(func.count()).select_from(t)
                                                  .where(t.case_id == case_id)).scalar_one())
                for t in (Answer, AnswerLog, Note, CaseMessage)}


async def intake_with_note(user: FakeUser, env: TelegramEnv, note: str) -> tuple[str, SentMessage]:
    """/nieuw to the closing note, typed: the case code and the user's own note message."""
    code, _ = await shared_start_intake(user)
    await to_note(user, env.lens)
    last = user.last_message
    assert last is not None
    await user.send_and_wait(note)
    mine = user.message(last.message_id + 1)
    assert not mine.from_bot and mine.text == note
    case = env.case(code)
    assert case is not None and case.status == "completed" and env.store.notes(case.id) == [note]
    return code, mine


async def delete_confirmed(user: FakeUser) -> SentMessage:
    """Tap "Ja, verwijder" under the question /verwijder asked: the message it becomes."""
    question = user.last_message
    assert question is not None and question.buttons == [["Ja, verwijder", "Nee, bewaar"]], user.transcript()
    await user.tap_and_wait("Ja, verwijder")
    return question


# -- Telegram ------------------------------------------------------------------------------------
async def test_verwijder_deletes_every_message_the_note_in_the_files_and_the_code_in_the_audit_log(
        env: TelegramEnv, sqlite_url: str) -> None:
    ann, bob = env.member(2002), env.member(2003)
    code, note_message = await intake_with_note(ann, env, f"Zag {MARKER} bij de voordeur")
    other = env.complete(ann)                                 # a second case of hers: it stays
    bob_code = env.complete(bob, note="notitie van Bob")
    await ann.send_and_wait(f"/samenvatting {code}")
    await ann.send_and_wait(f"/rapport {code}")
    await ann.send_and_wait("/export")                        # holds both of her cases
    case = env.case(code)
    assert case is not None
    about_case = list(ann.messages)                           # every one of them is about this case
    kinds = [m.kind for m in about_case]
    assert kinds.count("photo") == 1 and kinds.count("document") == 2 and len(about_case) > 10, kinds
    assert MARKER.encode() in raw_bytes(sqlite_url)           # the note is on disk before

    await ann.send_and_wait(f"/verwijder {code}")
    confirm = await delete_confirmed(ann)

    # the chat: every message the bot sent for the case is gone, and her own note message too
    assert confirm.text.startswith(f"Zaak {code} is verwijderd.") and "uit deze chat verwijderd" in confirm.text
    assert all(m.deleted for m in about_case) and note_message.deleted, ann.transcript()
    assert [m for m in ann.messages if not m.deleted] == [confirm]
    assert not any(m.deleted for m in bob.messages)
    # the database: no row of the case, and the note in neither file while the bot still runs
    assert env.case(code) is None and rows_left(env.store, case.id) == dict.fromkeys(rows_left(env.store, 0), 0)
    assert MARKER.encode() not in raw_bytes(sqlite_url)
    assert env.case(other) is not None and env.case(bob_code) is not None
    # the audit log: her earlier views and reports and the deletion name the hash, never the code
    gone = audit_hash(env.store.audit_key(), code)
    log = [(a.action, a.case_code) for a in read_audit(env.store)]
    assert ("delete", gone) in log and ("report", gone) in log and ("view", gone) in log
    assert code not in {c for _, c in log}


async def test_messages_older_than_48_hours_are_left_to_the_user_and_said_so(env: TelegramEnv) -> None:
    ann = env.member(2002)
    code, _ = await intake_with_note(ann, env, "Een notitie zonder namen")
    (export,) = await ann.send_and_wait("/export")
    with env.store.engine.begin() as conn:                     # everything was sent long ago
        conn.execute(update(CaseMessage).values(sent_at=now() - timedelta(hours=49)))

    await ann.send_and_wait(f"/verwijder {code}")
    confirm = await delete_confirmed(ann)

    assert confirm.text.startswith(f"Zaak {code} is verwijderd.")
    assert "kan de bot niet meer verwijderen" in confirm.text and "Verwijder ze zelf" in confirm.text
    assert "een oudere export (CSV) in deze chat bevat deze zaak nog" in confirm.text
    assert "uit deze chat verwijderd" not in confirm.text      # nothing was attempted
    assert not any(m.deleted for m in ann.messages) and not export.deleted
    assert env.server.calls_to("deleteMessage") == []
    assert env.case(code) is None


async def test_an_export_is_deleted_with_any_case_it_holds(env: TelegramEnv) -> None:
    ann = env.member(2002)
    first, second = env.complete(ann), env.complete(ann)
    (export,) = await ann.send_and_wait("/export")
    await ann.send_and_wait(f"/verwijder {second}")
    await delete_confirmed(ann)
    assert export.deleted and env.case(first) is not None
    await ann.send_and_wait(f"/verwijder {first}")             # the export is gone already: no error
    confirm = await delete_confirmed(ann)
    assert confirm.text.startswith(f"Zaak {first} is verwijderd.")


# -- the command line and the console chat -------------------------------------------------------
def console_case(url: str, lens: Lens, note: str) -> tuple[Door, str]:
    """A completed case of whoever runs the command line (no red flag, every leefgebied skipped), with `note`."""
    door = Door(Settings.load(database_url=url), "console", lens=lens)
    door.upgrade_database()
    user = door.operator(getpass.getuser())
    reply = door.cases.start(user, "nl")
    while reply.prompt is not None:
        ids = [o.id for o in reply.prompt.options]
        if reply.prompt.accepts_text:
            reply = door.cases.choose(user, reply.case_code, "note", reply.step, text=note)
            continue
        option = next((o for o in ("begin", "skip", "no", "finish") if o in ids), ids[0])
        reply = door.cases.choose(user, reply.case_code, option, reply.step)
        assert not reply.refused, reply.toast
    return door, reply.case_code


def test_lensbot_cases_delete_asks_first_and_then_erases(sqlite_url: str, lens: Lens,
                                                         monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    door, code = console_case(sqlite_url, lens, f"notitie {MARKER}")   # its connections stay open meanwhile
    assert MARKER.encode() in raw_bytes(sqlite_url)

    monkeypatch.setattr(sys, "stdin", io.StringIO("n\n"))
    assert main(["--database", sqlite_url, "cases", "delete", code]) == 1
    assert "Niets verwijderd." in capsys.readouterr().out
    assert code in [c.code for c in door.store.list_cases(door.operator(getpass.getuser()).id)]

    monkeypatch.setattr(sys, "stdin", io.StringIO("ja\n"))
    assert main(["--database", sqlite_url, "cases", "delete", code.lower().replace("-", "")]) == 0
    out = capsys.readouterr().out
    assert "definitief verwijderen? [j/N]" in out and f"Zaak {code} is verwijderd" in out
    assert MARKER.encode() not in raw_bytes(sqlite_url)
    assert code not in {a.case_code for a in read_audit(door.store)}

    assert main(["--database", sqlite_url, "cases", "delete", code, "--yes"]) == 1   # gone: not found
    assert f"Zaak {code} is niet gevonden." in capsys.readouterr().err
    _, again = console_case(sqlite_url, lens, "tweede")
    assert main(["--database", sqlite_url, "cases", "delete", again, "--yes"]) == 0  # no question asked
    assert "[j/N]" not in capsys.readouterr().out
    door.close()


def test_the_console_chat_deletes_its_case_after_a_yes(sqlite_url: str, lens: Lens) -> None:
    """The console chat: "verwijder" asks first; "nee" keeps the case, "ja" erases it and ends the chat."""
    door = Door(Settings.load(database_url=sqlite_url), "console", lens=lens)
    door.upgrade_database()
    user = door.operator(getpass.getuser())
    out = io.StringIO()
    chat = ConsoleChat(door.cases, user, "nl", stdin=io.StringIO("begin\nverwijder\nnee\nverwijder\nja\n"), stdout=out)
    assert chat.run() == 0
    said = out.getvalue()
    assert said.count("definitief verwijderen? [j/N]") == 2 and "Niets verwijderd." in said
    assert "is verwijderd, met alle antwoorden" in said and "Leeftijd" in said   # it was at the age question
    assert door.store.list_cases(user.id) == []
    door.close()


def test_every_sqlite_connection_overwrites_deleted_content_and_syncs_every_commit(sqlite_url: str) -> None:
    store = Store(sqlite_url)
    store.upgrade()
    with store.reading() as conn:
        assert conn.exec_driver_sql("PRAGMA secure_delete").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2   # FULL
    store.dispose()


def test_removing_a_user_erases_their_cases_codes_and_notes_too(sqlite_url: str, lens: Lens,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    door, code = console_case(sqlite_url, lens, f"notitie {MARKER}")
    door.cases.summary(door.operator(getpass.getuser()), code, "nl")        # a "view" row with the code
    assert code in {a.case_code for a in read_audit(door.store)} and MARKER.encode() in raw_bytes(sqlite_url)
    assert main(["--database", sqlite_url, "users", "remove", "--channel", "console", getpass.getuser()]) == 0
    assert code not in {a.case_code for a in read_audit(door.store)}
    assert audit_hash(door.store.audit_key(), code) in {a.case_code for a in read_audit(door.store)}
    assert MARKER.encode() not in raw_bytes(sqlite_url)
    door.close()


def test_a_web_form_parked_at_session_expiry_goes_with_its_case(sqlite_url: str, lens: Lens) -> None:
    """A browser session expired while a note was being sent: the web app parked the form (path and
    fields) to apply after the next login. Deleting the case deletes that copy too; other parked
    forms stay."""
    door, code = console_case(sqlite_url, lens, "eerste")
    _, other = console_case(sqlite_url, lens, "tweede")
    parked, kept = door.accounts.open(), door.accounts.open()
    form = json.dumps({"path": f"/case/{code}/note", "form": {"text": MARKER}})
    door.accounts.remember(parked.token, f"/case/{code}", form)
    door.accounts.remember(kept.token, f"/case/{other}", f'{{"path": "/case/{other}/answer"}}')
    assert MARKER.encode() in raw_bytes(sqlite_url)

    assert main(["--database", sqlite_url, "cases", "delete", code, "--yes"]) == 0
    live = door.accounts.session(parked.token)
    assert live is not None and live.pending is None and live.return_to is None
    assert MARKER.encode() not in raw_bytes(sqlite_url)
    still = door.accounts.session(kept.token)
    assert still is not None and still.return_to == f"/case/{other}"
    door.close()
