"""responses (feedback); notices rendered on read; bulk tables without per-row foreign keys

- ``responses``: what enterprises did with their notices;
- ``notices`` lose their stored text and idempotency key (both derived from the
  notice and its decision), ``decisions`` gain ``failing_zh`` and lead their
  unique key with ``uscc``;
- ``decisions``, ``benefits`` and ``notices`` drop the foreign key to ``runs``
  (see ``matcher.db.models``): bulk writes at millions of rows.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "responses",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("notice_id", sa.BigInteger(), nullable=False),
        sa.Column("uscc", sa.String(length=18), nullable=False),
        sa.Column("policy_id", sa.String(length=80), nullable=False),
        sa.Column("period_key", sa.String(length=16), nullable=False),
        sa.Column(
            "kind",
            sa.String(length=24),
            nullable=False,
            comment="opened | confirmed | supplied_data | declined | objected | ignored",
        ),
        sa.Column("detail", sa.JSON(), nullable=True, comment="objection reason, or the supplied fact and value"),
        sa.Column(
            "actor", sa.String(length=80), nullable=False, comment="who acted: the enterprise's token, or 'simulator'"
        ),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["notice_id"], ["notices.id"], name=op.f("fk_responses_notice_id_notices")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_responses")),
    )
    op.create_index(op.f("ix_responses_uscc_policy_id"), "responses", ["uscc", "policy_id"])
    op.create_index(op.f("ix_responses_notice_id"), "responses", ["notice_id"])

    with op.batch_alter_table("notices") as batch:
        batch.drop_constraint(op.f("uq_notices_idempotency_key"), type_="unique")
        batch.drop_constraint(op.f("fk_notices_run_id_runs"), type_="foreignkey")
        for column in ("idempotency_key", "title_zh", "title_en", "body_zh", "body_en"):
            batch.drop_column(column)
        batch.alter_column("run_id", existing_type=sa.String(length=32), comment="runs.id")
    with op.batch_alter_table("decisions") as batch:
        batch.drop_constraint(op.f("fk_decisions_run_id_runs"), type_="foreignkey")
        batch.drop_constraint(op.f("uq_decisions_run_id_uscc_policy_id"), type_="unique")
        batch.drop_index(op.f("ix_decisions_uscc"))
        batch.add_column(sa.Column("failing_zh", sa.Text(), nullable=True, comment="the same in Chinese"))
        batch.create_unique_constraint(op.f("uq_decisions_uscc_run_id_policy_id"), ["uscc", "run_id", "policy_id"])
        batch.alter_column("run_id", existing_type=sa.String(length=32), comment="runs.id")
        batch.alter_column(
            "unknown_facts", existing_type=sa.Text(), comment="'; '-separated facts to ask for (needs_data)"
        )
        batch.alter_column(
            "failing", existing_type=sa.Text(), comment="conditions not met, with their gap, in English (near_miss)"
        )
    with op.batch_alter_table("benefits") as batch:
        batch.drop_constraint(op.f("fk_benefits_run_id_runs"), type_="foreignkey")
        batch.alter_column("run_id", existing_type=sa.String(length=32), comment="runs.id")


def downgrade() -> None:
    with op.batch_alter_table("benefits") as batch:
        batch.create_foreign_key(op.f("fk_benefits_run_id_runs"), "runs", ["run_id"], ["id"])
    with op.batch_alter_table("decisions") as batch:
        batch.drop_constraint(op.f("uq_decisions_uscc_run_id_policy_id"), type_="unique")
        batch.drop_column("failing_zh")
        batch.create_index(op.f("ix_decisions_uscc"), ["uscc"])
        batch.create_unique_constraint(op.f("uq_decisions_run_id_uscc_policy_id"), ["run_id", "uscc", "policy_id"])
        batch.create_foreign_key(op.f("fk_decisions_run_id_runs"), "runs", ["run_id"], ["id"])
    # Notices written after this revision have no stored text; a downgrade fills the columns with ''.
    with op.batch_alter_table("notices") as batch:
        for column in ("title_zh", "title_en", "body_zh", "body_en"):
            batch.add_column(sa.Column(column, sa.Text(), nullable=False, server_default=""))
        batch.add_column(sa.Column("idempotency_key", sa.String(length=160), nullable=True))
        batch.create_foreign_key(op.f("fk_notices_run_id_runs"), "runs", ["run_id"], ["id"])
    op.execute("UPDATE notices SET idempotency_key = uscc || ':' || policy_id || ':' || period_key || ':' || kind")
    with op.batch_alter_table("notices") as batch:
        batch.alter_column("idempotency_key", existing_type=sa.String(length=160), nullable=False)
        batch.create_unique_constraint(op.f("uq_notices_idempotency_key"), ["idempotency_key"])
    op.drop_index(op.f("ix_responses_notice_id"), table_name="responses")
    op.drop_index(op.f("ix_responses_uscc_policy_id"), table_name="responses")
    op.drop_table("responses")
