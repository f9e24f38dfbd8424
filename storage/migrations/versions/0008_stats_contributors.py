"""distinct professionals per cell of the local picture

`stats_counts.contributors` counts, up to 3, the distinct professionals behind a monthly count; a
cell is published only from 3 (dialogs/counts.py). To count them without storing who, the open
month keeps keyed hashes of user ids per cell (`stats_contributors`, salt in `stats_salts`), deleted
once a cell reaches 3 and entirely when the month ends. Counts made before this revision have 0
contributors (unknown) and are therefore shown as <5.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06 22:10:00
"""

import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('stats_counts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('contributors', sa.Integer(), server_default='0', nullable=False))
    op.create_table('stats_contributors',
    sa.Column('month', sa.String(length=7), nullable=False),
    sa.Column('metric', sa.String(length=24), nullable=False),
    sa.Column('key', sa.String(length=60), nullable=False),
    sa.Column('token', sa.String(length=16), nullable=False),
    sa.PrimaryKeyConstraint('month', 'metric', 'key', 'token')
    )
    op.create_table('stats_salts',
    sa.Column('month', sa.String(length=7), nullable=False),
    sa.Column('salt', sa.String(length=32), nullable=False),
    sa.PrimaryKeyConstraint('month')
    )


def downgrade() -> None:
    op.drop_table('stats_salts')
    op.drop_table('stats_contributors')
    with op.batch_alter_table('stats_counts', schema=None) as batch_op:
        batch_op.drop_column('contributors')
