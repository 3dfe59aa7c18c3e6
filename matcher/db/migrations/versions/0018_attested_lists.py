"""attested_lists: a department's complete list attesting a declared fact for every enterprise, and its entries

Revision ID: 0018
Revises: 0017
"""

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "attested_lists",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("fact", sa.String(length=60), nullable=False, comment="a declared fact with a complete_list"),
        sa.Column("department", sa.String(length=40), nullable=False, comment="who keeps the list (declared id)"),
        sa.Column("as_of", sa.Date(), nullable=False, comment="the date the department's list is complete for"),
        sa.Column("reference", sa.Text(), nullable=False, comment="the list's document reference"),
        sa.Column("file_sha256", sa.String(length=64), nullable=False),
        sa.Column("entries", sa.Integer(), nullable=False, comment="rows on the list"),
        sa.Column("unknown", sa.Integer(), nullable=False, comment="rows naming no enterprise in the profiles"),
        sa.Column("imported_by", sa.String(length=80), nullable=False),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_attested_lists")),
    )
    op.create_index(op.f("ix_attested_lists_fact"), "attested_lists", ["fact"])
    op.create_table(
        "attested_list_entries",
        sa.Column("list_id", sa.Integer(), nullable=False),
        sa.Column("uscc", sa.String(length=18), nullable=False),
        sa.Column("value", sa.JSON(), nullable=False, comment="the fact's value as JSON"),
        sa.Column("evidence", sa.Text(), comment="the row's own reference (a ruling, a notice), if any"),
        sa.ForeignKeyConstraint(
            ["list_id"], ["attested_lists.id"], name=op.f("fk_attested_list_entries_list_id_attested_lists")
        ),
        sa.PrimaryKeyConstraint("list_id", "uscc", name=op.f("pk_attested_list_entries")),
    )
    op.create_index(op.f("ix_attested_list_entries_uscc"), "attested_list_entries", ["uscc"])


def downgrade() -> None:
    op.drop_index(op.f("ix_attested_list_entries_uscc"), table_name="attested_list_entries")
    op.drop_table("attested_list_entries")
    op.drop_index(op.f("ix_attested_lists_fact"), table_name="attested_lists")
    op.drop_table("attested_lists")
