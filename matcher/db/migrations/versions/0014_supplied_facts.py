"""supplied_facts: facts supplied by enterprises or attested by officers and departments, reviewed once

Revision ID: 0014
Revises: 0013
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "supplied_facts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("uscc", sa.String(length=18), nullable=False),
        sa.Column("fact", sa.String(length=60), nullable=False, comment="a fact of the catalogue (docs/facts.md)"),
        sa.Column(
            "value",
            sa.JSON(),
            nullable=False,
            comment="the value as JSON: true/false, a number, a word, a date YYYY-MM-DD",
        ),
        sa.Column("source", sa.String(length=12), nullable=False, comment="enterprise | officer | department"),
        sa.Column("supplied_by", sa.String(length=80), nullable=False, comment="the actor who supplied or attested it"),
        sa.Column("supplied_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("evidence", sa.Text(), comment="what it rests on: the enterprise's note, a document's reference"),
        sa.Column("notice_id", sa.BigInteger(), comment="the notice that asked for it, if any"),
        sa.Column("policy_id", sa.String(length=80), comment="the notice's policy"),
        sa.Column("status", sa.String(length=12), nullable=False, comment="open | accepted | rejected | superseded"),
        sa.Column("reviewed_by", sa.String(length=80)),
        sa.Column("reviewed_at", sa.DateTime(timezone=True)),
        sa.Column("reason", sa.Text(), comment="the officer's reason (required to reject)"),
        sa.Column("overrides_registry", sa.Boolean(), nullable=False, comment="wins over a later registry value"),
        sa.ForeignKeyConstraint(["notice_id"], ["notices.id"], name=op.f("fk_supplied_facts_notice_id_notices")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_supplied_facts")),
    )
    op.create_index(op.f("ix_supplied_facts_status"), "supplied_facts", ["status"])
    op.create_index(op.f("ix_supplied_facts_uscc_fact"), "supplied_facts", ["uscc", "fact"])
    op.create_index(op.f("ix_supplied_facts_notice_id"), "supplied_facts", ["notice_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_supplied_facts_notice_id"), table_name="supplied_facts")
    op.drop_index(op.f("ix_supplied_facts_uscc_fact"), table_name="supplied_facts")
    op.drop_index(op.f("ix_supplied_facts_status"), table_name="supplied_facts")
    op.drop_table("supplied_facts")
