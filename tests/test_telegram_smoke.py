"""A first end-to-end check: a full intake by tapping, over HTTP against the fake Bot API."""

from __future__ import annotations

from matrix.lens import Lens
from storage.repo import Store
from tests.support.fake_bot_api import FakeBotAPI
from tests.support.harness import TelegramHarness

TOKEN = "123456789:TEST-lensbot-e2e-token-abcdefghij"


async def test_full_intake_by_tapping(lens: Lens, sqlite_url: str) -> None:
    async with FakeBotAPI(token=TOKEN) as server, TelegramHarness(server, sqlite_url, lens, frozenset({"1001"})):
        ann = server.user(1001)
        await ann.send_and_wait("/nieuw")
        assert ann.buttons() == [["Begin"]]
        await ann.tap_and_wait("Begin")
        await ann.tap_and_wait("12 tot 18 jaar")            # the age comes first
        for _ in range(len(lens.questions)):
            await ann.tap_and_wait("Nee")
        await server.wait_for(lambda: any(b == "Geen notitie" for row in ann.buttons() for b in row), timeout=10)
        assert ann.messages[-2].kind == "photo"            # the lens picture follows the summary
        await ann.tap_and_wait("Geen notitie")
        text = ann.transcript()
        assert "Zorgniveau: geen signalen" in text, text[-3000:]   # all answered "nee": none, not "not assessed"
        assert "Leeftijd: 12 tot 18 jaar" in text
        assert "afgerond" in ann.messages[-1].text
        assert server.violations == []
        store = Store(sqlite_url)
        user = store.user("telegram", "1001")
        assert user is not None
        (case,) = store.list_cases(user.id)
        assert case.status == "completed" and case.answers == 1 + len(lens.questions)   # the age and every question
        store.dispose()
