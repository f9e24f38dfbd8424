"""Users, roles and single-use invites: who may use lensbot, stored.

Every change is audited in its own transaction: the audit row and the change commit together
or not at all.
"""

from __future__ import annotations

import secrets
from datetime import timedelta

from sqlalchemy import delete, insert, select, update

from storage.models import Invite, User
from storage.repo import Store, UserRow, aware, now

INVITE_TTL = timedelta(days=7)


def list_users(store: Store, channel: str) -> list[UserRow]:
    with store.reading() as conn:
        rows = conn.execute(
            select(User.id, User.channel, User.external_id, User.role, User.lang)
            .where(User.channel == channel).order_by(User.id)
        ).all()
    return [UserRow(r.id, r.channel, r.external_id, r.role, r.lang) for r in rows]


def set_role(store: Store, channel: str, external_id: str, role: str, actor: str = "console") -> UserRow:
    """Create the user or change their role (audited). Which roles exist is dialogs' business."""
    with store.transaction() as tx:
        row = tx.conn.execute(select(User.id, User.role).where(
            User.channel == channel, User.external_id == str(external_id))).first()
        if row is None:
            tx.conn.execute(insert(User).values(
                channel=channel, external_id=str(external_id), role=role, lang="nl", created_at=now()))
        elif row.role != role:
            tx.conn.execute(update(User).where(User.id == row.id).values(role=role))
        if row is None or row.role != role:
            tx.audit(actor, "role", None, f"{channel}:{external_id} = {role}")
    result = store.user(channel, external_id)   # read afresh: also refreshes the user cache
    assert result is not None
    return result


def remove_user(store: Store, channel: str, external_id: str, actor: str = "console") -> bool:
    """Remove a user and, through the foreign keys, all of their cases (audited)."""
    with store.transaction() as tx:
        tx.forget_user_cases(channel, external_id, store.audit_key(tx))   # erasure: codes leave the audit log
        removed = bool(tx.conn.execute(
            delete(User).where(User.channel == channel, User.external_id == str(external_id))).rowcount)
        if removed:
            tx.audit(actor, "role", None, f"{channel}:{external_id} removed")
    store.checkpoint()
    return removed


def create_invite(store: Store, role: str, created_by: int | None = None, ttl: timedelta = INVITE_TTL,
                  actor: str = "console") -> Invite:
    code = secrets.token_urlsafe(12)  # 16 characters, fits a /start deep-link parameter
    at = now()
    with store.transaction() as tx:
        tx.conn.execute(insert(Invite).values(code=code, role=role, created_by=created_by, created_at=at,
                                              expires_at=at + ttl))
        tx.audit(actor, "invite", None, f"created for role {role}")
    return Invite(code=code, role=role, created_by=created_by, created_at=at, expires_at=at + ttl)


def redeem_invite(store: Store, code: str, channel: str, external_id: str) -> UserRow | None:
    """Give the user the invite's role if the code exists, is unused and not expired."""
    at = now()
    with store.transaction() as tx:
        row = tx.conn.execute(
            select(Invite.role, Invite.expires_at, Invite.used_at).where(Invite.code == code)
        ).first()
        if row is None or row.used_at is not None or aware(row.expires_at) < at:
            return None
        claimed = tx.conn.execute(
            update(Invite).where(Invite.code == code, Invite.used_at.is_(None)).values(used_at=at)
        ).rowcount
        if not claimed:  # redeemed by someone else a moment ago
            return None
        existing = tx.conn.execute(
            select(User.id).where(User.channel == channel, User.external_id == str(external_id))).first()
        if existing is None:
            user_id = tx.conn.execute(insert(User).values(
                channel=channel, external_id=str(external_id), role=row.role, lang="nl", created_at=at)
            ).inserted_primary_key[0]
        else:
            user_id = existing.id
            tx.conn.execute(update(User).where(User.id == user_id).values(role=row.role))
        tx.conn.execute(update(Invite).where(Invite.code == code).values(used_by=user_id))
        tx.audit(f"{channel}:{external_id}", "invite", None, f"redeemed, role {row.role}")
    return store.user(channel, external_id)

