"""case messages, housekeeping, and the audit log's case-code index (erasure and the purge guard)

case_messages: the ids of the messages a channel sent for a case, so erasing the case can delete
them too. housekeeping: when the retention purge last ran (the clock-jump guard) and the audit
key derived when LENSBOT_AUDIT_KEY is not set. ix_audit_log_case_code: erasing a case rewrites
its code in the audit log to a keyed hash, one indexed UPDATE per case.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06 22:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'case_messages',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), primary_key=True, autoincrement=True),
        sa.Column('case_id', sa.Integer(), sa.ForeignKey('cases.id', ondelete='CASCADE'), nullable=False),
        sa.Column('chat_id', sa.String(32), nullable=False),
        sa.Column('message_id', sa.BigInteger(), nullable=False),
        sa.Column('kind', sa.String(16), nullable=False),
        sa.Column('sent_at', sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index('ix_case_messages_case_id', 'case_messages', ['case_id'])
    op.create_table(
        'housekeeping',
        sa.Column('key', sa.String(40), primary_key=True),
        sa.Column('value', sa.Text(), nullable=False),
    )
    op.create_index('ix_audit_log_case_code', 'audit_log', ['case_code'])


def downgrade() -> None:
    op.drop_index('ix_audit_log_case_code', table_name='audit_log')
    op.drop_table('housekeeping')
    op.drop_index('ix_case_messages_case_id', table_name='case_messages')
    op.drop_table('case_messages')
