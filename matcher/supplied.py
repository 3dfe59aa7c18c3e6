"""The accepted attestations a run lays over its profiles, and their fingerprint (part of the run's id).

An attestation is accepted in the service (api/service/supplied_facts.py); a run reads what was accepted when
it started, so a run resumed after a crash decides from the same facts, and a fact accepted since makes the
next run a new one (its id changes) instead of finding the last run completed.
"""

from __future__ import annotations

import hashlib
from datetime import date
from typing import Any

from sqlalchemy import Connection, Engine, select

from features.profiles.catalogue import fact
from matcher.db.models import supplied_facts

__all__ = ["accepted_facts", "attested_fingerprint", "typed_value"]


def typed_value(name: str, value: Any) -> Any:
    """A stored JSON value in its fact's type (dates are stored as YYYY-MM-DD)."""
    if value is not None and fact(name).kind == "date" and isinstance(value, str):
        return date.fromisoformat(value)
    return value


def accepted_facts(source: Engine | Connection) -> list[dict[str, Any]]:
    """The current accepted value of each (enterprise, fact): the latest accepted (older ones are superseded)."""
    query = (
        select(
            supplied_facts.c.id,
            supplied_facts.c.uscc,
            supplied_facts.c.fact,
            supplied_facts.c.value,
            supplied_facts.c.overrides_registry,
        )
        .where(supplied_facts.c.status == "accepted")
        .order_by(supplied_facts.c.id)
    )
    if isinstance(source, Engine):
        with source.connect() as connection:
            rows = connection.execute(query).mappings().all()
    else:
        rows = source.execute(query).mappings().all()
    latest = {(r["uscc"], r["fact"]): dict(r) for r in rows}  # ordered by id: the last accepted wins
    return [r | {"value": typed_value(r["fact"], r["value"])} for r in latest.values()]


def attested_fingerprint(rows: list[dict[str, Any]]) -> str:
    """Empty when nothing is attested, so runs without attestations keep the ids they always had."""
    if not rows:
        return ""
    digest = hashlib.sha256()
    for r in sorted(rows, key=lambda r: r["id"]):
        digest.update(f"{r['id']}|{r['uscc']}|{r['fact']}|{r['value']}|{r['overrides_registry']};".encode())
    return digest.hexdigest()
