"""supervision_events: card transitions and escalations of matters waiting on officers; audit_log.request_id

Revision ID: 0017
Revises: 0016
"""

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "supervision_events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column(
            "step",
            sa.String(length=24),
            nullable=False,
            comment="objection | supplied_fact | payment_approval | payment | dead_letter",
        ),
        sa.Column("matter_id", sa.BigInteger(), nullable=False, comment="the id of the matter in its own table"),
        sa.Column(
            "opened_at",
            sa.DateTime(timezone=True),
            nullable=False,
            comment="when the matter opened: with step and matter_id, which matter",
        ),
        sa.Column("event", sa.String(length=12), nullable=False, comment="yellow | red | green | escalated"),
        sa.Column("holder", sa.String(length=80), nullable=False, comment="who held the matter when it happened"),
        sa.Column("office", sa.String(length=16), nullable=False),
        sa.Column("policy_id", sa.String(length=80)),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_supervision_events")),
        sa.UniqueConstraint(
            "step", "matter_id", "opened_at", "event", name=op.f("uq_supervision_events_step_matter_id_opened_at_event")
        ),
    )
    op.create_index(op.f("ix_supervision_events_event_at"), "supervision_events", ["event", "at"])
    with op.batch_alter_table("audit_log") as batch:
        batch.add_column(
            sa.Column("request_id", sa.String(length=64), comment="X-Request-ID of the HTTP request that wrote it")
        )


def downgrade() -> None:
    with op.batch_alter_table("audit_log") as batch:
        batch.drop_column("request_id")
    op.drop_index(op.f("ix_supervision_events_event_at"), table_name="supervision_events")
    op.drop_table("supervision_events")
