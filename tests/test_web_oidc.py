"""Single sign-on in a real browser: `lensbot web` with LENSBOT_OIDC_* pointing at an OpenID
Connect provider the test runs on 127.0.0.1 (tests/support/oidc_provider.py), through Authlib's
real client path: discovery, the authorization code flow with PKCE, the token request, the ID
token's signature checked against the provider's JWKS.

The story, in order: the first admin opens the setup link and signs up with the organisation's
account; she invites a professional, who does the same; he signs out and in again; someone the
provider knows but lensbot does not is turned away; and a provider (or attacker) that sends a
forged state, a token for another client, a wrong nonce or a foreign signature gets no one in,
nor does a replayed or cancelled callback.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from tests.support.oidc_provider import CLIENT_ID, CLIENT_SECRET, IdentityProvider
from tests.support.web import (  # noqa: F401 - fixtures
    Person,
    WebServer,
    axe_violations,
    browser,
    invite,
    start_server,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow(seconds=12)]

ORG = "Testorganisatie"
SSO = f"Inloggen via {ORG}"
PEOPLE = {
    "anna": {"sub": "f3a1c2d4-anna", "preferred_username": "anna", "email": "anna@gemeente.example"},
    "bram": {"sub": "8b7e-bram", "email": "b.jansen@gemeente.example"},
    "carl": {"sub": "c-0042", "preferred_username": "carl"},   # known to the provider, not to lensbot
}


@pytest.fixture(scope="module")
def idp() -> Iterator[IdentityProvider]:
    provider = IdentityProvider(PEOPLE).start()
    try:
        yield provider
    finally:
        provider.stop()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, idp: IdentityProvider) -> Iterator[WebServer]:
    running = start_server(tmp_path_factory.mktemp("web-oidc"), LENSBOT_OIDC_ISSUER=idp.issuer,
                           LENSBOT_OIDC_CLIENT_ID=CLIENT_ID, LENSBOT_OIDC_CLIENT_SECRET=CLIENT_SECRET,
                           LENSBOT_OIDC_NAME=ORG)
    idp.redirect_uris.add(f"{running.base}/login/sso/callback")   # registered at the provider
    try:
        yield running
    finally:
        running.stop()
        log = "".join(running.output)
        assert "Traceback" not in log, log


@pytest.fixture
def tamper(idp: IdentityProvider) -> Iterator[set[str]]:
    try:
        yield idp.tamper
    finally:
        idp.tamper.clear()


def fresh_page(browser):  # noqa: F811
    return browser.new_context().new_page()


def sign_in_at_provider(page, who: str) -> None:
    """On the provider's page: choose who signs in (the provider would ask a password and MFA)."""
    assert page.url.startswith("http://127.0.0.1") and "/authorize?" in page.url
    page.get_by_role("button", name=f"Sign in as {who}" if who else "Cancel").click()
    page.wait_for_load_state()


def sso_from_login(page, base: str, who: str) -> None:
    page.goto(f"{base}/login")
    page.get_by_role("link", name=SSO).click()
    sign_in_at_provider(page, who)


def at_start_page(page, base: str) -> None:
    assert page.url == f"{base}/", page.url
    assert page.get_by_role("button", name="Nieuwe intake").is_visible()


def not_signed_in(page, base: str) -> None:
    page.goto(f"{base}/")
    assert page.url.startswith(f"{base}/login"), page.url


def account(server: WebServer, subject: str) -> tuple[object, ...] | None:
    rows = server.sql("select a.login, u.role, a.password_hash, a.sso_issuer from web_accounts a "
                      "join users u on u.id = a.user_id where a.sso_subject = :s", s=subject)
    return rows[0] if rows else None


@pytest.fixture(scope="module")
def anna(server: WebServer, browser, idp: IdentityProvider) -> Person:  # noqa: F811
    """The first admin, from the setup link, with the organisation's account."""
    assert server.setup_link is not None, server.output
    page = fresh_page(browser)
    page.goto(server.setup_link)
    page.get_by_role("link", name=SSO).click()
    sign_in_at_provider(page, "anna")
    return Person("anna", page.context, page)


def test_the_setup_link_signs_the_first_admin_up_through_the_provider(server, idp, anna) -> None:
    at_start_page(anna.page, server.base)   # no TOTP set-up: the provider did the second factor
    login, role, password_hash, issuer = account(server, PEOPLE["anna"]["sub"])
    assert (login, role, password_hash, issuer) == ("anna", "admin", None, idp.issuer)   # no password kept
    actions = [r[0] for r in server.sql("select action from audit_log where actor = 'web:anna'")]
    assert "sso" in actions


@pytest.fixture(scope="module")
def invitation(server: WebServer, anna: Person) -> str:
    """The link of an invitation for a professional, made by the admin on the admin page."""
    return invite(anna, server.base, "professional")


@pytest.fixture(scope="module")
def bram(server: WebServer, browser, invitation: str) -> Person:  # noqa: F811
    """A professional from that invitation, signed up with the organisation's account."""
    page = fresh_page(browser)
    page.goto(invitation)
    assert page.get_by_text("Of kies hieronder een inlognaam en wachtwoord.").is_visible()
    page.get_by_role("link", name=SSO).click()
    sign_in_at_provider(page, "bram")
    return Person("b.jansen", page.context, page)


def test_an_invited_professional_signs_up_signs_out_and_in_again(server, bram, invitation) -> None:
    page = bram.page
    at_start_page(page, server.base)   # no TOTP set-up: the provider did the second factor
    assert account(server, PEOPLE["bram"]["sub"])[:2] == ("b.jansen", "professional")   # name from the e-mail

    page.get_by_role("button", name="Uitloggen").click()
    not_signed_in(page, server.base)
    sso_from_login(page, server.base, "bram")
    at_start_page(page, server.base)

    page.goto(invitation)   # the invitation was used: it makes no second account
    assert "al gebruikt" in page.locator("main").inner_text()


def test_someone_the_provider_knows_but_lensbot_does_not_is_turned_away(server, browser) -> None:  # noqa: F811
    page = fresh_page(browser)
    sso_from_login(page, server.base, "carl")
    assert "Je hebt nog geen toegang; vraag een uitnodiging" in page.locator("main").inner_text()
    not_signed_in(page, server.base)
    assert account(server, PEOPLE["carl"]["sub"]) is None


def test_a_forged_state_is_refused_before_the_code_is_used(server, browser, idp, tamper, bram) -> None:  # noqa: F811
    before = idp.token_requests
    tamper.add("state")
    page = fresh_page(browser)
    sso_from_login(page, server.base, "bram")
    assert "verlopen of al gebruikt" in page.locator("main").inner_text()
    assert idp.token_requests == before   # the code was never exchanged
    not_signed_in(page, server.base)


WHY = {"aud": "Invalid claim: 'aud'", "nonce": "Invalid claim: 'nonce'", "signature": "BadSignatureError"}


def logged(server: WebServer, text: str) -> bool:
    """The server's log says so (within a moment: its output is read by a thread)."""
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        if any(text in line for line in server.output):
            return True
        time.sleep(0.02)
    return False


@pytest.mark.parametrize("kind", sorted(WHY))
def test_an_id_token_that_does_not_check_out_signs_no_one_in(server, browser, tamper, kind, bram) -> None:  # noqa: F811
    tamper.add(kind)
    page = fresh_page(browser)
    sso_from_login(page, server.base, "bram")
    text = page.locator("main").inner_text()
    assert f"Inloggen via {ORG} is niet gelukt" in text and "Traceback" not in text
    assert logged(server, WHY[kind])   # refused for that reason
    log = "".join(server.output)
    assert PEOPLE["bram"]["sub"] not in log and PEOPLE["bram"]["email"] not in log   # and no one named
    not_signed_in(page, server.base)


def test_a_replayed_or_cancelled_callback_signs_no_one_in(server, browser, bram) -> None:  # noqa: F811
    page = fresh_page(browser)
    callbacks: list[str] = []
    page.on("request", lambda r: callbacks.append(r.url) if "/login/sso/callback" in r.url else None)
    sso_from_login(page, server.base, "bram")
    at_start_page(page, server.base)
    page.goto(callbacks[-1])   # the same answer of the provider once more: used already
    assert "verlopen of al gebruikt" in page.locator("main").inner_text()

    other = fresh_page(browser)   # someone else who got hold of that address
    other.goto(callbacks[-1])
    assert "verlopen of al gebruikt" in other.locator("main").inner_text()
    not_signed_in(other, server.base)

    sso_from_login(other, server.base, "")   # "Cancel" at the provider
    assert "afgebroken" in other.locator("main").inner_text()
    not_signed_in(other, server.base)


def test_the_invitation_page_with_the_single_sign_on_button_has_no_axe_violations(server, browser, anna) -> None:  # noqa: F811
    """The invitation page (the login page's button is the same markup; tests/test_web.py checks
    every other page), in Dutch and in English."""
    link = invite(anna, server.base, "trainee")
    page, problems = fresh_page(browser), []
    for lang, button in (("nl", SSO), ("en", f"Log in with {ORG}")):
        page.goto(link)
        assert page.locator("html").get_attribute("lang") == lang
        assert page.get_by_role("link", name=button).is_visible()
        problems += [f"{lang}: {v['id']}: {v['help']}" for v in axe_violations(page)]   # AXE_OPTIONS
        if lang == "nl":
            page.get_by_role("button", name="English").click()
            page.wait_for_selector("html[lang=en]")
    assert problems == []
