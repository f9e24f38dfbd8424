"""Who trains whom: a trainer's group is the trainees who redeemed an invitation the trainer made.

Nothing new is stored for it: invitations record their maker (`created_by`) and who redeemed them
(`used_by`), so the group follows from what the invitation flow writes anyway (issue 14). Which
role may see a group is dialogs' business (dialogs/app/training.py); this only reads.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import aliased

from storage.models import Invite, User
from storage.repo import Store

TRAINER, TRAINEE = "trainer", "trainee"
_TRAINER = aliased(User)


@dataclass(frozen=True)
class Trainee:
    id: int
    channel: str
    external_id: str
    role: str


def trainees_of(store: Store, trainer_id: int) -> list[Trainee]:
    """The people who became trainee through an invitation this user made, in the order they joined."""
    stmt = (select(User.id, User.channel, User.external_id, User.role)
            .join(Invite, Invite.used_by == User.id)
            .where(Invite.created_by == trainer_id, Invite.role == TRAINEE)
            .order_by(Invite.used_at, User.id))
    with store.transaction() as tx:
        rows = tx.conn.execute(stmt).all()
    seen: dict[int, Trainee] = {}
    for r in rows:
        seen.setdefault(r.id, Trainee(r.id, r.channel, r.external_id, r.role))
    return list(seen.values())


def trainer_of(store: Store, trainee_id: int) -> str | None:
    """The login of the trainer (still a trainer) whose invitation made this user a trainee, if any."""
    stmt = (select(_TRAINER.external_id)
            .join(Invite, Invite.created_by == _TRAINER.id)
            .where(Invite.used_by == trainee_id, Invite.role == TRAINEE, _TRAINER.role == TRAINER)
            .order_by(Invite.used_at.desc()).limit(1))
    with store.transaction() as tx:
        return tx.conn.execute(stmt).scalar()
