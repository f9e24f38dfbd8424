"""The account page: who am I, an authenticator app by choice, sign out.

A trainee needs no second step, but may want one: on *Account* they see their login name, set up
the authenticator app (the same QR code page and recovery codes as the required set-up), and from
then on their login asks for the code. A Telegram user who made a web login through a link from
Telegram's minimal mode is greeted by that login name, not by their Telegram number. The real
`lensbot web` on a SQLite file, a person without JavaScript over plain HTTP
(tests/support/web_client.py).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import pyotp
import pytest

from dialogs.app import Door, Settings
from storage import accounts
from storage.repo import Store
from tests.support.web import PASSWORD, WebServer, browser, register, server, start_server  # noqa: F401 - fixtures
from tests.support.web_client import SECRET, WebClient

pytestmark = pytest.mark.slow(seconds=7)   # about its wall time on one worker: handed out early (tests/conftest.py)

INVITE_LINK = re.compile(r'<code id="invite-link" class="secret">([^<]+)</code>')


@pytest.fixture(scope="module")
def admin(server: WebServer) -> Iterator[WebClient]:  # noqa: F811
    person = WebClient([server.base])
    assert server.setup_link is not None
    person.register(server.setup_link, "ada", PASSWORD, 0, 0)
    person.get("/continue")
    yield person
    person.close()


def test_a_trainee_turns_on_the_second_step_from_the_account_page(server: WebServer, admin: WebClient) -> None:  # noqa: F811
    admin.get("/admin/invites")
    m = INVITE_LINK.search(admin.post("/admin/invites", {"role": "trainee"}).text)
    assert m is not None
    tina = WebClient([server.base])
    page = tina.register(m.group(1), "tina", PASSWORD)
    assert tina.secret is None                                     # no authenticator asked for
    page = tina.get("/continue")
    assert "Ingelogd als tina" in page.text and 'href="/account"' in page.text
    page = tina.get("/account")
    assert '<dd id="login-name">tina</dd>' in page.text and "Uit: je logt in met alleen je wachtwoord" in page.text
    page = tina.get("/account/totp")
    secret = SECRET.search(page.text)
    assert secret is not None and 'action="/account/totp"' in page.text
    page = tina.post("/account/totp", {"code": "000000"})
    assert page.status == 400 and secret.group(1) in page.text       # the same QR code, try again
    page = tina.post("/account/totp", {"code": pyotp.TOTP(secret.group(1)).now()})
    assert page.status == 200 and len(re.findall(r"<li><code>", page.text)) == 10
    page = tina.get("/account")
    assert "Aan: je logt in met je wachtwoord en een code" in page.text and "/account/totp" not in page.text
    assert tina.get("/account/totp").url.endswith("/account")      # once on, it stays as it is
    tina.post("/logout", {})
    tina.get("/login")
    page = tina.post("/login", {"login": "tina", "password": PASSWORD})
    assert page.url.endswith("/login/code")                          # now the password is not enough
    page = tina.post("/login/code", {"code": pyotp.TOTP(secret.group(1)).at(int(time.time()) + 30)})
    assert "Ingelogd als tina" in page.text
    assert server.sql("SELECT totp_confirmed FROM web_accounts WHERE login = 'tina'") == [(1,)]
    tina.close()


def test_a_telegram_user_is_greeted_by_their_web_login_name(server: WebServer) -> None:  # noqa: F811
    """Telegram's minimal mode: a link, a web login made from it; the start page says the login."""
    url = f"sqlite:///{server.db_path}"
    store = Store(url)
    try:
        user = accounts.set_role(store, "telegram", "424242", "trainee")
        telegram = Door(Settings(database_url=url, web_url=server.base, telegram_content="minimal"), "telegram",
                        store=store)
        link = telegram.links.make(user, "cases")
    finally:
        store.dispose()
    assert link is not None
    tom = WebClient([server.base])
    tom.get(link.replace(server.base, ""))
    page = tom.post(link.replace(server.base, ""), {"login": "tom", "password": PASSWORD, "password2": PASSWORD})
    page = tom.get("/")
    assert "Ingelogd als tom" in page.text and "424242" not in page.text
    tom.close()


@pytest.mark.browser
def test_the_account_pages_have_no_axe_violations_in_dutch_and_in_english(server: WebServer, admin: WebClient,  # noqa: F811
                                                                          browser: object) -> None:  # noqa: F811
    from tests.test_web import axe_problems, switch_language

    admin.get("/admin/invites")
    m = INVITE_LINK.search(admin.post("/admin/invites", {"role": "trainee"}).text)
    assert m is not None
    person = register(browser, m.group(1), "toos")
    page = person.page
    problems: list[str] = []
    for lang in ("nl", "en"):
        page.goto(f"{server.base}/account")                            # type: ignore[attr-defined]
        problems += axe_problems(page)
        page.goto(f"{server.base}/account/totp")                       # type: ignore[attr-defined]
        problems += axe_problems(page)
        if lang == "nl":
            switch_language(page, "en")
    person.context.close()                                             # type: ignore[attr-defined]
    assert problems == []
