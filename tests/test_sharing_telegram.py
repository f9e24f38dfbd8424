"""One case, several professionals, on Telegram (issue 13): the real Application against the fake Bot API.

The transcript: a wijkagent starts a case and answers one leefgebied, asks a teacher about "Zingeving,
Lerend Vermogen & Inzicht" and a debt counsellor about "Wonen & Financiën"; both open their link,
say their domain, answer the red flags first and then their questions; the wijkagent is told of each
contribution and their summary shows the combined picture, the domains behind it and a changed
concern. Then what a contributor must never get: another case, answers they were not shown, a link
someone else opened, an answer after the request was withdrawn.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select

from storage.models import AnswerChange, AuditEntry, Contribution
from tests.support.app import Lens
from tests.support.fake_bot_api import FakeUser
from tests.support.telegram_env import TelegramEnv, running_bot, start_intake, taps

LINK = re.compile(r"https://t\.me/\w+\?start=(s_[A-Za-z0-9_-]{40})")
ZINGEVING = "Zingeving, Lerend Vermogen & Inzicht"
WONEN = "Wonen & Financiën"
PURPOSE = "Signalen uit verschillende domeinen samenbrengen"
BASIS = "Meldcode: collegiale consultatie (stap 2)"
NOT_SAFE = "Informeren brengt de persoon of een ander in gevaar"


@pytest.fixture
async def env(lens: Lens, sqlite_url: str) -> AsyncIterator[TelegramEnv]:
    async with running_bot(lens, sqlite_url) as e:
        yield e


def size(lens: Lens, name: str) -> int:
    return next(sum(len(i.signals) for i in lg.indicators) for lg in lens.leefgebieden if lg.name.nl == name)


async def ask(owner: FakeUser, code: str, area: str, combined: str = "Nee, alleen de vragen") -> str:
    """/delen CODE and the wizard's taps; the token of the Telegram link the owner is given."""
    await owner.send_and_wait(f"/delen {code}")
    wizard = owner.last_message
    assert wizard is not None and "welke vragen leg je aan je collega voor" in wizard.text
    await taps(owner, area)
    assert f"✓ {area}" in labels(owner), owner.buttons()   # edited in place, ticked
    await taps(owner, "Volgende →", PURPOSE, BASIS, "Nee", NOT_SAFE, "14 dagen", combined)
    made = owner.last_message
    assert made is not None and f"Je vraag over zaak {code} is klaar" in made.text, owner.transcript()
    assert "Web: http" in made.text and "/share/s_" in made.text
    match = LINK.search(made.text)
    assert match, made.text
    return match.group(1)


async def contribute(person: FakeUser, token: str, domain: str, lens: Lens, answers: list[str]) -> None:
    """Open the link, say the domain, answer the red flags "Nee", then the first questions, then Klaar."""
    await person.send_and_wait(f"/start {token}")
    first = person.last_message
    assert first is not None and "Vanuit welk domein" in first.text, person.transcript()
    await taps(person, domain)
    question = person.last_message
    assert question is not None and f"· {domain} · 1/" in question.text
    await taps(person, *["Nee"] * len(lens.red_flags))
    await taps(person, *answers)
    await taps(person, "Klaar")


def labels(user: FakeUser) -> list[str]:
    """Every button label of the user's last message."""
    return [label for row in user.buttons() for label in row]


def summary_text(messages: list) -> str:
    return "\n".join(m.text for m in messages)


async def test_a_wijkagent_asks_a_teacher_and_a_debt_counsellor(env: TelegramEnv) -> None:
    lens = env.lens
    agent = env.member(3001, first_name="Wijkagent")
    code, _ = await start_intake(agent)
    await taps(agent, *["Nee"] * len(lens.red_flags))
    await taps(agent, "Ja", *["Nee"] * (size(lens, WONEN) - 1))          # the agent's own leefgebied
    await taps(agent, *["Sla leefgebied over"] * (len(lens.leefgebieden) - 1))
    await env.server.wait_for(lambda: agent.buttons() == [["Geen notitie", "← Terug"]], timeout=10,
                              message="the closing-note prompt")
    await taps(agent, "Geen notitie")
    before = summary_text(await agent.send_and_wait(f"/samenvatting {code}"))
    concern_before = next(line for line in before.splitlines() if line.startswith("Zorgniveau"))

    teacher_token = await ask(agent, code, ZINGEVING)
    debts_token = await ask(agent, code, WONEN)
    assert teacher_token != debts_token and code not in teacher_token

    teacher = env.server.user(4001, first_name="Leraar")          # not a lensbot user before
    # the teacher sees exploitation-kind signals (the 5th, 8th and 10th question of the leefgebied)
    await contribute(teacher, teacher_token, "school", lens, ["Nee"] * 4 + ["Ja", "Nee", "Nee", "Ja", "Nee", "Ja"])
    thanks = summary_text(teacher.messages)
    assert f"van de {len(lens.red_flags) + size(lens, ZINGEVING)} vragen over zaak {code}" in thanks
    assert "Toon gecombineerd beeld" not in str(teacher.buttons())
    await env.server.wait_for(lambda: "Nieuwe bijdrage" in summary_text(agent.messages), timeout=5,
                              message="the owner's notice")
    assert f"Nieuwe bijdrage in zaak {code} van school" in summary_text(agent.messages)

    counsellor = env.server.user(4002, first_name="Schuldhulp")
    await contribute(counsellor, debts_token, "schuldhulp", lens, ["Ja", "Nee", "Ja", "Ja", "Ja"])
    await env.server.wait_for(lambda: "van schuldhulp" in summary_text(agent.messages), timeout=5,
                              message="the owner's second notice")

    after = summary_text(await agent.send_and_wait(f"/samenvatting {code}"))
    assert "Gecombineerd beeld" in after
    assert "Bronnen: eigen waarneming, school, schuldhulp" in after
    assert "school: ja" in after and "schuldhulp: ja" in after
    assert "eigen waarneming: ja · schuldhulp: ja" in after                 # agreeing
    assert "eigen waarneming: nee · schuldhulp: ja  ⚠ verschil" in after   # a conflict, not averaged away
    rests = next(line for line in after.splitlines() if line.startswith("Dit beeld rust op"))
    assert "school" in rests and "schuldhulp" in rests and "eigen waarneming" in rests
    concern_after = next(line for line in after.splitlines() if line.startswith("Zorgniveau"))
    assert concern_before == "Zorgniveau: aandacht"
    assert concern_after == "Zorgniveau: mogelijke criminele uitbuiting", after

    # the contributions are stored apart, per request, never over the owner's answers
    with env.store.engine.connect() as conn:
        given = conn.execute(select(Contribution.value)).scalars().all()
        actions = conn.execute(select(AuditEntry.action).where(AuditEntry.case_code == code)
                               .order_by(AuditEntry.id)).scalars().all()
    assert given.count("yes") == 7   # 3 from school, 4 from schuldhulp
    assert env.answers(agent, code).values().__iter__() and list(env.answers(agent, code).values()).count("yes") == 1
    for step in ("share", "share-join", "share-domain", "contribute", "view"):
        assert step in actions, actions
    assert actions.count("share") == 2 and actions.count("share-join") == 2

    # the owner withdraws the teacher's request from /verzoeken
    await agent.send_and_wait(f"/verzoeken {code}")
    listing = agent.last_message
    assert listing is not None and "school · klaar" in listing.text and "schuldhulp · klaar" in listing.text


async def test_a_contributor_gets_nothing_more_than_asked(env: TelegramEnv) -> None:
    lens = env.lens
    agent = env.member(3101, first_name="Wijkagent")
    other_owner = env.member(3102, first_name="Collega")
    code = env.complete(agent, yes=(next(iter(lens.signals)),), note="Gesprek op straat.")
    other = env.complete(other_owner)
    token = await ask(agent, code, ZINGEVING)

    teacher = env.server.user(4101, first_name="Leraar")
    await teacher.send_and_wait(f"/start {token}")
    await taps(teacher, "school", "Nee")

    # someone the link was forwarded to is refused, and stores nothing
    stranger = env.server.user(4102, first_name="Doorgestuurd")
    await stranger.send_and_wait(f"/start {token}")
    assert "al door iemand anders geopend" in summary_text(stranger.messages)
    assert env.row(stranger) is None
    # the contributor reaches no case as a case, not this one, not another
    for command in (f"/samenvatting {code}", f"/samenvatting {other}", f"/rapport {code}", "/zaken", "/nieuw"):
        await teacher.send_and_wait(command)
    seen = summary_text(teacher.messages)
    assert "Gesprek op straat" not in seen and "Gecombineerd" not in seen and "eigen waarneming" not in seen
    assert other not in seen
    # what they contributed they can see
    await teacher.send_and_wait("/bijdragen")
    assert f"Zaak {code} · school · bezig" in teacher.last_message.text or \
        f"Zaak {code} · school · bezig" in summary_text(teacher.messages)   # type: ignore[union-attr]

    # the owner withdraws the request; the teacher's next tap is refused and stores nothing
    await teacher.send_and_wait(f"/start {token}")   # back to where they were
    question = teacher.last_message
    assert question is not None and "· school · 2/" in question.text
    await agent.send_and_wait(f"/verzoeken {code}")
    await taps(agent, next(b for b in labels(agent) if b.startswith("Trek vraag")))
    assert "is ingetrokken" in agent.last_message.text   # type: ignore[union-attr]
    with env.store.engine.connect() as conn:
        stored = len(conn.execute(select(Contribution.item_id)).all())
    await teacher.tap_and_wait("Ja", question.message_id)
    assert "ingetrokken door je collega" in summary_text(teacher.messages)
    with env.store.engine.connect() as conn:
        assert len(conn.execute(select(Contribution.item_id)).all()) == stored

    # deleting the case: every contribution goes, and a contributor who answered is told
    token2 = await ask(agent, code, WONEN)
    debt = env.server.user(4103, first_name="Schuldhulp")
    await debt.send_and_wait(f"/start {token2}")
    await taps(debt, "schuldhulp", "Nee")
    await agent.send_and_wait(f"/verwijder {code}")
    await taps(agent, "Ja, verwijder")
    await env.server.wait_for(lambda: "gesloten door de eigenaar" in summary_text(debt.messages), timeout=5,
                              message="the contributor told the case is closed")
    with env.store.engine.connect() as conn:
        assert conn.execute(select(Contribution.item_id)).all() == []


async def test_aanvullen_a_completed_case_keeps_the_history(env: TelegramEnv) -> None:
    lens = env.lens
    agent = env.member(3201, first_name="Wijkagent")
    code = env.complete(agent)
    await agent.send_and_wait(f"/aanvullen {code}")
    menu = agent.last_message
    assert menu is not None and f"Aanvullen · zaak {code}" in menu.text
    await taps(agent, WONEN)
    question = agent.last_message
    assert question is not None and f"zaak {code} · {WONEN}" in question.text and "(nu: nee)" in question.text
    await taps(agent, "Ja")
    assert agent.last_message is question and "(nu: nee)" in question.text   # the next question, in place
    await taps(agent, "Klaar")
    assert "Zorgniveau" in summary_text(agent.messages)
    await agent.send_and_wait(f"/notitie {code} Later gesproken met de mentor.")
    assert f"Notitie toegevoegd aan zaak {code}" in agent.last_message.text   # type: ignore[union-attr]
    first = next(s.id for lg in lens.leefgebieden if lg.name.nl == WONEN for ind in lg.indicators for s in ind.signals)
    assert env.answers(agent, code)[first] == "yes"
    with env.store.engine.connect() as conn:
        history = conn.execute(select(AnswerChange.item_id, AnswerChange.old_value, AnswerChange.new_value,
                                      AnswerChange.by_role).order_by(AnswerChange.id)).all()
    assert [tuple(h) for h in history] == [(first, "no", "yes", "owner"), ("note", None, None, "owner")]
    # an open case is not "aangevuld": it is simply continued
    open_code = env.open_case(agent)
    await agent.send_and_wait(f"/aanvullen {open_code}")
    assert "nog niet afgerond" in agent.last_message.text   # type: ignore[union-attr]


async def test_minimal_mode_keeps_answers_out_of_the_chat(lens: Lens, sqlite_url: str,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """LENSBOT_TELEGRAM_CONTENT=minimal: the questions are asked, but no answer, summary or
    combined picture reaches a chat, the contributor's nor the owner's."""
    monkeypatch.setenv("LENSBOT_TELEGRAM_CONTENT", "minimal")
    monkeypatch.setenv("LENSBOT_WEB_URL", "https://lensbot.example.org")
    async with running_bot(lens, sqlite_url) as env:
        agent = env.member(3301, first_name="Wijkagent")
        code = env.complete(agent)
        token = await ask(agent, code, ZINGEVING, combined="Ja, laat het gecombineerde beeld zien")
        teacher = env.server.user(4301, first_name="Leraar")
        await contribute(teacher, token, "school", lens, ["Ja"])
        await taps(teacher, "Toon gecombineerd beeld")
        await teacher.send_and_wait("/bijdragen")
        await agent.send_and_wait(f"/aanvullen {code}")
        await taps(agent, WONEN)
        await taps(agent, "Ja", "Klaar")
        shown = summary_text(teacher.messages) + summary_text(agent.messages)
    assert "— ja" not in shown and "Gecombineerd beeld" not in shown and "(nu:" not in shown
    assert "Zorgniveau" not in shown and "blijven buiten Telegram" in shown
