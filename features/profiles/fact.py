"""What the catalogue knows about one fact: its type, labels, and where it comes from (lineage)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Literal

import polars as pl

from features.registries.schema import TABLES

__all__ = ["ATTESTERS", "Fact", "Kind", "Source"]

Kind = Literal["bool", "int", "number", "str", "date"]
# Who may attest a declared fact; an enterprise's attestation waits for an officer's review.
ATTESTERS = ("enterprise", "officer", "department")
_DTYPES: dict[str, pl.DataType] = {
    "bool": pl.Boolean(),
    "int": pl.Int32(),
    "number": pl.Float64(),
    "str": pl.String(),
    "date": pl.Date(),
}


@dataclass(frozen=True)
class Source:
    table: str
    columns: tuple[str, ...]

    @property
    def registry(self) -> str:
        return TABLES[self.table].registry


@dataclass(frozen=True)
class Fact:
    name: str
    kind: Kind
    zh: str
    en: str
    sources: tuple[Source, ...]
    period: str  # which records count, relative to as_of (English)
    unit: str | None = None
    absent: Literal["unknown", "none"] = "unknown"  # what a missing source record means
    values: tuple[str, ...] | None = None  # closed vocabulary of a str fact
    attested_by: tuple[str, ...] = ()  # a declared fact: who may attest it (no registry holds it)
    evidence: tuple[str, str] | None = None  # a declared fact: what the attester shows (zh, en)

    @property
    def declared(self) -> bool:
        return bool(self.attested_by)

    @property
    def dtype(self) -> pl.DataType:
        return _DTYPES[self.kind]

    @cached_property  # asked for every fact of every condition an explanation shows
    def registries(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(s.registry for s in self.sources))
