"""Alembic environment: runs on the connection huiqi hands over (see matcher.db.engine.upgrade)."""

from alembic import context

from matcher.db.models import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through `huiqi db upgrade` (matcher.db.engine.upgrade)")

context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
