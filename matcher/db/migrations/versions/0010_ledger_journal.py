"""the ledger's journal: one row per change of a benefit; benefits.paid_fen; cancelled benefits owe nothing

Every benefit already in the ledger gets an opening entry with its amount, so
each balance is the sum of its journal from the start; a cancelled one then
gets a cancelling entry and owes 0.

Revision ID: 0010
Revises: 0009
"""

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from matcher.amounts import amount_check

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("benefits") as batch:
        batch.add_column(
            sa.Column(
                "paid_fen",
                sa.BigInteger(),
                server_default="0",
                nullable=False,
                comment="paid so far: the sum of the journal's payments",
            )
        )
        batch.create_check_constraint(op.f("ck_benefits_paid_fen"), amount_check("paid_fen"))
    if op.get_bind().dialect.name == "postgresql":  # SQLite keeps no column comments
        op.alter_column(
            "benefits",
            "amount_fen",
            existing_type=sa.BigInteger(),
            existing_nullable=False,
            comment="owed: the sum of the journal's amount changes",
        )
        op.alter_column(
            "benefits",
            "status",
            existing_type=sa.String(length=16),
            existing_nullable=False,
            comment="matcher.ledger.statuses.BenefitStatus",
        )
    journal = op.create_table(
        "benefit_journal",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("uscc", sa.String(length=18), nullable=False),
        sa.Column("policy_id", sa.String(length=80), nullable=False),
        sa.Column("period_key", sa.String(length=16), nullable=False),
        sa.Column("entry", sa.String(length=24), nullable=False, comment="matcher.ledger.statuses.JournalEntry"),
        sa.Column("status_before", sa.String(length=16), comment="null when the entry creates the benefit"),
        sa.Column("status_after", sa.String(length=16), nullable=False),
        sa.Column("amount_before_fen", sa.BigInteger(), nullable=False),
        sa.Column("amount_after_fen", sa.BigInteger(), nullable=False),
        sa.Column(
            "paid_fen", sa.BigInteger(), nullable=False, comment="money moved by this entry: + paid, - recovered"
        ),
        sa.Column(
            "actor",
            sa.String(length=120),
            nullable=False,
            comment="who: run:<id>, enterprise:<uscc>#n, officer:<name>#n",
        ),
        sa.Column("reason", sa.Text(), nullable=False, comment="why, in the actor's words or the rule's"),
        sa.Column(
            "ref", sa.String(length=64), nullable=False, comment="what caused it: a run, a response, a review, a batch"
        ),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_benefit_journal")),
        sa.UniqueConstraint(
            "uscc",
            "policy_id",
            "period_key",
            "entry",
            "ref",
            name=op.f("uq_benefit_journal_uscc_policy_id_period_key_entry_ref"),
        ),
        sa.CheckConstraint(amount_check("amount_after_fen"), name=op.f("ck_benefit_journal_amount_after_fen")),
    )
    # Opening balances: what the ledger held before it had a journal.
    now = datetime.now(UTC)
    benefits = sa.table(
        "benefits",
        sa.column("uscc"),
        sa.column("policy_id"),
        sa.column("period_key"),
        sa.column("status"),
        sa.column("amount_fen"),
        sa.column("run_id"),
    )
    columns = ["uscc", "policy_id", "period_key", "entry", "status_before", "status_after"]
    columns += ["amount_before_fen", "amount_after_fen", "paid_fen", "actor", "reason", "ref", "at"]
    opening = sa.select(
        benefits.c.uscc,
        benefits.c.policy_id,
        benefits.c.period_key,
        sa.literal("granted"),
        sa.null(),
        sa.literal("granted"),
        sa.literal(0),
        benefits.c.amount_fen,
        sa.literal(0),
        sa.literal("migration:0010"),
        sa.literal("opening balance: the benefit as the ledger held it before the journal"),
        benefits.c.run_id,
        sa.literal(now),
    )
    op.execute(journal.insert().from_select(columns, opening))
    cancelled = sa.select(
        benefits.c.uscc,
        benefits.c.policy_id,
        benefits.c.period_key,
        sa.literal("cancelled"),
        sa.literal("granted"),
        benefits.c.status,
        benefits.c.amount_fen,
        sa.literal(0),
        sa.literal(0),
        sa.literal("migration:0010"),
        sa.literal("cancelled before the journal: a cancelled benefit owes nothing"),
        sa.literal("migration:0010"),
        sa.literal(now),
    ).where(benefits.c.status == "cancelled")
    held = sa.select(
        benefits.c.uscc,
        benefits.c.policy_id,
        benefits.c.period_key,
        sa.literal("held"),
        sa.literal("granted"),
        benefits.c.status,
        benefits.c.amount_fen,
        benefits.c.amount_fen,
        sa.literal(0),
        sa.literal("migration:0010"),
        sa.literal("held by an objection before the journal"),
        sa.literal("migration:0010"),
        sa.literal(now),
    ).where(benefits.c.status == "held")
    op.execute(journal.insert().from_select(columns, cancelled))
    op.execute(journal.insert().from_select(columns, held))
    op.execute(benefits.update().where(benefits.c.status == "cancelled").values(amount_fen=0))


def downgrade() -> None:
    op.drop_table("benefit_journal")
    with op.batch_alter_table("benefits") as batch:
        batch.drop_constraint(op.f("ck_benefits_paid_fen"), type_="check")
        batch.drop_column("paid_fen")
