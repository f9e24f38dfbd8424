"""Use cases of the people who run lensbot: users and roles of any channel, invitations, the
retention purge, the audit log, and the housekeeping a running bot does on its own.

Who acts is always a user (or None for the operator at the command line); the audit log names
them the same way whatever the channel (`actor`).
"""

from __future__ import annotations

import getpass
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from dialogs.access import ACTIONS_BY_ROLE, INVITE_CODE, Access, actor, confirm, effective_role, is_operator
from dialogs.app.errors import BadInput, shielded
from dialogs.domain import REAL_MODES, ROLES, Action
from storage import accounts, records
from storage.accounts import DATABASE, InviteRow
from storage.models import Invite
from storage.records import AuditRow, Reminder
from storage.repo import Store, UserRow, now

RETENTION_ACTOR = "retention"
JOB_BATCH, JOB_PAUSE = records.JOB_BATCH, records.JOB_PAUSE   # for channels that run the jobs batch by batch
INVITE_DAYS = 7
UPDATE_MEMORY = timedelta(days=7)   # how long a handled update id is remembered (redeliveries)
REMIND_AFTER = timedelta(days=3)
NUMERIC_IDS = {"telegram"}   # channels whose user ids are numbers
# The purge guard: a run waits for an admin (`lensbot purge --confirm`) when the clock moved more
# than PURGE_MAX_GAP since the purge last ran (the daily job's day plus a day), or when it would
# delete more than LENSBOT_PURGE_MAX_SHARE of all cases and more than PURGE_FREE_CASES of them.
PURGE_MAX_GAP = timedelta(days=2)
PURGE_FREE_CASES = 20

log = logging.getLogger("lensbot.purge")

By = UserRow | str | None   # who acts: a chat user, an explicit actor ("console:ann"), or the operator here


@dataclass(frozen=True)
class UserListing:
    """One line of `lensbot users list`."""

    external_id: str
    role: str | None          # the role they have now; None: none (a former configuration admin)
    lang: str | None          # None: an admin by configuration who has not written yet
    admin_by_config: bool
    stored_role: str | None = None   # the role given in the database, if any


@dataclass(frozen=True)
class InviteListing:
    """One line of `lensbot invite list` or /uitnodigingen."""

    code: str
    role: str
    issuer: str
    created_at: datetime
    expires_at: datetime
    status: str     # open, used, revoked, expired, orphaned (its maker is no longer admin)


@dataclass(frozen=True)
class Purged:
    codes: list[str]
    days: int
    dry_run: bool
    refused: tuple[str, ...] = ()   # why the purge waits for `--confirm`; nothing was deleted then


@dataclass(frozen=True)
class PurgeCheck:
    """Whether the retention purge may run now without an admin's confirmation, and why not."""

    plan: records.PurgePlan
    reasons: tuple[str, ...]

    @property
    def allowed(self) -> bool:
        return not self.reasons


def console_actor(login: str | None = None) -> str:
    """The audit name of whoever runs lensbot on the server: console:<their OS login>."""
    return f"console:{login or getpass.getuser()}"


def actor_of(user: By) -> str:
    """The audit log's name for who acted: channel and external id, or the operator at the console."""
    if isinstance(user, str):
        return user
    return console_actor() if user is None else actor(user)


def _chat_user(by: By) -> UserRow | None:
    """The chat user whose role must be confirmed in the transaction; None for the operator."""
    return by if isinstance(by, UserRow) and not is_operator(by) else None


def check_role(role: str) -> str:
    if role not in ROLES:
        raise BadInput(f"unknown role '{role}' (use one of: {', '.join(ROLES)})")
    return role


class Admin:
    """`clock` is what the retention purge takes for now (Settings.clock_offset_days shifts it in drills)."""

    def __init__(self, store: Store, admin_ids: frozenset[str], retention_days: int, purge_max_share: float = 0.2,
                 clock: Callable[[], datetime] = now, forget_sessions: Callable[[], int] | None = None) -> None:
        self.store, self.admin_ids, self.retention_days = store, admin_ids, retention_days
        self.purge_max_share, self.clock = purge_max_share, clock
        self.forget_sessions = forget_sessions   # web sessions and failed sign-ins past use (accounts.py)

    # -- users of any channel ------------------------------------------------------------------
    @shielded
    def list_users(self, channel: str) -> list[UserListing]:
        """Known users of `channel`, plus (on the admins' channel) configured admins not seen yet."""
        admins = self.admin_ids if channel == "telegram" else frozenset()
        rows = accounts.list_users(self.store, channel)
        listed = []
        for u in rows:
            stored = u.role if u.source == DATABASE else None
            now_role = effective_role(u.role, u.source, u.external_id in admins)
            listed.append(UserListing(u.external_id, now_role, u.lang, u.external_id in admins, stored))
        seen = {u.external_id for u in rows}
        return listed + [UserListing(a, "admin", None, True) for a in sorted(admins - seen)]

    @shielded
    def add_user(self, channel: str, external_id: str, role: str, by: By = None) -> UserRow:
        """Give a user of `channel` a role in the database (created when new); a role that may not
        invite revokes the invitations they made."""
        external_id = str(external_id).strip()
        if not external_id or (channel in NUMERIC_IDS and not external_id.isdigit()):
            raise BadInput(f"'{external_id}' is not a {channel} user id")
        revoke = Action.INVITE not in ACTIONS_BY_ROLE.get(check_role(role), set())
        return accounts.set_role(self.store, channel, external_id, role, actor=actor_of(by), revoke_invites=revoke)

    @shielded
    def remove_user(self, channel: str, external_id: str, by: By = None) -> bool:
        """Remove a user with all of their cases; their open invitations are revoked."""
        return accounts.remove_user(self.store, channel, str(external_id), actor=actor_of(by))

    # -- invitations ---------------------------------------------------------------------------
    @shielded
    def invite(self, role: str, by: By = None, days: int = INVITE_DAYS) -> Invite:
        """A single-use code that gives its redeemer `role`; a chat user must be admin as stored now."""
        if days < 1:
            raise BadInput(f"--days must be 1 or more, not {days}")
        chat_user = _chat_user(by)
        check = (lambda tx: confirm(tx, chat_user, Action.INVITE)) if chat_user else None
        return accounts.create_invite(self.store, check_role(role), chat_user.id if chat_user else None,
                                      timedelta(days=days), actor=actor_of(by), check=check)

    def invite_words(self, words: list[str], by: UserRow) -> Invite | None:
        """An invitation from a chat command's words ([role], default professional); None when unusable."""
        role = words[0].lower() if words else "professional"
        if len(words) > 1 or role not in ROLES:
            return None
        return self.invite(role, by)

    @shielded
    def invites(self, by: By = None, everything: bool = False) -> list[InviteListing]:
        """Open invitations (with `everything`: used, revoked and expired ones too), newest first;
        the listing is audited in its transaction."""
        chat_user, at = _chat_user(by), now()
        with self.store.transaction() as tx:
            if chat_user:
                confirm(tx, chat_user, Action.INVITE)
            rows = accounts.list_invites(tx, open_only=not everything)
            tx.audit(actor_of(by), "invite", None, f"listed ({len(rows)})")
        return [InviteListing(r.code, r.role, r.issuer or "console", r.created_at, r.expires_at,
                              self._status(r, at)) for r in rows]

    def _status(self, invite: InviteRow, at: datetime) -> str:
        if invite.revoked_at is not None:
            return "revoked"
        if invite.used_at is not None:
            return "used"
        if invite.expires_at < at:
            return "expired"
        return "open" if self._access().issuer_may(invite) else "orphaned"

    @shielded
    def revoke_invite(self, code: str, by: By = None) -> bool:
        """Revoke an open invitation (audited with the change); False when there is no open one."""
        chat_user = _chat_user(by)
        code = code.strip()
        if not INVITE_CODE.fullmatch(code):
            return False
        with self.store.transaction() as tx:
            if chat_user:
                confirm(tx, chat_user, Action.INVITE)
            return accounts.revoke_invite(tx, code, actor_of(by)) is not None

    def _access(self) -> Access:
        return Access(self.store, "telegram", self.admin_ids)   # LENSBOT_ADMIN_IDS names Telegram users

    # -- retention, audit, housekeeping ----------------------------------------------------------
    @shielded
    def purge(self, dry_run: bool = False, confirm: bool = False) -> Purged:
        """Delete cases inactive for LENSBOT_RETENTION_DAYS; the local picture's counts stay.

        Refused (nothing deleted, `refused` says why) after a clock jump or when it would delete
        too large a share of all cases (purge_check), unless an admin confirms."""
        check = self.purge_check(confirmed=confirm)
        if dry_run:
            codes = records.purge(self.store, self.retention_days, dry_run=True, at=check.plan.at)
            return Purged(codes, self.retention_days, True, check.reasons)
        if not check.allowed and not confirm:
            return Purged([], self.retention_days, False, check.reasons)
        codes = records.purge(self.store, self.retention_days, at=check.plan.at)
        records.mark_purged(self.store, check.plan.at)
        return Purged(codes, self.retention_days, False)

    @shielded
    def purge_check(self, confirmed: bool = False) -> PurgeCheck:
        """Whether the purge may run now; a refusal is logged at WARNING (counts only, never a case code)."""
        plan = records.purge_plan(self.store, self.retention_days, self.clock())
        reasons: list[str] = []
        if plan.last_run is not None and plan.at - plan.last_run > PURGE_MAX_GAP:
            days = (plan.at - plan.last_run).total_seconds() / 86400
            reasons.append(f"the clock moved {days:.1f} days forward since the purge last ran "
                           f"(at most {PURGE_MAX_GAP.days} expected)")
        if plan.due > max(PURGE_FREE_CASES, int(self.purge_max_share * plan.total)):
            reasons.append(f"it would delete {plan.due} of {plan.total} cases "
                           f"(more than LENSBOT_PURGE_MAX_SHARE={self.purge_max_share:g})")
        if reasons and confirmed:
            log.warning("retention purge confirmed by an admin although %s", "; and ".join(reasons))
        elif reasons:
            log.warning("RETENTION PURGE REFUSED, nothing deleted: %s. Check the server clock; if the purge is "
                        "right, run `lensbot purge --confirm`", "; and ".join(reasons))
        return PurgeCheck(plan, tuple(reasons))

    def purge_finished(self, check: PurgeCheck) -> None:
        """The batches of an allowed purge are done: remember the run, and checkpoint SQLite's WAL."""
        records.mark_purged(self.store, check.plan.at)
        self.store.checkpoint()

    @shielded
    def audit(self, since: str | None = None) -> list[AuditRow]:
        """The audit log from `since` (YYYY-MM-DD) on."""
        start = None
        if since:
            try:
                start = datetime.fromisoformat(since).replace(tzinfo=UTC)
            except ValueError:
                raise BadInput(f"'{since}' is not a date (YYYY-MM-DD)") from None
        return records.read_audit(self.store, start)

    def purge_batch(self, at: datetime | None = None) -> list[str]:
        """One batch of the retention purge (at most JOB_BATCH cases, one short transaction).

        A channel whose one database thread also serves every chat (Telegram on SQLite) runs the
        purge batch by batch through that thread, so the chats' own work is queued in between:
        purge_check first (nothing when refused), then batches at its `plan.at`, then purge_finished.
        """
        return records.purge_batch(self.store, self.retention_days, at=at or self.clock())

    def due_reminders(self, channel: str, idle: timedelta = REMIND_AFTER) -> list[Reminder]:
        """Open real cases left for `idle` whose owner wants a reminder; each is marked reminded."""
        return records.due_reminders(self.store, channel, idle, REAL_MODES)

    def remind_batch(self, channel: str, idle: timedelta = REMIND_AFTER) -> list[Reminder]:
        """One batch of due_reminders (at most JOB_BATCH cases), marked reminded in its transaction."""
        return records.remind_batch(self.store, channel, idle, REAL_MODES)

    def forget_updates(self) -> int:
        """Forget handled update ids past UPDATE_MEMORY and, in the same run, web sessions and failed
        sign-ins that can no longer be used (in batches); how many update ids went."""
        count = self.store.forget_updates(now() - UPDATE_MEMORY)
        if self.forget_sessions is not None:
            self.forget_sessions()
        return count

