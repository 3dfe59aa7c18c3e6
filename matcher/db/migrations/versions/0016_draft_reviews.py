"""policy_drafts: maker-checker review (state, revision, the date under review, submitter, reviewer)

Revision ID: 0016
Revises: 0015
"""

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

_COLUMNS = [
    sa.Column("kind", sa.String(length=12), nullable=False, server_default="version", comment="version | withdrawal"),
    sa.Column(
        "review_state",
        sa.String(length=12),
        nullable=False,
        server_default="draft",
        comment="draft | submitted | approved | returned | published",
    ),
    sa.Column("revision", sa.Integer(), nullable=False, server_default="1", comment="+1 on every change of the text"),
    sa.Column(
        "editor",
        sa.String(length=80),
        nullable=True,
        comment="the person (token holder's name) who last changed the text",
    ),
    sa.Column(
        "effective_from",
        sa.Date(),
        nullable=True,
        comment="the date under review: in force from (withdrawal: out of force from)",
    ),
    sa.Column(
        "review_set",
        sa.String(length=200),
        nullable=True,
        comment="ids of drafts reviewed and published together, '12,13'",
    ),
    sa.Column("submitted_by", sa.String(length=80), nullable=True),
    sa.Column("submitter", sa.String(length=80), nullable=True, comment="the person who submitted"),
    sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("reviewed_by", sa.String(length=80), nullable=True, comment="who approved or returned it"),
    sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("review_comment", sa.Text(), nullable=True),
    sa.Column("published_by", sa.String(length=80), nullable=True),
]


def upgrade() -> None:
    with op.batch_alter_table("policy_drafts") as batch:
        for column in _COLUMNS:
            batch.add_column(column)
    # Drafts published before reviews existed are published, not drafts.
    op.execute("UPDATE policy_drafts SET review_state = 'published' WHERE published_at IS NOT NULL")


def downgrade() -> None:
    with op.batch_alter_table("policy_drafts") as batch:
        for column in reversed(_COLUMNS):
            batch.drop_column(column.name)
