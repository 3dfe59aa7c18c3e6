"""payment items lose the (batch_id, benefit_id) index: one index entry fewer per item written and per item settled

Revision ID: 0023
Revises: 0022

At a million payments, writing the items (prepare) and settling them (reconcile: ``open`` changes, so no HOT
update and a new entry in every index) spend most of their server time in index maintenance (perf at 1,000,000,
reconcile: 40 % of the backends' CPU under ``ExecInsertIndexTuples``). Nothing needs this index: every query of
items by benefit also names the batch and reads the batch's items in bulk (hash joins on PostgreSQL; on SQLite an
``IN`` subquery that SQLite materialises once, and joins from items to benefits by the benefits' key). Measured at
1,000,000 (bench/payouts.py stages, one A/B on a busy machine): the backends' CPU 18.9 → 17.8 s for prepare,
21.6 → 20.3 s for reconcile.
"""

from alembic import op

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index(op.f("ix_payment_items_batch_id_benefit_id"), table_name="payment_items")


def downgrade() -> None:
    op.create_index(op.f("ix_payment_items_batch_id_benefit_id"), "payment_items", ["batch_id", "benefit_id"])
