"""Declared facts: facts no registry holds, read from policies/facts/declared.yaml.

The file is read as strictly as a policy file (policies.source: duplicate
keys, tags and oversized text refused at their line and column), and every
entry is validated; any error stops the catalogue from loading, so no run
ever decides with a half-read declaration.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from features.profiles.fact import ATTESTERS, Fact
from policies.errors import PolicyFileError
from policies.source import read_yaml_file

__all__ = ["DECLARED_FILE", "load_declared"]

DECLARED_FILE = Path(__file__).resolve().parents[2] / "policies" / "facts" / "declared.yaml"
UNITS = ("yuan", "10k yuan", "persons", "months", "years", "ratio")
_PERIOD = "null until attested; an attestation accepted by an officer holds from its acceptance"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Label(_Strict):
    zh: str = Field(min_length=1)
    en: str = Field(min_length=1)


class _Declared(_Strict):
    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=60)
    type: Literal["bool", "int", "number", "str", "date"]
    label: _Label
    attested_by: list[Literal["enterprise", "officer", "department"]] = Field(min_length=1)
    evidence: _Label
    unit: Literal[UNITS] | None = None  # type: ignore[valid-type]
    values: list[str] | None = Field(default=None, min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> _Declared:
        if self.values is not None and self.type != "str":
            raise ValueError(f"'values' lists the words of a str fact; this fact is {self.type}")
        if self.unit is not None and self.type not in ("int", "number"):
            raise ValueError(f"'unit' belongs to an int or number fact; this fact is {self.type}")
        return self


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
        out.append(
            Fact(
                d.name,
                d.type,
                d.label.zh,
                d.label.en,
                (),
                f"attested by {attesters}; {_PERIOD}",
                unit=d.unit,
                values=tuple(d.values) if d.values else None,
                attested_by=tuple(d.attested_by),
                evidence=(d.evidence.zh, d.evidence.en),
            )
        )
    return tuple(out)
