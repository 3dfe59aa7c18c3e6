"""notices.topic: a notice is unique per (enterprise, policy, period, kind, topic); the topic of an eligible
decision's notice is the amount it announces, so a later run that changes the amount notifies again

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

_COMMENT = "what sets it apart from another notice of its kind: the amount announced, a batch, a reminder"


def upgrade() -> None:
    with op.batch_alter_table("notices") as batch:
        batch.add_column(sa.Column("topic", sa.String(length=40), server_default="", nullable=False, comment=_COMMENT))
        batch.drop_constraint(op.f("uq_notices_uscc_policy_id_period_key_kind"), type_="unique")
        batch.create_unique_constraint(
            op.f("uq_notices_uscc_policy_id_period_key_kind_topic"),
            ["uscc", "policy_id", "period_key", "kind", "topic"],
        )
    notices = sa.table("notices", sa.column("topic"), sa.column("amount_fen"), sa.column("kind"))
    op.execute(
        notices.update()
        .where(notices.c.kind.in_(("granted", "awaiting_confirmation")), notices.c.amount_fen.is_not(None))
        .values(topic=sa.cast(notices.c.amount_fen, sa.String))
    )


def downgrade() -> None:
    with op.batch_alter_table("notices") as batch:
        batch.drop_constraint(op.f("uq_notices_uscc_policy_id_period_key_kind_topic"), type_="unique")
        batch.create_unique_constraint(
            op.f("uq_notices_uscc_policy_id_period_key_kind"), ["uscc", "policy_id", "period_key", "kind"]
        )
        batch.drop_column("topic")
