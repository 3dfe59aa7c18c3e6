"""rank_features: the ranker's features, score and push position of each decision of a run

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rank_features",
        sa.Column("uscc", sa.String(length=18), nullable=False),
        sa.Column("policy_id", sa.String(length=80), nullable=False),
        sa.Column("run_id", sa.String(length=32), nullable=False, comment="runs.id"),
        sa.Column(
            "feature_set",
            sa.String(length=16),
            nullable=False,
            comment="version of the feature list the values follow",
        ),
        sa.Column(
            "features",
            sa.Text(),
            nullable=False,
            comment="comma-separated values in the feature set's order; empty = null",
        ),
        sa.Column("score", sa.Float(), nullable=True, comment="the model's score; null under the fallback order"),
        sa.Column(
            "position",
            sa.Integer(),
            nullable=False,
            comment="1 = first among the enterprise's notices of the run",
        ),
        sa.Column(
            "wave",
            sa.Integer(),
            nullable=False,
            comment="0 = pushed with the run; n = pushed n × wave_days later",
        ),
        sa.PrimaryKeyConstraint("uscc", "policy_id", "run_id", name=op.f("pk_rank_features")),
    )


def downgrade() -> None:
    op.drop_table("rank_features")
