"""The persons per-person benefits counted (``benefit_persons``): each person once per policy family.

Written with a run's grants, by ``insert_missing`` (a person already counted
in the family is skipped, so a rerun after a kill writes nothing twice), and
read by later runs excluding their own rows, so a resumed run assigns the same
persons as an uninterrupted one would.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import polars as pl
from sqlalchemy import Engine, select

from matcher.db.bulk import CHUNK_ROWS, insert_missing
from matcher.db.models import benefit_persons
from matcher.persons import COUNTED

__all__ = ["count_persons", "counted_persons"]


def counted_persons(engine: Engine, run_id: str, families: Iterable[str]) -> pl.DataFrame:
    """(family, person_id) other runs counted in ``families``."""
    wanted = sorted(set(families))
    if not wanted:
        return pl.DataFrame(schema=COUNTED)
    query = select(benefit_persons.c.family, benefit_persons.c.person_id).where(
        benefit_persons.c.run_id != run_id, benefit_persons.c.family.in_(wanted)
    )
    with engine.connect() as connection:
        return pl.DataFrame(connection.execute(query).all(), schema=COUNTED, orient="row")


def count_persons(
    engine: Engine, persons: pl.DataFrame, run_id: str, at: datetime, *, chunk_rows: int = CHUNK_ROWS
) -> None:
    """Record ``persons`` (family, person_id, uscc, policy_id, period_key) as counted by run ``run_id``."""
    rows = persons.select(
        "family", "person_id", "uscc", "policy_id", "period_key", run_id=pl.lit(run_id), counted_at=pl.lit(at)
    )
    insert_missing(engine, benefit_persons, rows, chunk_rows=chunk_rows)
