"""The accepted attestations a run lays over its profiles, and their fingerprint (part of the run's id).

An attestation is accepted in the service (api/service/supplied_facts.py); a run reads what was accepted when
it started, so a run resumed after a crash decides from the same facts, and a fact accepted since makes the
next run a new one (its id changes) instead of finding the last run completed. The same holds for the
departments' complete lists (api/service/attested_lists.py): the latest list of each fact is laid over every
profile (features/profiles/department_lists.py), and a newer list makes a new run.
"""

from __future__ import annotations

import hashlib
from datetime import date
from typing import Any

import polars as pl
from sqlalchemy import Connection, Engine, func, select

from features.profiles.attested import apply_attested, with_declared
from features.profiles.catalogue import fact
from features.profiles.declared import load_complete_lists
from features.profiles.department_lists import ListOverlay, apply_lists
from matcher.db.models import attested_list_entries, attested_lists, supplied_facts

__all__ = ["accepted_facts", "attested_fingerprint", "latest_lists", "lay_over", "lists_fingerprint", "typed_value"]


def typed_value(name: str, value: Any) -> Any:
    """A stored JSON value in its fact's type (dates are stored as YYYY-MM-DD)."""
    if value is not None and fact(name).kind == "date" and isinstance(value, str):
        return date.fromisoformat(value)
    return value


def _rows(source: Engine | Connection, query) -> list:
    if isinstance(source, Engine):
        with source.connect() as connection:
            return list(connection.execute(query).mappings().all())
    return list(source.execute(query).mappings().all())


def latest_lists(source: Engine | Connection) -> tuple[list[dict[str, Any]], list[ListOverlay]]:
    """The latest imported complete list of each fact that may still be listed (policies/facts/declared.yaml):
    its metadata rows, and its entries as an overlay for the profiles."""
    terms = load_complete_lists()
    latest = select(func.max(attested_lists.c.id)).group_by(attested_lists.c.fact)
    meta = [
        dict(r)
        for r in _rows(source, select(attested_lists).where(attested_lists.c.id.in_(latest)).order_by("id"))
        if r["fact"] in terms
    ]
    overlays = []
    for m in meta:
        f = fact(m["fact"])
        entries = _rows(
            source,
            select(attested_list_entries.c.uscc, attested_list_entries.c.value).where(
                attested_list_entries.c.list_id == m["id"]
            ),
        )
        frame = pl.DataFrame(
            {"uscc": [e["uscc"] for e in entries], "value": [typed_value(f.name, e["value"]) for e in entries]},
            schema={"uscc": pl.String, "value": f.dtype},
        )
        overlays.append(ListOverlay(f, terms[f.name].absent, frame))
    return meta, overlays


def lists_fingerprint(meta: list[dict[str, Any]]) -> str:
    """Empty when no list was imported, so runs without lists keep the ids they always had."""
    if not meta:
        return ""
    return "lists:" + ",".join(f"{m['id']}:{m['fact']}:{m['file_sha256'][:16]}" for m in meta)


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


def lay_over(profiles: pl.DataFrame, source: Engine | Connection) -> pl.DataFrame:
    """``profiles`` as the next run would decide from them: the departments' latest complete lists, then the
    accepted attestations, laid over (what a draft's impact and a try-out should see, not the bare registry)."""
    _, lists = latest_lists(source)
    return apply_attested(apply_lists(with_declared(profiles), lists), accepted_facts(source))
