"""Each person once: per-person benefits that count an insured person at most once per policy family.

A policy with ``benefit.persons: <family>`` pays per person (``per: person``)
and counts each person once across enterprises, years and the policies of the
family: its count is the persons behind its count fact (``hired_persons``)
that no earlier run counted in the family, each assigned to one enterprise
(the earliest hire; ties: the lower USCC). Pure frames in, frames out; the
persons a grant counted are recorded by ``matcher.ledger.persons``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import polars as pl

from features.profiles.social_insurance import hired_persons
from policies.compiled import CompiledPolicy

__all__ = ["COUNTED", "PERSONS", "assign_persons", "hired_for", "person_families"]

# The persons behind the hire counts: one row per (uscc, person_id, fact).
PERSONS = {"uscc": pl.String, "person_id": pl.String, "hire_date": pl.Date, "fact": pl.String}
# Persons other runs counted, per family.
COUNTED = {"family": pl.String, "person_id": pl.String}


def person_families(policies: Sequence[CompiledPolicy]) -> dict[str, tuple[str, str]]:
    """Policy id → (family, count fact) of the policies that count each person once."""
    out: dict[str, tuple[str, str]] = {}
    for p in policies:
        family = p.policy.benefit.persons
        if family is not None and p.count is not None:
            out[p.id] = (family, p.count.text.strip())
    return out


def assign_persons(
    eligible: pl.DataFrame, persons: pl.DataFrame, counted: pl.DataFrame, families: dict[str, tuple[str, str]]
) -> pl.DataFrame:
    """(uscc, policy_id, family, person_id) of each person not yet counted, given to one eligible enterprise.

    ``eligible``: (uscc, policy_id) of the enterprises eligible for a per-person policy in this run.
    """
    parts = []
    for policy_id, (family, fact) in sorted(families.items()):
        firms = eligible.filter(pl.col("policy_id") == policy_id).select("uscc")
        parts.append(
            persons.filter(pl.col("fact") == fact)
            .join(firms, on="uscc", how="semi")
            .select("uscc", "person_id", "hire_date", policy_id=pl.lit(policy_id), family=pl.lit(family))
        )
    if not parts:
        return pl.DataFrame(
            schema={"uscc": pl.String, "policy_id": pl.String, "family": pl.String, "person_id": pl.String}
        )
    return (
        pl.concat(parts)
        .join(counted, on=["family", "person_id"], how="anti")
        .sort("family", "person_id", "hire_date", "uscc", "policy_id")
        .unique(["family", "person_id"], keep="first", maintain_order=True)
        .select("uscc", "policy_id", "family", "person_id")
    )


def hired_for(families: dict[str, tuple[str, str]], hires: pl.DataFrame, as_of: date) -> pl.DataFrame:
    """The persons behind the hire-count facts the per-person ``families`` read: (uscc, person_id, hire_date, fact)."""
    facts = sorted({fact for _, fact in families.values()})
    return hired_persons(hires.lazy(), as_of, facts).collect()
