"""training_jobs (ranker training started over HTTP); merges the ranking (0003) and service (0004) heads

Revision ID: 0005
Revises: 0003, 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = ("0003", "0004")
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "training_jobs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False, comment="queued | running | completed | failed"),
        sa.Column(
            "active",
            sa.Integer(),
            nullable=True,
            comment="1 while queued or running, null once finished: the unique key lets one job run at a time",
        ),
        sa.Column("params", sa.JSON(), nullable=False, comment="what the job was asked: holdout_share, seed"),
        sa.Column("requested_by", sa.String(length=80), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "result",
            sa.JSON(),
            nullable=True,
            comment="metrics side by side, the version registered, promoted or not and why",
        ),
        sa.Column("error", sa.Text(), nullable=True, comment="why it failed, e.g. no feedback yet"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_training_jobs")),
        sa.UniqueConstraint("active", name=op.f("uq_training_jobs_active")),
    )


def downgrade() -> None:
    op.drop_table("training_jobs")
