"""Declared facts: facts no registry holds, read from policies/facts/declared.yaml.

The file is read as strictly as a policy file (policies.source: duplicate
keys, tags and oversized text refused at their line and column), and every
entry is validated; any error stops the catalogue from loading, so no run
ever decides with a half-read declaration.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from features.profiles.fact import ATTESTERS, Fact
from policies.errors import PolicyFileError
from policies.source import read_yaml_file

__all__ = ["DECLARED_FILE", "CompleteList", "Department", "load_complete_lists", "load_declared"]

DECLARED_FILE = Path(__file__).resolve().parents[2] / "policies" / "facts" / "declared.yaml"
UNITS = ("yuan", "10k yuan", "persons", "months", "years", "ratio")
_PERIOD = "null until attested; an attestation accepted by an officer holds from its acceptance"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Label(_Strict):
    zh: str = Field(min_length=1)
    en: str = Field(min_length=1)


class _Department(_Strict):
    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=40)
    zh: str = Field(min_length=1)
    en: str = Field(min_length=1)


class _CompleteList(_Strict):
    departments: list[_Department] = Field(min_length=1)
    list: _Label
    absent: bool | int | float | str  # the value of a firm not on the list, checked against the fact's type


class _Declared(_Strict):
    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=60)
    type: Literal["bool", "int", "number", "str", "date"]
    label: _Label
    attested_by: list[Literal["enterprise", "officer", "department"]] = Field(min_length=1)
    evidence: _Label
    unit: Literal[UNITS] | None = None  # type: ignore[valid-type]
    values: list[str] | None = Field(default=None, min_length=1)
    complete_list: _CompleteList | None = None

    @model_validator(mode="after")
    def _consistent(self) -> _Declared:
        if self.values is not None and self.type != "str":
            raise ValueError(f"'values' lists the words of a str fact; this fact is {self.type}")
        if self.unit is not None and self.type not in ("int", "number"):
            raise ValueError(f"'unit' belongs to an int or number fact; this fact is {self.type}")
        if self.complete_list is not None:
            if "department" not in self.attested_by:
                raise ValueError("a fact attested by a department's complete list needs 'department' in attested_by")
            absent = self.complete_list.absent
            ok = {
                "bool": isinstance(absent, bool),
                "int": isinstance(absent, int) and not isinstance(absent, bool),
                "number": isinstance(absent, int | float) and not isinstance(absent, bool),
                "str": isinstance(absent, str) and (self.values is None or absent in self.values),
                "date": isinstance(absent, str) and _is_date(absent),
            }[self.type]
            if not ok:
                raise ValueError(f"complete_list.absent must be a value of this {self.type} fact, found {absent!r}")
        return self


def _is_date(text: str) -> bool:
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class Department:
    id: str
    zh: str
    en: str


@dataclass(frozen=True)
class CompleteList:
    """How a department attests ``fact`` for every enterprise at once: the list's value for the firms on it,
    ``absent`` for every other firm."""

    fact: str
    departments: tuple[Department, ...]
    zh: str  # the list's name
    en: str
    absent: Any

    def department(self, department_id: str) -> Department | None:
        return next((d for d in self.departments if d.id == department_id), None)


class _File(_Strict):
    facts: list[_Declared]


def _error(err: ValidationError, file: str, positions) -> PolicyFileError:
    first = err.errors()[0]
    loc = tuple(first["loc"])
    field = ".".join(str(p) for p in loc)
    if first["type"] == "extra_forbidden":
        known = list(_Declared.model_fields) if len(loc) > 2 else ["facts"]
        near = difflib.get_close_matches(str(loc[-1]), known, n=1)
        return PolicyFileError(
            f"unknown field '{field}'",
            hint=(f"did you mean '{near[0]}'? " if near else "") + f"a declared fact has: {', '.join(known)}",
            location=positions.location(file, loc),
        )
    if first["type"] == "missing":
        return PolicyFileError(
            f"missing required field '{field}'",
            hint="each declared fact needs name, type, label {zh, en}, attested_by and evidence {zh, en}",
            location=positions.location(file, loc[:-1]),
        )
    if first["type"] == "value_error":  # an entry's fields disagree (values, unit, complete_list)
        return PolicyFileError(
            f"declared fact {field}: {first['msg'].removeprefix('Value error, ')}",
            hint="the header of policies/facts/declared.yaml says what each field takes",
            location=positions.location(file, loc),
        )
    return PolicyFileError(
        f"field '{field}': {first['msg']}; found {first.get('input')!r}",
        hint=f"attested_by takes {', '.join(ATTESTERS)}; unit takes {', '.join(UNITS)}; see docs/policies.md",
        location=positions.location(file, loc),
    )


def load_declared(path: Path, *, reserved: frozenset[str] = frozenset()) -> tuple[Fact, ...]:
    """The declared facts of ``path``; ``reserved``: registry facts' names, which a declaration may not take."""
    file = str(path)
    raw, positions = read_yaml_file(path)
    try:
        parsed = _File.model_validate(raw if isinstance(raw, dict) else {"facts": raw})
    except ValidationError as err:
        raise _error(err, file, positions) from None
    seen: dict[str, int] = {}
    out = []
    for i, d in enumerate(parsed.facts):
        where = positions.location(file, ("facts", i, "name"))
        if d.name in reserved:
            raise PolicyFileError(
                f"declared fact '{d.name}' has the name of a registry fact",
                hint="a registry already provides it: use it in policies as it is, or choose another name",
                location=where,
            )
        if d.name in seen:
            raise PolicyFileError(
                f"declared fact '{d.name}' is declared twice (first at entry {seen[d.name] + 1})",
                hint="merge the two entries",
                location=where,
            )
        seen[d.name] = i
        attesters = ", ".join(d.attested_by)
        period = _PERIOD
        if d.complete_list is not None:
            keepers = " or ".join(k.en for k in d.complete_list.departments)
            period = (
                f"set for every enterprise by the latest complete {d.complete_list.list.en} imported from {keepers}"
                f" (not on it: {str(d.complete_list.absent).lower()}); otherwise {_PERIOD}"
            )
        out.append(
            Fact(
                d.name,
                d.type,
                d.label.zh,
                d.label.en,
                (),
                f"attested by {attesters}; {period}",
                unit=d.unit,
                values=tuple(d.values) if d.values else None,
                attested_by=tuple(d.attested_by),
                evidence=(d.evidence.zh, d.evidence.en),
            )
        )
    return tuple(out)


@cache
def load_complete_lists(path: Path = DECLARED_FILE) -> dict[str, CompleteList]:
    """Per declared fact that a department may attest by complete list, how (``complete_list`` in ``path``).
    ``load_declared`` validated the file already when the catalogue loaded; this reads the same entries."""
    raw, positions = read_yaml_file(path)
    try:
        parsed = _File.model_validate(raw if isinstance(raw, dict) else {"facts": raw})
    except ValidationError as err:
        raise _error(err, str(path), positions) from None
    return {
        d.name: CompleteList(
            d.name,
            tuple(Department(k.id, k.zh, k.en) for k in d.complete_list.departments),
            d.complete_list.list.zh,
            d.complete_list.list.en,
            d.complete_list.absent,
        )
        for d in parsed.facts
        if d.complete_list is not None
    }
