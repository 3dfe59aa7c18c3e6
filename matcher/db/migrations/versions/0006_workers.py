"""run requests and training jobs name the service worker that owns them; one run at a time across workers

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

WORKER = "the service worker process that owns it, host:pid; recovery fails only what a dead worker left"


def upgrade() -> None:
    op.add_column("run_requests", sa.Column("worker", sa.String(length=80), nullable=True, comment=WORKER))
    op.add_column(
        "run_requests",
        sa.Column(
            "running",
            sa.Integer(),
            nullable=True,
            comment="1 while running, null otherwise: the unique index lets one run go at a time",
        ),
    )
    op.create_index(op.f("ix_run_requests_running"), "run_requests", ["running"], unique=True)
    op.add_column("training_jobs", sa.Column("worker", sa.String(length=80), nullable=True, comment=WORKER))


def downgrade() -> None:
    op.drop_column("training_jobs", "worker")
    op.drop_index(op.f("ix_run_requests_running"), table_name="run_requests")
    op.drop_column("run_requests", "running")
    op.drop_column("run_requests", "worker")
