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
        sa.Column("run_id", sa.String(length=32), nullable=False),
        sa.Column("uscc", sa.String(length=18), nullable=False),
        sa.Column("policy_id", sa.String(length=80), nullable=False),
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
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name=op.f("fk_rank_features_run_id_runs")),
        sa.PrimaryKeyConstraint("run_id", "uscc", "policy_id", name=op.f("pk_rank_features")),
    )
    op.create_index(op.f("ix_rank_features_uscc_policy_id"), "rank_features", ["uscc", "policy_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_rank_features_uscc_policy_id"), table_name="rank_features")
    op.drop_table("rank_features")
