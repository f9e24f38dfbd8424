"""Two `lensbot telegram --webhook-url` processes on one PostgreSQL database.

Updates of one chat arrive at different instances (as behind a load-balancing reverse proxy),
the same update reaches both, and a double tap is split over them: no answer is lost, none is
applied twice, and no user ever sees another user's case. Needs LENSBOT_TEST_POSTGRES_URL.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from dialogs.service import IntakeService
from matrix.lens import Lens
from storage.repo import Store
from tests.conftest import POSTGRES_URL, _postgres_schema_url
from tests.support.fake_bot_api import FakeBotAPI, FakeUser
from tests.support.lensbot_cli import run_lensbot
from tests.test_telegram_process import TOKEN, BotProcess, free_port, port_open

pytestmark = [pytest.mark.skipif(not POSTGRES_URL, reason="LENSBOT_TEST_POSTGRES_URL is not set"),
              pytest.mark.slow(seconds=10)]   # about its wall time on one worker (tests/conftest.py)
SECRET = "multi-instance-secret"
LENSBOT = Path(sys.executable).with_name("lensbot")
ANN, BOB = 1001, 2002
WAIT = 20.0


@pytest.fixture
def pg_url() -> Iterator[str]:
    yield from _postgres_schema_url()


def seen(user: FakeUser) -> dict[int, int]:
    """What the user has been shown so far: message id -> how often it was edited."""
    return {m.message_id: m.edit_count for m in user.messages}


def changed(user: FakeUser, marks: dict[int, int]) -> bool:
    """A message arrived or was edited since `marks` (the bot handled the action; toasts come first)."""
    return any(marks.get(m.message_id) != m.edit_count for m in user.messages)


class Instances:
    """The fake Bot API plus two webhook instances; posts each update to the instance chosen."""

    def __init__(self, server: FakeBotAPI, urls: list[str]) -> None:
        self.server, self.urls = server, urls

    def take(self) -> dict[str, Any]:
        """The update a user action just queued (webhook mode never polls: we deliver it)."""
        (update,) = self.server.pending_updates
        self.server._drop_pending()
        return update

    async def post(self, update: dict[str, Any], instance: int) -> None:
        assert await self.server.post_webhook(self.urls[instance], update, secret_token=SECRET) == 200

    def answers_for(self, user: FakeUser) -> int:
        return sum(1 for a in self.server.callback_answers if a.user_id == user.user_id)

    async def tap(self, user: FakeUser, label: str, instance: int) -> None:
        answered, marks = self.answers_for(user), seen(user)
        user.tap(label)
        await self.post(self.take(), instance)
        await self.server.wait_for(lambda: self.answers_for(user) > answered, timeout=WAIT,
                                   message=f"the answer to {label}")
        await self.server.wait_for(lambda: not self.server.unanswered_callback_queries(), timeout=WAIT)
        await self.server.wait_for(lambda: changed(user, marks), timeout=WAIT,
                                   message=f"the edit that follows the toast of {label}")
        # Everything the tap leads to (an edit, an alert, the next question) is sent once the instance
        # has handled a sentinel tap posted after it: one chat's updates are handled in order there.
        await self.server.settle(user, timeout=WAIT, deliver=lambda update: self.post(update, instance))

    async def command(self, user: FakeUser, text: str, instance: int) -> None:
        before = user.action_count
        user.send(text)
        await self.post(self.take(), instance)
        await self.server.wait_for(lambda: user.action_count > before, timeout=WAIT, message=text)
        await asyncio.sleep(0.1)


@pytest.fixture
async def instances(pg_url: str, tmp_path: Path) -> AsyncIterator[Instances]:
    env = dict(os.environ, LENSBOT_DATABASE_URL=pg_url)
    # Migrations run once, on purpose, before any instance starts (README: deploying several instances).
    for args in (["db", "upgrade"], ["users", "add", str(BOB), "--role", "professional"]):
        done = run_lensbot(*args, env=env)
        assert done.returncode == 0, done.stderr
    async with FakeBotAPI(token=TOKEN) as server:
        ports = [free_port(), free_port()]
        urls = [f"http://127.0.0.1:{p}/telegram" for p in ports]
        bots = [BotProcess(server, pg_url, tmp_path, "--webhook-url", url, "--listen", "127.0.0.1", "--port",
                           str(port), LENSBOT_WEBHOOK_SECRET=SECRET) for url, port in zip(urls, ports, strict=True)]
        try:
            for bot in bots:
                await bot.start()
            for bot, port in zip(bots, ports, strict=True):
                await server.wait_for(lambda bot=bot, port=port: bot.alive() and port_open(port), timeout=WAIT,
                                      message="an instance to listen")
            yield Instances(server, urls)
            assert server.violations == []
        finally:
            for bot in bots:
                if bot.pid is not None and bot.returncode is None:
                    bot.kill()
                    await bot.wait_exit()
            for bot in bots:
                assert "Traceback" not in bot.stderr, bot.stderr


def stored(pg_url: str, lens: Lens, external_id: int) -> tuple[str, dict[str, str], list[tuple[str, str]], int]:
    store = Store(pg_url)
    try:
        user = store.user("telegram", str(external_id))
        assert user is not None
        (summary,) = store.list_cases(user.id)
        view = IntakeService(store, lens).view(user, summary.code)
        assert view is not None
        return summary.code, view.answers, store.answer_log(view.case.id), view.case.step
    finally:
        store.dispose()


async def test_one_chat_over_two_instances_loses_nothing_and_applies_nothing_twice(
        instances: Instances, pg_url: str, lens: Lens) -> None:
    server = instances.server
    ann, bob = server.user(ANN), server.user(BOB)
    await instances.command(ann, "/nieuw", 0)
    await instances.command(bob, "/nieuw", 1)
    await instances.tap(ann, "Begin", 1)
    await instances.tap(bob, "Begin", 0)
    await instances.tap(ann, "18 tot 23 jaar", 0)      # the age first, each on the other instance
    await instances.tap(bob, "12 tot 18 jaar", 1)
    for i in range(8):                                 # alternate instances for every tap, both users
        await instances.tap(ann, "Nee" if i % 3 else "Weet ik niet", i % 2)
        await instances.tap(bob, "Ja" if i == 2 else "Nee", (i + 1) % 2)
    ann_code, ann_answers, ann_log, step = stored(pg_url, lens, ANN)
    bob_code, bob_answers, bob_log, _ = stored(pg_url, lens, BOB)
    assert len(ann_answers) == len(ann_log) == 9 and len(bob_answers) == len(bob_log) == 9   # the age and 8
    assert ann_log[0] == (lens.age_item, "a18_22") and bob_log[0] == (lens.age_item, "a12_17")
    assert [v for _, v in ann_log[1:]] == ["unknown" if i % 3 == 0 else "no" for i in range(8)]

    # The same update delivered to both instances at once: applied once.
    answered, marks = instances.answers_for(ann), seen(ann)
    ann.tap("Nee")
    update = instances.take()
    await asyncio.gather(instances.post(update, 0), instances.post(update, 1))
    # (Telegram accepts one answer per callback query: the instance that lost says nothing.)
    await server.wait_for(lambda: instances.answers_for(ann) > answered, timeout=WAIT)
    await server.wait_for(lambda: changed(ann, marks), timeout=WAIT, message="the next question")
    # A double tap (two updates, same button) split over the instances: one answer, one refusal.
    marks, refusals = seen(ann), sum("eerdere vraag" in t for t in ann.toasts)
    message = ann.last_message
    assert message is not None
    first, second = ann.tap("Ja", message.message_id), ann.tap("Ja", message.message_id)
    updates = server.pending_updates
    server._drop_pending()
    assert [u["update_id"] for u in updates] == [first, second]
    await asyncio.gather(instances.post(updates[0], 0), instances.post(updates[1], 1))
    await server.wait_for(lambda: not server.unanswered_callback_queries(), timeout=WAIT)
    await server.wait_for(lambda: changed(ann, marks) and sum("eerdere vraag" in t for t in ann.toasts) > refusals,
                          timeout=WAIT, message="one tap applied, the other refused")
    _, answers, log, new_step = stored(pg_url, lens, ANN)
    assert len(log) == 11 and len(answers) == 11, log          # age + 8 + the duplicate once + one of the double tap
    assert new_step == step + 2
    assert any("eerdere vraag" in t for t in ann.toasts), ann.toasts
    # Nobody saw anybody else's case.
    assert bob_code not in ann.transcript() and ann_code not in bob.transcript()
