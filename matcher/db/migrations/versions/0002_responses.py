"""responses: what enterprises did with their notices (feedback)

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "responses",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("notice_id", sa.BigInteger(), nullable=False),
        sa.Column("uscc", sa.String(length=18), nullable=False),
        sa.Column("policy_id", sa.String(length=80), nullable=False),
        sa.Column("period_key", sa.String(length=16), nullable=False),
        sa.Column(
            "kind",
            sa.String(length=24),
            nullable=False,
            comment="opened | confirmed | supplied_data | declined | objected | ignored",
        ),
        sa.Column("detail", sa.JSON(), nullable=True, comment="objection reason, or the supplied fact and value"),
        sa.Column(
            "actor", sa.String(length=80), nullable=False, comment="who acted: the enterprise's token, or 'simulator'"
        ),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["notice_id"], ["notices.id"], name=op.f("fk_responses_notice_id_notices")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_responses")),
    )
    op.create_index(op.f("ix_responses_uscc_policy_id"), "responses", ["uscc", "policy_id"])
    op.create_index(op.f("ix_responses_notice_id"), "responses", ["notice_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_responses_notice_id"), table_name="responses")
    op.drop_index(op.f("ix_responses_uscc_policy_id"), table_name="responses")
    op.drop_table("responses")
