"""Telegram without content (LENSBOT_TELEGRAM_CONTENT=minimal): questions in the chat, results in the web app.

The real PTB Application runs against the fake Bot API (tests/support/harness.py) on a real SQLite
file. In minimal mode the chat never receives a summary, a picture or a document: where it would,
the bot sends one short message with a single-use link into the web app. The acute-danger advice
is still shown in full in the chat. The browser part opens those links in the real `lensbot web`
on the same SQLite file: a Telegram user makes a web login for their own `users` row (with TOTP)
and sees the summary; a used, an expired and someone else's link are all refused alike.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from dialogs.app import BadInput, Door, Settings
from dialogs.app.links import Opened
from dialogs.service import IntakeService
from storage.repo import Store
from tests.support.app import Lens, accounts
from tests.support.fake_bot_api import FakeUser
from tests.support.telegram_env import TelegramEnv, running_bot, start_intake, taps, texts
from tests.support.web import (  # noqa: F401 - fixtures
    Person,
    WebServer,
    axe_violations,
    browser,
    login,
    register,
    server,
)

pytestmark = pytest.mark.slow(seconds=9)   # about its wall time on one worker: handed out early (tests/conftest.py)

WEB = "https://lensbot.gemeente.example"
LINK = re.compile(r"(https?://\S+/t/([A-Za-z0-9_-]{43}))")
READY = "staat klaar in de webapp"
NOT_FOUND_LINK = "Deze link werkt niet (meer)"
SUMMARY_TITLE = "Overzicht zaak"
QUICK_TITLE = "Resultaat snelle scan"
FORWARD = "Om door te sturen"
DANGER = "Acuut gevaar: bel nu 112"
PASSWORD = "een lange zin als wachtwoord"


@dataclass
class Clock:
    """Now, as the door's links read it; the test moves it forward."""

    at: datetime = field(default_factory=lambda: datetime(2026, 12, 7, 9, 0, tzinfo=UTC))

    def __call__(self) -> datetime:
        return self.at

    def advance(self, **delta: float) -> None:
        self.at += timedelta(**delta)


def minimal_mode(monkeypatch: pytest.MonkeyPatch, web_url: str) -> None:
    monkeypatch.setenv("LENSBOT_TELEGRAM_CONTENT", "minimal")
    monkeypatch.setenv("LENSBOT_WEB_URL", web_url)


@pytest.fixture
async def env(lens: Lens, sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[TelegramEnv]:
    minimal_mode(monkeypatch, WEB)
    async with running_bot(lens, sqlite_url) as e:
        yield e


def links_in(text: str) -> list[str]:
    return [m.group(1) for m in LINK.finditer(text)]


def no_content_sent(env: TelegramEnv, user: FakeUser) -> None:
    """Nothing of a result reached the chat: no summary, no quick-scan result, no picture, no document."""
    shown = texts(user.messages)
    assert SUMMARY_TITLE not in shown and QUICK_TITLE not in shown and FORWARD not in shown, shown
    assert [m.kind for m in user.messages if m.kind != "text"] == []
    assert env.server.uploads == []


def stored_links(env: TelegramEnv) -> list[tuple[str, int, str]]:
    with env.store.engine.connect() as conn:
        return [tuple(r) for r in conn.exec_driver_sql("select token_hash, user_id, target from web_links")]


async def quick_scan(env: TelegramEnv, user: FakeUser) -> str:
    """/snel, the age, "Ja" to the first question and "Nee" to the rest; the case code."""
    await user.send_and_wait("/snel")
    await taps(user, "12 tot 18 jaar", "Ja")
    while user.last_message is not None and user.last_message.buttons[:1] == [["Ja", "Nee", "Weet ik niet"]]:
        await user.tap_and_wait("Nee", timeout=10)
    (case,) = env.store.list_cases(env.known(user).id, modes=("quick",))
    return case.code


# -- in the chat ----------------------------------------------------------------------------------
async def test_a_quick_scan_ends_with_a_link_and_summary_report_and_export_give_a_new_link_each(
        env: TelegramEnv) -> None:
    ann, bob = env.member(2002), env.member(3003)
    code = await quick_scan(env, ann)
    (ready,) = [m for m in ann.messages if READY in m.text]
    assert ready.text.startswith(f"De samenvatting van zaak {code} staat klaar in de webapp.")
    assert "15 minuten geldig, één keer te gebruiken" in ready.text
    (url,) = links_in(ready.text)
    assert url.startswith(f"{WEB}/t/")
    assert ann.last_message is not None and ["Klaar"] in ann.last_message.buttons   # the scan goes on
    done = await ann.tap_and_wait("Klaar", timeout=10)
    assert code in texts(done)

    # only sha256 of the token is stored, bound to ann's users row; the token itself is nowhere
    token = LINK.search(ready.text).group(2)  # type: ignore[union-attr]
    assert stored_links(env) == [(hashlib.sha256(token.encode()).hexdigest(), env.known(ann).id, "case")]
    with env.store.engine.connect() as conn:
        audit = [tuple(r) for r in conn.exec_driver_sql("select actor, action, case_code, detail from audit_log")]
    assert ("telegram:2002", "link", code, "web link made (case)") in audit
    assert not any(token in str(v) for row in audit for v in row)

    (summary,) = await ann.send_and_wait(f"/samenvatting {code}")
    (report,) = await ann.send_and_wait(f"/rapport {code.lower().replace('-', '')}")   # as typed
    (export,) = await ann.send_and_wait("/export")
    assert summary.text.startswith(f"De samenvatting van zaak {code} staat klaar in de webapp.")
    assert report.text.startswith(f"Het rapport (PDF) van zaak {code} staat in de webapp")
    assert export.text.startswith("Je zaken en hun bestanden staan in de webapp")
    urls = [url] + [u for m in (summary, report, export) for u in links_in(m.text)]
    assert len(urls) == len(set(urls)) == 4
    assert sorted(t for _, _, t in stored_links(env)) == ["case", "case", "case", "cases"]

    (nope,) = await bob.send_and_wait(f"/rapport {code}")            # someone else's case: not found, no link
    assert links_in(nope.text) == [] and code in nope.text
    (nope,) = await bob.send_and_wait(f"/samenvatting {code}")
    assert links_in(nope.text) == [] and len(stored_links(env)) == 4
    no_content_sent(env, ann)

    # the links go with the case, and so do the messages that held them
    await ann.send_and_wait(f"/verwijder {code}")
    await ann.tap_and_wait("Ja, verwijder")
    assert [t for _, _, t in stored_links(env)] == ["cases"]
    assert not any(READY in m.text or "staat in de webapp" in m.text for m in ann.messages
                   if not m.deleted and code in m.text)


async def test_acute_danger_advice_is_still_shown_in_full_in_the_chat(env: TelegramEnv) -> None:
    ann = env.member(2002)
    code, _ = await start_intake(ann)
    await ann.tap_and_wait("Ja")                                      # the first red flag: danger now
    assert DANGER in texts(ann.messages)
    await taps(ann, *["Nee"] * (len(env.lens.red_flags) - 1))
    await taps(ann, *["Sla leefgebied over"] * len(env.lens.leefgebieden))
    await env.server.wait_for(lambda: any(READY in m.text for m in ann.messages), timeout=10, message="the link")
    ready = next(m for m in ann.messages if READY in m.text)
    danger = [m for m in ann.messages if DANGER in m.text]
    assert len(danger) == 2 and danger[-1].message_id < ready.message_id   # again with the result, in full
    assert "112" in danger[-1].text and len(danger[-1].text) >= len(danger[0].text)
    assert code in ready.text
    no_content_sent(env, ann)


# -- the door, on SQLite and PostgreSQL ----------------------------------------------------------------
def test_a_link_is_used_once_by_its_own_user_only_on_every_engine(store: Store, db_url: str, lens: Lens) -> None:
    clock = Clock()
    config = Settings(database_url=db_url, password_hashing="cheapest", telegram_content="minimal", web_url=WEB)
    telegram, web = Door(config, "telegram", store=store), Door(config, "web", store=store)
    telegram.links.clock = web.links.clock = clock
    ann = accounts.set_role(store, "telegram", "2002", "professional")
    bob = accounts.set_role(store, "telegram", "3003", "professional")
    code = IntakeService(store, lens).start(ann, "nl", mode="quick").case_code

    def token(url: str | None) -> str:
        assert url is not None and url.startswith(f"{WEB}/t/")
        return url.rsplit("/", 1)[1]

    assert telegram.links.make(bob, "case", code) is None              # not bob's case: no link
    first = token(telegram.links.make(ann, "case", code))
    assert web.links.open(first, bob) is None                          # someone else signed in: as if unknown
    assert web.links.open(first, None) == Opened("register", "case", code)   # still holds

    # two browsers send the form at the same moment, on two instances: one login is made
    others = [Door(config, "web") for _ in range(2)]
    for other in others:
        other.links.clock = clock

    def attempt(args: tuple[Door, str]) -> str:
        try:
            args[0].links.register(first, args[1], PASSWORD, "nl")
            return "made"
        except BadInput as exc:
            return str(exc)

    with ThreadPoolExecutor(2) as pool:
        results = sorted(pool.map(attempt, zip(others, ("ann.een", "ann.twee"), strict=True)))
    for other in others:
        other.close()
    assert results[0] in ("accounts.login_taken", "links.bad") and results[1] == "made", results
    with store.reading() as conn:
        made = [tuple(r) for r in conn.exec_driver_sql("select user_id from web_accounts")]
        users = conn.exec_driver_sql("select count(*) from users").scalar_one()
    assert made == [(ann.id,)] and users == 2   # the same users row, no new user
    assert web.links.open(first, None) is None and web.links.peek(first) is None   # used

    # ann has a web login now: a link leads through the login (used at once), or straight on when signed in
    second, third = (token(telegram.links.make(ann, "case", code)) for _ in range(2))
    opened = web.links.open(second, None)
    assert opened is not None and (opened.action, opened.case_code) == ("login", code)
    assert web.links.open(second, None) is None
    assert web.links.open(third, ann) == Opened("go", "case", code, opened.login)

    # fifteen minutes and a second later, a link no longer works
    late = token(telegram.links.make(ann, "cases"))
    clock.advance(minutes=15, seconds=1)
    assert web.links.open(late, ann) is None
    with pytest.raises(BadInput, match=r"^links\.bad$"):
        web.links.register(late, "ann.drie", PASSWORD, "nl")


# -- in the browser --------------------------------------------------------------------------------
async def _links_from_telegram(lens: Lens, server: WebServer) -> tuple[str, list[str]]:  # noqa: F811
    """A Telegram professional finishes a quick scan; four links to its summary (the last from /rapport)."""
    async with running_bot(lens, f"sqlite:///{server.db_path}") as env:
        ann = env.member(4004)
        code = await quick_scan(env, ann)
        await ann.tap_and_wait("Klaar", timeout=10)
        for _ in range(2):
            await ann.send_and_wait(f"/samenvatting {code}")
        await ann.send_and_wait(f"/rapport {code}")
        no_content_sent(env, ann)
        return code, links_in(texts(ann.messages))


@pytest.mark.browser
def test_a_telegram_user_opens_the_link_makes_a_web_login_with_totp_and_sees_the_summary(
        lens: Lens, server: WebServer, browser: object, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    minimal_mode(monkeypatch, server.base)
    with ThreadPoolExecutor(1) as thread:   # the bot's own event loop, beside Playwright's
        code, (first, second, third, expired) = thread.submit(asyncio.run, _links_from_telegram(lens, server)).result()
    assert first.startswith(f"{server.base}/t/")
    (ann_id,) = server.sql("select id from users where channel = 'telegram' and external_id = '4004'")[0]
    users_before = server.sql("select count(*) from users")

    # ann's other device opens the link first: the form to make a web login, accessible (axe-core) ...
    other = Person("ann.telegram", browser.new_context(), None)   # type: ignore[attr-defined]
    other.page = other.context.new_page()   # type: ignore[attr-defined]
    other.page.goto(first)
    assert other.page.locator("h1").inner_text() == "Maak je account voor de webapp"
    assert f"Daarna zie je de samenvatting van zaak {code}." in other.page.locator("main").inner_text()
    assert [f"{v['id']}: {v['help']}" for v in axe_violations(other.page)] == []   # WCAG 2.1 A, AA, best practices

    # ... and ann makes it on her laptop: the link proves control of the Telegram account, so the web
    # login is for that same users row, with no invitation
    ann = register(browser, first, "ann.telegram")
    assert ann.secret is not None and len(ann.recovery) == 10          # the role asks for TOTP: set up
    page = ann.page
    assert page.url.endswith(f"/case/{code}/summary")
    assert page.locator("h1").inner_text() == f"Samenvatting zaak {code}"
    assert "vragen beantwoord" in page.locator("main").inner_text()
    assert server.sql("select user_id, login from web_accounts") == [(ann_id, "ann.telegram")]
    assert server.sql("select count(*) from users") == users_before   # no second user
    assert server.sql("select user_id from cases where code = :c", c=code) == [(ann_id,)]

    # used once: the second time it does not work
    page.goto(first)
    assert NOT_FOUND_LINK in page.locator("main").inner_text()

    # someone else signed in (the admin from the setup link) gets the same answer, and the link still holds
    assert server.setup_link is not None
    admin = register(browser, server.setup_link, "beheerder")
    admin.page.goto(second)
    assert NOT_FOUND_LINK in admin.page.locator("main").inner_text()
    assert code not in admin.page.content()
    page.goto(second)                                                  # ann, signed in: straight to the case
    assert page.url.endswith(f"/case/{code}/summary") and code in page.locator("h1").inner_text()

    # ann on the other device, not signed in: an expired link does not work ...
    other.secret, other.recovery = ann.secret, ann.recovery
    h = hashlib.sha256(LINK.search(expired).group(2).encode()).hexdigest()  # type: ignore[union-attr]
    server.sql("update web_links set expires_at = '2000-01-01 00:00:00' where token_hash = :h", h=h)
    other.page.goto(expired)
    assert NOT_FOUND_LINK in other.page.locator("main").inner_text()
    # ... a fresh one leads through the login (password and second factor) to the case
    other.page.goto(third)
    assert "/login" in other.page.url
    login(other, server.base)
    assert other.page.url.endswith(f"/case/{code}/summary")
    assert other.page.locator("h1").inner_text() == f"Samenvatting zaak {code}"
    for context in (ann.context, admin.context, other.context):
        context.close()   # type: ignore[attr-defined]
