"""Storage of shared cases: share requests, contributions and the answer history.

Every function takes the `Tx` of the use case that acts, so the check, the write and its audit
row are one transaction (dialogs/app/sharing.py). Tokens are never stored, only their sha256;
contributions live in their own table and never touch the owner's `answers`. Erasing a case
(`Tx.erase`, the retention purge) deletes its contributions and history (foreign keys cascade,
and `forget_case` deletes them explicitly as well) and leaves each request as a closed stub
without answers, so whoever claimed it is told that the case is closed.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, insert, or_, select, update

from storage.models import AnswerChange, AnswerLog, AuditEntry, Case, Contribution, Note, ShareRequest, User
from storage.repo import Tx, aware, now

STUB_KEEP = timedelta(days=30)   # a closed request's stub is kept this long after it expired


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class RequestRow:
    id: int
    case_id: int | None
    case_code: str | None
    owner_id: int | None
    areas: tuple[str, ...]
    items: tuple[str, ...]
    purpose: str
    legal_basis: str
    informed: bool
    not_informed_reason: str | None
    show_combined: bool
    created_at: datetime
    expires_at: datetime
    claimed_by: int | None
    claimed_at: datetime | None
    domain: str | None
    finished_at: datetime | None
    revoked_at: datetime | None

    def status(self, at: datetime) -> str:
        """closed (case erased), revoked, expired, finished, claimed or open."""
        if self.case_id is None:
            return "closed"
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at <= at:
            return "expired"
        if self.finished_at is not None:
            return "finished"
        return "claimed" if self.claimed_by is not None else "open"

    def usable(self, at: datetime) -> bool:
        """Whether a contributor may still act on it (answering again after finishing is allowed)."""
        return self.status(at) in ("open", "claimed", "finished")


_COLUMNS = (ShareRequest.id, ShareRequest.case_id, Case.code, ShareRequest.owner_id, ShareRequest.areas,
            ShareRequest.items, ShareRequest.purpose, ShareRequest.legal_basis, ShareRequest.informed,
            ShareRequest.not_informed_reason, ShareRequest.show_combined, ShareRequest.created_at,
            ShareRequest.expires_at, ShareRequest.claimed_by, ShareRequest.claimed_at, ShareRequest.domain,
            ShareRequest.finished_at, ShareRequest.revoked_at)


def _row(r: Any) -> RequestRow:
    def opt(v: datetime | None) -> datetime | None:
        return aware(v) if v is not None else None

    return RequestRow(r[0], r[1], r[2], r[3], tuple(x for x in r[4].split(",") if x),
                      tuple(x for x in r[5].split(",") if x), r[6], r[7], bool(r[8]), r[9], bool(r[10]),
                      aware(r[11]), aware(r[12]), r[13], opt(r[14]), r[15], opt(r[16]), opt(r[17]))


def _select() -> Any:
    return select(*_COLUMNS).select_from(ShareRequest).outerjoin(Case, Case.id == ShareRequest.case_id)


def create_request(tx: Tx, *, case_id: int, owner_id: int, token: str, areas: list[str], items: list[str],
                   purpose: str, legal_basis: str, informed: bool, not_informed_reason: str | None,
                   show_combined: bool, expires_at: datetime) -> int:
    result = tx.conn.execute(insert(ShareRequest).values(
        case_id=case_id, owner_id=owner_id, token_hash=token_hash(token), areas=",".join(areas),
        items=",".join(items), purpose=purpose, legal_basis=legal_basis, informed=informed,
        not_informed_reason=not_informed_reason, show_combined=show_combined, created_at=now(),
        expires_at=expires_at))
    return int(result.inserted_primary_key[0])


def by_token(tx: Tx, token: str) -> RequestRow | None:
    row = tx.conn.execute(_select().where(ShareRequest.token_hash == token_hash(token))).first()
    return _row(row) if row else None


def by_id(tx: Tx, request_id: int) -> RequestRow | None:
    row = tx.conn.execute(_select().where(ShareRequest.id == request_id)).first()
    return _row(row) if row else None


def for_case(tx: Tx, case_id: int) -> list[RequestRow]:
    rows = tx.conn.execute(_select().where(ShareRequest.case_id == case_id).order_by(ShareRequest.id)).all()
    return [_row(r) for r in rows]


def claimed_by(tx: Tx, user_id: int) -> list[RequestRow]:
    rows = tx.conn.execute(_select().where(ShareRequest.claimed_by == user_id).order_by(ShareRequest.id.desc())).all()
    return [_row(r) for r in rows]


def claim(tx: Tx, request_id: int, user_id: int) -> bool:
    """Claim an unclaimed request for `user_id`; False when someone claimed it first."""
    done = tx.conn.execute(update(ShareRequest).where(ShareRequest.id == request_id,
                                                      ShareRequest.claimed_by.is_(None))
                           .values(claimed_by=user_id, claimed_at=now()))
    return done.rowcount == 1


def set_domain(tx: Tx, request_id: int, domain: str) -> None:
    tx.conn.execute(update(ShareRequest).where(ShareRequest.id == request_id).values(domain=domain))


def finish(tx: Tx, request_id: int) -> None:
    """The contributor is done: the owner is told (again) at the next notice round."""
    tx.conn.execute(update(ShareRequest).where(ShareRequest.id == request_id)
                    .values(finished_at=now(), owner_told_at=None))


def unfinish(tx: Tx, request_id: int) -> None:
    """The contributor goes on after "Klaar"."""
    tx.conn.execute(update(ShareRequest).where(ShareRequest.id == request_id).values(finished_at=None))


def revoke(tx: Tx, request_id: int) -> None:
    tx.conn.execute(update(ShareRequest).where(ShareRequest.id == request_id).values(revoked_at=now()))


def user_id(tx: Tx, channel: str, external_id: str) -> int | None:
    return tx.conn.execute(select(User.id).where(User.channel == channel,
                                                 User.external_id == external_id)).scalar()


def ensure_user(tx: Tx, channel: str, external_id: str, role: str) -> tuple[int, bool]:
    """The user's id, creating them with `role` when unknown: (id, created)."""
    found = user_id(tx, channel, external_id)
    if found is not None:
        return found, False
    result = tx.conn.execute(insert(User).values(channel=channel, external_id=external_id, role=role,
                                                 role_source="database", lang="nl", created_at=now()))
    return int(result.inserted_primary_key[0]), True


# -- contributions ------------------------------------------------------------------------------
def contributions(tx: Tx, request_id: int) -> dict[str, str]:
    rows = tx.conn.execute(select(Contribution.item_id, Contribution.value)
                           .where(Contribution.request_id == request_id)).all()
    return {r.item_id: r.value for r in rows}


def case_contributions(tx: Tx, case_id: int) -> list[tuple[RequestRow, dict[str, str]]]:
    """Every request of the case with the answers given to it (the combined picture's input)."""
    requests = for_case(tx, case_id)
    if not requests:   # most cases: one query, not two
        return []
    rows = tx.conn.execute(select(Contribution.request_id, Contribution.item_id, Contribution.value)
                           .where(Contribution.case_id == case_id)).all()
    by_request: dict[int, dict[str, str]] = {}
    for r in rows:
        by_request.setdefault(r.request_id, {})[r.item_id] = r.value
    return [(req, by_request.get(req.id, {})) for req in requests]


def contribute(tx: Tx, request: RequestRow, item_id: str, value: str, domain: str) -> str | None:
    """Store one contributed answer with its history row; the earlier value (None the first time)."""
    assert request.case_id is not None
    old = tx.conn.execute(select(Contribution.value).where(Contribution.request_id == request.id,
                                                           Contribution.item_id == item_id)).scalar()
    at = now()
    if old is None:
        tx.conn.execute(insert(Contribution).values(request_id=request.id, item_id=item_id, case_id=request.case_id,
                                                    value=value, answered_at=at))
    else:
        tx.conn.execute(update(Contribution).where(Contribution.request_id == request.id,
                                                   Contribution.item_id == item_id)
                        .values(value=value, answered_at=at))
    if old != value:
        record_change(tx, request.case_id, item_id, old, value, f"contributor:{domain}", request.id, at)
    return old


# -- history --------------------------------------------------------------------------------------
def record_change(tx: Tx, case_id: int, item_id: str, old: str | None, new: str | None, by_role: str,
                  request_id: int | None = None, at: datetime | None = None) -> None:
    tx.conn.execute(insert(AnswerChange).values(case_id=case_id, item_id=item_id, old_value=old, new_value=new,
                                                by_role=by_role, request_id=request_id, at=at or now()))


@dataclass(frozen=True)
class Change:
    item_id: str
    old: str | None
    new: str | None
    by_role: str
    at: datetime


def history(tx: Tx, case_id: int) -> list[Change]:
    rows = tx.conn.execute(select(AnswerChange.item_id, AnswerChange.old_value, AnswerChange.new_value,
                                  AnswerChange.by_role, AnswerChange.at)
                           .where(AnswerChange.case_id == case_id).order_by(AnswerChange.id)).all()
    return [Change(r.item_id, r.old_value, r.new_value, r.by_role, aware(r.at)) for r in rows]


def answer_log(tx: Tx, case_id: int) -> list[tuple[str, str, datetime]]:
    rows = tx.conn.execute(select(AnswerLog.item_id, AnswerLog.value, AnswerLog.at)
                           .where(AnswerLog.case_id == case_id).order_by(AnswerLog.id)).all()
    return [(r.item_id, r.value, aware(r.at)) for r in rows]


def notes_with_ids(tx: Tx, case_id: int) -> list[str]:
    return list(tx.conn.execute(select(Note.text).where(Note.case_id == case_id).order_by(Note.id)).scalars())


def audit_rows(tx: Tx, code: str) -> list[dict[str, Any]]:
    rows = tx.conn.execute(select(AuditEntry.at, AuditEntry.actor, AuditEntry.action, AuditEntry.detail)
                           .where(AuditEntry.case_code == code).order_by(AuditEntry.id)).all()
    return [{"at": aware(r.at).isoformat(timespec="seconds"), "actor": r.actor, "action": r.action,
             "detail": r.detail} for r in rows]


# -- notices --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Notice:
    """Someone to tell something: an owner (a contribution arrived) or a contributor (case closed)."""

    kind: str            # "contributed" | "closed"
    channel: str
    external_id: str
    lang: str
    case_code: str | None
    domain: str | None
    request_id: int


def take_notices(tx: Tx, channel: str) -> list[Notice]:
    """Notices for users of `channel`, marked as told in this transaction (told at most once)."""
    owner = User.__table__.alias("owner")
    contributed = tx.conn.execute(
        select(ShareRequest.id, owner.c.external_id, owner.c.lang, Case.code, ShareRequest.domain)
        .join(Case, Case.id == ShareRequest.case_id).join(owner, owner.c.id == ShareRequest.owner_id)
        .where(ShareRequest.finished_at.is_not(None), ShareRequest.owner_told_at.is_(None),
               owner.c.channel == channel)).all()
    closed = tx.conn.execute(
        select(ShareRequest.id, User.external_id, User.lang)
        .join(User, User.id == ShareRequest.claimed_by)
        .where(ShareRequest.case_id.is_(None), ShareRequest.closed_told_at.is_(None), User.channel == channel)).all()
    at = now()
    if contributed:
        tx.conn.execute(update(ShareRequest).where(ShareRequest.id.in_([r[0] for r in contributed]))
                        .values(owner_told_at=at))
    if closed:
        tx.conn.execute(update(ShareRequest).where(ShareRequest.id.in_([r[0] for r in closed]))
                        .values(closed_told_at=at))
    return ([Notice("contributed", channel, r[1], r[2], r[3], r[4], r[0]) for r in contributed]
            + [Notice("closed", channel, r[1], r[2], None, None, r[0]) for r in closed])


def take_case_news(tx: Tx, case_id: int) -> list[str | None]:
    """The domains of finished contributions to this case the owner was not told of yet; now told."""
    rows = tx.conn.execute(select(ShareRequest.id, ShareRequest.domain).where(
        ShareRequest.case_id == case_id, ShareRequest.finished_at.is_not(None),
        ShareRequest.owner_told_at.is_(None))).all()
    if rows:
        tx.conn.execute(update(ShareRequest).where(ShareRequest.id.in_([r.id for r in rows]))
                        .values(owner_told_at=now()))
    return [r.domain for r in rows]


def forget_case(tx: Tx, case_id: int) -> None:
    """Before a case is deleted: its contributions and history go, its requests become closed stubs."""
    tx.conn.execute(delete(Contribution).where(Contribution.case_id == case_id))
    tx.conn.execute(delete(AnswerChange).where(AnswerChange.case_id == case_id))
    tx.conn.execute(update(ShareRequest).where(ShareRequest.case_id == case_id).values(case_id=None))


def purge_stubs(tx: Tx, at: datetime | None = None) -> int:
    """Closed stubs nobody claimed, and those that expired more than STUB_KEEP ago (until then a
    contributor who comes back is told the case is closed rather than "not found")."""
    at = at or now()
    gone = tx.conn.execute(delete(ShareRequest).where(ShareRequest.case_id.is_(None), or_(
        ShareRequest.claimed_by.is_(None), ShareRequest.expires_at < at - STUB_KEEP)))
    return gone.rowcount or 0
