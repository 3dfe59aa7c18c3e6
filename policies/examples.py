"""Run a policy's examples through both back-ends and compare with what they expect."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import polars as pl

from features.profiles import FACTS
from policies.compiled import CompiledPolicy
from policies.evaluate import evaluate_policies
from policies.model import Example
from policies.trace import trace

__all__ = ["DEFAULT_EXAMPLE_AS_OF", "ExampleResult", "run_example", "run_examples"]

DEFAULT_EXAMPLE_AS_OF = date(2025, 6, 30)
_SCHEMA = {"uscc": pl.String, **{f.name: f.dtype for f in FACTS}}
AMOUNT_TOLERANCE = 0.005  # yuan: half a fen


def _verdict(value: bool | None) -> bool | str:
    return "unknown" if value is None else value


@dataclass(frozen=True)
class ExampleResult:
    policy: str
    example: str
    ok: bool
    problems: tuple[str, ...]


def run_example(policy: CompiledPolicy, example: Example) -> ExampleResult:
    as_of = example.as_of or DEFAULT_EXAMPLE_AS_OF
    facts = {name: example.facts.get(name) for name in _SCHEMA} | {"uscc": "example"}
    problems: list[str] = []
    try:
        row = pl.DataFrame([facts], schema=_SCHEMA)
    except (TypeError, ValueError, pl.exceptions.PolarsError) as err:
        problems.append(f"facts do not match the catalogue's types: {err}")
        return ExampleResult(policy.id, example.name, False, tuple(problems))
    bulk = evaluate_policies(row, [policy], as_of).collect().row(0, named=True)
    bulk_eligible, bulk_amount = bulk[f"{policy.id}:eligible"], bulk[f"{policy.id}:amount"]
    traced = trace(policy, facts, as_of)
    if traced.eligible != bulk_eligible:
        problems.append(f"bulk and tracer disagree on eligibility: {bulk_eligible} vs {traced.eligible}")
    want = example.expect
    if _verdict(traced.eligible) != want.eligible:
        failing = [f.text for f in traced.failing()] or traced.unknown_facts()
        problems.append(
            f"expected eligible: {want.eligible}, got {_verdict(traced.eligible)}"
            + (f" (failing or unknown: {', '.join(failing)})" if failing else "")
        )
    if want.amount is not None:
        if bulk_amount is None or abs(bulk_amount - want.amount) > AMOUNT_TOLERANCE:
            problems.append(f"expected amount {want.amount:,.2f}, got {bulk_amount}")
        if traced.amount is None or bulk_amount is None or abs(traced.amount - bulk_amount) > 1e-9:
            problems.append(f"bulk and tracer disagree on the amount: {bulk_amount} vs {traced.amount}")
    return ExampleResult(policy.id, example.name, not problems, tuple(problems))


def run_examples(policies: list[CompiledPolicy]) -> list[ExampleResult]:
    return [run_example(p, ex) for p in policies for ex in p.policy.examples]
