"""Users, roles and single-use invites: who may use lensbot, stored.

Every change is audited in its own transaction: the audit row and the change commit together
or not at all. Which roles exist, who counts as admin and when an invitation may be redeemed are
dialogs' business (dialogs/access.py): it hands its checks in as functions that run inside the
transaction (`check`, `decide`), so they see the database as the change does.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, delete, insert, select, update
from sqlalchemy.orm import aliased

from storage.models import Invite, User
from storage.repo import Store, Tx, UserRow, aware, now

INVITE_TTL = timedelta(days=7)
DATABASE, CONFIGURATION = "database", "configuration"   # users.role_source


@dataclass(frozen=True)
class InviteRow:
    """One invitation as stored, with what is known now about who made it."""

    code: str
    role: str
    issuer: str | None                 # the audit actor who made it ("telegram:1001", "console:ann")
    created_by: int | None             # the issuing user's id, None for the console or a removed issuer
    issuer_role: str | None            # that user's stored role and its source, now
    issuer_source: str | None
    issuer_external_id: str | None
    created_at: datetime
    expires_at: datetime
    used_at: datetime | None
    revoked_at: datetime | None

    def is_open(self, at: datetime) -> bool:
        return self.used_at is None and self.revoked_at is None and self.expires_at >= at


@dataclass(frozen=True)
class Redemption:
    """What redeeming a code did: "ok" (the role is given), "bad" (no such open invitation) or the
    reason `decide` gave for not giving it (the invitation then stays open)."""

    outcome: str
    invite: InviteRow | None = None
    user: UserRow | None = None


def list_users(store: Store, channel: str) -> list[UserRow]:
    with store.reading() as conn:
        rows = conn.execute(
            select(User.id, User.channel, User.external_id, User.role, User.lang, User.role_source)
            .where(User.channel == channel).order_by(User.id)
        ).all()
    return [UserRow(r.id, r.channel, r.external_id, r.role, r.lang, r.role_source) for r in rows]


def _revoke_issued(tx: Tx, user_id: int, actor: str, why: str) -> int:
    """Revoke the open invitations a user made (audited when there were any)."""
    at = now()
    count = tx.conn.execute(update(Invite).where(
        Invite.created_by == user_id, Invite.used_at.is_(None), Invite.revoked_at.is_(None), Invite.expires_at >= at,
    ).values(revoked_at=at, revoked_by=actor)).rowcount
    if count:
        tx.audit(actor, "invite", None, f"revoked {count} ({why})")
    return count


def set_role(store: Store, channel: str, external_id: str, role: str, actor: str = "console",
             revoke_invites: bool = False) -> UserRow:
    """Create the user or change their role (audited), a role given in the database.

    With `revoke_invites` (dialogs: the new role may not invite) the user's open invitations are
    revoked in the same transaction."""
    with store.transaction() as tx:
        row = tx.conn.execute(select(User.id, User.role, User.role_source).where(
            User.channel == channel, User.external_id == str(external_id))).first()
        if row is None:
            tx.conn.execute(insert(User).values(channel=channel, external_id=str(external_id), role=role,
                                                role_source=DATABASE, lang="nl", created_at=now()))
        elif row.role != role or row.role_source != DATABASE:
            tx.conn.execute(update(User).where(User.id == row.id).values(role=role, role_source=DATABASE))
        if row is None or row.role != role or row.role_source != DATABASE:
            tx.audit(actor, "role", None, f"{channel}:{external_id} = {role}")
        if row is not None and revoke_invites:
            _revoke_issued(tx, row.id, actor, f"{channel}:{external_id} is {role}")
    result = store.user(channel, external_id)   # read afresh: also refreshes the user cache
    assert result is not None
    return result


def remove_user(store: Store, channel: str, external_id: str, actor: str = "console") -> bool:
    """Remove a user and, through the foreign keys, all of their cases (audited); their open
    invitations are revoked in the same transaction."""
    with store.transaction() as tx:
        tx.forget_user_cases(channel, external_id, store.audit_key(tx))   # erasure: codes leave the audit log
        row = tx.conn.execute(select(User.id).where(
            User.channel == channel, User.external_id == str(external_id))).first()
        if row is not None:
            _revoke_issued(tx, row.id, actor, f"{channel}:{external_id} removed")
            tx.conn.execute(delete(User).where(User.id == row.id))
            tx.audit(actor, "role", None, f"{channel}:{external_id} removed")
    store.forget_user(channel, external_id)
    store.checkpoint()
    return row is not None


def _invite_code() -> str:
    """16 URL-safe characters (96 bits), fit for a /start deep-link parameter, never starting with
    "-": a code that did would read as an option to `lensbot invite revoke CODE` (and in shells)."""
    while True:
        code = secrets.token_urlsafe(12)
        if not code.startswith("-"):
            return code


new_invite_code = _invite_code   # also the shape of a reset code (storage/web_accounts.py)


def create_invite(store: Store, role: str, created_by: int | None = None, ttl: timedelta = INVITE_TTL,
                  actor: str = "console", check: Callable[[Tx], object] | None = None) -> Invite:
    """A new single-use code; `check(tx)` runs first in the same transaction (may they still invite?)."""
    code = _invite_code()
    at = now()
    with store.transaction() as tx:
        if check is not None:
            check(tx)
        tx.conn.execute(insert(Invite).values(code=code, role=role, created_by=created_by, created_at=at,
                                              expires_at=at + ttl, issuer=actor[:80]))
        tx.audit(actor, "invite", None, f"created for role {role}")
    return Invite(code=code, role=role, created_by=created_by, created_at=at, expires_at=at + ttl, issuer=actor)


_ISSUER = aliased(User)
_INVITES = (select(Invite.code, Invite.role, Invite.issuer, Invite.created_by, _ISSUER.role, _ISSUER.role_source,
                   _ISSUER.external_id, Invite.created_at, Invite.expires_at, Invite.used_at, Invite.revoked_at)
            .outerjoin(_ISSUER, _ISSUER.id == Invite.created_by))


def _invite_row(r: tuple) -> InviteRow:   # type: ignore[type-arg]
    (code, role, issuer, created_by, issuer_role, issuer_source, issuer_ext, created_at, expires_at, used_at,
     revoked_at) = r
    return InviteRow(code, role, issuer, created_by, issuer_role, issuer_source, issuer_ext, aware(created_at),
                     aware(expires_at), aware(used_at) if used_at else None,
                     aware(revoked_at) if revoked_at else None)


def list_invites(tx: Tx, open_only: bool = True) -> list[InviteRow]:
    """Invitations, newest first; only those still open (unused, not revoked, not expired) by default."""
    stmt = _INVITES.order_by(Invite.created_at.desc())
    if open_only:
        stmt = stmt.where(and_(Invite.used_at.is_(None), Invite.revoked_at.is_(None), Invite.expires_at >= now()))
    return [_invite_row(tuple(r)) for r in tx.conn.execute(stmt).all()]


def find_invite(tx: Tx, code: str) -> InviteRow | None:
    """One invitation as stored, whatever its state; None when there is no such code."""
    row = tx.conn.execute(_INVITES.where(Invite.code == code)).first()
    return _invite_row(tuple(row)) if row is not None else None


def revoke_invite(tx: Tx, code: str, actor: str) -> InviteRow | None:
    """Revoke an open invitation (audited in this transaction); None when there is no open one."""
    row = tx.conn.execute(_INVITES.where(Invite.code == code)).first()
    if row is None:
        return None
    invite = _invite_row(tuple(row))
    at = now()
    if not invite.is_open(at):
        return None
    tx.conn.execute(update(Invite).where(Invite.code == code, Invite.used_at.is_(None),
                                         Invite.revoked_at.is_(None)).values(revoked_at=at, revoked_by=actor[:80]))
    tx.audit(actor, "invite", None, f"revoked, role {invite.role}")
    return invite


def redeemed_by(store: Store, code: str, channel: str, external_id: str) -> bool:
    """Whether this user of `channel` is who used the invitation `code` (reopening one's own link)."""
    with store.reading() as conn:
        row = conn.execute(select(Invite.used_at).join(User, User.id == Invite.used_by)
                           .where(Invite.code == code, User.channel == channel,
                                  User.external_id == external_id)).first()
    return row is not None and row.used_at is not None


def redeem_invite(store: Store, code: str, channel: str, external_id: str,
                  decide: Callable[[Tx, InviteRow, UserRow | None], str | None] | None = None,
                  then: Callable[[Tx, int, bool], object] | None = None) -> Redemption:
    """Give the user the invite's role if the code exists, is open and `decide` finds nothing against it.

    `decide(tx, invite, user)` runs in the transaction that claims the code and returns a reason
    to refuse (the invitation stays open) or None. The role is a role given in the database.
    `then(tx, user_id, created)` runs last in the same transaction (a web account is made with its
    user, or neither); raising there leaves the invitation open and nothing written."""
    at = now()
    with store.transaction() as tx:
        row = tx.conn.execute(_INVITES.where(Invite.code == code)).first()
        invite = _invite_row(tuple(row)) if row is not None else None
        if invite is None or not invite.is_open(at):
            return Redemption("bad")
        existing = tx.conn.execute(select(User.id, User.channel, User.external_id, User.role, User.lang,
                                          User.role_source).where(
            User.channel == channel, User.external_id == str(external_id))).first()
        current = UserRow(*existing) if existing is not None else None
        reason = decide(tx, invite, current) if decide is not None else None
        if reason is not None:
            return Redemption(reason, invite, current)
        claimed = tx.conn.execute(
            update(Invite).where(Invite.code == code, Invite.used_at.is_(None), Invite.revoked_at.is_(None))
            .values(used_at=at)
        ).rowcount
        if not claimed:  # redeemed by someone else a moment ago
            return Redemption("bad")
        if current is None:
            user_id = tx.conn.execute(insert(User).values(
                channel=channel, external_id=str(external_id), role=invite.role, role_source=DATABASE, lang="nl",
                created_at=at)).inserted_primary_key[0]
        else:
            user_id = current.id
            tx.conn.execute(update(User).where(User.id == user_id).values(role=invite.role, role_source=DATABASE))
        tx.conn.execute(update(Invite).where(Invite.code == code).values(used_by=user_id))
        tx.audit(f"{channel}:{external_id}", "invite", None, f"redeemed, role {invite.role}")
        if then is not None:
            then(tx, user_id, current is None)
    return Redemption("ok", invite, store.user(channel, external_id))
