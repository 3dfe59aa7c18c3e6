"""Run examples: each policy's own (both back-ends against ``expect``), and catalogue examples over several.

A catalogue example (``examples/*.yaml`` beside the policy files) gives one
enterprise's facts, what earlier runs granted it, and the outcome expected
once the policies are resolved together: which decision each policy reaches
(``granted``, ``awaiting_confirmation``, ``recommended``, ``needs_data``,
``near_miss``, or ``none``) and its amount — so groups, ``supersedes``,
``requires``, top-ups and delivery by condition are tested by the officer who
writes them, with the matcher's own ``decide``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Literal

import polars as pl
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from features.profiles import FACTS
from policies.catalogue import Catalogue
from policies.compiled import CompiledPolicy
from policies.errors import PolicyError, PolicyFileError
from policies.evaluate import evaluate_policies
from policies.model import Example
from policies.source import read_yaml_file
from policies.trace import trace

__all__ = [
    "CATALOGUE_EXAMPLES_DIR",
    "DEFAULT_EXAMPLE_AS_OF",
    "CatalogueExample",
    "ExampleResult",
    "run_catalogue_example",
    "run_catalogue_examples",
    "run_example",
    "run_examples",
]

CATALOGUE_EXAMPLES_DIR = "examples"  # the folder of catalogue examples, inside a folder of policies

DEFAULT_EXAMPLE_AS_OF = date(2025, 6, 30)
_SCHEMA: dict[str, pl.DataType | type[pl.DataType]] = {"uscc": pl.String, **{f.name: f.dtype for f in FACTS}}
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
        failing = [f.text or "" for f in traced.failing()] or traced.unknown_facts()
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


# Catalogue examples: several policies resolved together.

Status = Literal["granted", "awaiting_confirmation", "recommended", "needs_data", "near_miss", "none"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class Granted(_Strict):
    """A benefit an earlier run granted the enterprise (it blocks, tops up, or satisfies ``requires``)."""

    policy: str
    amount: float = Field(ge=0, description="yuan")
    period_key: str | None = Field(default=None, description="default: the policy's period as of the example")


class Outcome(_Strict):
    status: Status
    amount: float | None = Field(default=None, description="yuan, after the graph (a top-up: the difference)")


class CatalogueExample(_Strict):
    name: str
    as_of: date | None = None
    policies: list[str] | None = Field(default=None, description="the policies taken; default: all in force")
    facts: dict[str, Any] = {}
    granted: list[Granted] = []
    expect: dict[str, Outcome | Status]


class _File(_Strict):
    examples: list[CatalogueExample] = Field(min_length=1)


def _prior(example: CatalogueExample, chosen: list[CompiledPolicy], row: pl.DataFrame, as_of: date) -> pl.DataFrame:
    from matcher.periods import certificate_key, period_key  # the matcher builds on policies, not the reverse

    by_id = {p.id: p for p in chosen}
    rows = []
    for g in example.granted:
        key = g.period_key
        if key is None and g.policy in by_id:
            benefit = by_id[g.policy].policy.benefit
            key = (
                row.select(certificate_key(pl.col(benefit.certificate))).item()
                if benefit.certificate
                else period_key(benefit.period, as_of)
            )
        rows.append({"uscc": "example", "policy_id": g.policy, "period_key": key, "amount_fen": round(g.amount * 100)})
    schema = {"uscc": pl.String, "policy_id": pl.String, "period_key": pl.String, "amount_fen": pl.Int64}
    return pl.DataFrame(rows, schema=schema)


def run_catalogue_example(catalogue: Catalogue, example: CatalogueExample, source: str) -> ExampleResult:
    """Resolve the example's policies for its enterprise with the matcher's ``decide``; compare with ``expect``."""
    from matcher.decide import decide

    as_of = example.as_of or DEFAULT_EXAMPLE_AS_OF
    in_force = {p.id: p for p in catalogue.in_force(as_of)}
    problems: list[str] = []
    wanted = example.policies if example.policies is not None else sorted(in_force)
    named = set(wanted) | set(example.expect) | {g.policy for g in example.granted}
    for pid in sorted(named - set(in_force)):
        problems.append(
            f"policy '{pid}' is not in force on {as_of} (or not in the catalogue): known in force are"
            f" {', '.join(sorted(in_force))}"
        )
    if problems:
        return ExampleResult(source, example.name, False, tuple(problems))
    chosen = [in_force[pid] for pid in wanted]
    try:
        row = pl.DataFrame([{name: example.facts.get(name) for name in _SCHEMA} | {"uscc": "example"}], schema=_SCHEMA)
    except (TypeError, ValueError, pl.exceptions.PolarsError) as err:
        return ExampleResult(source, example.name, False, (f"facts do not match the catalogue's types: {err}",))
    decided = decide(row, chosen, as_of, prior=_prior(example, chosen, row, as_of)).decisions
    got = {r["policy_id"]: r for r in decided.iter_rows(named=True)}
    for pid, want in sorted(example.expect.items()):
        outcome = want if isinstance(want, Outcome) else Outcome(status=want)
        row_got = got.get(pid)
        status = row_got["status"] if row_got else "none"
        if status != outcome.status:
            problems.append(f"'{pid}': expected {outcome.status}, got {status}")
        elif outcome.amount is not None:
            amount = None if row_got is None or row_got["amount_fen"] is None else row_got["amount_fen"] / 100
            if amount is None or abs(amount - outcome.amount) > AMOUNT_TOLERANCE:
                problems.append(f"'{pid}': expected amount {outcome.amount:,.2f}, got {amount}")
    return ExampleResult(source, example.name, not problems, tuple(problems))


def read_catalogue_examples(path: Path) -> list[CatalogueExample]:
    """The examples of one file; PolicyFileError at the line and column of the first mistake."""
    raw, positions = read_yaml_file(path)
    try:
        return _File.model_validate(raw).examples
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "the file"
        raise PolicyFileError(
            f"catalogue example field '{where}': {first['msg']}; found {first.get('input')!r}",
            hint="a catalogue example has name, as_of, policies, facts, granted and expect (docs/policies.md)",
            location=positions.location(str(path), tuple(first["loc"])),
        ) from None


def run_catalogue_examples(catalogue: Catalogue, folders: list[Path]) -> list[ExampleResult]:
    """Every catalogue example under ``folders`` (their ``examples/`` subfolder); a file that does not read is
    one failed result naming where and why."""
    results: list[ExampleResult] = []
    for folder in folders:
        for path in sorted((folder / CATALOGUE_EXAMPLES_DIR).glob("*.yaml")) if folder.is_dir() else []:
            source = f"{CATALOGUE_EXAMPLES_DIR}/{path.name}"
            try:
                examples = read_catalogue_examples(path)
            except PolicyError as err:
                results.append(ExampleResult(source, "(file)", False, (str(err),)))
                continue
            results += [run_catalogue_example(catalogue, ex, source) for ex in examples]
    return results
