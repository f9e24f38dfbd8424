"""Links from Telegram into the web app, stored (the table of migration 0011).

Telegram's minimal mode (LENSBOT_TELEGRAM_CONTENT=minimal) answers "show me the summary" with a
link: a single-use, short-lived capability bound to one `users` row and (mostly) one case. Only
sha256 of the link's token is stored, with the user, the case and what the link shows; the rules
(who may make one, how long it holds, what opening it does) are dialogs/app/links.py's.

A link goes with its user and with its case (ON DELETE CASCADE): erasing a case or a user leaves
no link behind that names it. A link is deleted when it is used; expired ones are deleted
whenever a new link is made.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, String, delete, insert, select
from sqlalchemy.orm import Mapped, mapped_column

from storage.models import Base, Case
from storage.repo import Tx, aware


class WebLink(Base):
    """A link Telegram sent into the web app: sha256 of its token, never the token itself."""

    __tablename__ = "web_links"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), nullable=True,
                                                index=True)
    target: Mapped[str] = mapped_column(String(16))        # summary | report | cases | picture
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


@dataclass(frozen=True)
class LinkRow:
    token_hash: str
    user_id: int
    case_code: str | None
    target: str
    expires_at: datetime


def owned_case(tx: Tx, user_id: int, code: str, modes: tuple[str, ...]) -> int | None:
    """The id of the case with this code when it is this user's and of a kind they may see."""
    row = tx.conn.execute(select(Case.id).where(Case.code == code, Case.user_id == user_id,
                                                Case.mode.in_(modes))).first()
    return int(row[0]) if row is not None else None


def insert_link(tx: Tx, token_hash: str, user_id: int, case_id: int | None, target: str, at: datetime,
                expires_at: datetime) -> None:
    tx.conn.execute(insert(WebLink).values(token_hash=token_hash, user_id=user_id, case_id=case_id, target=target,
                                           created_at=at, expires_at=expires_at))


def find_link(tx: Tx, token_hash: str, at: datetime) -> LinkRow | None:
    """The link with this token hash while it holds (not used, not expired), with its case's code."""
    row = tx.conn.execute(
        select(WebLink.token_hash, WebLink.user_id, Case.code, WebLink.target, WebLink.expires_at)
        .outerjoin(Case, Case.id == WebLink.case_id).where(WebLink.token_hash == token_hash)).first()
    if row is None or aware(row.expires_at) <= at:
        return None
    return LinkRow(row.token_hash, row.user_id, row.code, row.target, aware(row.expires_at))


def spend_link(tx: Tx, token_hash: str) -> bool:
    """Delete the link: True once (the one who used it), False for everyone after."""
    return bool(tx.conn.execute(delete(WebLink).where(WebLink.token_hash == token_hash)).rowcount)


def forget_expired(tx: Tx, at: datetime) -> int:
    """Delete links that can no longer be used."""
    return int(tx.conn.execute(delete(WebLink).where(WebLink.expires_at <= at)).rowcount)
