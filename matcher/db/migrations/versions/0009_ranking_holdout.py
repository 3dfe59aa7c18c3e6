"""rank_features.holdout: the enterprises of a run whose notices follow the fallback order (the ranker's holdout)

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Rows written before the holdout existed were all ordered as the run's model (or fallback) said: not held out.
    op.add_column(
        "rank_features",
        sa.Column(
            "holdout",
            sa.Boolean(),
            nullable=False,
            server_default="0",
            comment="the enterprise was in the run's holdout: its notices follow the fallback order, not the model's",
        ),
    )


def downgrade() -> None:
    with op.batch_alter_table("rank_features") as batch:
        batch.drop_column("holdout")
