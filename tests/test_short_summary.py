"""The short summary (issue 15, item 4): the first message after an intake fits one phone screen.

A teacher finishes an intake in Telegram: the first result message holds the reading, why in one
line, what to do now, whom to call and at most three open topics, with no lens version, and three
buttons (Details, Plaatje, PDF-dossier) that bring the rest. The same door use case serves the console
(`door.cases.summary(user, code, lang, short=True)`, then `door.cases.details`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from dialogs.app import Door, Settings
from tests.support.app import Lens
from tests.support.telegram_env import NOTE_KEYS, TelegramEnv, after, running_bot, start_intake, taps, texts

TOKEN = "123456789:TEST-lensbot-short-token-abcdefghi"
PHONE_SCREEN_LINES = 22     # a phone shows about this many lines of Telegram text
PHONE_SCREEN_CHARS = 1100


@pytest.fixture
async def env(lens: Lens, sqlite_url: str, caplog: pytest.LogCaptureFixture) -> AsyncIterator[TelegramEnv]:
    async with running_bot(lens, sqlite_url, token=TOKEN, caplog=caplog) as e:
        yield e


async def test_first_result_message_fits_one_screen_with_buttons_for_the_rest(env: TelegramEnv) -> None:
    ann = env.member(2002)
    code, _ = await start_intake(ann)
    await taps(ann, *["Nee"] * len(env.lens.red_flags))
    first_domain = [q.item_id for q in env.lens.questions if q.phase == env.lens.leefgebieden[0].id]
    await taps(ann, *["Ja" if i < 4 else "Nee" for i in range(len(first_domain))])
    before = ann.last_message
    assert before is not None
    await taps(ann, *["Sla leefgebied over"] * (len(env.lens.leefgebieden) - 1))
    await env.server.wait_for(lambda: ann.buttons() == NOTE_KEYS, timeout=10, message="the closing-note prompt")

    short = next(m for m in after(ann, before.message_id) if m.buttons == [["Details", "Plaatje", "PDF-dossier"]])
    lines = short.text.split("\n")
    assert lines[0] == f"Overzicht zaak {code}"
    assert len(lines) <= PHONE_SCREEN_LINES and len(short.text) <= PHONE_SCREEN_CHARS, short.text
    assert any(line.startswith("Zorgniveau: ") for line in lines)
    assert any(line.startswith("Nu doen: ") for line in lines)
    assert "Wie bel je" in lines
    open_topics = lines[lines.index("Wat zie ik nog niet?") + 1:]
    assert 1 <= sum(line.startswith("• ") for line in open_topics) <= 3
    assert env.lens.version not in short.text and "lens " not in short.text   # no version hash
    assert "vragen beantwoord" not in short.text                           # that is in the details

    ann.tap("Details", short.message_id)
    await env.server.wait_for(lambda: "vragen beantwoord" in texts(after(ann, short.message_id)), timeout=10,
                              message="the full summary behind Details")
    ann.tap("PDF-dossier", short.message_id)
    await env.server.wait_for(lambda: any(m.kind == "document" for m in after(ann, short.message_id)), timeout=10,
                              message="the PDF behind its button")
    doc = next(m for m in after(ann, short.message_id) if m.kind == "document")
    assert doc.file is not None and doc.file.filename == f"lensbot-{code}.pdf"
    photos = sum(m.kind == "photo" for m in after(ann, before.message_id))
    ann.tap("Plaatje", short.message_id)
    await env.server.wait_for(lambda: sum(m.kind == "photo" for m in after(ann, before.message_id)) == photos + 1,
                              timeout=10, message="the lens picture behind its button")


async def test_the_door_gives_the_console_a_short_summary_and_its_details(env: TelegramEnv) -> None:
    """What the console calls: `summary(..., short=True)` first, `details` on request."""
    ann = env.member(2002)
    code = env.run_case(ann, seed=7)
    door = Door.around(env.service, Settings.load(), "telegram")
    user = env.known(ann)
    short = door.cases.summary(user, code, "nl", short=True)
    full = door.cases.details(user, code, "nl")
    assert short is not None and full is not None
    assert [b.kind for b in short] == ["short"]
    short_text = "\n".join(line.text for line in short[0].lines)
    full_text = "\n".join(line.text for b in full for line in b.lines)
    assert len(short_text) * 3 < len(full_text)
    assert env.lens.version in full_text and env.lens.version not in short_text
    assert door.cases.summary(user, "ZZ-ZZZZ", "nl", short=True) is None   # not theirs: nothing
