"""Web accounts and login: invitations, passwords, the second factor, throttling and sessions.

The web channel (bot/web) only calls this; every rule of signing in lives here, every row in
storage/web_accounts.py. In plain words (README, "Accounts and login"):

- A web user is a `users` row with channel "web" and the login name as external id; the role
  comes from an invitation, redeemed through `Access.redeem` exactly as in Telegram. While the
  web channel has no user `setup_code` gives a one-hour admin invitation for the first person.
- Passwords are stored as Argon2id hashes (argon2-cffi). TOTP (pyotp, 30-second steps, one step
  either side accepted) is required for admins and professionals; each step is accepted once per
  account (its number is stored). Ten recovery codes of 80 random bits each are stored as sha256:
  at that entropy a slow hash adds nothing, and a sha256 lookup spends a code in one statement.
- Failed sign-ins are throttled per login name and per address, counted in the database (so every
  instance sees them) under a keyed hash; a throttled attempt is not checked at all. An unknown
  login costs the same Argon2 verification as a wrong password and gets the same answer.
- Sessions are rows keyed by sha256 of the cookie value; they end after
  LENSBOT_SESSION_IDLE_MINUTES without use or LENSBOT_SESSION_MAX_HOURS after sign-in.
  `promote` gives a new token at every step up (no session fixation).

Everything is audited in the transaction that does it, as "web:<login>" (or "web:?" for a
name that is no account: what someone typed in the login field may be a password); never a
password or a code.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import re
import secrets
import threading
import time
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache, cached_property
from pathlib import Path

import pyotp
import segno
from argon2 import PasswordHasher, profiles
from argon2.exceptions import InvalidHashError, VerificationError

from dialogs.access import INVITE_CODE, Access, effective_role, live_user
from dialogs.app.errors import BadInput, shielded
from dialogs.app.settings import Settings
from dialogs.domain import Role
from dialogs.output import Block, Line
from dialogs.texts import Catalog, normalise_lang
from storage import accounts as stored_accounts
from storage import web_accounts as stored
from storage.repo import StorageConflict, Store, Tx, UserRow, now

CHANNEL = "web"
STAGES = ("anonymous", "password", "enrol", "active")
LOGIN = re.compile(r"(?=[a-z0-9._-]*[a-z])[a-z0-9._-]{3,40}")   # at least one letter: never a bare number
MIN_PASSWORD = 12
COMMON_PASSWORDS = frozenset({
    "123456789012", "1234567890123", "password1234", "passwordpassword", "wachtwoord12", "wachtwoord123",
    "welkom123456", "welcome12345", "qwertyuiopas", "qwerty123456", "iloveyou1234", "letmein12345",
    "administrator", "adminadmin12", "lensbotlensbot", "lensbot12345", "zomer2026zomer", "000000000000",
    "111111111111", "aaaaaaaaaaaa", "abcdefghijkl", "abc123abc123", "changeme1234", "geheimgeheim",
})
TOTP_REQUIRED = frozenset({Role.ADMIN, Role.PROFESSIONAL})   # trainees may choose; SSO: the provider does it
TOTP_WINDOW = 1                     # steps either side of now, as pyotp's valid_window=1
RECOVERY_CODES = 10
RECOVERY_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"   # 32 signs, 5 bits each; no 0/O, 1/I
RECOVERY_LENGTH = 16                # 80 bits
FAILURE_WINDOW = timedelta(minutes=15)
LOGIN_LIMIT, ADDRESS_LIMIT = 5, 30  # failures in FAILURE_WINDOW before a wait
FIRST_WAIT, LONGEST_WAIT = 30, 15 * 60   # seconds; doubles with every failure past the limit
SETUP_ISSUER = "console:setup"      # the setup code's maker: the operator who started an empty lensbot
SETUP_TTL = RESET_TTL = timedelta(hours=1)
TOUCH_EVERY = timedelta(seconds=15)  # last_seen is written at most this often (one write, not one per request)
FLASH_TTL = timedelta(minutes=5)    # a flash not taken by then is not shown
MAX_FLASH = 100_000                 # characters of JSON: blocks of one answer are a few KB
THROTTLE_AUDIT_MEMORY = 60.0        # seconds: one "throttled" audit row per key a minute, not one per request
_throttle_audited: dict[str, float] = {}
_throttle_lock = threading.Lock()


@cache
def account_texts() -> Catalog:
    """The texts of accounts and login (dialogs/accounts.yaml): the error keys and what pages show."""
    return Catalog.load(Path(__file__).parent.parent / "accounts.yaml")


@dataclass(frozen=True)
class WebSession:
    """A browser's session as the web channel sees it (the contract in CONTRACT-web.md)."""

    token: str              # the cookie value; non-empty only on the object open()/promote() return
    stage: str              # anonymous | password | enrol | active
    user: UserRow | None
    csrf: str
    lang: str
    return_to: str | None
    pending: str | None
    has_flash: bool = False   # a flash waits (`take_flash`); False: no need to ask


@dataclass(frozen=True)
class Flashed:
    """What an answer showed, for the next page of that case (a POST, then a redirect: browsers
    without JavaScript): shown once, only at this step (`step` None: at any)."""

    code: str
    step: int | None
    blocks: tuple[Block, ...]
    notice: str | None = None


@dataclass(frozen=True)
class AccountInfo:
    """What a signed-in user's account page shows."""

    login: str
    totp: bool      # an authenticator app is set up
    sso: bool       # signs in through the organisation's provider (no password, no lensbot TOTP)


@dataclass(frozen=True)
class InvitationInfo:
    role: str
    expires_at: datetime
    login: str | None = None     # a reset code (`lensbot users reset-login`): whose password it sets


@dataclass(frozen=True)
class TotpSetup:
    secret: str     # base32, to type in by hand
    uri: str        # otpauth://...
    qr_svg: str     # an inline <svg> of the uri (segno): no request leaves the page


@dataclass(frozen=True)
class LoginResult:
    user: UserRow | None
    second_factor: bool = False   # password right: the TOTP step comes next
    wait_seconds: int = 0         # > 0: throttled, nothing was checked


class _NotEmpty(Exception):
    """The database has users: no setup code."""


def _nfkc(password: str) -> str:
    """The same password typed on another device (composed or decomposed accents) is the same."""
    return unicodedata.normalize("NFKC", password)


def _sha256(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def hasher(profile: str = "default") -> PasswordHasher:
    """argon2-cffi's default parameters (RFC 9106 low-memory: 3 passes, 64 MiB) or, for tests only
    (LENSBOT_PASSWORD_HASHING=cheapest), its cheapest; a hash made with other parameters is
    rehashed at the next sign-in."""
    return PasswordHasher.from_parameters(profiles.CHEAPEST if profile == "cheapest" else
                                          profiles.RFC_9106_LOW_MEMORY)


def safe_return(path: str | None) -> str | None:
    """A path on this site ("/case/AB-CD12"), or None: never another site (an open redirect)."""
    if not path or len(path) > 500 or not path.startswith("/") or path.startswith("//") or "\\" in path:
        return None
    if any(ch < " " for ch in path):
        return None
    return path


class Accounts:
    """Sign-in for the web channel; `clock` is what it takes for now (tests move it)."""

    def __init__(self, store: Store, settings: Settings, clock: Callable[[], datetime] = now) -> None:
        self.store, self.settings, self.clock = store, settings, clock
        # LENSBOT_ADMIN_IDS names Telegram users: here it only tells whether a Telegram admin's
        # invitation still holds (a login name has a letter, so it is never one of those numbers)
        self.access = Access(store, CHANNEL, settings.admin_ids)

    @cached_property
    def hasher(self) -> PasswordHasher:
        return hasher(self.settings.password_hashing)

    @cached_property
    def _dummy_hash(self) -> str:
        """What an unknown login is checked against, so it takes as long as a wrong password."""
        return self.hasher.hash(secrets.token_urlsafe(16))

    def text(self, key: str, lang: str = "nl", **params: object) -> str:
        """A text of dialogs/accounts.yaml (a BadInput's message is such a key)."""
        return account_texts()(key, normalise_lang(lang), **params)

    # -- setup and invitations --------------------------------------------------------------
    @shielded
    def setup_code(self) -> str | None:
        """A fresh one-hour admin invitation while the web channel has no user at all (an empty
        database, or one used so far only by the console or Telegram); None otherwise. Whoever sees
        it is the operator at the server, who can make admins with the command line anyway."""
        at = now()   # invitations run on the real clock (storage/accounts.py)

        def empty(tx: Tx) -> None:
            if stored.count_users(tx, CHANNEL):
                raise _NotEmpty
            if stored.revoke_open_invites(tx, SETUP_ISSUER, SETUP_ISSUER, at):
                tx.audit(SETUP_ISSUER, "invite", None, "revoked earlier setup code")

        try:
            invite = stored_accounts.create_invite(self.store, Role.ADMIN, None, SETUP_TTL, actor=SETUP_ISSUER,
                                                   check=empty)
        except _NotEmpty:
            return None
        return invite.code

    @shielded
    def invitation(self, code: str) -> InvitationInfo | None:
        """What an invitation (or a reset code) gives, while it can be used; None otherwise."""
        code = code.strip()
        if not INVITE_CODE.fullmatch(code):
            return None
        at = self.clock()
        with self.store.transaction() as tx:
            invite = stored_accounts.find_invite(tx, code)
            if invite is not None:
                usable = invite.is_open(now()) and self.access.issuer_may(invite)
                return InvitationInfo(invite.role, invite.expires_at) if usable else None
            found = stored.account_by_reset(tx, _sha256(code), at)
        if found is None:
            return None
        account, user, expires = found
        role = self._role(user)
        return InvitationInfo(role, expires, account.login) if role else None

    @shielded
    def register(self, code: str, login: str, password: str, lang: str) -> UserRow:
        """Redeem the invitation and make the account (one transaction); BadInput with a text key."""
        name = login.strip().lower()
        if not LOGIN.fullmatch(name):
            raise BadInput("accounts.login_invalid")
        self.check_password(name, password)
        code, lang = code.strip(), normalise_lang(lang)
        if not INVITE_CODE.fullmatch(code):
            raise BadInput("accounts.invite_bad")
        digest = self.hasher.hash(_nfkc(password))   # before any transaction: it takes ~0.2 s
        at = self.clock()
        with self.store.transaction() as tx:
            invite = stored_accounts.find_invite(tx, code)
            if invite is None:   # a reset code: set the password of the account it was made for
                found = stored.account_by_reset(tx, _sha256(code), at)
                if found is None:
                    raise BadInput("accounts.invite_bad")
                account, user, _ = found
                if account.login != name:
                    raise BadInput("accounts.invite_bad")
                stored.update_account(tx, user.id, password_hash=digest, reset_hash=None, reset_expires=None)
                stored.set_lang(tx, user.id, lang)
                tx.audit(f"{CHANNEL}:{name}", "login", None, "password set with a reset code")
                live = self._live(tx, user.id)
                if live is None:
                    raise BadInput("accounts.invite_bad")
                return live
            if not (invite.is_open(now()) and self.access.issuer_may(invite)):
                raise BadInput("accounts.invite_bad")   # first: no one without an invitation learns a name is taken
            if stored.login_taken(tx, name):
                raise BadInput("accounts.login_taken")

        def make_account(tx: Tx, user_id: int, created: bool) -> None:
            if not created:
                raise BadInput("accounts.login_taken")
            stored.create_account(tx, user_id, name, at, password_hash=digest)
            stored.set_lang(tx, user_id, lang)

        return self._redeem(code, name, make_account)

    def _redeem(self, code: str, name: str, make_account: Callable[[Tx, int, bool], None]) -> UserRow:
        try:
            redeemed = self.access.redeem(code, name, then=make_account)
        except StorageConflict:   # the same name taken at the same moment elsewhere
            raise BadInput("accounts.login_taken") from None
        if redeemed.outcome != "ok" or redeemed.user is None:
            raise BadInput("accounts.invite_bad" if redeemed.outcome == "bad" else "accounts.login_taken")
        self.store.forget_user(CHANNEL, name)
        return redeemed.user

    @staticmethod
    def check_password(login: str, password: str) -> None:
        lowered = _nfkc(password).lower()
        if (len(password) < MIN_PASSWORD or len(password) > 1024 or login in lowered
                or lowered in COMMON_PASSWORDS or len(set(password)) < 4):
            raise BadInput("accounts.password_weak")

    # -- second factor ------------------------------------------------------------------------
    @shielded
    def totp_start(self, user: UserRow, fresh: bool = False) -> TotpSetup:
        """The secret to set up, pending until totp_confirm: the one pending already (a reloaded
        page shows the QR code the phone may have scanned), or with `fresh` a new one. Refused when
        one is confirmed already."""
        with self.store.transaction() as tx:
            account = self._account(tx, user)
            if account.totp_confirmed:
                raise BadInput("accounts.totp_active")
            if account.sso_issuer is not None:   # the organisation's provider does the second step
                raise BadInput("accounts.totp_sso")
            secret = account.totp_secret if account.totp_secret and not fresh else pyotp.random_base32()
            if secret != account.totp_secret:
                stored.update_account(tx, user.id, totp_secret=secret, totp_confirmed=False, totp_last_step=None)
        uri = pyotp.TOTP(secret).provisioning_uri(name=account.login, issuer_name="lensbot")
        svg = segno.make(uri, error="m").svg_inline(scale=4, dark="#000", light="#fff", title="lensbot")
        return TotpSetup(secret, uri, svg)

    @shielded
    def totp_confirm(self, user: UserRow, code: str) -> list[str]:
        """Confirm the pending secret with a current code; the 10 recovery codes (shown once)."""
        codes = [self._recovery_code() for _ in range(RECOVERY_CODES)]
        with self.store.transaction() as tx:
            account = self._account(tx, user)
            if account.totp_confirmed:
                raise BadInput("accounts.totp_active")
            step = self._totp_step(account.totp_secret, code)
            if step is None or not stored.claim_totp_step(tx, user.id, step):
                raise BadInput("accounts.code_wrong")
            stored.update_account(tx, user.id, totp_confirmed=True)
            stored.replace_recovery_codes(tx, user.id, [self._code_hash(user.id, c) for c in codes])
            tx.audit(f"{CHANNEL}:{account.login}", "totp", None, f"set up, {len(codes)} recovery codes")
        return codes

    @shielded
    def needs_totp(self, user: UserRow) -> bool:
        """Whether the user must set up TOTP before anything else: their role asks for it, none is
        confirmed, and they sign in with a password (with single sign-on the provider does it)."""
        with self.store.transaction() as tx:
            account = stored.account(tx, user.id)
            live = self._live(tx, user.id)
        if account is None or live is None or account.password_hash is None:
            return False
        return live.role in TOTP_REQUIRED and not account.totp_confirmed

    def _totp_step(self, secret: str | None, code: str) -> int | None:
        """The time step a code belongs to (now, or one step either side), or None."""
        code = re.sub(r"\s", "", code)
        if not secret or not re.fullmatch(r"\d{6}", code):
            return None
        totp, at = pyotp.TOTP(secret), self.clock()
        current = totp.timecode(at)
        for step in range(current - TOTP_WINDOW, current + TOTP_WINDOW + 1):
            if hmac.compare_digest(totp.generate_otp(step), code):
                return step
        return None

    @staticmethod
    def _recovery_code() -> str:
        raw = "".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(RECOVERY_LENGTH))
        return "-".join(raw[i:i + 4] for i in range(0, RECOVERY_LENGTH, 4))

    @staticmethod
    def _code_hash(user_id: int, code: str) -> str:
        return _sha256(f"{user_id}:{re.sub(r'[^A-Z0-9]', '', code.upper())}")

    # -- login --------------------------------------------------------------------------------
    def _key(self, tx: Tx, kind: str, value: str) -> str:
        """A keyed hash of a login name or an address: the table of failures holds neither."""
        return hmac.new(self.store.audit_key(tx), f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()

    def _wait(self, tx: Tx, key: str, limit: int, at: datetime) -> int:
        count, latest = stored.failures(tx, key, at - FAILURE_WINDOW)
        if count < limit or latest is None:
            return 0
        wait = min(FIRST_WAIT * 2 ** min(count - limit, 20), LONGEST_WAIT)
        return max(0, math.ceil((latest + timedelta(seconds=wait) - at).total_seconds()))

    def _throttle(self, tx: Tx, keys: tuple[str, str], who: str, at: datetime) -> int:
        wait = max(self._wait(tx, keys[0], LOGIN_LIMIT, at), self._wait(tx, keys[1], ADDRESS_LIMIT, at))
        if wait and _first_in_a_while(keys[0] + keys[1]):
            tx.audit(who, "login", None, f"throttled, wait {wait} s")
        return wait

    @shielded
    def login(self, login: str, password: str, address: str) -> LoginResult:
        """Check a login name and password (throttled; see the module's docstring)."""
        name = login.strip().lower()[:64]
        at, dummy = self.clock(), self._dummy_hash   # made before the first check, whichever it is
        with self.store.transaction() as tx:
            keys = (self._key(tx, "login", name), self._key(tx, "address", address))
            found = stored.account_by_login(tx, name) if LOGIN.fullmatch(name) else None
            who = f"{CHANNEL}:{name}" if found else f"{CHANNEL}:?"
            wait = self._throttle(tx, keys, who, at)
        if wait:
            return LoginResult(None, False, wait)
        digest = found[0].password_hash if found else None
        ok = self._verify(digest or dummy, password) and digest is not None
        # LENSBOT_PASSWORD_HASHING changed since this hash was made: a new one, outside the transaction
        rehashed = self.hasher.hash(_nfkc(password)) if ok and digest and self.hasher.check_needs_rehash(digest) \
            else None
        with self.store.transaction() as tx:
            live = self._live(tx, found[1].id) if found and ok else None
            if found is None or live is None:
                stored.add_failure(tx, list(keys), at)
                tx.audit(who, "login", None, "failed")
                return LoginResult(None)
            account = found[0]
            if rehashed:
                stored.update_account(tx, live.id, password_hash=rehashed)
            if account.totp_confirmed:
                tx.audit(who, "login", None, "password ok, second factor next")
                return LoginResult(live, True)
            stored.clear_failures(tx, keys[0])
            tx.audit(who, "login", None, "ok")
        return LoginResult(live)

    def _verify(self, digest: str, password: str) -> bool:
        try:
            return self.hasher.verify(digest, _nfkc(password[:1024]))
        except (VerificationError, InvalidHashError):
            return False

    @shielded
    def second_factor(self, user: UserRow, code: str, address: str) -> LoginResult:
        """A current TOTP code (each time step once) or an unused recovery code (then spent)."""
        at = self.clock()
        with self.store.transaction() as tx:
            account = stored.account(tx, user.id)
            if account is None:
                return LoginResult(None)
            who = f"{CHANNEL}:{account.login}"
            keys = (self._key(tx, "login", account.login), self._key(tx, "address", address))
            wait = self._throttle(tx, keys, who, at)
            if wait:
                return LoginResult(None, False, wait)
            cleaned = re.sub(r"[\s-]", "", code).upper()
            how = None
            if re.fullmatch(r"\d{6}", cleaned) and account.totp_confirmed:
                step = self._totp_step(account.totp_secret, cleaned)
                if step is not None and stored.claim_totp_step(tx, user.id, step):
                    how = "ok (authenticator code)"
            elif len(cleaned) == RECOVERY_LENGTH and stored.spend_recovery_code(tx, user.id,
                                                                                 self._code_hash(user.id, cleaned)):
                how = f"ok (recovery code used, {stored.recovery_codes_left(tx, user.id)} left)"
            live = self._live(tx, user.id) if how else None
            if live is None:
                stored.add_failure(tx, list(keys), at)
                tx.audit(who, "login", None, "second factor failed")
                return LoginResult(None)
            stored.clear_failures(tx, keys[0])
            tx.audit(who, "login", None, how)
        return LoginResult(live)

    # -- sessions -----------------------------------------------------------------------------
    @shielded
    def open(self, lang: str = "nl") -> WebSession:
        """A new anonymous session (it holds the CSRF token and the language before sign-in)."""
        token, csrf, lang = secrets.token_urlsafe(32), secrets.token_urlsafe(32), normalise_lang(lang)
        with self.store.transaction() as tx:
            stored.insert_session(tx, _sha256(token), None, "anonymous", csrf, lang, self.clock())
        return WebSession(token, "anonymous", None, csrf, lang, None, None)

    def _expired(self, row: stored.SessionRow, at: datetime) -> bool:
        idle = timedelta(minutes=self.settings.session_idle_minutes)
        longest = timedelta(hours=self.settings.session_max_hours)
        return at - row.last_seen > idle or at - row.created_at > longest

    @shielded
    def session(self, token: str) -> WebSession | None:
        """The live session for a cookie value (last seen now), or None: unknown, idle too long,
        too old, or its user gone or without a role."""
        if not token or len(token) > 100:
            return None
        at = self.clock()
        with self.store.transaction() as tx:
            row = stored.load_session(tx, _sha256(token))
            if row is None or self._expired(row, at):
                return None
            user = None
            if row.user_id is not None:
                user = self._live(tx, row.user_id)
                if user is None:
                    stored.delete_session(tx, row.token_hash)
                    return None
            if at - row.last_seen >= TOUCH_EVERY:
                stored.update_session(tx, row.token_hash, last_seen=at)
        return WebSession("", row.stage, user, row.csrf, row.lang, row.return_to, row.pending, row.flash is not None)

    @shielded
    def expired(self, token: str) -> tuple[str | None, str | None]:
        """(return_to, pending) of an expired session, once: the session is deleted then."""
        if not token or len(token) > 100:
            return None, None
        at = self.clock()
        with self.store.transaction() as tx:
            row = stored.load_session(tx, _sha256(token))
            if row is None or not self._expired(row, at):
                return None, None
            stored.delete_session(tx, row.token_hash)
        return row.return_to, row.pending

    @shielded
    def promote(self, token: str, user: UserRow, stage: str) -> WebSession:
        """A new session (new token, new CSRF token) for `user` at `stage`, keeping the language,
        return_to and pending of the old one, which is deleted: no session fixation."""
        if stage not in STAGES[1:]:
            raise BadInput(f"unknown stage '{stage}'")
        new, csrf, at = secrets.token_urlsafe(32), secrets.token_urlsafe(32), self.clock()
        with self.store.transaction() as tx:
            live = self._live(tx, user.id)
            if live is None:
                raise BadInput("accounts.login_failed")
            old = stored.load_session(tx, _sha256(token)) if token else None
            if old is not None:
                stored.delete_session(tx, old.token_hash)
            lang = old.lang if old else normalise_lang(live.lang)
            keep = (old.return_to, old.pending) if old else (None, None)
            stored.insert_session(tx, _sha256(new), live.id, stage, csrf, lang, at, *keep)
        return WebSession(new, stage, live, csrf, lang, *keep)

    @shielded
    def remember(self, token: str, return_to: str | None = None, pending: str | None = None) -> None:
        """Set where to go after (re)login and what is parked (both as given: None clears);
        a return_to that is not a path on this site is not kept."""
        with self.store.transaction() as tx:
            stored.update_session(tx, _sha256(token), return_to=safe_return(return_to), pending=pending)

    @shielded
    def flash(self, token: str, item: Flashed) -> None:
        """Keep what an answer showed in the session until the next page of the case takes it, on
        any instance (one flash per session: a newer one replaces it)."""
        data = json.dumps({"code": item.code, "step": item.step, "notice": item.notice,
                           "at": self.clock().timestamp(),
                           "blocks": [{"kind": b.kind, "lines": [[ln.text, ln.style] for ln in b.lines]}
                                      for b in item.blocks]}, ensure_ascii=False)
        if len(data) > MAX_FLASH:   # never in practice; an informational block is all it would cost
            data = json.dumps({"code": item.code, "step": item.step, "notice": item.notice,
                               "at": self.clock().timestamp(), "blocks": []})
        with self.store.transaction() as tx:
            stored.update_session(tx, _sha256(token), flash=data)

    @shielded
    def take_flash(self, token: str, code: str, step: int | None = None) -> Flashed | None:
        """The flash of this case, once: whatever waits is cleared by the first page that asks. None
        when there is none, it is another case's, it is older than FLASH_TTL, or (with `step`) it
        was left at another step (the case moved on in another tab)."""
        if not token:
            return None
        with self.store.transaction() as tx:
            raw = stored.take_flash(tx, _sha256(token))
        item = _flashed(raw)
        if item is None or item[0].code != code or self.clock().timestamp() - item[1] > FLASH_TTL.total_seconds():
            return None
        if step is not None and item[0].step is not None and item[0].step != step:
            return None
        return item[0]

    @shielded
    def account_info(self, user: UserRow) -> AccountInfo | None:
        """The login name and how the user signs in (None: no web account, e.g. Telegram only)."""
        with self.store.transaction() as tx:
            account = stored.account(tx, user.id)
        if account is None:
            return None
        return AccountInfo(account.login, account.totp_confirmed, account.password_hash is None)

    def login_name(self, user: UserRow) -> str:
        """The name a user signs in to the web app with (a Telegram user's web login made in
        minimal mode is not their Telegram number); the external id when there is no account."""
        info = self.account_info(user)
        return info.login if info is not None else user.external_id

    @shielded
    def set_lang(self, token: str, lang: str) -> None:
        """The session's language, and the signed-in user's too."""
        lang = normalise_lang(lang)
        with self.store.transaction() as tx:
            row = stored.load_session(tx, _sha256(token))
            if row is None:
                return
            stored.update_session(tx, row.token_hash, lang=lang)
            if row.user_id is not None:
                stored.set_lang(tx, row.user_id, lang)

    @shielded
    def end(self, token: str) -> None:
        """Sign out: the session is deleted (audited when someone was signed in)."""
        with self.store.transaction() as tx:
            row = stored.load_session(tx, _sha256(token))
            if row is None:
                return
            stored.delete_session(tx, row.token_hash)
            account = stored.account(tx, row.user_id) if row.user_id is not None else None
            if account is not None:
                tx.audit(f"{CHANNEL}:{account.login}", "logout", None, None)

    # -- single sign-on -----------------------------------------------------------------------
    @shielded
    def sso_user(self, issuer: str, subject: str) -> UserRow | None:
        """The user linked to this identity of the organisation's provider (audited as a login)."""
        with self.store.transaction() as tx:
            found = stored.account_by_sso(tx, issuer, subject)
            live = self._live(tx, found[1].id) if found else None
            if found is not None and live is not None:
                tx.audit(f"{CHANNEL}:{found[0].login}", "login", None, "ok (single sign-on)")
        return live

    @shielded
    def sso_register(self, code: str, issuer: str, subject: str, login_hint: str | None, lang: str) -> UserRow:
        """Redeem an invitation for an identity of the provider: an account without a password."""
        code, lang, at = code.strip(), normalise_lang(lang), self.clock()
        if not INVITE_CODE.fullmatch(code) or not issuer or not subject:
            raise BadInput("accounts.invite_bad")
        with self.store.transaction() as tx:
            if stored.account_by_sso(tx, issuer, subject) is not None:
                raise BadInput("accounts.sso_taken")
            name = self._free_login(tx, login_hint)

        def make_account(tx: Tx, user_id: int, created: bool) -> None:
            if not created:
                raise BadInput("accounts.login_taken")
            stored.create_account(tx, user_id, name, at, sso_issuer=issuer[:200], sso_subject=subject[:255])
            stored.set_lang(tx, user_id, lang)
            tx.audit(f"{CHANNEL}:{name}", "sso", None, "linked to the organisation's account")

        return self._redeem(code, name, make_account)

    @staticmethod
    def _free_login(tx: Tx, hint: str | None) -> str:
        """A login name from the provider's hint (an e-mail's local part, a user name), made unique."""
        base = (hint or "").strip().lower().split("@")[0]
        base = re.sub(r"[^a-z0-9._-]+", ".", base).strip(".-_")[:36]
        if not LOGIN.fullmatch(base):
            base = "user"
        for n in range(1, 1000):
            name = base if n == 1 else f"{base}{n}"
            if not stored.login_taken(tx, name):
                return name
        return f"user{secrets.randbelow(10**8)}"

    # -- the operator ---------------------------------------------------------------------------
    @shielded
    def reset_login(self, login: str, by: str) -> str | None:
        """Clear the password, TOTP, recovery codes and sessions of an account and make a one-hour
        code to set a new password (`lensbot users reset-login`); None when there is no such account."""
        name, at = login.strip().lower(), self.clock()
        code = stored_accounts.new_invite_code()
        with self.store.transaction() as tx:
            found = stored.account_by_login(tx, name)
            if found is None:
                return None
            user_id = found[1].id
            stored.update_account(tx, user_id, password_hash=None, totp_secret=None, totp_confirmed=False,
                                  totp_last_step=None, reset_hash=_sha256(code), reset_expires=at + RESET_TTL)
            stored.replace_recovery_codes(tx, user_id, [])
            stored.delete_user_sessions(tx, user_id)
            tx.audit(by, "login", None, f"{CHANNEL}:{name} reset (password, second factor, sessions)")
        return code

    # -- housekeeping ---------------------------------------------------------------------------
    def forget_stale(self) -> int:
        """Delete sessions that can no longer be used and failures older than the throttle window,
        batch by batch; how many rows went. Run with the other housekeeping (Admin.forget_updates)."""
        return forget_stale(self.store, self.settings, self.clock())

    # -- helpers --------------------------------------------------------------------------------
    def _account(self, tx: Tx, user: UserRow) -> stored.AccountRow:
        account = stored.account(tx, user.id)
        if account is None:
            raise BadInput("accounts.login_failed")
        return account

    @staticmethod
    def _live(tx: Tx, user_id: int) -> UserRow | None:
        """The user with the role stored now; None when gone or without a role."""
        row = stored.user_row(tx, user_id)
        if row is None:
            return None
        return live_user(row, (row.role, row.source))

    @staticmethod
    def _role(user: UserRow) -> str | None:
        return effective_role(user.role, user.source, False)


def forget_stale(store: Store, settings: Settings, at: datetime) -> int:
    """See Accounts.forget_stale: an expired session's return_to/pending are kept for one more
    idle period after it expired (to resume after signing in again), then deleted."""
    idle = timedelta(minutes=settings.session_idle_minutes)
    seen_before = at - 2 * idle
    created_before = at - timedelta(hours=settings.session_max_hours) - idle
    total = 0
    while True:
        gone = stored.forget_stale(store, seen_before, created_before, at - FAILURE_WINDOW)
        total += gone
        if gone < 500:
            return total


def _flashed(raw: str | None) -> tuple[Flashed, float] | None:
    """A stored flash and when it was made, or None (none, or not what `flash` writes)."""
    try:
        data = json.loads(raw) if raw else None
        if not isinstance(data, dict):
            return None
        blocks = tuple(Block(tuple(Line(str(text), style) for text, style in b["lines"]), b["kind"])
                       for b in data["blocks"])
        step = data["step"]
        notice = data["notice"]
        return Flashed(str(data["code"]), int(step) if step is not None else None, blocks,
                       str(notice) if notice is not None else None), float(data["at"])
    except (ValueError, KeyError, TypeError):
        return None


def _first_in_a_while(key: str) -> bool:
    """True once a minute per key: a flood of throttled attempts is one audit row a minute."""
    moment = time.monotonic()
    with _throttle_lock:
        if moment - _throttle_audited.get(key, -THROTTLE_AUDIT_MEMORY - 1) < THROTTLE_AUDIT_MEMORY:
            return False
        if len(_throttle_audited) > 10_000:
            _throttle_audited.clear()
        _throttle_audited[key] = moment
    return True
