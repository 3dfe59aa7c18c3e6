"""The database: tables, migrations, engines and bulk writes, in one place.

Used by the matcher's run and by the API. SQLite by default, PostgreSQL in
production; the schema is created and upgraded only by Alembic migrations.
"""

from matcher.db.engine import DatabaseUnavailable, connect, make_engine, open_database, upgrade
from matcher.db.models import metadata

__all__ = ["DatabaseUnavailable", "connect", "make_engine", "metadata", "open_database", "upgrade"]
