"""web accounts, web sessions and login failures (the web channel, issue 12)

web_accounts: one per web user (users.channel "web"): the login name, an Argon2id password hash
(None with single sign-on), the TOTP secret with its confirmed flag and the last time step used,
the single sign-on identity (issuer, subject) and sha256 of a pending reset code (`lensbot users
reset-login`). web_recovery_codes: sha256 of each unused
recovery code. web_sessions: server-side sessions keyed by sha256 of the cookie value.
login_failures: keyed hashes of login names and addresses with the time of a failed sign-in, for
throttling across instances. Every user-owned row goes with its user (ON DELETE CASCADE).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06 23:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'web_accounts',
        sa.Column('user_id', sa.Integer(), sa.ForeignKey('users.id', ondelete='CASCADE'), primary_key=True),
        sa.Column('login', sa.String(40), nullable=False, unique=True),
        sa.Column('password_hash', sa.String(200), nullable=True),
        sa.Column('totp_secret', sa.String(64), nullable=True),
        sa.Column('totp_confirmed', sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column('totp_last_step', sa.BigInteger(), nullable=True),
        sa.Column('sso_issuer', sa.String(200), nullable=True),
        sa.Column('sso_subject', sa.String(255), nullable=True),
        sa.Column('reset_hash', sa.String(64), nullable=True, unique=True),
        sa.Column('reset_expires', sa.DateTime(timezone=True), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint('sso_issuer', 'sso_subject', name='uq_web_accounts_sso'),
    )
    op.create_table(
        'web_recovery_codes',
        sa.Column('user_id', sa.Integer(), sa.ForeignKey('users.id', ondelete='CASCADE'), nullable=False),
        sa.Column('code_hash', sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint('user_id', 'code_hash'),
    )
    op.create_table(
        'web_sessions',
        sa.Column('token_hash', sa.String(64), primary_key=True),
        sa.Column('user_id', sa.Integer(), sa.ForeignKey('users.id', ondelete='CASCADE'), nullable=True),
        sa.Column('stage', sa.String(16), nullable=False),
        sa.Column('csrf', sa.String(64), nullable=False),
        sa.Column('lang', sa.String(2), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('last_seen', sa.DateTime(timezone=True), nullable=False),
        sa.Column('return_to', sa.String(500), nullable=True),
        sa.Column('pending', sa.Text(), nullable=True),
    )
    op.create_index('ix_web_sessions_user_id', 'web_sessions', ['user_id'])
    op.create_index('ix_web_sessions_last_seen', 'web_sessions', ['last_seen'])
    op.create_table(
        'login_failures',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), primary_key=True, autoincrement=True),
        sa.Column('key', sa.String(64), nullable=False),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index('ix_login_failures_key_at', 'login_failures', ['key', 'at'])
    op.create_index('ix_login_failures_at', 'login_failures', ['at'])


def downgrade() -> None:
    op.drop_index('ix_login_failures_at', table_name='login_failures')
    op.drop_index('ix_login_failures_key_at', table_name='login_failures')
    op.drop_table('login_failures')
    op.drop_index('ix_web_sessions_last_seen', table_name='web_sessions')
    op.drop_index('ix_web_sessions_user_id', table_name='web_sessions')
    op.drop_table('web_sessions')
    op.drop_table('web_recovery_codes')
    op.drop_table('web_accounts')
