"""The small Telegram details of issue 15 (item 5), each as a transcript against the fake Bot API.

/nood in the middle of an intake asks the current question again below the advice, and gives the
112 advice in a group too; typing "ja", "nee" or "weet ik niet" (or English) answers the question,
other words get one short hint, not the question again each time; a double tap on "Ja, verwijder"
keeps "verwijderd"; a deleted open case leaves no live answer buttons; opening one's own used
invitation again says one has access; Dutch role names in Dutch text; the resume button says what
it holds; the quick scan's forwardable text keeps questions apart and "Klaar" comes first.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import pytest

from tests.support.app import Lens
from tests.support.telegram_env import (
    RED_FLAG_KEYS,
    TelegramEnv,
    after,
    progress,
    running_bot,
    start_intake,
    taps,
    texts,
)

TOKEN = "123456789:TEST-lensbot-details-token-abcdefg"


@pytest.fixture
async def env(lens: Lens, sqlite_url: str, caplog: pytest.LogCaptureFixture) -> AsyncIterator[TelegramEnv]:
    async with running_bot(lens, sqlite_url, token=TOKEN, caplog=caplog) as e:
        yield e


async def test_nood_asks_the_question_again_and_typed_answers_count(env: TelegramEnv) -> None:
    ann = env.member(2002)
    code, question = await start_intake(ann)
    # /nood in the middle of an intake: the advice, then the same question again below it
    advice = await ann.send_and_wait("/nood")
    assert "112" in texts(advice)
    await env.server.wait_for(lambda: ann.last_message is not None and ann.last_message.buttons == RED_FLAG_KEYS,
                              timeout=5, message="the current question below the advice")
    again = ann.last_message
    assert again is not None and again.message_id > question.message_id
    assert again.text.startswith(progress(env.lens, 0))
    assert question.buttons == []            # only one set of live buttons
    # typing the answer works like tapping it, in Dutch and in English
    await ann.send_and_wait("nee")
    await ann.send_and_wait("No.")
    answers = env.answers(ann, code)
    assert [answers[env.item(i)] for i in range(2)] == ["no", "no"]
    await ann.send_and_wait("Weet ik niet")   # "weet ik niet" typed is an answer too
    assert env.answers(ann, code)[env.item(2)] == "unknown"
    # other words: one short hint for this question, not the question again each time
    shown = ann.last_message
    assert shown is not None
    hint = await ann.send_and_wait("hmm")
    assert [m.text for m in hint] == ["Tik op een knop onder de vraag, of typ ja, nee of weet ik niet."]
    assert await ann.send_and_wait("wat bedoel je") == []
    assert ann.last_message is not None and ann.last_message.message_id == hint[0].message_id
    assert env.item(3) not in env.answers(ann, code)


async def test_nood_in_a_group_gives_the_112_advice(env: TelegramEnv) -> None:
    member = env.server.group(-100600, 4005, title="Team")
    (reply,) = await member.send_and_wait("/nood")
    assert "112" in reply.text and "privégesprek" not in reply.text
    assert env.row(4005) is None                          # nothing stored


async def test_delete_double_tap_and_live_buttons(env: TelegramEnv) -> None:
    ann = env.member(2002)
    code, question = await start_intake(ann)
    (confirm,) = await ann.send_and_wait(f"/verwijder {code}")
    first, second = ann.tap("Ja, verwijder", confirm.message_id), ann.tap("Ja, verwijder", confirm.message_id)
    await ann.wait_handled(first)
    await ann.wait_handled(second)
    assert f"Zaak {code} is verwijderd." in confirm.text and "niet gevonden" not in confirm.text
    assert env.case(code) is None
    # the question of the deleted case holds no live buttons (deleted, or its keyboard taken off)
    assert question.deleted or question.buttons == []


async def test_invitations_and_roles_speak_dutch(env: TelegramEnv) -> None:
    admin = env.admin()
    (made,) = await admin.send_and_wait("/uitnodigen admin")
    assert "voor de rol beheerder" in made.text and "rol admin" not in made.text
    code = re.search(r"code: (\S+)", made.text).group(1)  # type: ignore[union-attr]
    (trainee_invite,) = await admin.send_and_wait("/uitnodigen trainee")
    assert "voor de rol cursist" in trainee_invite.text
    new = env.server.user(7007, first_name="Nina")
    (welcome,) = await new.send_and_wait(f"/start {code}")
    assert "toegang als beheerder" in welcome.text
    (again,) = await new.send_and_wait(f"/start {code}")   # her own link, opened again
    assert "al gebruikt: je hebt toegang als beheerder" in again.text and "ongeldig" not in again.text
    stranger = env.server.user(7008, first_name="Otto")
    (bad,) = await stranger.send_and_wait(f"/start {code}")  # someone else: the link is used
    assert "ongeldig" in bad.text


async def test_resume_button_and_quick_scan_forward_text(env: TelegramEnv) -> None:
    ann = env.member(2002)
    code, _ = await start_intake(ann)
    await taps(ann, "Nee")
    (choose,) = await ann.send_and_wait("/hervat")
    assert choose.buttons == [[f"{code} — 2 antwoorden"]]          # the age and one red flag
    # the quick scan: answer "weet ik niet" throughout
    await ann.send_and_wait("/snel")
    while ann.last_message is not None and any("Weet ik niet" in row for row in ann.last_message.buttons):
        await ann.tap_and_wait("Weet ik niet")
    await env.server.wait_for(lambda: ann.last_message is not None and ann.last_message.buttons
                              and ann.last_message.buttons[0] == ["Klaar"], timeout=10, message="Klaar first")
    result = ann.last_message
    assert result is not None and result.buttons[1] == ["Doorgaan met volledige intake"]
    forward = next(m for m in reversed(after(ann, choose.message_id)) if "Om door te sturen" in m.text)
    assert "?. Onbekend" not in forward.text and "?; " not in forward.text
    lines = forward.text.split("\n")
    assert "Onbekend:" in lines
    unknown = lines[lines.index("Onbekend:") + 1:]
    assert unknown[0].startswith("- ") and unknown[0].endswith("?")
