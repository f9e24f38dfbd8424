"""The database schema. Alembic migrations (storage/migrations) create it; never `create_all`.

Cases hold a pseudonymous code only: no table has a column for a name, birth date or
address. Answers keep one current row per case and question plus an append-only log of every
change, so a changed answer is never silently overwritten.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
    true,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"
    __table_args__ = (UniqueConstraint("channel", "external_id", name="uq_users_channel_external"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    channel: Mapped[str] = mapped_column(String(16))          # "console", "telegram"
    external_id: Mapped[str] = mapped_column(String(64))      # OS login or Telegram user id
    role: Mapped[str] = mapped_column(String(16), default="professional")
    # "database": `role` was given in the database (lensbot users add, an invitation) and holds until
    # changed there. "configuration": the row exists only because the id is in LENSBOT_ADMIN_IDS; it
    # holds no role of its own, so the person has no access once the id leaves the setting.
    role_source: Mapped[str] = mapped_column(String(16), default="database", server_default="database")
    lang: Mapped[str] = mapped_column(String(2), default="nl")
    reminders: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class LensVersion(Base):
    """Every lens version a case was started with, so an old case keeps its own questions."""

    __tablename__ = "lens_versions"

    version: Mapped[str] = mapped_column(String(80), primary_key=True)
    declared: Mapped[str] = mapped_column(String(40))
    content_hash: Mapped[str] = mapped_column(String(64))
    content: Mapped[str] = mapped_column(Text)                 # canonical JSON of the lens
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Case(Base):
    __tablename__ = "cases"
    __table_args__ = (
        Index("ix_cases_user_status_updated", "user_id", "status", "updated_at"),   # a user's cases
        Index("ix_cases_updated_at", "updated_at"),                                  # the retention purge
        Index("ix_cases_reminder_due", "status", "reminded_at", "updated_at"),       # the reminder job
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    mode: Mapped[str] = mapped_column(String(16), default="full")
    status: Mapped[str] = mapped_column(String(16), default="open")      # open | completed
    state: Mapped[str] = mapped_column(String(60))                        # dialog phase
    step: Mapped[int] = mapped_column(Integer, default=0)                 # bumps on every change
    trail: Mapped[str] = mapped_column(Text, default="")                  # question indices shown
    script: Mapped[str | None] = mapped_column(Text, nullable=True)       # question indices to ask
    vignette: Mapped[str | None] = mapped_column(String(60), nullable=True)   # training cases
    skipped: Mapped[str] = mapped_column(Text, default="")                # skipped leefgebied ids
    lang: Mapped[str] = mapped_column(String(2), default="nl")
    lens_version: Mapped[str] = mapped_column(ForeignKey("lens_versions.version"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    reminded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class Answer(Base):
    __tablename__ = "answers"

    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True)
    item_id: Mapped[str] = mapped_column(String(60), primary_key=True)    # signal or red flag id
    value: Mapped[str] = mapped_column(String(8))                          # yes | no | unknown
    answered_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class AnswerLog(Base):
    __tablename__ = "answer_log"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
                                    autoincrement=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    item_id: Mapped[str] = mapped_column(String(60))
    value: Mapped[str] = mapped_column(String(8))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Note(Base):
    __tablename__ = "notes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Invite(Base):
    """A single-use invitation: whoever redeems it first gets `role`."""

    __tablename__ = "invites"

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    role: Mapped[str] = mapped_column(String(16))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    issuer: Mapped[str | None] = mapped_column(String(80), nullable=True)       # the audit actor who made it
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    revoked_by: Mapped[str | None] = mapped_column(String(80), nullable=True)


class ProcessedUpdate(Base):
    """Update ids already handled, so a redelivered update is not handled twice."""

    __tablename__ = "processed_updates"

    channel: Mapped[str] = mapped_column(String(16), primary_key=True)
    update_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class StatsCount(Base):
    """Anonymous counts per month for the local picture, added when a real case completes.

    Kept apart from the cases so that purging cases (retention) does not erase the picture; it
    holds no case codes, user ids or dates finer than a month.
    """

    __tablename__ = "stats_counts"

    month: Mapped[str] = mapped_column(String(7), primary_key=True)      # "2026-11"
    metric: Mapped[str] = mapped_column(String(24), primary_key=True)    # cases, indicator, signal_yes, ...
    key: Mapped[str] = mapped_column(String(60), primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)
    # How many distinct professionals added to this cell, counted up to 3 (the publication
    # threshold) through `StatsContributor`; 0 for counts made before migration 0006 (unknown).
    contributors: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class StatsContributor(Base):
    """Which cells of the *current* month a professional already added to, as a keyed hash.

    Only so that `StatsCount.contributors` counts distinct professionals. The token is
    sha256(month salt + user id), cut to 16 hex digits; the salt lives in `StatsSalt` for the open
    month only. A cell's tokens are deleted as soon as it has 3 contributors, and every token and
    salt of a month is deleted once the month has ended (storage/repo.py `Tx.add_counts`,
    storage/records.py `seal_closed_months`): a closed month holds numbers only.
    """

    __tablename__ = "stats_contributors"

    month: Mapped[str] = mapped_column(String(7), primary_key=True)
    metric: Mapped[str] = mapped_column(String(24), primary_key=True)
    key: Mapped[str] = mapped_column(String(60), primary_key=True)
    token: Mapped[str] = mapped_column(String(16), primary_key=True)


class StatsSalt(Base):
    """The random salt of the contributor tokens of one open month; deleted when the month ends."""

    __tablename__ = "stats_salts"

    month: Mapped[str] = mapped_column(String(7), primary_key=True)
    salt: Mapped[str] = mapped_column(String(32))


class AuditEntry(Base):
    """Who did what to which case, when; never any answer content.

    Once a case is erased its code is replaced, in every row, by a keyed hash (storage/erasure.py).
    """

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_case_code", "case_code"),)   # rewritten when a case is erased

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
                                    autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    actor: Mapped[str] = mapped_column(String(80))          # "telegram:12345", "console:ann", "retention"
    action: Mapped[str] = mapped_column(String(24))         # view, report, export, delete, invite, role, purge
    case_code: Mapped[str | None] = mapped_column(String(16), nullable=True)
    detail: Mapped[str | None] = mapped_column(String(120), nullable=True)


class CaseMessage(Base):
    """A message a channel holds for a case (a question, a summary, a report): erased with the case.

    One row per case and message; a message about several cases (the CSV export) has a row for each.
    """

    __tablename__ = "case_messages"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
                                    autoincrement=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    chat_id: Mapped[str] = mapped_column(String(32))
    message_id: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(16))           # "chat", "note" (the user's own), "export"
    sent_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Housekeeping(Base):
    """Small facts the jobs keep between runs: when the purge last ran, the derived audit key."""

    __tablename__ = "housekeeping"

    key: Mapped[str] = mapped_column(String(40), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class WebAccount(Base):
    """How a web user (a `users` row with channel "web") signs in: never a password, only its hash.

    password_hash is an Argon2id hash (None for an account that signs in through single sign-on);
    totp_secret is the base32 secret of the authenticator app, pending until totp_confirmed;
    totp_last_step is the last 30-second step accepted, so one code works once.
    """

    __tablename__ = "web_accounts"
    __table_args__ = (UniqueConstraint("sso_issuer", "sso_subject", name="uq_web_accounts_sso"),)

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    login: Mapped[str] = mapped_column(String(40), unique=True)
    password_hash: Mapped[str | None] = mapped_column(String(200), nullable=True)
    totp_secret: Mapped[str | None] = mapped_column(String(64), nullable=True)
    totp_confirmed: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    sso_issuer: Mapped[str | None] = mapped_column(String(200), nullable=True)
    sso_subject: Mapped[str | None] = mapped_column(String(255), nullable=True)
    # `lensbot users reset-login`: sha256 of a one-hour code with which the user sets a new password
    reset_hash: Mapped[str | None] = mapped_column(String(64), nullable=True, unique=True)
    reset_expires: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class RecoveryCode(Base):
    """One unused recovery code of a web account, as sha256 (the codes carry 80 random bits)."""

    __tablename__ = "web_recovery_codes"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    code_hash: Mapped[str] = mapped_column(String(64), primary_key=True)


class WebSession(Base):
    """A browser's session, kept server-side: the key is sha256 of the cookie, never the cookie itself."""

    __tablename__ = "web_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), nullable=True,
                                                index=True)
    stage: Mapped[str] = mapped_column(String(16))       # anonymous | password | enrol | active
    csrf: Mapped[str] = mapped_column(String(64))
    lang: Mapped[str] = mapped_column(String(2), default="nl")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_seen: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    return_to: Mapped[str | None] = mapped_column(String(500), nullable=True)
    pending: Mapped[str | None] = mapped_column(Text, nullable=True)
    # what an answer showed, kept for the page after the redirect (browsers without JavaScript):
    # JSON of the case code, step, notice and blocks; taken once (migration 0012)
    flash: Mapped[str | None] = mapped_column(Text, nullable=True)


class LoginFailure(Base):
    """A failed sign-in, for throttling: a keyed hash of the login name or of the address, and when."""

    __tablename__ = "login_failures"
    __table_args__ = (Index("ix_login_failures_key_at", "key", "at"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
                                    autoincrement=True)
    key: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class ShareRequest(Base):
    """A case owner's request to one colleague to add to the case (dialogs/app/sharing.py).

    Only sha256 of the single-use link's token is kept. `case_id` becomes NULL when the case is
    erased: the row then only says "this request's case is closed" to whoever claimed it (it holds
    no answers), until 30 days after its validity (storage/sharing.py purges it).
    """

    __tablename__ = "share_requests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id", ondelete="SET NULL"), nullable=True,
                                                index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    areas: Mapped[str] = mapped_column(Text)                  # leefgebied ids, or "open" (the open questions)
    items: Mapped[str] = mapped_column(Text)                  # the item ids asked, red flags first
    purpose: Mapped[str] = mapped_column(String(40))          # an id of dialogs/sharing.yaml
    legal_basis: Mapped[str] = mapped_column(String(40))      # an id of dialogs/sharing.yaml
    informed: Mapped[bool] = mapped_column(Boolean)
    not_informed_reason: Mapped[str | None] = mapped_column(String(40), nullable=True)
    show_combined: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    claimed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True,
                                                   index=True)
    claimed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    domain: Mapped[str | None] = mapped_column(String(40), nullable=True)   # stated by the contributor
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    owner_told_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    closed_told_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class Contribution(Base):
    """One contributor's answer to one question of a request: kept apart from the owner's answers."""

    __tablename__ = "contributions"

    request_id: Mapped[int] = mapped_column(ForeignKey("share_requests.id", ondelete="CASCADE"), primary_key=True)
    item_id: Mapped[str] = mapped_column(String(60), primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    value: Mapped[str] = mapped_column(String(8))
    answered_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class AnswerChange(Base):
    """Every change made after a case was completed ("aanvullen") or by a contributor: who (by role),
    when, and the earlier value; erased with the case."""

    __tablename__ = "answer_history"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
                                    autoincrement=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    item_id: Mapped[str] = mapped_column(String(60))          # a signal or red flag id, or "note"
    old_value: Mapped[str | None] = mapped_column(Text, nullable=True)
    new_value: Mapped[str | None] = mapped_column(Text, nullable=True)
    by_role: Mapped[str] = mapped_column(String(60))          # "owner", "contributor:school"
    request_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
