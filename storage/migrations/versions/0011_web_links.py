"""web links: Telegram's minimal mode sends a link into the web app instead of the content

web_links: sha256 of a single-use, short-lived link token, the `users` row it is bound to, the
case it shows (if any) and what it shows (summary, report, cases, picture), when it was made and
when it expires. Nothing about the person: the token is random, the case a pseudonymous code's
row. A link goes with its user and with its case (ON DELETE CASCADE).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 00:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = '0011'
down_revision = '0010'   # chained after 0010 (sharing, issue 13)
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'web_links',
        sa.Column('token_hash', sa.String(64), primary_key=True),
        sa.Column('user_id', sa.Integer(), sa.ForeignKey('users.id', ondelete='CASCADE'), nullable=False),
        sa.Column('case_id', sa.Integer(), sa.ForeignKey('cases.id', ondelete='CASCADE'), nullable=True),
        sa.Column('target', sa.String(16), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index('ix_web_links_user_id', 'web_links', ['user_id'])
    op.create_index('ix_web_links_case_id', 'web_links', ['case_id'])
    op.create_index('ix_web_links_expires_at', 'web_links', ['expires_at'])


def downgrade() -> None:
    op.drop_index('ix_web_links_expires_at', table_name='web_links')
    op.drop_index('ix_web_links_case_id', table_name='web_links')
    op.drop_index('ix_web_links_user_id', table_name='web_links')
    op.drop_table('web_links')
