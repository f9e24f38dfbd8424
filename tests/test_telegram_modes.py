"""The quick scan (/snel) and training (/oefenen, /voortgang) on Telegram, end to end.

The real PTB Application runs in-process against the fake Bot API, as in tests/test_telegram.py.
Each test reads like a transcript: what a teacher or a trainee taps, and what they are shown.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from matrix.training import model_answers
from tests.support.app import Lens
from tests.support.fake_bot_api import FakeUser, SentMessage
from tests.support.telegram_env import AGE, AGE_ROWS, ANSWER_ROW, ANSWERS, TelegramEnv, running_bot, texts

TOKEN = "123456789:TEST-lensbot-modes-token-abcdefghij"
PERSON = "de jongere"    # how questions say it for the AGE tapped (a pupil)
NOT_FOR_ROLE = "Dit is niet beschikbaar voor jouw rol."
CONTINUE, FINISH, BACK, CASE_TEXT = "Doorgaan met volledige intake", "Klaar", "← Terug", "📄 Casus"


@pytest.fixture
async def env(lens: Lens, sqlite_url: str) -> AsyncIterator[TelegramEnv]:
    async with running_bot(lens, sqlite_url, admins=frozenset(), token=TOKEN) as e:
        yield e


def is_question(message: SentMessage | None) -> bool:
    """A ja / nee / weet ik niet question (the age question is not one)."""
    return message is not None and bool(message.buttons) and message.buttons[0] == ANSWER_ROW


def is_age_question(message: SentMessage | None) -> bool:
    return message is not None and message.buttons[:2] == AGE_ROWS and message.text.startswith("Leeftijd · 1/1\n\n")


def question_text(message: SentMessage) -> str:
    """The question itself: the part after the progress line."""
    progress, text = message.text.split("\n\n")[:2]
    assert " · " in progress, message.text
    return text


def code_of(env: TelegramEnv, user: FakeUser, modes: tuple[str, ...]) -> str:
    (case,) = env.store.list_cases(env.known(user).id, modes=modes)
    return case.code


async def answer_questions(user: FakeUser, choose: dict[str, str], ids: dict[str, str],
                           default: str = "no") -> list[str]:
    """Tap an answer as long as a question is shown; the question texts, in the order shown."""
    shown: list[str] = []
    while is_question(user.last_message):
        message = user.last_message
        assert message is not None
        text = question_text(message)
        shown.append(text)
        await user.tap_and_wait(ANSWERS[choose.get(ids[text], default)], timeout=10)
    return shown


# -- 1. the quick scan -------------------------------------------------------------------------
async def test_quick_scan_continue_and_summary(env: TelegramEnv) -> None:
    ann = env.member(2002)
    ids = env.question_ids()
    before = len(env.server.callback_answers)
    opened = await ann.send_and_wait("/snel")
    assert not any(m.buttons == [["Begin"]] for m in opened)       # no intro tap
    age = ann.last_message
    assert is_age_question(age) and age is not None
    assert age.buttons == AGE_ROWS                                 # the first question: nothing to go back to
    assert "Snelle scan — zorgen over een leerling" in texts(opened)
    await ann.tap_and_wait(AGE)

    quick = [q.item_id for q in env.lens.quick_questions]
    gate = ann.last_message
    assert gate is not None and gate.text.startswith(f"Snelle scan · 1/{len(quick)}\n\n")
    assert gate.buttons == [ANSWER_ROW, [BACK]]
    assert question_text(gate) == env.lens.say(env.lens.all_questions[env.lens.quick_script[1]].text, "nl",
                                               env.band(AGE)) and PERSON in question_text(gate)
    wonen = quick[1]
    leefgebied = env.lens.leefgebied_by_id[env.lens.indicator_leefgebied[env.lens.signal_indicator[wonen]]]
    first = await answer_questions(ann, {wonen: "yes"}, ids)
    taps = len(env.server.callback_answers) - before
    assert taps == 1 + len(first) <= 12 and len(first) == len(quick)   # the age and the questions: 12 taps at most
    assert [ids[text] for text in first] == quick

    result = [m for m in ann.messages if "Resultaat snelle scan" in m.text]
    assert len(result) == 1 and "Wat doe je nu?" in result[0].text
    # The text to forward is a message of its own (forwarding it must not drag the rest along).
    (forward,) = [m for m in ann.messages if m.text.startswith("Om door te sturen")]
    assert forward.message_id == result[0].message_id + 1 and "Resultaat snelle scan" not in forward.text
    prompt = ann.last_message
    assert prompt is not None and prompt.buttons == [   # issue 15: "Klaar" first
        [FINISH], [CONTINUE], [f"Meer vragen over {leefgebied.name.nl}"], [BACK]]

    await ann.tap_and_wait(CONTINUE, timeout=10)
    assert "De volledige intake gaat verder" in texts(ann.messages)
    red_flag = ann.last_message                                    # the age is not asked again
    assert red_flag is not None and red_flag.text.startswith(f"Acuut gevaar · 1/{len(env.lens.red_flags)}")
    assert PERSON in question_text(red_flag)
    rest = await answer_questions(ann, {}, ids)
    shown = first + rest
    assert len(shown) == len(set(shown)), [t for t in shown if shown.count(t) > 1]
    assert len(shown) == len(env.lens.questions) + 1          # every intake question and the gate, once

    await env.server.wait_for(lambda: ann.buttons() == [["Geen notitie", BACK]], timeout=10,
                              message="the closing-note prompt")
    code = code_of(env, ann, ("full", "quick"))
    assert f"Overzicht zaak {code}" in texts(ann.messages)
    done = await ann.tap_and_wait("Geen notitie", timeout=10)
    assert f"afgerond en opgeslagen onder zaakcode {code}" in texts(done)
    case = env.case(code)
    assert (case.mode, case.status) == ("full", "completed")
    log = env.store.answer_log(case.id)
    items = [item for item, _ in log]
    assert len(items) == len(set(items)) == len(env.lens.questions) + 2   # every question, the gate and the age
    assert log[0] == (env.lens.age_item, env.band(AGE))
    assert env.server.violations == []


# -- 2. a trainee --------------------------------------------------------------------------------
async def test_trainee_practises_and_sees_progress_but_holds_no_real_cases(env: TelegramEnv) -> None:
    dana = env.member(5005, role="trainee")
    await dana.send_and_wait("/oefenen")
    intro = dana.last_message
    assert intro is not None and intro.buttons == [["Begin"]]
    vignette = next(v for v in env.lens.vignettes.values() if v.title.nl in intro.text)
    assert vignette.text.nl in intro.text and "Oefencasus:" in intro.text
    # issue 14: the round asks whole leefgebieden; "weet ik niet" where the text is silent
    expected = {k: v for k, v in model_answers(env.lens, vignette).items() if k != env.lens.age_item}
    code = code_of(env, dana, ("training",))
    # the age the case gives; a case that does not say it: 'Weet ik niet', as the intro asks
    age = env.lens.age_bands[vignette.age].label.nl if vignette.age else "Weet ik niet"
    ids = env.question_ids(age)

    await dana.tap_and_wait("Begin")
    asked = dana.last_message
    assert is_age_question(asked) and asked is not None
    assert asked.buttons == [*AGE_ROWS, [BACK, CASE_TEXT]]      # the age first, the case text at hand
    await dana.tap_and_wait(age)
    question = dana.last_message
    assert is_question(question) and question is not None
    assert question.buttons[1][0] == BACK and question.buttons[1][-1] == CASE_TEXT
    step = env.case(code).step
    again = await dana.tap_and_wait(CASE_TEXT)
    assert env.case(code).step == step                          # nothing changed
    assert any(vignette.text.nl in m.text for m in again if m.message_id > question.message_id)
    reshown = dana.last_message
    assert reshown is not None and is_question(reshown) and reshown.message_id > question.message_id
    assert question_text(reshown) == question_text(question)
    assert dana.message(question.message_id).buttons == []      # one live keyboard at a time

    shown = await answer_questions(dana, expected, ids)          # the re-shown question is answerable
    assert sorted(ids[text] for text in shown) == sorted(expected)
    feedback = texts(dana.messages)
    assert f"Feedback: {vignette.title.nl}" in feedback and "Score: 100%" in feedback
    if vignette.age:   # the right age is named in the feedback
        assert f"leeftijd (jij: {age}, in de casus: {age})" in feedback, feedback
    assert env.case(code).status == "completed"
    assert env.store.answer_log(env.case(code).id)[0] == (env.lens.age_item, env.band(age))

    progress, *_chart = await dana.send_and_wait("/voortgang")
    assert "Je voortgang" in progress.text and f"{vignette.title.nl}: 100%" in progress.text

    for command in ("/nieuw", "/snel", "/zaken"):
        (refused,) = await dana.send_and_wait(command)
        assert refused.text == NOT_FOR_ROLE, command
    assert env.store.list_cases(env.known(dana).id) == []         # no real case was created
    assert [c.code for c in env.store.list_cases(env.known(dana).id, modes=("training",))] == [code]


# -- 3. a professional's practice stays out of the case lists ------------------------------------
async def test_professional_training_case_is_not_listed_by_zaken_or_hervat(env: TelegramEnv) -> None:
    ann = env.member(2002)
    await ann.send_and_wait("/oefenen")
    await ann.tap_and_wait("Begin")
    await ann.tap_and_wait("Weet ik niet")                         # the age
    await ann.tap_and_wait("Nee")
    training = code_of(env, ann, ("training",))
    assert env.case(training).status == "open"
    (listing,) = await ann.send_and_wait("/zaken")
    assert listing.text == "Je hebt nog geen zaken."
    (resume,) = await ann.send_and_wait("/hervat")
    assert resume.text.startswith("Er staat geen zaak open") and resume.buttons == []

    await ann.send_and_wait("/snel")
    await ann.tap_and_wait(AGE)
    await ann.tap_and_wait("Nee")
    real = code_of(env, ann, ("full", "quick"))
    (listing,) = await ann.send_and_wait("/zaken")
    assert real in listing.text and training not in listing.text
    (resume,) = await ann.send_and_wait("/hervat")
    assert resume.buttons == [[f"{real} — 2 antwoorden"]]                     # the age and the gate
