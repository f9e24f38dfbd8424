"""access that can be taken away: where a role comes from, and revocable invitations

users.role_source says whether `role` was given in the database ("database": lensbot users add,
an invitation) or exists only because the id is in LENSBOT_ADMIN_IDS ("configuration"). A
configuration admin holds no role of their own: removed from the setting, they have no access at
the next start. Before this revision every configuration admin was written to the database as
"admin"; those rows cannot be told apart from admins given in the database, so every stored admin
becomes a configuration admin here (give a database admin role again with `lensbot users add ID
--role admin`).

invites gain the issuer (the audit actor who made it) and revoked_at/revoked_by: an invitation
can be revoked, and one whose issuer is no longer admin is refused when redeemed.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06 22:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # plain ALTER TABLE, never a batch copy: SQLite would recreate `users`, and its foreign keys
    # would take every case with it
    op.add_column('users', sa.Column('role_source', sa.String(length=16), nullable=False, server_default='database'))
    op.execute("UPDATE users SET role_source = 'configuration' WHERE role = 'admin'")
    op.add_column('invites', sa.Column('issuer', sa.String(length=80), nullable=True))
    op.add_column('invites', sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True))
    op.add_column('invites', sa.Column('revoked_by', sa.String(length=80), nullable=True))


def downgrade() -> None:
    for table, column in (('invites', 'revoked_by'), ('invites', 'revoked_at'), ('invites', 'issuer'),
                          ('users', 'role_source')):
        op.execute(f"ALTER TABLE {table} DROP COLUMN {column}")   # SQLite 3.35+ and PostgreSQL
