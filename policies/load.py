"""Load policy files into a catalogue; any error anywhere loads nothing.

Every file is read and checked even after an error, so an officer sees all
problems in one pass, each with file, line and column.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from datetime import date
from pathlib import Path

from pydantic import ValidationError

from features.profiles import FACTS
from policies.catalogue import Catalogue
from policies.compiled import CompiledPolicy
from policies.conditions import Expression, build_condition, compile_expression
from policies.errors import CatalogueError, Location, PolicyError, PolicyFileError
from policies.graph import check_relations
from policies.language import ast
from policies.language.evaluate import evaluate
from policies.language.types import FactType
from policies.limits import MIN_EXAMPLES
from policies.model import Policy
from policies.source import Positions, read_policy_file, read_yaml

__all__ = ["CATALOGUE_DIR", "FACT_TYPES", "load_catalogue", "load_policy_text"]

CATALOGUE_DIR = Path(__file__).parent / "catalogue"
FACT_TYPES: dict[str, FactType] = {f.name: FactType(f.kind, f.values) for f in FACTS}
_KINDS = {name: t.kind for name, t in FACT_TYPES.items()}


def _field(loc: tuple[object, ...]) -> str:
    return ".".join(str(p) for p in loc) or "the policy"


def _schema_error(err: ValidationError, file: str, positions: Positions) -> PolicyFileError:
    """The first problem, worded for it: a misspelt field gets "did you mean", missing fields come all at once."""
    errors = err.errors()
    extra = [tuple(e["loc"]) for e in errors if e["type"] == "extra_forbidden"]
    missing = [tuple(e["loc"]) for e in errors if e["type"] == "missing"]
    if extra:
        loc = extra[0]
        # A misspelling shows up as one unknown field and one missing field beside it: the missing one is the guess.
        beside = [m[-1] for m in missing if m[:-1] == loc[:-1]]
        known = beside + (list(Policy.model_fields) if len(loc) == 1 else [])
        near = difflib.get_close_matches(str(loc[-1]), [str(k) for k in known], n=1, cutoff=0.5)
        return PolicyFileError(
            f"unknown field '{_field(loc)}'",
            hint=(f"did you mean '{near[0]}'? " if near else "") + "remove it or check the spelling",
            location=positions.location(file, loc),
        )
    if missing:
        parent = missing[0][:-1]
        names = [str(m[-1]) for m in missing if m[:-1] == parent]
        where = f" in '{_field(parent)}'" if parent else ""
        listed = ", ".join(f"'{n}'" for n in names)
        return PolicyFileError(
            f"missing required field{'s' if len(names) > 1 else ''} {listed}{where}",
            hint="add " + ("them" if len(names) > 1 else "it") + "; see docs/policies.md",
            location=positions.location(file, parent),
        )
    first = errors[0]
    loc = tuple(first["loc"])
    found = first.get("input")
    return PolicyFileError(
        f"field '{_field(loc)}': {first['msg']}; found {found!r}",
        hint="acknowledge a warning of `huiqi policies check` by its code, with a reason; errors cannot be"
        " acknowledged, only fixed (docs/policies.md, Static analysis)"
        if loc[:1] == ("analysis",)
        else "dates are written YYYY-MM-DD; see docs/policies.md for each field",
        location=positions.location(file, loc),
    )


def _check_example_facts(policy: Policy, file: str, positions: Positions) -> None:
    for i, example in enumerate(policy.examples):
        for name in example.facts:
            if name not in FACT_TYPES:
                near = difflib.get_close_matches(name, list(FACT_TYPES), n=3, cutoff=0.5)
                raise PolicyFileError(
                    f"example '{example.name}' sets unknown fact '{name}'",
                    hint=(f"did you mean {', '.join(repr(n) for n in near)}? " if near else "")
                    + "`huiqi facts` lists every fact",
                    location=positions.location(file, ("examples", i, "facts", name)),
                )


def _check_examples(policy: Policy, file: str, positions: Positions) -> None:
    if len(policy.examples) < MIN_EXAMPLES:
        raise PolicyFileError(
            f"expected at least {MIN_EXAMPLES} examples, found {len(policy.examples)}",
            hint="add examples that the rules decide: at least one eligible enterprise and one that is not,"
            " each with its facts and the expected eligibility and amount (docs/policies.md)",
            location=positions.location(file, ("examples",)),  # the list, or the policy when there is none
        )


def _check_not_negative(expr: Expression, what: str) -> None:
    """An amount or count written as a negative number is a mistake; computed ones are the matcher's to check."""
    if any(isinstance(node, ast.FactRef) for node, _ in ast.walk(expr.node)):
        return
    try:
        value = evaluate(expr.node, {}, date.min)  # reads no fact, not even as_of
    except (ArithmeticError, ValueError):  # e.g. a date pushed past year 9999: not a number to judge
        return
    if value is not None and value < 0:
        raise PolicyFileError(
            f"the {what} {expr.text!r} is negative ({value:g})",
            hint=f"a benefit pays: write the {what} as a number of zero or more",
            location=expr.location,
        )


def load_policy_text(text: str, file: str) -> tuple[CompiledPolicy, Positions]:
    """Parse, validate and compile one policy file's text."""
    raw, positions = read_yaml(text, file)
    if not isinstance(raw, dict):
        raise PolicyFileError(
            "expected a mapping of policy fields at the top level",
            hint="start with 'id: my-policy'",
            location=Location(file, 1, 1),
        )
    try:
        policy = Policy.model_validate(raw)
    except ValidationError as err:
        raise _schema_error(err, file, positions) from None
    eligibility = build_condition(policy.eligibility, FACT_TYPES, file=file, positions=positions, path=("eligibility",))
    amount = compile_expression(
        policy.benefit.amount,
        FACT_TYPES,
        file=file,
        positions=positions,
        path=("benefit", "amount"),
        want=("int", "number"),
    )
    count = None
    if policy.benefit.count is not None:
        count = compile_expression(
            policy.benefit.count,
            FACT_TYPES,
            file=file,
            positions=positions,
            path=("benefit", "count"),
            want=("int", "number"),
        )
    _check_not_negative(amount, "amount")
    if count is not None:
        _check_not_negative(count, "count")
    _check_examples(policy, file, positions)
    _check_example_facts(policy, file, positions)
    return CompiledPolicy(policy, file, eligibility, amount, count, _KINDS, positions), positions


def _policy_files(paths: Iterable[Path]) -> list[Path]:
    files: list[Path] = []
    for path in paths:
        files += sorted(path.glob("*.yaml")) + sorted(path.glob("*.yml")) if path.is_dir() else [path]
    return files


def load_catalogue(*paths: Path) -> Catalogue:
    """Load every policy file under ``paths`` (default: the shipped catalogue)."""
    files = _policy_files(paths or (CATALOGUE_DIR,))
    errors: list[PolicyError] = []
    loaded: list[tuple[CompiledPolicy, Positions]] = []
    for file in files:
        try:
            loaded.append(load_policy_text(read_policy_file(file), str(file)))
        except PolicyError as err:
            errors.append(err)
        except OSError as err:
            errors.append(
                PolicyFileError(
                    f"cannot read the file: {err.strerror}", hint="check the path", location=Location(str(file))
                )
            )
    if not files:
        errors.append(
            PolicyFileError(
                "no policy files found",
                hint="policy files end in .yaml",
                location=Location(", ".join(str(p) for p in paths)),
            )
        )
    seen: dict[tuple[str, int], str] = {}
    for compiled, positions in loaded:
        if compiled.policy.key in seen:
            errors.append(
                PolicyFileError(
                    f"duplicate policy id '{compiled.id}' version {compiled.version}"
                    f" (also in {seen[compiled.policy.key]})",
                    hint="give the new file a higher version, or a different id",
                    location=positions.location(compiled.file, ("id",)),
                )
            )
        seen[compiled.policy.key] = compiled.file
    ids = {c.id for c, _ in loaded}
    for compiled, positions in loaded:
        rel = compiled.policy.relations
        for kind in ("excludes", "requires", "supersedes"):
            for i, target in enumerate(getattr(rel, kind)):
                if target not in ids:
                    near = difflib.get_close_matches(target, sorted(ids), n=1, cutoff=0.5)
                    errors.append(
                        PolicyFileError(
                            f"'{kind}' names unknown policy '{target}'",
                            hint=(f"did you mean '{near[0]}'? " if near else "")
                            + f"known policies: {', '.join(sorted(ids))}",
                            location=positions.location(compiled.file, ("relations", kind, i)),
                        )
                    )
    if not errors:  # relations are only meaningful between policies that loaded
        errors += check_relations([c for c, _ in loaded])
    if errors:
        raise CatalogueError(errors)
    return Catalogue(tuple(sorted((c for c, _ in loaded), key=lambda c: c.policy.key)))
