"""Links from Telegram into the web app: Telegram's minimal mode (LENSBOT_TELEGRAM_CONTENT=minimal).

In minimal mode Telegram asks the questions, but summaries, pictures and documents are shown in
the web app only (README, "Telegram without content"). Where Telegram would show them it sends a
link `{LENSBOT_WEB_URL}/t/{token}`. The rules, all here (bot/telegram and bot/web only call them):

- A link is a capability: 256 random bits, bound to one `users` row and (mostly) one case, valid
  for LINK_TTL and used once. Only sha256 of the token is stored (storage/web_links.py); the link
  says nothing about the person, and the case is named only by its row.
- A link is made only for the user's own case (the same check as every case use case), and only
  for someone whose stored role works in the web app (an admin named only in LENSBOT_ADMIN_IDS
  has none there: BadInput("links.no_web")).
- Opening it (`open`): someone signed in as another user gets the same "not found" as for a bad
  or expired link. Signed in as that user: the link is used, straight to the case. Not signed in
  and the user has a web login: the link is used and the login leads to the case. Not signed in
  and no web login yet: the page offers to make one (`register`). Holding the link proves control
  of the Telegram account, so no invitation is needed: the login belongs to the same `users` row
  (same role, same cases; no second user, nothing changes owner). Making it uses the link.
- Which blocks of a reply are content (`content_free`): the result (summary, quick-scan result and
  the text to forward) is; the acute-danger advice, interim remarks and notices are not, and the
  acute-danger advice is always shown in full in Telegram (safety first).
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path

from dialogs.access import Access, actor, effective_role, live_user
from dialogs.app.accounts import CHANNEL as WEB
from dialogs.app.accounts import LOGIN, Accounts
from dialogs.app.errors import BadInput, shielded
from dialogs.app.settings import Settings
from dialogs.output import Block
from dialogs.texts import Catalog, normalise_lang
from storage import web_accounts as stored_accounts
from storage import web_links as stored
from storage.repo import StorageConflict, Store, Tx, UserRow, normalise_code, now

LINK_TTL = timedelta(minutes=15)
TARGETS = ("case", "cases", "picture")      # a case's summary (with its downloads), the case list, the local picture
RESULT_KINDS = frozenset({"summary"})       # blocks that are the result; the info blocks after them belong to it
SHOWN_KINDS = frozenset({"alert", "interim", "notice"})   # never withheld: acute danger first of all


@cache
def link_texts() -> Catalog:
    """The texts of links (dialogs/links.yaml): the error keys and what the web page shows."""
    return Catalog.load(Path(__file__).parent.parent / "links.yaml")


@dataclass(frozen=True)
class Opened:
    """What opening a link leads to.

    action: "go" (signed in as the link's user: the link is used), "login" (that user has a web login:
    the link is used, sign in and go on to the target), "register" (no web login yet: make one; the
    link holds until then)."""

    action: str
    target: str                 # case | cases | picture
    case_code: str | None
    login: str | None = None    # the web login of the link's user, when there is one


def _sha256(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def content_free(blocks: tuple[Block, ...] | list[Block]) -> tuple[tuple[Block, ...], bool]:
    """The blocks Telegram may show in minimal mode, and whether anything was withheld.

    The result (summary blocks, and the info blocks after the first of them, such as the quick
    scan's text to forward) stays in the web app; acute-danger advice, interim remarks and notices
    are shown. Blocks before the result (an intake's introduction) are shown as well."""
    kept: list[Block] = []
    in_result, withheld = False, False
    for block in blocks:
        if block.kind in RESULT_KINDS:
            in_result = withheld = True
            continue
        if in_result and block.kind not in SHOWN_KINDS:
            withheld = True
            continue
        kept.append(block)
    return tuple(kept), withheld


class Links:
    """Make and open links into the web app; `clock` is what it takes for now (tests move it)."""

    def __init__(self, store: Store, settings: Settings, accounts: Accounts,
                 clock: Callable[[], datetime] = now) -> None:
        self.store, self.settings, self.accounts, self.clock = store, settings, accounts, clock

    @property
    def minimal(self) -> bool:
        """Whether Telegram keeps content out of the chat (LENSBOT_TELEGRAM_CONTENT=minimal)."""
        return self.settings.telegram_content == "minimal"

    @property
    def minutes(self) -> int:
        return int(LINK_TTL.total_seconds() // 60)

    def text(self, key: str, lang: str = "nl", **params: object) -> str:
        return link_texts()(key, normalise_lang(lang), **params)

    # -- Telegram: make a link ------------------------------------------------------------------
    @shielded
    def make(self, user: UserRow, target: str = "case", code: str | None = None) -> str | None:
        """The URL of a new link for `user` to `target` (with `code`: one of their own cases).

        None when the case is not theirs (the caller says "not found", as for any unknown code);
        BadInput("links.no_web") when their stored role gives them nothing in the web app."""
        if target not in TARGETS or (target == "case") != (code is not None):
            raise BadInput(f"unknown link target '{target}'")
        token, at = secrets.token_urlsafe(32), self.clock()
        with self.store.transaction() as tx:
            row = stored_accounts.user_row(tx, user.id)
            if row is None or effective_role(row.role, row.source, False) is None:
                raise BadInput("links.no_web")
            live = live_user(user, tx.rights(user.id))
            case_id = None
            if code is not None:
                code = normalise_code(code)
                modes = Access.case_modes(live)
                case_id = stored.owned_case(tx, user.id, code, modes) if modes else None
                if case_id is None:
                    tx.audit(actor(user), "refused", None, "link: case not found")
                    return None
            stored.forget_expired(tx, at)
            stored.insert_link(tx, _sha256(token), user.id, case_id, target, at, at + LINK_TTL)
            tx.audit(actor(user), "link", code, f"web link made ({target})")
        return f"{self.settings.web_base_url}/t/{token}"

    # -- the web app: open a link ---------------------------------------------------------------
    @shielded
    def open(self, token: str, signed_in: UserRow | None) -> Opened | None:
        """What the link leads to for whoever is signed in (None: nobody); None when it is
        unknown, used, expired, its user has no role any more, or it is someone else's."""
        if not token or len(token) > 100:
            return None
        at = self.clock()
        with self.store.transaction() as tx:
            link = stored.find_link(tx, _sha256(token), at)
            user = self._live(tx, link.user_id) if link is not None else None
            if link is None or user is None:
                return None
            if signed_in is not None and signed_in.id != user.id:
                tx.audit(f"{WEB}:?", "refused", None, "link: opened by another web user")
                return None
            account = stored_accounts.account(tx, user.id)
            if signed_in is None and account is None:
                return Opened("register", link.target, link.case_code)
            if not stored.spend_link(tx, link.token_hash):
                return None
            tx.audit(actor(user), "link", link.case_code, "web link used")
        return Opened("go" if signed_in is not None else "login", link.target, link.case_code,
                      account.login if account else None)

    @shielded
    def peek(self, token: str) -> Opened | None:
        """The link while it can still make a web login (a form shown again after a mistake); never uses it."""
        if not token or len(token) > 100:
            return None
        with self.store.transaction() as tx:
            link = stored.find_link(tx, _sha256(token), self.clock())
            user = self._live(tx, link.user_id) if link is not None else None
            if link is None or user is None or stored_accounts.account(tx, user.id) is not None:
                return None
        return Opened("register", link.target, link.case_code)

    @shielded
    def register(self, token: str, login: str, password: str, lang: str) -> tuple[UserRow, Opened]:
        """A web login for the link's user (the same `users` row: same role, same cases), made with
        the link, which is used by it. BadInput with a text key: links.bad (unknown, used, expired,
        or that user has a login already), accounts.login_invalid, accounts.login_taken,
        accounts.password_weak."""
        name = login.strip().lower()
        if not token or len(token) > 100:
            raise BadInput("links.bad")
        if not LOGIN.fullmatch(name):
            raise BadInput("accounts.login_invalid")
        self.accounts.check_password(name, password)
        digest = self.accounts.hasher.hash(password)   # before the transaction: it takes ~50 ms
        at = self.clock()
        try:
            with self.store.transaction() as tx:
                link = stored.find_link(tx, _sha256(token), at)
                user = self._live(tx, link.user_id) if link is not None else None
                if link is None or user is None or stored_accounts.account(tx, user.id) is not None:
                    raise BadInput("links.bad")
                if stored_accounts.login_taken(tx, name):
                    raise BadInput("accounts.login_taken")
                if not stored.spend_link(tx, link.token_hash):
                    raise BadInput("links.bad")
                stored_accounts.create_account(tx, user.id, name, at, password_hash=digest)
                tx.audit(f"{WEB}:{name}", "link", link.case_code, f"web login made for {actor(user)}")
        except StorageConflict:   # the same name (or a login for this user) made at the same moment
            raise BadInput("accounts.login_taken") from None
        return user, Opened("login", link.target, link.case_code, name)

    @staticmethod
    def _live(tx: Tx, user_id: int) -> UserRow | None:
        """The user with the role stored now (as the web app sees it); None when gone or without one."""
        row = stored_accounts.user_row(tx, user_id)
        return live_user(row, (row.role, row.source)) if row is not None else None


__all__ = ["LINK_TTL", "Links", "Opened", "content_free", "link_texts"]
