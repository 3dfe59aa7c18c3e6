"""payment items keep two index entries fewer: the open key is a partial index, the reference a derived column

Revision ID: 0021
Revises: 0020

Reconciling a batch settles every item (``outcome``, ``open`` = null): ``open`` is in an index, so each update
writes a new entry in every index of the table (no HOT update). Two of the five were more than the rules need:

- ``uq (uscc, policy_id, period_key, open)``: a benefit in at most one open batch. Null ``open`` never
  conflicts, so the same rule is a unique index on (uscc, policy_id, period_key) over the open items only
  (``WHERE open = 1``): a settled item leaves it, and it holds the open items only, not every batch ever paid.
- ``uq (reference)``: the reference is ``HQ<batch>-<line>`` (matcher.payouts.batches.reference), unique because
  (batch_id, line) is; a CHECK now says so, and the unique index on (batch_id, line) keeps it unique.

Both dialects (SQLite rebuilds the table: its unique constraints are part of the table's definition).
"""

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None

OPEN_KEY = ["uscc", "policy_id", "period_key"]
OPEN = sa.text("open = 1")
DERIVED = "reference = 'HQ' || batch_id || '-' || line"


def upgrade() -> None:
    with op.batch_alter_table("payment_items") as batch:
        batch.drop_constraint(op.f("uq_payment_items_uscc_policy_id_period_key_open"), type_="unique")
        batch.drop_constraint(op.f("uq_payment_items_reference"), type_="unique")
        batch.create_check_constraint(op.f("ck_payment_items_reference"), DERIVED)
    op.create_index(
        op.f("ix_payment_items_uscc_policy_id_period_key"),
        "payment_items",
        OPEN_KEY,
        unique=True,
        postgresql_where=OPEN,
        sqlite_where=OPEN,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_payment_items_uscc_policy_id_period_key"), table_name="payment_items")
    with op.batch_alter_table("payment_items") as batch:
        batch.drop_constraint(op.f("ck_payment_items_reference"), type_="check")
        batch.create_unique_constraint(op.f("uq_payment_items_reference"), ["reference"])
        batch.create_unique_constraint(op.f("uq_payment_items_uscc_policy_id_period_key_open"), [*OPEN_KEY, "open"])
