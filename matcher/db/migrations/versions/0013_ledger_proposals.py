"""ledger_proposals: what a later run found about a benefit in the ledger that only an officer may act on

Revision ID: 0013
Revises: 0012
"""

import sqlalchemy as sa
from alembic import op

from matcher.amounts import amount_check

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ledger_proposals",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("uscc", sa.String(length=18), nullable=False),
        sa.Column("policy_id", sa.String(length=80), nullable=False),
        sa.Column("period_key", sa.String(length=16), nullable=False),
        sa.Column(
            "action",
            sa.String(length=16),
            nullable=False,
            comment="recover | cancel | top_up (matcher.ledger.corrections)",
        ),
        sa.Column("amount_fen", sa.BigInteger(), comment="top_up: the increase; null otherwise"),
        sa.Column("run_id", sa.String(length=32), nullable=False, comment="the run whose data found it"),
        sa.Column("reason", sa.Text(), nullable=False, comment="what the run found, in English"),
        sa.Column("reason_zh", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False, comment="open | accepted | dismissed"),
        sa.Column("decided_by", sa.String(length=80)),
        sa.Column("decided_at", sa.DateTime(timezone=True)),
        sa.Column("note", sa.Text(), comment="the officer's reasons"),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_proposals")),
        sa.UniqueConstraint(
            "uscc",
            "policy_id",
            "period_key",
            "action",
            "run_id",
            name=op.f("uq_ledger_proposals_uscc_policy_id_period_key_action_run_id"),
        ),
        sa.CheckConstraint(amount_check("amount_fen"), name=op.f("ck_ledger_proposals_amount_fen")),
    )
    op.create_index(op.f("ix_ledger_proposals_status"), "ledger_proposals", ["status"])


def downgrade() -> None:
    op.drop_index(op.f("ix_ledger_proposals_status"), table_name="ledger_proposals")
    op.drop_table("ledger_proposals")
