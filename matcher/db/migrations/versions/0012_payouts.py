"""payouts: payment batches and their items, the bank's return lines, accounts corrected by enterprises

Revision ID: 0012
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "account_corrections",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("uscc", sa.String(length=18), nullable=False),
        sa.Column("bank_code", sa.String(length=12), nullable=False),
        sa.Column("account_no", sa.String(length=40), nullable=False),
        sa.Column("account_name", sa.String(length=200), nullable=False),
        sa.Column("given_by", sa.String(length=80), nullable=False, comment="the enterprise's token (actor)"),
        sa.Column("given_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_account_corrections")),
    )
    op.create_index(op.f("ix_account_corrections_uscc"), "account_corrections", ["uscc"], unique=False)
    op.create_table(
        "payment_batches",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column(
            "status",
            sa.String(length=16),
            nullable=False,
            comment="preparing → prepared → approved → exported → reconciled",
        ),
        sa.Column("as_of", sa.Date(), nullable=False, comment="the day payability was judged"),
        sa.Column(
            "preparing",
            sa.Integer(),
            nullable=True,
            comment="1 while being prepared, null after: the unique key lets one prepare run at a time",
        ),
        sa.Column("prepared_by", sa.String(length=80), nullable=False, comment="actor (audit form)"),
        sa.Column("preparer", sa.String(length=80), nullable=False, comment="the person who prepared it (maker)"),
        sa.Column("prepared_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("approved_by", sa.String(length=80), nullable=True),
        sa.Column(
            "approver",
            sa.String(length=80),
            nullable=True,
            comment="the person who approved it (checker): never the maker",
        ),
        sa.Column("approved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("exported_by", sa.String(length=80), nullable=True),
        sa.Column("exported_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "file_sha256",
            sa.String(length=64),
            nullable=True,
            comment="SHA-256 of the payment file as exported (every export is the same)",
        ),
        sa.Column("reconciled_by", sa.String(length=80), nullable=True),
        sa.Column("reconciled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "return_sha256",
            sa.String(length=64),
            nullable=True,
            comment="SHA-256 of the bank's return file being or already reconciled",
        ),
        sa.Column("withdrawn_by", sa.String(length=80), nullable=True),
        sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("withdrawn_reason", sa.Text(), nullable=True),
        sa.Column("item_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("total_fen", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("paid_count", sa.Integer(), nullable=True),
        sa.Column("paid_fen", sa.BigInteger(), nullable=True),
        sa.Column("failed_count", sa.Integer(), nullable=True),
        sa.Column("failed_fen", sa.BigInteger(), nullable=True),
        sa.Column(
            "summary",
            sa.JSON(),
            nullable=True,
            comment="what prepare found: made payable, batched, waiting for an account",
        ),
        sa.CheckConstraint(
            "status IN ('preparing', 'prepared', 'approved', 'exported', 'reconciled', 'withdrawn')",
            name=op.f("ck_payment_batches_status"),
        ),
        sa.CheckConstraint("approver IS NULL OR approver <> preparer", name=op.f("ck_payment_batches_maker_checker")),
        sa.CheckConstraint("total_fen >= 0", name=op.f("ck_payment_batches_total_fen")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_batches")),
        sa.UniqueConstraint("preparing", name=op.f("uq_payment_batches_preparing")),
    )
    op.create_table(
        "payment_items",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("batch_id", sa.Integer(), nullable=False, comment="payment_batches.id"),
        sa.Column("line", sa.Integer(), nullable=False, comment="1, 2, ...: its place in the payment file"),
        sa.Column(
            "reference",
            sa.String(length=35),
            nullable=False,
            comment="end-to-end reference in the files: HQ<batch>-<line>",
        ),
        sa.Column("benefit_id", sa.BigInteger(), nullable=False, comment="benefits.id"),
        sa.Column("uscc", sa.String(length=18), nullable=False),
        sa.Column("policy_id", sa.String(length=80), nullable=False),
        sa.Column("policy_version", sa.Integer(), nullable=False),
        sa.Column("period_key", sa.String(length=16), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False, comment="what is transferred: the amount outstanding"),
        sa.Column(
            "bank_code",
            sa.String(length=12),
            nullable=False,
            comment="CNAPS bank code (12 digits) of the payee's branch",
        ),
        sa.Column("account_no", sa.String(length=40), nullable=False),
        sa.Column("account_name", sa.String(length=200), nullable=False),
        sa.Column("account_source", sa.String(length=40), nullable=False, comment="registry | correction:<id>"),
        sa.Column(
            "outcome", sa.String(length=16), nullable=True, comment="null while open | paid | failed | withdrawn"
        ),
        sa.Column(
            "reason_code",
            sa.String(length=8),
            nullable=True,
            comment="the bank's reason for a failure (ISO 20022 code)",
        ),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column(
            "open",
            sa.Integer(),
            nullable=True,
            comment="1 while its batch is open, null once settled or withdrawn: with the unique key below, a benefit"
            " is in at most one open batch",
        ),
        sa.CheckConstraint(
            "amount_fen > 0 AND amount_fen >= 0 AND amount_fen <= 100000000000",
            name=op.f("ck_payment_items_amount_fen"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_items")),
        sa.UniqueConstraint("batch_id", "line", name=op.f("uq_payment_items_batch_id_line")),
        sa.UniqueConstraint("reference", name=op.f("uq_payment_items_reference")),
        sa.UniqueConstraint(
            "uscc", "policy_id", "period_key", "open", name=op.f("uq_payment_items_uscc_policy_id_period_key_open")
        ),
    )
    op.create_index(
        op.f("ix_payment_items_batch_id_benefit_id"), "payment_items", ["batch_id", "benefit_id"], unique=False
    )
    op.create_table(
        "payment_returns",
        sa.Column("batch_id", sa.Integer(), nullable=False, comment="payment_batches.id"),
        sa.Column("reference", sa.String(length=35), nullable=False),
        sa.Column("line", sa.Integer(), nullable=False, comment="its line in the return file"),
        sa.Column("status", sa.String(length=8), nullable=False, comment="paid | failed"),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("reason_code", sa.String(length=8), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("batch_id", "reference", name=op.f("pk_payment_returns")),
    )


def downgrade() -> None:
    op.drop_table("payment_returns")
    op.drop_index(op.f("ix_payment_items_batch_id_benefit_id"), table_name="payment_items")
    op.drop_table("payment_items")
    op.drop_table("payment_batches")
    op.drop_index(op.f("ix_account_corrections_uscc"), table_name="account_corrections")
    op.drop_table("account_corrections")
