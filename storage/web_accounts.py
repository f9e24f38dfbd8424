"""Web accounts, their sessions and failed sign-ins, stored (tables of migration 0009).

Statements only: what a password must look like, when a session has expired and how long a
throttled sign-in waits are dialogs' business (dialogs/app/accounts.py), which runs these inside
its own transactions (`Store.transaction()`) and audits there. Secrets are stored as hashes only:
the Argon2id password hash, sha256 of a recovery code and of a session token, a keyed hash of a
login name or address that failed. Every row of a user goes with them (ON DELETE CASCADE), so
`storage.accounts.remove_user` erases the account, its codes and sessions too.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, func, insert, or_, select, update

from storage.models import Invite, LoginFailure, RecoveryCode, User, WebAccount, WebSession
from storage.repo import Store, Tx, UserRow, aware

_ACCOUNT_COLUMNS = (WebAccount.user_id, WebAccount.login, WebAccount.password_hash, WebAccount.totp_secret,
                    WebAccount.totp_confirmed, WebAccount.totp_last_step, WebAccount.sso_issuer,
                    WebAccount.sso_subject)
_USER_COLUMNS = (User.id, User.channel, User.external_id, User.role, User.lang, User.role_source)
_SESSION_COLUMNS = (WebSession.token_hash, WebSession.user_id, WebSession.stage, WebSession.csrf, WebSession.lang,
                    WebSession.created_at, WebSession.last_seen, WebSession.return_to, WebSession.pending)


@dataclass(frozen=True)
class AccountRow:
    user_id: int
    login: str
    password_hash: str | None
    totp_secret: str | None
    totp_confirmed: bool
    totp_last_step: int | None
    sso_issuer: str | None
    sso_subject: str | None


@dataclass(frozen=True)
class SessionRow:
    token_hash: str
    user_id: int | None
    stage: str
    csrf: str
    lang: str
    created_at: datetime
    last_seen: datetime
    return_to: str | None
    pending: str | None


# -- users and invitations ----------------------------------------------------------------------
def count_users(tx: Tx, channel: str) -> int:
    """Users of a channel: none on the web means its first admin needs a setup code."""
    return int(tx.conn.execute(select(func.count()).select_from(User).where(User.channel == channel)).scalar_one())


def revoke_open_invites(tx: Tx, issuer: str, actor: str, at: datetime) -> int:
    """Revoke every open invitation `issuer` made (earlier setup codes)."""
    return int(tx.conn.execute(update(Invite).where(
        Invite.issuer == issuer, Invite.used_at.is_(None), Invite.revoked_at.is_(None), Invite.expires_at >= at,
    ).values(revoked_at=at, revoked_by=actor[:80])).rowcount)


def user_row(tx: Tx, user_id: int) -> UserRow | None:
    """The user as stored now (role and its source)."""
    row = tx.conn.execute(select(*_USER_COLUMNS).where(User.id == user_id)).first()
    return UserRow(*row) if row is not None else None


def set_lang(tx: Tx, user_id: int, lang: str) -> None:
    tx.conn.execute(update(User).where(User.id == user_id).values(lang=lang))


# -- accounts -----------------------------------------------------------------------------------
def account(tx: Tx, user_id: int) -> AccountRow | None:
    row = tx.conn.execute(select(*_ACCOUNT_COLUMNS).where(WebAccount.user_id == user_id)).first()
    return AccountRow(*row) if row is not None else None


def account_by_login(tx: Tx, login: str) -> tuple[AccountRow, UserRow] | None:
    """The account with this login name and its user, or None."""
    row = tx.conn.execute(select(*_ACCOUNT_COLUMNS, *_USER_COLUMNS).join(User, User.id == WebAccount.user_id)
                          .where(WebAccount.login == login)).first()
    if row is None:
        return None
    values = tuple(row)
    return AccountRow(*values[:8]), UserRow(*values[8:])


def account_by_reset(tx: Tx, reset_hash: str, at: datetime) -> tuple[AccountRow, UserRow, datetime] | None:
    """The account a reset code was made for, while the code holds (`lensbot users reset-login`)."""
    row = tx.conn.execute(select(*_ACCOUNT_COLUMNS, *_USER_COLUMNS, WebAccount.reset_expires)
                          .join(User, User.id == WebAccount.user_id)
                          .where(WebAccount.reset_hash == reset_hash)).first()
    if row is None or row.reset_expires is None or aware(row.reset_expires) < at:
        return None
    values = tuple(row)
    return AccountRow(*values[:8]), UserRow(*values[8:14]), aware(values[14])


def account_by_sso(tx: Tx, issuer: str, subject: str) -> tuple[AccountRow, UserRow] | None:
    row = tx.conn.execute(select(*_ACCOUNT_COLUMNS, *_USER_COLUMNS).join(User, User.id == WebAccount.user_id)
                          .where(WebAccount.sso_issuer == issuer, WebAccount.sso_subject == subject)).first()
    if row is None:
        return None
    values = tuple(row)
    return AccountRow(*values[:8]), UserRow(*values[8:])


def login_taken(tx: Tx, login: str, channel: str = "web") -> bool:
    """Whether an account or a user of the web channel has this name already."""
    if tx.conn.execute(select(WebAccount.user_id).where(WebAccount.login == login)).first() is not None:
        return True
    return tx.conn.execute(select(User.id).where(User.channel == channel, User.external_id == login)).first() \
        is not None


def create_account(tx: Tx, user_id: int, login: str, at: datetime, password_hash: str | None = None,
                   sso_issuer: str | None = None, sso_subject: str | None = None) -> None:
    tx.conn.execute(insert(WebAccount).values(user_id=user_id, login=login, password_hash=password_hash,
                                              totp_confirmed=False, sso_issuer=sso_issuer,
                                              sso_subject=sso_subject, created_at=at))


def update_account(tx: Tx, user_id: int, **values: Any) -> int:
    """Change columns of an account (password_hash, totp_secret, totp_confirmed, totp_last_step)."""
    return int(tx.conn.execute(update(WebAccount).where(WebAccount.user_id == user_id).values(**values)).rowcount)


def claim_totp_step(tx: Tx, user_id: int, step: int) -> bool:
    """Take a TOTP time step as used: False when it (or a later one) was used already.

    One conditional UPDATE, so two instances given the same code at once accept it once."""
    return bool(tx.conn.execute(update(WebAccount).where(
        WebAccount.user_id == user_id, or_(WebAccount.totp_last_step.is_(None), WebAccount.totp_last_step < step),
    ).values(totp_last_step=step)).rowcount)


def replace_recovery_codes(tx: Tx, user_id: int, hashes: list[str]) -> None:
    tx.conn.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user_id))
    if hashes:
        tx.conn.execute(insert(RecoveryCode), [{"user_id": user_id, "code_hash": h} for h in hashes])


def spend_recovery_code(tx: Tx, user_id: int, code_hash: str) -> bool:
    """Delete the code if it is one of the user's unused ones: True once, then never again."""
    return bool(tx.conn.execute(delete(RecoveryCode).where(
        RecoveryCode.user_id == user_id, RecoveryCode.code_hash == code_hash)).rowcount)


def recovery_codes_left(tx: Tx, user_id: int) -> int:
    return int(tx.conn.execute(select(func.count()).select_from(RecoveryCode)
                               .where(RecoveryCode.user_id == user_id)).scalar_one())


# -- failed sign-ins ----------------------------------------------------------------------------
def add_failure(tx: Tx, keys: list[str], at: datetime) -> None:
    tx.conn.execute(insert(LoginFailure), [{"key": k, "at": at} for k in keys])


def failures(tx: Tx, key: str, since: datetime) -> tuple[int, datetime | None]:
    """How many failures `key` had since `since`, and the latest one."""
    count, latest = tx.conn.execute(select(func.count(), func.max(LoginFailure.at))
                                    .where(LoginFailure.key == key, LoginFailure.at >= since)).one()
    return int(count), aware(latest) if latest is not None else None


def clear_failures(tx: Tx, key: str) -> None:
    tx.conn.execute(delete(LoginFailure).where(LoginFailure.key == key))


# -- sessions -----------------------------------------------------------------------------------
def insert_session(tx: Tx, token_hash: str, user_id: int | None, stage: str, csrf: str, lang: str, at: datetime,
                   return_to: str | None = None, pending: str | None = None) -> None:
    tx.conn.execute(insert(WebSession).values(token_hash=token_hash, user_id=user_id, stage=stage, csrf=csrf,
                                              lang=lang, created_at=at, last_seen=at, return_to=return_to,
                                              pending=pending))


def load_session(tx: Tx, token_hash: str) -> SessionRow | None:
    row = tx.conn.execute(select(*_SESSION_COLUMNS).where(WebSession.token_hash == token_hash)).first()
    if row is None:
        return None
    values = list(row)
    values[5], values[6] = aware(values[5]), aware(values[6])
    return SessionRow(*values)


def update_session(tx: Tx, token_hash: str, **values: Any) -> int:
    return int(tx.conn.execute(update(WebSession).where(WebSession.token_hash == token_hash)
                               .values(**values)).rowcount)


def delete_session(tx: Tx, token_hash: str) -> int:
    return int(tx.conn.execute(delete(WebSession).where(WebSession.token_hash == token_hash)).rowcount)


def delete_user_sessions(tx: Tx, user_id: int) -> int:
    return int(tx.conn.execute(delete(WebSession).where(WebSession.user_id == user_id)).rowcount)


def forget_stale(store: Store, seen_before: datetime, created_before: datetime, failed_before: datetime,
                 batch: int = 500) -> int:
    """Delete one batch of sessions unseen since `seen_before` or made before `created_before`, and of
    failed sign-ins older than `failed_before`; how many rows went (call again while it is `batch`)."""
    with store.transaction() as tx:
        stale = tx.conn.execute(select(WebSession.token_hash).where(
            or_(WebSession.last_seen < seen_before, WebSession.created_at < created_before)).limit(batch)
        ).scalars().all()
        if stale:
            tx.conn.execute(delete(WebSession).where(WebSession.token_hash.in_(stale)))
        old = tx.conn.execute(select(LoginFailure.id).where(and_(LoginFailure.at < failed_before))
                              .limit(batch)).scalars().all()
        if old:
            tx.conn.execute(delete(LoginFailure).where(LoginFailure.id.in_(old)))
    return max(len(stale), len(old))
