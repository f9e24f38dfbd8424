"""Who may do what: roles, admins from configuration, invitations, and taking access away.

A channel asks this module and never decides access itself.

- Roles come from two places, kept apart: the database (`lensbot users add`, an invitation) and
  the configuration (`LENSBOT_ADMIN_IDS`, read at every start by dialogs/app/settings.py). An id in
  the setting is admin while it is there; removed from it, the person has the role the database
  gave them, or none (users.role_source, storage/accounts.py).
- Rights are taken away at the next action: every privileged use case confirms the user's role
  as it is stored now inside its own transaction (`confirm`, `live_user`), whatever a cache or
  another instance last saw. A refusal is audited (`Access.refused`).
- An invitation is refused when whoever made it is no longer admin, and redeeming one for a
  lower role than one has asks first and never takes away an open case (`Access.redeem`).
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

from dialogs.domain import REAL_MODES, TRAINING_MODES, Action, Role
from storage import accounts
from storage.accounts import CONFIGURATION, InviteRow
from storage.repo import Store, Tx, UserRow

ACTIONS_BY_ROLE: dict[str, set[str]] = {
    Role.ADMIN: {Action.USE, Action.INTAKE, Action.CASES, Action.INVITE, Action.TRAINING},
    Role.PROFESSIONAL: {Action.USE, Action.INTAKE, Action.CASES, Action.TRAINING},
    Role.TRAINEE: {Action.USE, Action.TRAINING},   # trainees practise on vignettes and never hold real cases
    # a colleague who opened a share link: their own settings, and the requests they claimed, nothing else
    Role.CONTRIBUTOR: {Action.USE, Action.CONTRIBUTE},
    # a trainer practises too, invites trainees and follows their practice cases; no real cases
    Role.TRAINER: {Action.USE, Action.TRAINING, Action.TRAINEES},
}
for _role in (Role.ADMIN, Role.PROFESSIONAL):   # a professional may answer a request they claimed; a
    ACTIONS_BY_ROLE[_role].add(Action.CONTRIBUTE)  # trainee never touches a real case, not even by a link
ACTIONS = frozenset(Action)
RANK = {Role.TRAINEE: 0, Role.TRAINER: 1, Role.PROFESSIONAL: 2, Role.ADMIN: 3}
INVITE_CODE = re.compile(r"[A-Za-z0-9_-]{8,32}")   # secrets.token_urlsafe: what an invitation code looks like
REFUSAL_MEMORY = 60.0   # seconds: one audit row per person and refused thing, not one per message of a flood
_REFUSALS_MAX = 10_000


class NotAllowed(PermissionError):
    """The user may not do this (any more): their role does not allow it, as stored now."""

    def __init__(self, action: str, user: UserRow | None = None) -> None:
        super().__init__(f"not allowed: {action}")
        self.action, self.user = action, user


def effective_role(role: str | None, source: str | None, configured: bool) -> str | None:
    """The role someone has: admin while named in LENSBOT_ADMIN_IDS, else the role the database
    gave them; None for a row that exists only because of the configuration."""
    if configured:
        return Role.ADMIN
    if role is None or source == CONFIGURATION:
        return None
    return role


def live_user(user: UserRow, rights: tuple[str, str] | None) -> UserRow | None:
    """`user` with the role their stored (role, source) gives now; None when they have none."""
    if rights is None:
        return None
    # A row that holds a configuration role reaches a use case only through Access, which lets it
    # through only while the id is in LENSBOT_ADMIN_IDS (fixed for the life of the process); code
    # that reads the row itself (tests, tools) gets the same answer.
    role = effective_role(rights[0], rights[1], user.configured or user.source == CONFIGURATION)
    return None if role is None else replace(user, role=role, source=rights[1])


def confirm(tx: Tx, user: UserRow, action: str) -> UserRow:
    """The user as stored now, inside the acting transaction; NotAllowed when `action` is not theirs."""
    live = live_user(user, tx.rights(user.id))
    if not Access.may(live, action):
        raise NotAllowed(action, user)
    assert live is not None
    return live


ADMIN_IDS_CHANNEL = "telegram"   # whose user ids LENSBOT_ADMIN_IDS holds
OPERATOR_CHANNEL = "console"   # whoever runs lensbot on the server: they can open the database anyway


def is_operator(user: UserRow) -> bool:
    """The person at the server's console (`lensbot ...`), whose admin commands need no chat role."""
    return user.channel == OPERATOR_CHANNEL


def actor(user: UserRow) -> str:
    """How the audit log names a user: channel and external id, never a name."""
    return f"{user.channel}:{user.external_id}"


@dataclass(frozen=True)
class Redeemed:
    """What opening an invitation led to.

    outcome: "ok" (the role is given), "bad" (unknown, used, revoked, expired, or its maker is no
    longer admin), "already" (one used this invitation oneself and still has access: `current`),
    "same" (one has this role already; the invitation stays open), "confirm" (the
    invitation gives a lower role: ask first, then redeem again with confirmed=True) or
    "open_cases" (the lower role could not open `open_cases` open cases: finish them first).
    """

    outcome: str
    role: str | None = None          # the invitation's role
    current: str | None = None       # the role one has now
    open_cases: int = 0
    user: UserRow | None = None


_refusals: dict[tuple[str, str, str], float] = {}   # (database, who, what) -> when
_refusals_lock = threading.Lock()


@dataclass
class Access:
    store: Store
    channel: str
    admin_ids: frozenset[str] = frozenset()

    # -- who is this --------------------------------------------------------------------------
    def _effective(self, row: UserRow | None) -> UserRow | None:
        if row is None:
            return None
        configured = row.external_id in self.admin_ids
        role = effective_role(row.role, row.source, configured)
        return None if role is None else replace(row, role=role, configured=configured)

    def user(self, external_id: int | str) -> UserRow | None:
        """The known user read from the database, or None: unknown people get nothing, not even a case.

        An id named in LENSBOT_ADMIN_IDS is admin; a row is made for it on first contact, holding
        no role of its own (role_source "configuration")."""
        ext = str(external_id)
        if ext in self.admin_ids:
            row = self.store.user(self.channel, ext, create_role=Role.ADMIN, create_source=CONFIGURATION)
        else:
            row = self.store.user(self.channel, ext)
        return self._effective(row)

    def cached(self, external_id: int | str) -> UserRow | None:
        """The user from the in-memory cache (see storage.repo.USER_CACHE_TTL), or None when a
        database read is needed. A cached row only lets a request reach its use case, which
        confirms the role as stored now (`confirm`)."""
        return self._effective(self.store.cached_user(self.channel, str(external_id)))

    @staticmethod
    def may(user: UserRow | None, action: str) -> bool:
        return user is not None and action in ACTIONS_BY_ROLE.get(user.role, set())

    @staticmethod
    def case_modes(user: UserRow | None) -> tuple[str, ...]:
        """The kinds of case this user may see and act on."""
        if user is None:
            return ()
        real = REAL_MODES if Access.may(user, Action.CASES) else ()
        return (*real, *TRAINING_MODES) if Access.may(user, Action.TRAINING) else real

    # -- refusals ---------------------------------------------------------------------------------
    def refused(self, external_id: int | str, what: str) -> bool:
        """Audit a refusal (someone without the role for `what`, e.g. "/nieuw"); no content.

        The first refusal per person and thing in REFUSAL_MEMORY seconds is written, so a flood
        of messages from a stranger is one row a minute, not one row a message. True when written."""
        who = f"{self.channel}:{external_id}"
        key, moment = (str(self.store.engine.url), who, what), time.monotonic()
        with _refusals_lock:
            if moment - _refusals.get(key, -REFUSAL_MEMORY - 1) < REFUSAL_MEMORY:
                return False
            if len(_refusals) >= _REFUSALS_MAX:
                _refusals.clear()
            _refusals[key] = moment
        with self.store.transaction() as tx:
            tx.audit(who, "refused", None, what[:120])
        self.store.forget_user(self.channel, str(external_id))   # the next message reads the database
        return True

    # -- invitations ------------------------------------------------------------------------------
    def issuer_is_admin(self, invite: InviteRow) -> bool:
        """Whether whoever made the invitation is admin now (the console operator always is)."""
        if invite.created_by is None:   # made at the command line, or its maker was removed
            return invite.issuer is None or invite.issuer.startswith("console")
        # LENSBOT_ADMIN_IDS names Telegram users, whichever channel the invitation is opened on (web)
        configured = (invite.issuer or "").startswith(f"{ADMIN_IDS_CHANNEL}:") and \
            invite.issuer_external_id in self.admin_ids
        return effective_role(invite.issuer_role, invite.issuer_source, configured) == Role.ADMIN

    def issuer_may(self, invite: InviteRow) -> bool:
        """Whether the invitation's maker may (still) give its role: an admin, or a trainer a trainee's."""
        return self.issuer_is_admin(invite) or self.issuer_trains(invite)

    @staticmethod
    def issuer_trains(invite: InviteRow) -> bool:
        """A trainee invitation made by someone who is a trainer now: it joins the trainer's group."""
        return invite.role == Role.TRAINEE and invite.created_by is not None and \
            effective_role(invite.issuer_role, invite.issuer_source, False) == Role.TRAINER

    def redeem(self, code: str, external_id: int | str, confirmed: bool = False,
               then: Callable[[Tx, int, bool], object] | None = None) -> Redeemed:
        """Open an invitation: give its role, or say why not (see Redeemed). `then(tx, user_id,
        created)` runs in the same transaction once the role is given (a web account is made there)."""
        code, ext = code.strip(), str(external_id)
        if not INVITE_CODE.fullmatch(code):   # no invitation looks like this (NUL, spaces, a case code...)
            self.refused(ext, "/start: not an invitation")
            return Redeemed("bad")
        configured = ext in self.admin_ids
        found: dict[str, object] = {}

        def decide(tx: Tx, invite: InviteRow, current: UserRow | None) -> str | None:
            if not self.issuer_may(invite):
                tx.audit(f"{self.channel}:{ext}", "refused", None, "invite: its maker is no longer admin")
                return "bad"
            now_role = effective_role(current.role, current.source, configured) if current else None
            found["current"] = now_role
            if now_role is None or invite.role not in RANK or now_role not in RANK:
                return None
            if RANK[invite.role] == RANK[now_role]:
                return "same"
            if RANK[invite.role] < RANK[now_role]:
                assert current is not None
                lower = UserRow(current.id, current.channel, current.external_id, invite.role, current.lang)
                lost = tuple(m for m in Access.case_modes(replace(current, role=now_role))
                             if m not in Access.case_modes(lower) and m in REAL_MODES)
                found["open"] = len(tx.list_cases(current.id, "open", lost)) if lost else 0
                if not confirmed:
                    return "confirm"
                if found["open"]:
                    return "open_cases"
            return None

        result = accounts.redeem_invite(self.store, code, self.channel, ext, decide, then)
        if result.outcome == "bad" and result.invite is None:
            mine = accounts.redeemed_by(self.store, code, self.channel, ext)
            live = self.store.user(self.channel, ext) if mine else None
            if live is not None:   # one's own used link, opened again: say one has access (issue 15)
                return Redeemed("already", current=effective_role(live.role, live.source, configured))
            self.refused(ext, "/start: invalid invitation")
        user = self._effective(result.user) if result.outcome == "ok" else None
        current = found.get("current")
        return Redeemed(result.outcome, result.invite.role if result.invite else None,
                        current if isinstance(current, str) else None, int(found.get("open", 0) or 0), user)
