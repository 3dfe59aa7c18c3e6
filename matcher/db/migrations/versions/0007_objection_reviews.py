"""objection_reviews: an officer's verdict on an enterprise's objection, which releases or cancels the held payout

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "objection_reviews",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("response_id", sa.BigInteger(), nullable=False, comment="the objection (responses.kind = objected)"),
        sa.Column(
            "outcome",
            sa.String(length=16),
            nullable=False,
            comment="dismissed (the decision stands: payout released) | upheld (the decision was wrong: cancelled)",
        ),
        sa.Column("note", sa.Text(), nullable=False, comment="the officer's reasons, shown to the enterprise"),
        sa.Column("reviewed_by", sa.String(length=80), nullable=False),
        sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["response_id"], ["responses.id"], name=op.f("fk_objection_reviews_response_id_responses")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_objection_reviews")),
        sa.UniqueConstraint("response_id", name=op.f("uq_objection_reviews_response_id")),
    )
    if op.get_bind().dialect.name == "postgresql":  # SQLite keeps no column comments
        op.alter_column(
            "notices",
            "delivery_status",
            existing_type=sa.String(length=16),
            existing_nullable=False,
            comment="pending | delivered | dead | held | withdrawn",
        )


def downgrade() -> None:
    op.drop_table("objection_reviews")
