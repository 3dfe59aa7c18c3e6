"""benefit_persons: the insured persons a per-person benefit counted, once per policy family

Revision ID: 0015
Revises: 0014
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "benefit_persons",
        sa.Column(
            "family",
            sa.String(length=80),
            nullable=False,
            comment="the policies within which a person counts once",
        ),
        sa.Column(
            "person_id",
            sa.String(length=64),
            nullable=False,
            comment="pseudonymised person (si_hires.person_id)",
        ),
        sa.Column("uscc", sa.String(length=18), nullable=False),
        sa.Column("policy_id", sa.String(length=80), nullable=False),
        sa.Column(
            "period_key",
            sa.String(length=16),
            nullable=False,
            comment="the benefit that counted the person",
        ),
        sa.Column("run_id", sa.String(length=32), nullable=False),
        sa.Column("counted_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("family", "person_id", name=op.f("pk_benefit_persons")),
    )
    op.create_index(
        op.f("ix_benefit_persons_uscc_policy_id_period_key"),
        "benefit_persons",
        ["uscc", "policy_id", "period_key"],
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_benefit_persons_uscc_policy_id_period_key"), table_name="benefit_persons")
    op.drop_table("benefit_persons")
