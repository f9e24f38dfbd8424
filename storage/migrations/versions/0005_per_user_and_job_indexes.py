"""indexes for per-user reads and the batched purge and reminder jobs

A user's cases are read through (user_id, status, updated_at): the open case behind every typed
message, the /hervat list, progress and the export touch only that user's rows. The retention
purge finds due cases through updated_at, the reminder job through (status, reminded_at,
updated_at): both then read only the rows they act on, in batches (storage/records.py).
The former (user_id, updated_at) index goes: the new one's user_id prefix serves what it served.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06 21:30:00
"""

from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_cases_user_status_updated', 'cases', ['user_id', 'status', 'updated_at'])
    op.drop_index('ix_cases_user_updated', table_name='cases')
    op.create_index('ix_cases_updated_at', 'cases', ['updated_at'])
    op.create_index('ix_cases_reminder_due', 'cases', ['status', 'reminded_at', 'updated_at'])


def downgrade() -> None:
    op.drop_index('ix_cases_reminder_due', table_name='cases')
    op.drop_index('ix_cases_updated_at', table_name='cases')
    op.create_index('ix_cases_user_updated', 'cases', ['user_id', 'updated_at'])
    op.drop_index('ix_cases_user_status_updated', table_name='cases')
