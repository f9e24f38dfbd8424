"""web flash: what an answer showed, kept in the session for the page after the redirect

web_sessions.flash: for browsers without JavaScript an answer is a POST followed by a redirect
to the case page; the informational blocks the answer produced (the acute-danger advice, a
remark after a leefgebied, the end notice) wait here for that next GET, on whichever instance
it lands. JSON of the case code, the step, a notice and the blocks' lines; taken once, cleared
when the case is erased (storage/repo.py `Tx.erase`), gone with the session.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 00:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('web_sessions') as batch:
        batch.add_column(sa.Column('flash', sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('web_sessions') as batch:
        batch.drop_column('flash')
