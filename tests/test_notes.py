"""Notes reach their own case, edits change them, and identifying data is held back first.

Telegram sessions over the fake Bot API (the real Application), and the console as a subprocess:
two cases at the note step (a reply to case A's prompt lands in A), an edited note (it replaces the
stored note, or the user is told plainly why not), and a note with a name, phone number, address
and birth date (shown back, nothing stored until the user removes it or taps "Toch opslaan").
"""

from __future__ import annotations

import io
import re
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.cli import main
from tests.support.app import Lens, Store, option_event
from tests.support.fake_bot_api import FakeUser
from tests.support.telegram_env import NOTE_KEYS, TelegramEnv, running_bot, taps

IDENTIFYING = "Naam: Jan de Vries, tel 06-12345678, woont 1234 AB 12, geboren 03-04-2009. Werkt 's nachts."
CLEAN = "Werkt 's nachts in een loods en heeft steeds nieuwe kleding."
REMINDER = "Beantwoord de vraag met de knoppen"
HELD_KEYS = [["Toch opslaan", "Geen notitie"]]


@pytest.fixture
async def env(lens: Lens, sqlite_url: str) -> AsyncIterator[TelegramEnv]:
    async with running_bot(lens, sqlite_url) as e:
        yield e


def own_last_message(user: FakeUser) -> int:
    """The id of the last message the user typed (what a Telegram client edits)."""
    mine = [n for n, m in user.server._chats[user.chat_id].messages.items() if not m.from_bot]
    return max(mine)


def notes(env: TelegramEnv, code: str) -> list[str]:
    case = env.case(code)
    assert case is not None
    return env.store.notes(case.id)


async def at_note(env: TelegramEnv, user: FakeUser) -> tuple[str, int]:
    """A case that waits for its closing note (answered through the service, which is quicker than
    tapping), shown to the user with /hervat: (code, the note prompt's message id)."""
    row, service = env.known(user), env.service
    reply = service.start(row, "nl")
    while reply.prompt is not None and "no_note" not in [o.id for o in reply.prompt.options]:
        ids = [o.id for o in reply.prompt.options]
        option = next((o for o in ("begin", "no", "skip", "finish") if o in ids), ids[0])
        event, value = option_event(option)
        reply = service.handle(row, reply.case_code, event, value, step=reply.step)
        assert not reply.refused, reply.toast
    code = reply.case_code
    await user.send_and_wait("/hervat")
    (label,) = [b for row in user.buttons() for b in row if b.startswith(code)]
    await user.tap_and_wait(label)
    prompt = user.last_message
    assert prompt is not None and prompt.buttons == NOTE_KEYS and code in prompt.text, user.transcript()
    return code, prompt.message_id


async def test_a_reply_to_case_a_prompt_goes_to_case_a(env: TelegramEnv) -> None:
    ann = env.member(2001)
    code_a, prompt_a = await at_note(env, ann)
    code_b, _ = await at_note(env, ann)          # case B is touched last and also waits for its note
    assert code_a != code_b

    await ann.wait_handled(ann.send(CLEAN, reply_to=prompt_a))
    assert notes(env, code_a) == [CLEAN]
    assert notes(env, code_b) == []
    b = env.case(code_b)
    assert b is not None and b.status == "open" and b.state == "note"
    a = env.case(code_a)
    assert a is not None and a.status == "completed"

    # plain text now goes to the one case still asking for a note
    await ann.wait_handled(ann.send("Tweede notitie, voor B."))
    assert notes(env, code_b) == ["Tweede notitie, voor B."]
    assert REMINDER not in env.server.transcript(ann.chat_id)


async def test_plain_text_goes_to_the_case_whose_note_prompt_came_last(env: TelegramEnv) -> None:
    ann = env.member(2002)
    code_a, _ = await at_note(env, ann)
    code_b, _ = await at_note(env, ann)
    await ann.wait_handled(ann.send("/hervat"))
    (label,) = [b for row in ann.buttons() for b in row if b.startswith(code_a)]
    await ann.tap_and_wait(label)                 # A's note prompt comes again, last
    assert ann.last_message is not None and code_a in ann.last_message.text
    await ann.wait_handled(ann.send(CLEAN))
    assert notes(env, code_a) == [CLEAN] and notes(env, code_b) == []


async def test_a_reply_to_a_prompt_whose_case_is_done_is_refused_clearly(env: TelegramEnv) -> None:
    ann = env.member(2003)
    code, prompt = await at_note(env, ann)
    await ann.wait_handled(ann.send(CLEAN))
    await ann.wait_handled(ann.send("Nog iets", reply_to=prompt))
    assert notes(env, code) == [CLEAN]
    assert f"Zaak {code} vraagt geen notitie (meer). Je bericht is niet opgeslagen." == ann.last_message.text


async def test_identifying_data_is_shown_and_nothing_stored_until_confirmed(env: TelegramEnv) -> None:
    ann = env.member(2004)
    code, _ = await at_note(env, ann)
    shown = await ann.wait_handled(ann.send(IDENTIFYING))
    said = "\n".join(m.text for m in shown)
    for found in ("een naam (Jan de Vries)", "een telefoonnummer (06-12345678)", "1234 AB 12",
                  "een geboortedatum (03-04-2009)", "Er is nog niets opgeslagen"):
        assert found in said, said
    assert notes(env, code) == []
    case = env.case(code)
    assert case is not None and case.status == "open" and case.state == "note"
    assert ann.buttons() == HELD_KEYS

    await taps(ann, "Toch opslaan")
    assert notes(env, code) == [IDENTIFYING]
    case = env.case(code)
    assert case is not None and case.status == "completed"


async def test_a_new_note_without_the_details_is_stored_instead(env: TelegramEnv) -> None:
    ann = env.member(2005)
    code, _ = await at_note(env, ann)
    await ann.wait_handled(ann.send(IDENTIFYING))
    assert notes(env, code) == []
    await ann.wait_handled(ann.send(CLEAN))
    assert notes(env, code) == [CLEAN]
    assert "Notitie opgeslagen." in env.server.transcript(ann.chat_id)


async def test_an_edited_note_replaces_the_stored_note(env: TelegramEnv) -> None:
    ann = env.member(2006)
    code, _ = await at_note(env, ann)
    await ann.wait_handled(ann.send(IDENTIFYING))
    note_message = own_last_message(ann)
    assert notes(env, code) == []

    # the user removes the details by editing the message: that becomes the note
    await ann.wait_handled(ann.edit(note_message, CLEAN))
    assert notes(env, code) == [CLEAN]
    case = env.case(code)
    assert case is not None and case.status == "completed"

    # and once more, after the case is completed: the stored note (and so the PDF) changes
    await ann.wait_handled(ann.edit(note_message, "Werkt 's nachts."))
    assert notes(env, code) == ["Werkt 's nachts."]
    assert f"De notitie van zaak {code} is aangepast." in ann.last_message.text

    # an edit that brings a name back is held back first; the stored note stays as it was
    await ann.wait_handled(ann.edit(note_message, "Werkt 's nachts voor meneer Bakker."))
    assert notes(env, code) == ["Werkt 's nachts."]
    assert ann.buttons() == [["Toch opslaan"]]
    await taps(ann, "Toch opslaan")
    assert notes(env, code) == ["Werkt 's nachts voor meneer Bakker."]
    assert REMINDER not in env.server.transcript(ann.chat_id)


async def test_editing_a_message_that_is_no_note_gets_a_clear_answer(env: TelegramEnv) -> None:
    ann = env.member(2007)
    await ann.wait_handled(ann.send("hallo"))               # nothing open: not a note
    hello = own_last_message(ann)
    shown = await ann.wait_handled(ann.edit(hello, "hallo daar"))
    said = "\n".join(m.text for m in shown)
    assert "Alleen een notitie kan ik zo aanpassen" in said and "Er is niets veranderd." in said
    assert REMINDER not in said


# -- the console: the same decision, rendered as a y/n question --------------------------------------
def console(tmp_path: Path, lines: list[str], monkeypatch: pytest.MonkeyPatch,
            capsys: pytest.CaptureFixture[str]) -> str:
    """`lensbot chat` with these lines piped in (bot.cli.main, as the console script runs it)."""
    monkeypatch.setenv("LENSBOT_DATABASE_URL", f"sqlite:///{tmp_path / 'lensbot.db'}")
    monkeypatch.setattr(sys, "stdin", io.StringIO("\n".join(lines) + "\n"))
    assert main(["chat"]) == 0
    return capsys.readouterr().out


def console_lines(lens: Lens) -> list[str]:
    assert lens.doc.age is not None
    age = str([b.label.nl for b in lens.doc.age.bands].index("12 tot 18 jaar") + 1)
    return ["begin", age, *["nee"] * len(lens.red_flags), *["sla over"] * len(lens.leefgebieden)]


def test_console_asks_before_storing_identifying_data(lens: Lens, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    out = console(tmp_path, [*console_lines(lens), IDENTIFYING, "", "n", CLEAN, ""], monkeypatch, capsys)
    assert "een naam (Jan de Vries)" in out and "Toch opslaan zoals het is? (j/n)" in out
    assert "Er is niets opgeslagen." in out and "Notitie opgeslagen." in out
    assert stored_notes(tmp_path, out) == [CLEAN]


def test_console_saves_identifying_data_only_when_confirmed(lens: Lens, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    out = console(tmp_path, [*console_lines(lens), IDENTIFYING, "", "j"], monkeypatch, capsys)
    assert "Notitie opgeslagen." in out
    assert stored_notes(tmp_path, out) == [IDENTIFYING]
    # input ends at the question: nothing stored
    out = console(tmp_path, [*console_lines(lens), IDENTIFYING], monkeypatch, capsys)
    assert "Notitie opgeslagen." not in out
    assert stored_notes(tmp_path, out) == []


def stored_notes(tmp_path: Path, out: str) -> list[str]:
    match = re.search(r"Nieuwe zaak gestart: ([A-Z0-9]{2}-[A-Z0-9]{4})", out)
    assert match, out
    store = Store(f"sqlite:///{tmp_path / 'lensbot.db'}")
    try:
        with store.transaction() as tx:
            case = tx.load_case(match.group(1))
        assert case is not None
        return store.notes(case.id)
    finally:
        store.dispose()
