"""amounts the database refuses: CHECK constraints on every amount column; runs record amount errors

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

from matcher.amounts import amount_check

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_AMOUNTS = {"decisions": ("amount_fen", "amount_full_fen"), "benefits": ("amount_fen",), "notices": ("amount_fen",)}


def upgrade() -> None:
    op.add_column(
        "runs",
        sa.Column("amount_errors", sa.JSON(), comment="per policy: enterprises whose amount cannot be paid, and why"),
    )
    # SQLite adds a constraint by copying the table (batch mode); PostgreSQL alters it in place.
    for table, columns in _AMOUNTS.items():
        with op.batch_alter_table(table) as batch:
            for column in columns:
                batch.create_check_constraint(op.f(f"ck_{table}_{column}"), amount_check(column))


def downgrade() -> None:
    for table, columns in _AMOUNTS.items():
        with op.batch_alter_table(table) as batch:
            for column in columns:
                batch.drop_constraint(op.f(f"ck_{table}_{column}"), type_="check")
    op.drop_column("runs", "amount_errors")
