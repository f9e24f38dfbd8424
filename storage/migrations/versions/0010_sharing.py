"""sharing a case with colleagues (issue 13): share requests, contributions, answer history

share_requests: one per request a case owner makes (sha256 of the single-use token, the questions
asked, purpose and legal basis ids, whether the person knows, validity, who claimed it and their
domain); its case_id becomes NULL when the case is erased, so the contributor can be told the case
is closed. contributions: a contributor's answers, per request, erased with the case.
answer_history: every later change (aanvullen, contributions) with role, time and earlier value.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 23:45:00
"""

import sqlalchemy as sa
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'share_requests',
        sa.Column('id', sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column('case_id', sa.Integer(), sa.ForeignKey('cases.id', ondelete='SET NULL'), nullable=True),
        sa.Column('token_hash', sa.String(64), nullable=False, unique=True),
        sa.Column('owner_id', sa.Integer(), sa.ForeignKey('users.id', ondelete='SET NULL'), nullable=True),
        sa.Column('areas', sa.Text(), nullable=False),
        sa.Column('items', sa.Text(), nullable=False),
        sa.Column('purpose', sa.String(40), nullable=False),
        sa.Column('legal_basis', sa.String(40), nullable=False),
        sa.Column('informed', sa.Boolean(), nullable=False),
        sa.Column('not_informed_reason', sa.String(40), nullable=True),
        sa.Column('show_combined', sa.Boolean(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('claimed_by', sa.Integer(), sa.ForeignKey('users.id', ondelete='SET NULL'), nullable=True),
        sa.Column('claimed_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('domain', sa.String(40), nullable=True),
        sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('owner_told_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('closed_told_at', sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index('ix_share_requests_case_id', 'share_requests', ['case_id'])
    op.create_index('ix_share_requests_claimed_by', 'share_requests', ['claimed_by'])
    op.create_table(
        'contributions',
        sa.Column('request_id', sa.Integer(), sa.ForeignKey('share_requests.id', ondelete='CASCADE'),
                  nullable=False),
        sa.Column('item_id', sa.String(60), nullable=False),
        sa.Column('case_id', sa.Integer(), sa.ForeignKey('cases.id', ondelete='CASCADE'), nullable=False),
        sa.Column('value', sa.String(8), nullable=False),
        sa.Column('answered_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('request_id', 'item_id'),
    )
    op.create_index('ix_contributions_case_id', 'contributions', ['case_id'])
    op.create_table(
        'answer_history',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), primary_key=True, autoincrement=True),
        sa.Column('case_id', sa.Integer(), sa.ForeignKey('cases.id', ondelete='CASCADE'), nullable=False),
        sa.Column('item_id', sa.String(60), nullable=False),
        sa.Column('old_value', sa.Text(), nullable=True),
        sa.Column('new_value', sa.Text(), nullable=True),
        sa.Column('by_role', sa.String(60), nullable=False),
        sa.Column('request_id', sa.Integer(), nullable=True),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index('ix_answer_history_case_id', 'answer_history', ['case_id'])


def downgrade() -> None:
    op.drop_index('ix_answer_history_case_id', table_name='answer_history')
    op.drop_table('answer_history')
    op.drop_index('ix_contributions_case_id', table_name='contributions')
    op.drop_table('contributions')
    op.drop_index('ix_share_requests_claimed_by', table_name='share_requests')
    op.drop_index('ix_share_requests_case_id', table_name='share_requests')
    op.drop_table('share_requests')
