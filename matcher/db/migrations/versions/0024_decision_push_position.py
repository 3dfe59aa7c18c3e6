"""decisions get their place in the enterprise's push order (position), so the enterprise lists them in that order

Revision ID: 0024
Revises: 0023

A run orders each enterprise's notices (the champion's scores, the fallback order for held-out enterprises and
runs with no model). The service listed an enterprise's decisions by id, and within a run ids follow the unique
key (the bulk writes sort by it), so one run's decisions showed in reverse policy order, not in the order the run
pushed them. ``position`` (1 = pushed first; null for a run that ordered nothing, and for decisions written before
this revision) lets the list say it.
"""

import sqlalchemy as sa
from alembic import op

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "decisions",
        sa.Column("position", sa.Integer(), comment="place in the enterprise's push order of its run, 1 = first"),
    )


def downgrade() -> None:
    with op.batch_alter_table("decisions") as batch:
        batch.drop_column("position")
