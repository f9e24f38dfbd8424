"""Web accounts and login (issue 12, item 3), through the door on SQLite and PostgreSQL.

The story: on an empty database the first person gets a setup code and registers as admin;
an admin's invitation brings in a professional; passwords are Argon2 hashes, the second factor a
real TOTP code (pyotp) or a recovery code, each usable once; wrong guesses are throttled per login
name and per address, and the throttle holds on a second instance; sessions end when idle or too
old, a new token comes with every step up, and removing a user removes their account and sessions.

Hashing uses LENSBOT_PASSWORD_HASHING=cheapest (tests only); one test checks that the default
setting gives argon2-cffi's own parameters. Time moves by a clock handed to the door's accounts.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pyotp
import pytest
from argon2 import PasswordHasher
from sqlalchemy import func, select

from bot import cli
from dialogs.app import BadInput, Door, LoginResult, Settings, WebSession
from dialogs.app.accounts import hasher
from storage import records
from storage.models import LoginFailure, RecoveryCode, WebAccount
from storage.models import WebSession as SessionTable
from storage.repo import Store

PASSWORD = "paarden eten graag hooi"
ADDRESS = "192.0.2.10"


@dataclass
class Clock:
    """Now, as the accounts read it; a test moves it forward."""

    at: datetime = field(default_factory=lambda: datetime.now(UTC))   # near the real one: a CLI call reads that

    def __call__(self) -> datetime:
        return self.at

    def advance(self, **delta: float) -> None:
        self.at += timedelta(**delta)


def settings(db_url: str) -> Settings:
    return Settings(database_url=db_url, password_hashing="cheapest")


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def door(store: Store, db_url: str, clock: Clock) -> Iterator[Door]:
    d = Door(settings(db_url), "web", store=store)
    d.accounts.clock = clock
    yield d


def second_door(db_url: str, clock: Clock) -> Door:
    """Another instance on the same database: its own engine, its own memory."""
    other = Door(settings(db_url), "web")
    other.accounts.clock = clock
    return other


def rows(store: Store, table: type) -> int:
    with store.reading() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def audit(store: Store) -> list[tuple[str, str, str | None]]:
    return [(r.actor, r.action, r.detail) for r in records.read_audit(store)]


def refused(key: str, call: object, *args: object) -> None:
    with pytest.raises(BadInput) as err:
        call(*args)   # type: ignore[operator]
    assert str(err.value) == key


def enrolled(door: Door, code: str, login: str, clock: Clock) -> tuple[str, list[str]]:
    """Register with an invitation and set up TOTP; the secret and the recovery codes."""
    user = door.accounts.register(code, login, PASSWORD, "nl")
    setup = door.accounts.totp_start(user)
    codes = door.accounts.totp_confirm(user, pyotp.TOTP(setup.secret).at(clock()))
    return setup.secret, codes


def test_the_first_admin_registers_with_the_setup_code_and_signs_in_with_two_factors(door: Door, clock: Clock) -> None:
    accounts = door.accounts
    first = accounts.setup_code()
    code = accounts.setup_code()      # asked again (a restart): the earlier code is revoked
    assert first and code and first != code
    assert accounts.invitation(first) is None
    info = accounts.invitation(code)
    assert info is not None and info.role == "admin"

    refused("accounts.login_invalid", accounts.register, code, "A", PASSWORD, "nl")
    refused("accounts.login_invalid", accounts.register, code, "12345", PASSWORD, "nl")   # a bare number
    refused("accounts.password_weak", accounts.register, code, "ann", "kort", "nl")
    refused("accounts.password_weak", accounts.register, code, "ann", "welcome12345", "nl")
    refused("accounts.password_weak", accounts.register, code, "ann", "ann-ann-ann-ann", "nl")
    refused("accounts.invite_bad", accounts.register, "no-such-invitation", "ann", PASSWORD, "nl")
    ann = accounts.register(code, " Ann ", PASSWORD, "en")
    assert (ann.channel, ann.external_id, ann.role, ann.lang) == ("web", "ann", "admin", "en")
    assert accounts.setup_code() is None                 # someone exists now: never again
    assert accounts.invitation(code) is None
    refused("accounts.invite_bad", accounts.register, code, "ann2", PASSWORD, "nl")

    # an admin must set up the second factor before anything else
    assert accounts.needs_totp(ann)
    signed = accounts.login("ann", PASSWORD, ADDRESS)
    assert signed.user == ann and not signed.second_factor and signed.wait_seconds == 0
    setup = accounts.totp_start(ann)
    assert accounts.totp_start(ann) == setup                 # the page reloaded: the same QR code
    assert accounts.totp_start(ann, fresh=True).secret != setup.secret
    setup = accounts.totp_start(ann)
    assert setup.uri.startswith("otpauth://totp/lensbot:ann?secret=")
    assert setup.qr_svg.startswith("<svg") and "http" not in setup.qr_svg.replace("http://www.w3.org", "")
    totp = pyotp.TOTP(setup.secret)
    refused("accounts.code_wrong", accounts.totp_confirm, ann, "000000" if totp.at(clock()) != "000000" else "111111")
    confirmed_with = totp.at(clock())
    recovery = accounts.totp_confirm(ann, confirmed_with)
    assert len(recovery) == 10 and len(set(recovery)) == 10 and all(len(c) == 19 for c in recovery)
    assert not accounts.needs_totp(ann)
    refused("accounts.totp_active", accounts.totp_start, ann)

    # password, then a code; the code already used (for the set-up) is refused, the next one works once
    signed = accounts.login("ann", PASSWORD, ADDRESS)
    assert signed.user == ann and signed.second_factor
    assert accounts.second_factor(ann, confirmed_with, ADDRESS).user is None
    clock.advance(seconds=30)
    fresh = totp.at(clock())
    assert accounts.second_factor(ann, f"{fresh[:3]} {fresh[3:]}", ADDRESS).user == ann
    assert accounts.second_factor(ann, fresh, ADDRESS).user is None          # the same code twice
    clock.advance(seconds=30)
    assert accounts.second_factor(ann, totp.at(clock() - timedelta(seconds=30)), ADDRESS).user is None   # spent
    # a code from the step before now still counts (the phone's clock a little behind), once
    clock.advance(seconds=30)
    assert accounts.second_factor(ann, totp.at(clock() - timedelta(seconds=30)), ADDRESS).user == ann

    # a recovery code works once, written any way
    assert accounts.second_factor(ann, recovery[0].lower(), ADDRESS).user == ann
    assert accounts.second_factor(ann, recovery[0], ADDRESS).user is None
    assert accounts.second_factor(ann, recovery[1].replace("-", ""), ADDRESS).user == ann
    assert rows(door.store, RecoveryCode) == 8

    # what is stored: hashes, never the password or a code; the audit names the login, nothing secret
    with door.store.reading() as conn:
        stored = conn.execute(select(WebAccount.login, WebAccount.password_hash, WebAccount.totp_confirmed)).one()
        hashes = conn.execute(select(RecoveryCode.code_hash)).scalars().all()
    assert stored.login == "ann" and stored.totp_confirmed and stored.password_hash.startswith("$argon2id$")
    assert PASSWORD not in stored.password_hash and not set(hashes) & {c.replace("-", "") for c in recovery}
    log = audit(door.store)
    assert ("web:ann", "invite", "redeemed, role admin") in log
    assert ("web:ann", "totp", "set up, 10 recovery codes") in log
    assert ("web:ann", "login", "password ok, second factor next") in log
    assert ("web:ann", "login", "ok (authenticator code)") in log
    assert ("web:ann", "login", "ok (recovery code used, 8 left)") in log
    assert ("web:ann", "login", "second factor failed") in log
    text = repr(log)
    assert PASSWORD not in text and fresh not in text and recovery[0] not in text


def test_a_telegram_admins_invitation_opens_a_web_account(store: Store, db_url: str, clock: Clock) -> None:
    """LENSBOT_ADMIN_IDS names Telegram users: their invitations hold on the web too, while they are named."""
    store.user("console", "operator", create_role="admin")      # the console was used first
    named = Settings(database_url=db_url, password_hashing="cheapest", admin_ids="1001")
    telegram = Door(named, "telegram", store=store)
    admin = telegram.access.user("1001")
    assert admin is not None and admin.role == "admin"
    web = Door(named, "web", store=store)
    assert web.accounts.setup_code()                            # no web user yet: the first one may set up
    invite = telegram.admin.invite("professional", by=admin)
    assert web.accounts.invitation(invite.code).role == "professional"   # type: ignore[union-attr]
    later = telegram.admin.invite("trainee", by=admin)
    dee = web.accounts.register(invite.code, "dee", PASSWORD, "nl")
    assert (dee.channel, dee.role) == ("web", "professional")
    assert web.accounts.setup_code() is None
    unnamed = Door(Settings(database_url=db_url, password_hashing="cheapest"), "web", store=store)
    assert unnamed.accounts.invitation(later.code) is None       # no longer named: the invitation is void
    refused("accounts.invite_bad", unnamed.accounts.register, later.code, "eve", PASSWORD, "nl")


def test_an_invited_professional_gets_the_same_answer_for_an_unknown_name_and_a_wrong_password(
        door: Door, clock: Clock) -> None:
    accounts = door.accounts
    invite = door.admin.invite("professional")
    bob = accounts.register(invite.code, "bob", PASSWORD, "nl")
    assert bob.role == "professional" and accounts.needs_totp(bob)
    taken = door.admin.invite("trainee")
    refused("accounts.login_taken", accounts.register, taken.code, "BOB", PASSWORD, "nl")
    refused("accounts.invite_bad", accounts.register, invite.code, "bob", PASSWORD, "nl")   # used: taken or not
    assert accounts.invitation(taken.code) is not None      # refused: the invitation stays open
    cas = accounts.register(taken.code, "cas", PASSWORD, "nl")
    assert cas.role == "trainee" and not accounts.needs_totp(cas)   # optional for trainees
    assert accounts.login("cas", PASSWORD, ADDRESS).user == cas

    unknown = accounts.login("nobody", PASSWORD, ADDRESS)
    wrong = accounts.login("bob", PASSWORD + "!", ADDRESS)
    assert unknown == wrong == LoginResult(None, False, 0)
    assert accounts.text("accounts.login_failed", "en") == "Login name or password is not right."
    log = audit(door.store)
    assert ("web:?", "login", "failed") in log and ("web:bob", "login", "failed") in log
    assert not any("nobody" in (actor + (detail or "")) for actor, _, detail in log)   # it might be a password


def test_a_password_typed_on_another_device_works(door: Door) -> None:
    composed = "Crème brûlée na het diner"
    decomposed = "Cre\u0300me bru\u0302le\u0301e na het diner"   # what some keyboards send
    dee = door.accounts.register(door.admin.invite("trainee").code, "dee", composed, "nl")
    assert door.accounts.login("dee", decomposed, ADDRESS).user == dee


def test_wrong_guesses_are_throttled_per_login_and_per_address_on_every_instance(
        door: Door, db_url: str, clock: Clock) -> None:
    accounts = door.accounts
    ann = accounts.register(door.admin.invite("trainee").code, "ann", PASSWORD, "nl")
    for _ in range(5):
        assert accounts.login("ann", "not the password", ADDRESS) == LoginResult(None)
    throttled = accounts.login("ann", PASSWORD, ADDRESS)           # even the right password is not checked
    assert throttled.user is None and 0 < throttled.wait_seconds <= 30
    assert accounts.login("ann", PASSWORD, "198.51.100.7").wait_seconds > 0   # per login name, any address
    other = second_door(db_url, clock)                              # another instance sees the same
    try:
        assert other.accounts.login("ann", PASSWORD, ADDRESS).wait_seconds == throttled.wait_seconds
        clock.advance(seconds=throttled.wait_seconds)
        assert other.accounts.login("ann", "still wrong", ADDRESS).user is None
        longer = other.accounts.login("ann", PASSWORD, ADDRESS).wait_seconds
        assert longer > throttled.wait_seconds                       # the wait grows
        clock.advance(seconds=longer)
        assert accounts.login("ann", PASSWORD, ADDRESS).user == ann
        assert accounts.login("ann", "wrong once more", ADDRESS).wait_seconds == 0   # success cleared the count

        # per address: 30 failures with any names from one address, then nobody from there, elsewhere fine
        crowd = "203.0.113.66"
        for n in range(30):
            (accounts if n % 2 else other.accounts).login(f"guess{n}", "password guess", crowd)
        assert accounts.login("ann", PASSWORD, crowd).wait_seconds > 0
        assert other.accounts.login("ann", PASSWORD, "203.0.113.67").user == ann
    finally:
        other.close()
    assert ("web:ann", "login", f"throttled, wait {throttled.wait_seconds} s") in audit(door.store)
    with door.store.reading() as conn:
        keys = conn.execute(select(LoginFailure.key)).scalars().all()
    assert keys and not any(ADDRESS in k or "ann" in k or crowd in k for k in keys)   # keyed hashes only


def test_sessions_end_when_idle_or_too_old_and_each_step_up_gets_a_new_token(door: Door, clock: Clock) -> None:
    accounts = door.accounts
    ann = accounts.register(door.admin.invite("trainee").code, "ann", PASSWORD, "nl")
    bob = accounts.register(door.admin.invite("trainee").code, "bob", PASSWORD, "nl")

    visit = accounts.open("en")
    assert visit.token and visit.stage == "anonymous" and visit.user is None and visit.lang == "en"
    seen = accounts.session(visit.token)
    assert seen == WebSession("", "anonymous", None, visit.csrf, "en", None, None)
    accounts.remember(visit.token, "/case/AB-CD12", "answers=yes")
    accounts.remember(visit.token, "//evil.example/phish", "answers=yes")   # not a path here: not kept
    assert accounts.session(visit.token).return_to is None               # type: ignore[union-attr]
    accounts.remember(visit.token, "/case/AB-CD12", "answers=yes")

    signed = accounts.promote(visit.token, ann, "active")
    assert signed.token != visit.token and signed.csrf != visit.csrf    # no session fixation
    assert accounts.session(visit.token) is None
    now = accounts.session(signed.token)
    assert now is not None and now.user == ann and now.stage == "active"
    assert (now.lang, now.return_to, now.pending) == ("en", "/case/AB-CD12", "answers=yes")
    accounts.set_lang(signed.token, "nl")
    assert accounts.session(signed.token).lang == "nl"                  # type: ignore[union-attr]
    assert door.store.user("web", "ann").lang == "nl"                   # type: ignore[union-attr]

    # someone else's session is theirs; a made-up token is nothing
    theirs = accounts.promote(accounts.open().token, bob, "active")
    assert accounts.session(theirs.token).user == bob                   # type: ignore[union-attr]
    for forged in ("", "x" * 200, signed.token[:-1], signed.csrf):
        assert accounts.session(forged) is None
    accounts.end(theirs.token)
    assert accounts.session(theirs.token) is None and accounts.session(signed.token) is not None
    assert ("web:bob", "logout", None) in audit(door.store)

    # idle for longer than LENSBOT_SESSION_IDLE_MINUTES (15): gone; what it held, handed over once
    clock.advance(minutes=14)
    assert accounts.session(signed.token) is not None
    clock.advance(minutes=15, seconds=1)
    assert accounts.session(signed.token) is None
    assert accounts.expired(signed.token) == ("/case/AB-CD12", "answers=yes")
    assert accounts.expired(signed.token) == (None, None)

    # used all day, it still ends LENSBOT_SESSION_MAX_HOURS (8) after sign-in
    day = accounts.promote(accounts.open().token, ann, "active")
    for _ in range(8 * 6 - 1):
        clock.advance(minutes=10)
        assert accounts.session(day.token) is not None
    clock.advance(minutes=10, seconds=1)
    assert accounts.session(day.token) is None
    assert accounts.expired(day.token) == (None, None)                  # expired, nothing parked

    # the housekeeping run forgets sessions past any use
    stale = accounts.open()
    clock.advance(hours=1)
    assert rows(door.store, SessionTable) >= 1
    door.admin.forget_updates()
    assert rows(door.store, SessionTable) == 0 and accounts.session(stale.token) is None


def test_removing_a_user_removes_their_account_codes_and_sessions(door: Door, clock: Clock) -> None:
    accounts = door.accounts
    enrolled(door, door.admin.invite("professional").code, "ann", clock)
    stays = accounts.register(door.admin.invite("trainee").code, "bob", PASSWORD, "nl")
    ann = door.store.user("web", "ann")
    assert ann is not None
    session = accounts.promote(accounts.open().token, ann, "active")
    kept = accounts.promote(accounts.open().token, stays, "active")
    assert rows(door.store, RecoveryCode) == 10

    assert door.admin.remove_user("web", "ann")
    assert accounts.session(session.token) is None
    assert rows(door.store, RecoveryCode) == 0 and rows(door.store, WebAccount) == 1
    with door.store.reading() as conn:
        assert conn.execute(select(SessionTable.user_id)).scalars().all() == [stays.id]
    assert accounts.session(kept.token).user == stays                   # type: ignore[union-attr]
    assert accounts.login("ann", PASSWORD, ADDRESS).user is None


def test_single_sign_on_links_an_identity_once_and_needs_no_password(door: Door) -> None:
    accounts = door.accounts
    accounts.register(door.admin.invite("trainee").code, "ann", PASSWORD, "nl")
    issuer = "https://login.gemeente.example"
    assert accounts.sso_user(issuer, "sub-1") is None
    invite = door.admin.invite("professional")
    linked = accounts.sso_register(invite.code, issuer, "sub-1", "Ann@gemeente.example", "en")
    assert (linked.external_id, linked.role, linked.lang) == ("ann2", "professional", "en")   # "ann" was taken
    assert accounts.sso_user(issuer, "sub-1") == linked
    assert accounts.sso_user("https://elsewhere.example", "sub-1") is None
    assert not accounts.needs_totp(linked)                  # the identity provider does the second factor
    assert accounts.login("ann2", "", ADDRESS).user is None   # and there is no password to guess
    refused("accounts.sso_taken", accounts.sso_register, door.admin.invite("trainee").code, issuer, "sub-1", None, "nl")
    log = audit(door.store)
    assert ("web:ann2", "sso", "linked to the organisation's account") in log
    assert ("web:ann2", "login", "ok (single sign-on)") in log


def test_the_operator_resets_a_login_and_the_user_sets_a_new_password_and_second_factor(
        door: Door, db_url: str, clock: Clock, capsys: pytest.CaptureFixture[str]) -> None:
    accounts = door.accounts
    enrolled(door, door.admin.invite("professional").code, "bob", clock)
    bob = door.store.user("web", "bob")
    assert bob is not None
    session = accounts.promote(accounts.open().token, bob, "active")

    assert cli.main(["--database", db_url, "users", "reset-login", "BOB"]) == 0
    link = capsys.readouterr().out.split()[-1]
    assert link.startswith("http://127.0.0.1:8080/invite/")
    code = link.rsplit("/", 1)[1]
    assert accounts.session(session.token) is None                      # signed out everywhere
    assert accounts.login("bob", PASSWORD, ADDRESS).user is None        # the old password is gone
    info = accounts.invitation(code)
    assert info is not None and (info.role, info.login) == ("professional", "bob")
    refused("accounts.invite_bad", accounts.register, code, "someone", PASSWORD + " nu", "nl")
    again = accounts.register(code, "bob", PASSWORD + " nu", "nl")
    assert again == bob and accounts.needs_totp(bob)                    # a new authenticator app, too
    assert accounts.invitation(code) is None
    refused("accounts.invite_bad", accounts.register, code, "bob", PASSWORD + " weer", "nl")
    assert accounts.login("bob", PASSWORD + " nu", ADDRESS) == LoginResult(bob, False, 0)
    assert rows(door.store, RecoveryCode) == 0
    assert cli.main(["--database", db_url, "users", "reset-login", "nobody"]) == 2
    assert "reset (password, second factor, sessions)" in repr(audit(door.store))


def test_the_default_setting_hashes_with_argon2_cffis_own_parameters_and_renews_cheap_hashes(
        sqlite_url: str) -> None:
    """A hash made with other parameters (here the tests' cheapest) is renewed at the next sign-in."""
    cheap = Door(settings(sqlite_url), "web")
    dee = cheap.accounts.register(cheap.admin.invite("trainee").code, "dee", PASSWORD, "nl")
    production = Door(Settings(database_url=sqlite_url), "web")
    try:
        assert Settings().password_hashing == "default"
        assert production.accounts.login("dee", PASSWORD, ADDRESS).user == dee
        with production.store.reading() as conn:
            renewed = conn.execute(select(WebAccount.password_hash)).scalar_one()
        assert renewed.split("$")[1:4] == PasswordHasher().hash("x").split("$")[1:4]   # argon2id, version, m/t/p
        assert hasher("cheapest").hash("x").split("$")[3] != renewed.split("$")[3]
        assert production.accounts.login("dee", PASSWORD, ADDRESS).user == dee
    finally:
        cheap.close()
        production.close()
