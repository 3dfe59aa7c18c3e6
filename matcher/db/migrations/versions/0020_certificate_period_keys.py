"""period_key holds 64 characters: a benefit paid once per certificate is keyed by the certificate's number

Revision ID: 0020
Revises: 0019

``cert:`` and a certificate number (``cert:GR202344001234``, 19 characters; matcher.periods.PERIOD_KEY_LENGTH)
do not fit the 16 characters every table storing a benefit's key had. Existing keys are kept: a benefit granted
as ``cert:<validity start>`` stays so (the database does not know the certificate's number; the registry does),
and a run matches it to the certificate the enterprise holds (matcher.decide), so it is not paid again.

PostgreSQL widens a varchar in place (no table rewrite). SQLite enforces no length: only the declared type in its
schema is rewritten (``_retype_sqlite``), so the tables match the models.
"""

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

TABLES = (
    "decisions",
    "benefits",
    "benefit_journal",
    "notices",
    "responses",
    "payment_items",
    "ledger_proposals",
    "benefit_persons",
)


def _alter(old: int, new: int) -> None:
    if op.get_bind().dialect.name == "sqlite":
        _retype_sqlite(old, new)
        return
    for table in TABLES:
        op.alter_column(
            table,
            "period_key",
            existing_type=sa.String(length=old),
            type_=sa.String(length=new),
            existing_nullable=False,
        )


def _retype_sqlite(old: int, new: int) -> None:
    """Rewrite the declared type in the schema, as SQLite's ALTER TABLE documentation allows for changes that leave
    the stored rows as they are (a VARCHAR of any length is TEXT to SQLite, which enforces no length).

    Batch mode (copy into a new table, drop the old one, rename) cannot be used: dropping notices or responses
    while answers or supplied facts refer to them fails their foreign keys, and foreign keys cannot be switched off
    inside the upgrade's transaction.
    """
    bind = op.get_bind()
    before, after = f"period_key VARCHAR({old}) NOT NULL", f"period_key VARCHAR({new}) NOT NULL"
    version = bind.exec_driver_sql("PRAGMA schema_version").scalar()
    bind.exec_driver_sql("PRAGMA writable_schema = ON")
    try:
        for table in TABLES:
            changed = bind.execute(
                sa.text(
                    "UPDATE sqlite_master SET sql = replace(sql, :before, :after)"
                    " WHERE type = 'table' AND name = :table AND instr(sql, :before) > 0"
                ),
                {"before": before, "after": after, "table": table},
            ).rowcount
            if changed != 1:
                raise RuntimeError(f"{table}.period_key is not declared {before!r}: the schema is not revision 0019's")
        bind.exec_driver_sql(f"PRAGMA schema_version = {int(version) + 1}")  # other connections reread the schema
    finally:
        bind.exec_driver_sql("PRAGMA writable_schema = OFF")


def upgrade() -> None:
    _alter(16, 64)


def downgrade() -> None:
    # Keys longer than 16 characters (per-certificate keys by number) would not fit: refuse rather than cut them.
    bind = op.get_bind()
    for table in TABLES:
        longest = bind.execute(sa.text(f"SELECT max(length(period_key)) FROM {table}")).scalar()
        if longest is not None and longest > 16:
            raise RuntimeError(
                f"cannot downgrade: {table}.period_key holds keys of {longest} characters (certificate numbers);"
                " period_key before revision 0020 holds 16"
            )
    _alter(64, 16)
