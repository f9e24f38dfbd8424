"""End-to-end tests of the Telegram channel: the real PTB Application against the fake Bot API.

Each test reads like a transcript: a scripted user sends and taps, the test checks what the user
saw (messages, buttons, toasts) and what was stored. The fixture checks Telegram's limits
(`server.violations`), that every tap was answered, and that nobody got the generic error message.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from tests.support.app import IntakeService, Lens, accounts
from tests.support.fake_bot_api import FakeUser, FaultPlan, utf16_len
from tests.support.telegram_env import (
    ADMIN,
    AGE,
    AGE_KEYS,
    CODE_RE,
    DOMAIN_KEYS,
    RED_FLAG_KEYS,
    SAVED,
    TelegramEnv,
    full_intake,
    running_bot,
    start_intake,
    taps,
    texts,
    to_note,
)

pytestmark = pytest.mark.slow(seconds=9)   # about its wall time on one worker: handed out early (tests/conftest.py)

PERSON = "de jongere"    # how questions say it for the AGE tapped in these sessions
STALE = "Die knop hoort bij een eerdere vraag; er is niets veranderd. Met /hervat ga je verder waar je was."
INVALID_BUTTON = "Deze knop is niet (meer) geldig."


# -- fixture -------------------------------------------------------------------------------
@pytest.fixture
async def env(lens: Lens, sqlite_url: str) -> AsyncIterator[TelegramEnv]:
    async with running_bot(lens, sqlite_url) as e:
        yield e


def worded(text: str, person: str = PERSON) -> str:
    """A lens question as a person sees it once the age is known: {person} -> "de jongere"."""
    return text.replace("{person}", person).replace("{Person}", person[:1].upper() + person[1:])


# -- 1. commands ----------------------------------------------------------------------------
async def test_commands_registered_in_dutch_and_english(env: TelegramEnv) -> None:
    nl = {c["command"]: c["description"] for c in env.server.commands_for(language_code="nl")}
    en = {c["command"]: c["description"] for c in env.server.commands_for(language_code="en")}
    default = {c["command"]: c["description"] for c in env.server.commands_for()}
    expected = ["start", "nieuw", "hervat", "zaken", "samenvatting", "verwijder", "nood", "taal", "help", "stop"]
    assert list(nl) == list(en) == list(default)
    assert [c for c in nl if c in expected] == expected   # every channel command, in this order
    assert all(nl[c] and en[c] and nl[c] != en[c] for c in ("start", "nieuw", "zaken", "taal", "help"))
    assert nl["nieuw"] == "Nieuwe volledige intake" and en["nieuw"] == "New full intake"
    assert nl["nood"] == "Wat te doen bij acuut gevaar" and en["nood"] == "What to do in acute danger"
    assert default == nl
    assert "uitnodigen" not in nl   # the admin command is not advertised


async def test_help_lists_one_command_per_line(env: TelegramEnv) -> None:
    ann = env.member(2002)
    (help_,) = await ann.send_and_wait("/help")
    lines = help_.text.split("\n")
    assert "/nieuw — volledige intake" in lines and "/hervat — verder met een open zaak" in lines
    assert "CCV-lens" in lines[0] and lines[-1].endswith("bel 112.")
    assert not any(line.startswith(("/uitnodigen", "/overzicht")) for line in lines)   # for admins only


async def test_help_lists_what_the_role_may_use(env: TelegramEnv) -> None:
    """/help is built from the command table: each reader sees the commands their role allows."""
    def commands(user_lines: list[str]) -> list[str]:
        return [line.split()[0] for line in user_lines if line.startswith("/")]

    (trainee,) = await env.member(2003, "trainee").send_and_wait("/help")
    assert commands(trainee.text.split("\n")) == ["/oefenen", "/voortgang", "/hervat", "/nood", "/taal",
                                                   "/herinneringen", "/stop"]
    (admin,) = await env.admin().send_and_wait("/help")
    lines = admin.text.split("\n")
    assert "/overzicht — het lokale beeld" in lines and "/nieuw — volledige intake" in lines
    assert "/uitnodigen [professional|trainee|trainer|admin] — iemand uitnodigen" in lines   # issue 14: trainer
    (stranger,) = await env.server.user(2999).send_and_wait("/help")
    assert commands(stranger.text.split("\n")) == ["/nood"]
    (english,) = await env.server.user(2998, language_code="en").send_and_wait("/help")
    assert "/emergency — what to do in acute danger" in english.text.split("\n") and "CCV lens" in english.text


# -- 2. question layout ---------------------------------------------------------------------
async def test_question_layout_progress_toasts_and_edit_in_place(env: TelegramEnv) -> None:
    ann = env.member(2002)
    await ann.send_and_wait("/nieuw")
    intro = ann.last_message
    assert intro is not None and intro.buttons == [["Begin"]]
    assert "Privacy" in intro.text and "Zaakcode:" in intro.text

    await ann.tap_and_wait("Begin")
    assert ann.message(intro.message_id).buttons == []          # the intro is closed ...
    assert ann.message(intro.message_id).text.endswith("✓ Begin")
    q = ann.last_message                                        # ... and the question is new
    assert q is not None and q.message_id > intro.message_id
    assert q.buttons == AGE_KEYS                                 # the age first: five bands, no skip
    assert q.text.startswith("Leeftijd · 1/1\n\n")
    assert env.lens.doc.age is not None and q.text.split("\n\n")[1] == env.lens.doc.age.question.get("nl")

    sent, red_flags = len(ann.messages), len(env.lens.red_flags)
    await ann.tap_and_wait(AGE)                                  # edited in place into the first red flag
    assert ann.last_message is q and len(ann.messages) == sent
    assert q.buttons == RED_FLAG_KEYS                            # red flags cannot be skipped
    assert q.text.startswith(f"Acuut gevaar · 1/{red_flags}\n\n")
    assert q.text.split("\n\n")[1] == worded(env.lens.red_flags[env.item(0)].question.get("nl"))
    assert "{" not in q.text                                     # worded for the age: no placeholder left

    for number in range(2, red_flags + 1):
        edits = q.edit_count
        await ann.tap_and_wait("Nee")
        assert ann.last_message is q and len(ann.messages) == sent   # edited, no new message
        assert q.edit_count == edits + 1
        assert q.text.startswith(f"Acuut gevaar · {number}/{red_flags}")
    await ann.tap_and_wait("Nee")                                   # last red flag: still in place
    assert len(ann.messages) == sent
    assert q.text.startswith(f"{env.domain_name()} · 1/{env.domain_size()}") and q.buttons == DOMAIN_KEYS

    # every tap got an answer; every answer a "saved" toast (Begin stores nothing: no text)
    assert ann.toasts == [SAVED] * (1 + red_flags)              # the age and each red flag
    assert len([a for a in env.server.callback_answers if a.chat_id == ann.chat_id]) == 2 + red_flags

    # back shows the earlier answer; a changed answer is logged again
    await ann.tap_and_wait("← Terug")
    assert q.text.startswith(f"Acuut gevaar · {red_flags}/{red_flags}") and "Eerder antwoord: nee" in q.text
    await ann.tap_and_wait("Ja")   # the acute-danger message comes first, then the next question
    code = CODE_RE.search(intro.text).group(1)  # type: ignore[union-attr]
    assert env.log(code)[0] == env.age_answer()
    assert env.log(code)[-1] == (env.item(red_flags - 1), "yes")
    assert env.answers(ann, code)[env.item(red_flags - 1)] == "yes"
    assert len(env.log(code)) == 1 + red_flags + 1

    # English after /taal, on the same question message
    q = ann.last_message
    assert q is not None
    await ann.send_and_wait("/taal")
    assert ann.last_message.buttons == [["Nederlands", "English"]]  # type: ignore[union-attr]
    await ann.tap_and_wait("English")
    assert ann.last_message.text == "Language set to English."  # type: ignore[union-attr]
    await ann.tap_and_wait("Nee", q.message_id)
    assert q.text.startswith(f"Housing & Finances · 2/{env.domain_size()}")
    assert q.buttons == [["Yes", "No", "Don't know"], ["← Back", "Skip domain"]]
    assert ann.toasts[-1] == "Saved"
    row = env.row(ann)
    assert row is not None and row.lang == "en"


async def test_age_words_the_questions_and_can_be_changed_with_back(env: TelegramEnv) -> None:
    ann = env.member(2002)
    code, q = await start_intake(ann)
    first = env.lens.red_flags[env.item(0)].question.get("nl")
    assert q.text.split("\n\n")[1] == worded(first)

    await ann.tap_and_wait("← Terug")                            # from the first red flag back to the age
    assert q.buttons == AGE_KEYS and q.text.startswith("Leeftijd · 1/1\n\n")
    assert q.text.endswith(f"Eerder antwoord: {AGE}")
    await ann.tap_and_wait("23 jaar of ouder")
    assert q.text.split("\n\n")[1] == worded(first, "de volwassene") and q.buttons == RED_FLAG_KEYS
    # the change is logged, the answer replaced
    assert env.log(code) == [env.age_answer(), env.age_answer("23 jaar of ouder")]
    assert env.answers(ann, code) == dict([env.age_answer("23 jaar of ouder")])

    await ann.tap_and_wait("← Terug")
    await ann.tap_and_wait("← Terug")                            # the age is the first question: back to the intro
    assert q.buttons == [["Begin"]] and f"Zaakcode: {code}" in q.text
    await ann.tap_and_wait("Begin")                              # as the first time: the intro closes ...
    again = ann.last_message
    assert q.buttons == [] and q.text.endswith("✓ Begin") and again is not None and again is not q
    assert again.buttons == AGE_KEYS and again.text.endswith("Eerder antwoord: 23 jaar of ouder")   # ... nothing lost
    assert ann.toasts == [SAVED] * 2                             # two ages saved; back and Begin store nothing
    assert env.answers(ann, code) == dict([env.age_answer("23 jaar of ouder")])


# -- 3. two users at once -------------------------------------------------------------------
async def test_two_users_at_once_never_mix(env: TelegramEnv) -> None:
    ann, bob = env.member(2002), env.member(2003)

    red_flags, domain_taps = len(env.lens.red_flags), min(9, env.domain_size() - 1)   # stay in the first leefgebied
    end = red_flags + domain_taps

    async def script(user: FakeUser, age: str, red: str, domain: str) -> str:
        code, _ = await start_intake(user, age)
        await taps(user, *[red] * red_flags, *[domain] * domain_taps)
        return code

    code_a, code_b = await asyncio.gather(script(ann, AGE, "Nee", "Ja"),
                                          script(bob, "23 jaar of ouder", "Weet ik niet", "Nee"))
    assert code_a != code_b
    expected_a = dict([env.age_answer()]) | {env.item(i): "no" for i in range(red_flags)} | {
        env.item(i): "yes" for i in range(red_flags, end)}
    expected_b = dict([env.age_answer("23 jaar of ouder")]) | {env.item(i): "unknown" for i in range(red_flags)} | {
        env.item(i): "no" for i in range(red_flags, end)}
    assert env.answers(ann, code_a) == expected_a
    assert env.answers(bob, code_b) == expected_b
    assert sorted(env.log(code_a)) == sorted(expected_a.items())
    assert sorted(env.log(code_b)) == sorted(expected_b.items())
    assert [c.code for c in env.store.list_cases(env.row(ann).id)] == [code_a]  # type: ignore[union-attr]
    assert [c.code for c in env.store.list_cases(env.row(bob).id)] == [code_b]  # type: ignore[union-attr]
    assert ann.toasts == [SAVED] * (1 + end) and bob.toasts == [SAVED] * (1 + end)
    position = f"{env.domain_name()} · {domain_taps + 1}/{env.domain_size()}"
    assert position in ann.last_message.text and PERSON in ann.last_message.text  # type: ignore[union-attr]
    assert position in bob.last_message.text and "de volwassene" in bob.last_message.text  # type: ignore[union-attr]


# -- 4. double tap --------------------------------------------------------------------------
async def test_double_tap_stores_one_answer(env: TelegramEnv) -> None:
    ann = env.member(2002)
    code, _ = await start_intake(ann)
    step = env.case(code).step  # type: ignore[union-attr]
    first, second = ann.tap("Ja"), ann.tap("Ja")   # two taps before the bot saw either
    await ann.wait_handled(first)
    await ann.wait_handled(second)
    assert env.log(code) == [env.age_answer(), (env.item(0), "yes")]
    assert env.case(code).step == step + 1  # type: ignore[union-attr]
    assert ann.toasts == [SAVED, SAVED, STALE]                   # the age, the first tap, the second refused
    # one acute-danger message and one next question, not two
    assert texts(ann.messages).count("bel nu 112") == 1
    assert ann.last_message.text.startswith(f"Acuut gevaar · 2/{len(env.lens.red_flags)}")  # type: ignore[union-attr]


# -- 5. stale buttons -----------------------------------------------------------------------
async def test_stale_buttons_are_refused_and_change_nothing(env: TelegramEnv) -> None:
    ann = env.member(2002)
    await ann.send_and_wait("/nieuw")
    intro = ann.last_message
    assert intro is not None
    begin = intro.callback_data[0][0]
    await ann.tap_and_wait("Begin")
    q = ann.last_message
    assert q is not None and q.buttons == AGE_KEYS
    old_age = q.callback_data[0][0]                             # "Jonger dan 12", never tapped
    await ann.tap_and_wait(AGE)
    old_yes = q.callback_data[0][0]
    await ann.tap_and_wait("Nee")
    code = CODE_RE.search(intro.text).group(1)  # type: ignore[union-attr]
    before = (env.case(code).step, env.log(code), q.text, q.edit_count, len(ann.messages))  # type: ignore[union-attr]

    for data, message_id in ((begin, intro.message_id), (old_age, q.message_id), (old_yes, q.message_id)):
        await ann.wait_handled(ann.tap_data(data, message_id))   # type: ignore[arg-type]
        assert ann.toasts[-1] == STALE
    after = (env.case(code).step, env.log(code), q.text, q.edit_count, len(ann.messages))  # type: ignore[union-attr]
    assert after == before
    assert env.answers(ann, code) == dict([env.age_answer()]) | {env.item(0): "no"}


# -- 6. forged callback data ----------------------------------------------------------------
async def test_forged_callback_data_is_refused(env: TelegramEnv) -> None:
    ann, bob = env.member(2002), env.member(2003)
    code_b, _ = await start_intake(bob)
    await taps(bob, "Nee")
    bob_case = env.case(code_b)
    assert bob_case is not None
    bob_log, bob_actions = env.log(code_b), bob.action_count
    bare = code_b.replace("-", "")

    await ann.send_and_wait("/help")
    seen = ann.action_count
    for garbage in ("garbage", "q:" + "A" * 70, "x:" + bare, f"q:{bare}:{bob_case.step}:z", "l:de"):
        await ann.wait_handled(ann.tap_data(garbage))
        assert ann.toasts[-1] == INVALID_BUTTON, garbage
    assert ann.action_count == seen

    # Bob's case at its exact current step: refused like a code that does not exist
    for data in (f"q:{bare}:{bob_case.step}:y", f"q:{bare}:{bob_case.step}:b", f"r:{bare}"):
        await ann.wait_handled(ann.tap_data(data))
        assert ann.toasts[-1] == f"Zaak {code_b} is niet gevonden.", data
    await ann.wait_handled(ann.tap_data(f"q:ZZZZZZ:{bob_case.step}:y"))
    assert ann.toasts[-1] == "Zaak ZZ-ZZZZ is niet gevonden."
    assert ann.action_count == seen   # no message, no edit: nothing of Bob's case shown

    await ann.wait_handled(ann.tap_data(f"d:{bare}:y"))   # a forged delete confirmation
    assert env.case(code_b) is not None
    assert ann.messages[-1].text == f"Zaak {code_b} is niet gevonden."

    after = env.case(code_b)
    assert after is not None and (after.step, after.state) == (bob_case.step, bob_case.state)
    assert env.log(code_b) == bob_log and bob.action_count == bob_actions

    # own case, right step, an option the question does not have
    await ann.send_and_wait("/nieuw")
    code_a = CODE_RE.search(ann.last_message.text).group(1)  # type: ignore[union-attr]
    bare_a = code_a.replace("-", "")
    await ann.tap_and_wait("Begin")
    step = env.case(code_a).step  # type: ignore[union-attr]
    # at the age question: a yes/no answer, an age band the lens does not have, skipping
    for option in ("y", "n", "I"):
        await ann.wait_handled(ann.tap_data(f"q:{bare_a}:{step}:{option}"))
        assert ann.toasts[-1] == "Dat antwoord past niet bij deze vraag.", option
    await ann.wait_handled(ann.tap_data(f"q:{bare_a}:{step}:s"))
    assert ann.toasts[-1] in ("Dat antwoord past niet bij deze vraag.",   # refused; the product now says
                              "Deze vragen over acuut gevaar kun je niet overslaan.")   # "acute danger" here
    assert env.case(code_a).step == step and env.log(code_a) == []  # type: ignore[union-attr]
    await ann.tap_and_wait(AGE)
    step = env.case(code_a).step  # type: ignore[union-attr]
    await ann.wait_handled(ann.tap_data(f"q:{bare_a}:{step}:s"))
    assert ann.toasts[-1] == "Deze vragen over acuut gevaar kun je niet overslaan."
    for option in ("x", "A"):                                    # at a red flag: no note, no age band
        await ann.wait_handled(ann.tap_data(f"q:{bare_a}:{step}:{option}"))
        assert ann.toasts[-1] == "Dat antwoord past niet bij deze vraag.", option
    assert env.case(code_a).step == step and env.log(code_a) == [env.age_answer()]  # type: ignore[union-attr]


# -- 7. unknown users -----------------------------------------------------------------------
async def test_unknown_user_is_refused_and_nothing_is_stored(env: TelegramEnv) -> None:
    carl = env.server.user(3003, first_name="Carl")
    await carl.send_and_wait("/start")
    text = carl.last_message.text  # type: ignore[union-attr]
    assert "geen toegang" in text and "uitnodiging" in text and "/start" in text
    for attempt in ("/nieuw", "/zaken", "/samenvatting AB-CDEF", "Hallo?"):
        (reply,) = await carl.send_and_wait(attempt)
        assert "geen toegang" in reply.text, attempt
    await carl.wait_handled(carl.tap_data("l:en"))
    assert "geen toegang" in carl.toasts[-1]
    assert env.row(carl) is None
    assert [u.external_id for u in accounts.list_users(env.store, "telegram")] == []


# -- 8. invitations -------------------------------------------------------------------------
async def test_invite_flow(env: TelegramEnv) -> None:
    admin = env.server.user(ADMIN, first_name="Admin")
    (reply,) = await admin.send_and_wait("/uitnodigen trainee")
    code = re.search(r"code: (\S+)", reply.text).group(1)  # type: ignore[union-attr]
    assert f"link: https://t.me/lensbot_test_bot?start={code}" in reply.text
    assert "voor de rol cursist" in reply.text      # issue 15: Dutch role names in Dutch text

    dana = env.server.user(5005, first_name="Dana")
    (welcome,) = await dana.send_and_wait(f"/start {code}")
    assert welcome.text.startswith("Welkom! Je hebt nu toegang als cursist.")
    row = env.row(dana)
    assert row is not None and row.role == "trainee"
    (again,) = await dana.send_and_wait("/start")   # from now on a known user
    assert "geen toegang" not in again.text

    eve = env.server.user(5006, first_name="Eve")
    (bad,) = await eve.send_and_wait(f"/start {code}")   # single use
    assert bad.text.startswith("Deze uitnodiging is ongeldig, al gebruikt of verlopen.")
    assert env.row(eve) is None

    expired = accounts.create_invite(env.store, "professional", ttl=timedelta(seconds=-1))
    fay = env.server.user(5007, first_name="Fay")
    (bad,) = await fay.send_and_wait(f"/start {expired.code}")
    assert bad.text.startswith("Deze uitnodiging is ongeldig")
    assert env.row(fay) is None

    (usage,) = await admin.send_and_wait("/uitnodigen koning")
    assert usage.text.startswith("Gebruik: /uitnodigen")
    (refused,) = await dana.send_and_wait("/uitnodigen trainee")   # only admins invite
    assert "t.me/" not in refused.text and "code:" not in refused.text and refused.text.startswith("Dit ")


# -- 9. /nood mid-question ------------------------------------------------------------------
async def test_emergency_mid_question_keeps_the_keyboard_working(env: TelegramEnv) -> None:
    ann = env.member(2002)
    code, q = await start_intake(ann)
    await taps(ann, "Nee")
    step = env.case(code).step  # type: ignore[union-attr]
    touched = await ann.send_and_wait("/nood")
    alert = next(m for m in touched if m.message_id > q.message_id)
    assert "112" in alert.text and alert.buttons == []
    assert env.case(code).step == step == 3  # type: ignore[union-attr]   # Begin, age, one answer: /nood changes nothing
    # issue 15: the current question is asked again below the advice; the old one loses its buttons
    await env.server.wait_for(lambda: ann.last_message is not None and ann.last_message.message_id > alert.message_id
                              and ann.last_message.buttons == RED_FLAG_KEYS, timeout=5, message="the question again")
    again = ann.last_message
    assert again is not None and q.buttons == []
    await ann.tap_and_wait("Nee", again.message_id)
    assert again.text.startswith(f"Acuut gevaar · 3/{len(env.lens.red_flags)}") and again.buttons == RED_FLAG_KEYS
    assert env.log(code) == [env.age_answer(), (env.item(0), "no"), (env.item(1), "no")]


# -- 10. free text and the closing note -----------------------------------------------------
async def test_free_text_during_a_question_is_not_stored(env: TelegramEnv) -> None:
    ann = env.member(2002)
    code, _ = await start_intake(ann)
    step = env.case(code).step  # type: ignore[union-attr]
    old = ann.last_message
    (hint,) = await ann.send_and_wait("Het gaat om Jan uit Utrecht")
    assert "\n" not in hint.text and "knop" in hint.text       # one short hint; the question is not sent again
    assert ann.message(old.message_id).buttons == RED_FLAG_KEYS   # its buttons stay live
    assert await ann.send_and_wait("Jan dus") == []            # no hint for every word typed
    assert env.log(code) == [env.age_answer()] and env.case(code).step == step  # type: ignore[union-attr]
    assert env.store.notes(env.case(code).id) == []  # type: ignore[union-attr]
    await ann.tap_and_wait("Weet ik niet")   # the keyboard above the hint works
    assert env.log(code) == [env.age_answer(), (env.item(0), "unknown")]


async def test_a_typed_age_is_not_stored_the_buttons_are(env: TelegramEnv) -> None:
    ann = env.member(2002)
    await ann.send_and_wait("/nieuw")
    code = CODE_RE.search(ann.last_message.text).group(1)  # type: ignore[union-attr]
    await ann.tap_and_wait("Begin")
    old = ann.last_message
    assert old is not None and old.buttons == AGE_KEYS
    (hint,) = await ann.send_and_wait("Ze is 15")                # typed instead of tapped
    assert hint.text == "Tik op een knop onder de vraag." and old.buttons == AGE_KEYS
    assert env.log(code) == [] and env.store.notes(env.case(code).id) == []  # type: ignore[union-attr]
    await ann.tap_and_wait(AGE)
    assert env.log(code) == [env.age_answer()] and old.buttons == RED_FLAG_KEYS


async def test_closing_note_is_stored_after_the_summary(env: TelegramEnv) -> None:
    ann = env.member(2002)
    code, _ = await start_intake(ann)
    await to_note(ann, env.lens)
    shown = texts(ann.messages)
    assert f"Overzicht zaak {code}" in shown and shown.index("Overzicht zaak") < shown.index("notitie toevoegen")
    assert "Zorgniveau: nog niet beoordeeld" in shown        # every leefgebied skipped: never "geen signalen"
    # "Wat zie ik nog niet?": every indicator is open; the short summary (issue 15) shows the three most
    # telling, and points to Details and the PDF for the rest
    assert sum("(wie ziet dit:" in line for line in shown.split("\n")) == min(3, len(env.lens.indicators))
    assert "Details of het PDF-dossier" in shown
    note = "Zag drie keer 's avonds dure kleding, nooit gezegd waarvandaan."
    messages = await ann.send_and_wait(note)
    assert "Notitie opgeslagen." in texts(messages)
    assert f"De intake is afgerond en opgeslagen onder zaakcode {code}." in texts(messages)
    case = env.case(code)
    assert case is not None and case.status == "completed"
    assert env.store.notes(case.id) == [note]
    (after,) = await ann.send_and_wait("nog iets")    # no open case left for typed text
    assert "geen zaak open" in after.text
    assert env.store.notes(case.id) == [note]


async def test_too_long_note_is_refused_without_pointing_to_the_buttons(env: TelegramEnv) -> None:
    ann = env.member(2002)
    code, _ = await start_intake(ann)
    await to_note(ann, env.lens)
    prompt = ann.last_message
    assert prompt is not None
    messages = [m for m in await ann.send_and_wait("x" * 2001) if m.message_id != prompt.message_id]
    assert [m.text for m in messages] == ["De notitie is te lang (maximaal 2000 tekens).", prompt.text]
    assert ann.message(prompt.message_id).buttons == []       # the old prompt's buttons are retired
    assert messages[-1].buttons == [["Geen notitie", "← Terug"]]
    case = env.case(code)
    assert case is not None and case.status == "open" and env.store.notes(case.id) == []
    await ann.send_and_wait("y" * 2000)
    assert env.store.notes(case.id) == ["y" * 2000]


async def test_pause_and_resume(env: TelegramEnv) -> None:
    ann = env.member(2002)
    code, q = await start_intake(ann)
    await taps(ann, "Nee", "Nee")
    (paused,) = await ann.send_and_wait("/stop")
    assert "/hervat" in paused.text
    (choose,) = await ann.send_and_wait("/hervat")
    assert choose.buttons == [[f"{code} — 3 antwoorden"]]       # answers so far: the age and two red flags
    (shown,) = [m for m in await ann.tap_and_wait(f"{code} — 3 antwoorden") if m.message_id > choose.message_id]
    assert shown.message_id > q.message_id and shown.text == q.text
    assert ann.message(q.message_id).buttons == []            # one live keyboard at a time
    assert shown.text.startswith(f"Acuut gevaar · 3/{len(env.lens.red_flags)}") and shown.buttons == RED_FLAG_KEYS
    assert shown.text.split("\n\n")[1] == worded(env.lens.red_flags[env.item(2)].question.get("nl"))   # age kept
    await ann.tap_and_wait("Weet ik niet")
    assert env.log(code)[-1] == (env.item(2), "unknown")


async def test_no_note_button_finishes(env: TelegramEnv) -> None:
    ann = env.member(2002)
    code, _ = await start_intake(ann)
    await to_note(ann, env.lens)
    messages = await ann.tap_and_wait("Geen notitie")
    assert "Notitie opgeslagen." not in texts(messages)
    assert f"afgerond en opgeslagen onder zaakcode {code}" in texts(messages)
    case = env.case(code)
    assert case is not None and case.status == "completed" and env.store.notes(case.id) == []


# -- 11. red flag ---------------------------------------------------------------------------
async def test_red_flag_yes_shows_112_before_the_next_question(env: TelegramEnv) -> None:
    ann = env.member(2002)
    code, q = await start_intake(ann)
    await ann.tap_and_wait("Ja")
    assert q.buttons == [] and q.text.endswith("✓ Ja")          # the answered question is closed
    later = [m for m in ann.messages if m.message_id > q.message_id]
    assert len(later) == 2, ann.transcript()
    alert, question = later
    assert alert.text.startswith("⚠️ Acuut gevaar: bel nu 112") and alert.buttons == []
    assert question.text.startswith(f"Acuut gevaar · 2/{len(env.lens.red_flags)}") and question.buttons == RED_FLAG_KEYS
    assert ann.toasts == [SAVED, SAVED]                          # the age, the red flag
    assert env.answers(ann, code) == dict([env.age_answer()]) | {env.item(0): "yes"}


# -- 12. groups -----------------------------------------------------------------------------
async def test_group_chat_is_refused_and_nothing_is_stored(env: TelegramEnv) -> None:
    for user_id in (4004, ADMIN):
        member = env.server.group(-100500, user_id, title="Team")
        chatter = member.send("Hallo bot")                    # ordinary group talk: no reply at all
        for text in ("/nieuw", "/start"):
            (reply,) = await member.send_and_wait(text)
            assert "werkt alleen in een privégesprek" in reply.text, text
        assert env.server.is_delivered(chatter)
        assert not any("Hallo" in (m.text or "") for m in member.messages if m.message_id > chatter)
        assert sum("privégesprek" in (m.text or "") for m in member.messages) == 2 * (1 if user_id == 4004 else 2)
        assert env.row(user_id) is None
    assert accounts.list_users(env.store, "telegram") == []


# -- 13. cases, summary, delete -------------------------------------------------------------
async def test_cases_summary_and_delete(env: TelegramEnv) -> None:
    ann, bob = env.member(2002), env.member(2003)
    code, _ = await start_intake(ann)
    await taps(ann, "Nee", "Ja")
    (listing,) = await ann.send_and_wait("/zaken")
    assert listing.text.startswith("Je zaken (nieuwste eerst):")
    assert f"{code} · open · 3 antwoorden" in listing.text      # the age and two red flags

    summary = await ann.send_and_wait(f"/samenvatting {code.lower().replace('-', '')}")
    shown = texts(summary)
    # the age is not one of the intake's questions: two of them are answered
    assert f"Overzicht zaak {code}" in shown and f"2 van de {len(full_intake(env.lens))} vragen beantwoord" in shown
    assert "bel nu 112" in shown   # the red flag answered yes comes first
    assert f"Leeftijd: {AGE}" in shown
    assert worded(env.lens.red_flags[env.item(1)].question.get("nl")) in shown   # the red flag, worded for the age

    (nope,) = await bob.send_and_wait(f"/samenvatting {code}")
    assert nope.text == f"Zaak {code} is niet gevonden."
    (nope,) = await bob.send_and_wait(f"/verwijder {code}")
    assert nope.text == f"Zaak {code} is niet gevonden." and nope.buttons == []
    (usage,) = await ann.send_and_wait("/samenvatting")
    assert usage.text.startswith("Gebruik: /samenvatting CODE")

    (confirm,) = await ann.send_and_wait(f"/verwijder {code}")
    assert confirm.buttons == [["Ja, verwijder", "Nee, bewaar"]] and code in confirm.text
    await ann.tap_and_wait("Nee, bewaar")
    assert confirm.text == "Niets verwijderd." and confirm.buttons == []
    assert env.case(code) is not None

    case_id = env.case(code).id  # type: ignore[union-attr]
    (confirm,) = await ann.send_and_wait(f"/verwijder {code}")
    await ann.tap_and_wait("Ja, verwijder")
    assert confirm.text.startswith(f"Zaak {code} is verwijderd.") and confirm.buttons == []   # + its messages
    assert env.case(code) is None
    assert env.store.answer_log(case_id) == [] and env.store.notes(case_id) == []
    (listing,) = await ann.send_and_wait("/zaken")
    assert listing.text == "Je hebt nog geen zaken."


async def test_not_found_message_shows_the_typed_code_readably(env: TelegramEnv) -> None:
    ann = env.member(2002)
    (nope,) = await ann.send_and_wait("/samenvatting a<b>&cd")   # plain text: shown as typed
    assert nope.text == "Zaak A<B>&CD is niet gevonden."
    (nope,) = await ann.send_and_wait("/verwijder k7qx3m")        # and written like a real code
    assert nope.text == "Zaak K7-QX3M is niet gevonden."


# -- 14. robustness -------------------------------------------------------------------------
@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")   # raised inside PTB's RetryAfter
async def test_intake_survives_random_429_and_500(env: TelegramEnv) -> None:
    ann = env.member(2002)
    env.server.faults = FaultPlan(rate=0.2, kinds=("429", "500"), retry_after=1, seed=3)
    await ann.send_and_wait("/nieuw", timeout=10)
    code = CODE_RE.search(ann.last_message.text).group(1)  # type: ignore[union-attr]
    await ann.tap_and_wait("Begin", timeout=10)
    await ann.tap_and_wait(AGE, timeout=10)
    red = ["Nee", "Weet ik niet", *["Nee"] * (len(env.lens.red_flags) - 2)]   # no red flag: no 112 message
    labels = [*red, "Ja", "Nee", "Weet ik niet", "Ja", "Nee"]
    for label in labels:
        await ann.tap_and_wait(label, timeout=10)
    env.server.faults = None
    kinds = {kind for _, kind in env.server.faults_injected}
    assert kinds == {"429", "500"}, f"the plan must inject both kinds to prove anything: {kinds}"
    values = {"Ja": "yes", "Nee": "no", "Weet ik niet": "unknown"}
    expected = [env.age_answer(), *((env.item(i), values[label]) for i, label in enumerate(labels))]
    assert env.log(code) == expected     # every tap stored exactly once, in order
    assert ann.last_message.text.startswith(f"{env.domain_name()} · 6/{env.domain_size()}")  # type: ignore[union-attr]
    assert len(ann.messages) == 2     # the intro and the question: no message sent twice
    assert ann.toasts == [SAVED] * (1 + len(labels))


async def test_single_500_on_edit_is_retried(env: TelegramEnv) -> None:
    ann = env.member(2002)
    code, q = await start_intake(ann)
    env.server.fail_next("editMessageText", "500")
    await ann.tap_and_wait("Nee", timeout=10)
    assert ("editMessageText", "500") in env.server.faults_injected
    assert q.text.startswith(f"Acuut gevaar · 2/{len(env.lens.red_flags)}") and q.buttons == RED_FLAG_KEYS
    assert env.log(code) == [env.age_answer(), (env.item(0), "no")]


async def test_message_not_modified_is_ignored(env: TelegramEnv) -> None:
    ann = env.member(2002)
    code, _ = await start_intake(ann)
    (confirm,) = await ann.send_and_wait(f"/verwijder {code}")
    first, second = ann.tap("Nee, bewaar"), ann.tap("Nee, bewaar")   # the second edit changes nothing
    await ann.wait_handled(first)
    await ann.wait_handled(second)
    assert confirm.text == "Niets verwijderd." and confirm.edit_count == 1
    assert any("not modified" in e.description for e in env.server.errors)
    assert ann.last_message is confirm and env.case(code) is not None


# -- 15. redelivery -------------------------------------------------------------------------
async def test_redelivered_updates_are_handled_once(env: TelegramEnv) -> None:
    ann = env.member(2002)
    new = ann.send("/nieuw")
    await ann.wait_handled(new)
    env.server.redeliver(new)
    await env.server.wait_for(lambda: env.server.is_delivered(new))
    (listing,) = await ann.send_and_wait("/zaken")
    assert listing.text.count("· open ·") == 1
    assert len(env.store.list_cases(env.row(ann).id)) == 1  # type: ignore[union-attr]
    assert len([m for m in ann.messages if m.buttons == [["Begin"]]]) == 1

    code = CODE_RE.search(ann.messages[0].text).group(1)  # type: ignore[union-attr]
    await ann.tap_and_wait("Begin")
    await ann.tap_and_wait(AGE)
    tap = ann.tap("Ja")
    await ann.wait_handled(tap)
    sent = len(ann.messages)
    env.server.redeliver(tap)
    await ann.wait_handled(tap)
    assert env.log(code) == [env.age_answer(), (env.item(0), "yes")]
    assert len(ann.messages) == sent   # no second 112 message, no second question


async def test_redelivered_note_is_stored_once_and_says_nothing(env: TelegramEnv) -> None:
    ann = env.member(2002)
    code, _ = await start_intake(ann)
    await to_note(ann, env.lens)
    note = ann.send("Notitie één keer")
    await ann.wait_handled(note)
    sent = len(ann.messages)
    env.server.redeliver(note)
    await env.server.wait_for(lambda: env.server.is_delivered(note))
    await ann.send_and_wait("/help")
    assert len(ann.messages) == sent + 1, ann.transcript()   # only the help text
    case = env.case(code)
    assert case is not None and env.store.notes(case.id) == ["Notitie één keer"]


# -- 16. summaries: HTML, length, escaping --------------------------------------------------
async def test_long_summary_is_valid_html_below_the_limit(env: TelegramEnv) -> None:
    ann = env.member(2002)
    row = env.row(ann)
    assert row is not None
    # the longest summary: age unknown (the routes for a minor and an adult), every question answered yes
    service = IntakeService(env.store, env.lens)
    reply = service.start(row, "nl")
    step = reply.step
    reply = service.handle(row, reply.case_code, "begin", step=step)
    assert reply.prompt is not None and reply.prompt.question_id == env.lens.age_item
    (unknown,) = [o.id for o in reply.prompt.options if o.label == "Weet ik niet"]
    reply = service.handle(row, reply.case_code, "answer", unknown, step=reply.step)
    while not reply.finished and reply.prompt and reply.prompt.question_id:
        reply = service.handle(row, reply.case_code, "answer", "yes", step=reply.step)
        assert not reply.refused, reply.toast
    code, total = reply.case_code, len(full_intake(env.lens))
    for lang in ("nl", "en"):
        if lang == "en":
            await ann.send_and_wait("/taal")
            await ann.tap_and_wait("English")
        messages = await ann.send_and_wait(f"/samenvatting {code}")
        assert len(messages) >= 2, "the all-yes summary should need more than one message"
        assert all(0 < utf16_len(m.text) <= 4096 and utf16_len(m.raw_text) <= 4096 for m in messages)
        assert all(m.parse_mode == "HTML" for m in messages)
        assert all(m.text == m.text.strip("\n") for m in messages)
        shown = texts(messages)
        assert "Acuut gevaar: bel nu 112" in shown or "Acute danger: call 112 now" in shown
        assert f"{total} van de {total}" in shown or f"{total} of {total}" in shown
        assert "Leeftijd: onbekend" in shown or "Age: unknown" in shown
    assert env.server.violations == []


async def test_note_with_markup_characters_is_stored_verbatim(env: TelegramEnv) -> None:
    ann = env.member(2002)
    code, _ = await start_intake(ann)
    await to_note(ann, env.lens)
    note = "<b>Let op</b> & <i>niet</i> vergeten: 3 < 5 &amp; klaar"
    messages = await ann.send_and_wait(note)
    assert "afgerond" in texts(messages)
    case = env.case(code)
    assert case is not None and env.store.notes(case.id) == [note]
    summary = await ann.send_and_wait(f"/samenvatting {code}")
    assert all(utf16_len(m.text) <= 4096 for m in summary)
    assert env.server.violations == []
