"""Time limits per step, in working days, with the share of a limit at which a card turns yellow.

Global defaults below; ``data/supervision.yaml`` (in the data directory) may change them and override them per
policy (docs/supervision.md)::

    yellow_share: 0.8
    office_digits: 6
    statistics_threshold: 5
    steps: {objection: 5, supplied_fact: 3, payment_approval: 2, payment: 1, dead_letter: 2}
    policies:
      P1-rent-subsidy: {objection: 3}

Payment batches span policies, so their two steps take the global limit only. The file is checked strictly: an
unknown key, step or a limit out of range is refused with where it is and what was expected.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from matcher.errors import MatcherError

__all__ = ["BY", "DEFAULT_LIMITS", "MAX_CONFIG_BYTES", "LimitsError", "Step", "TimeLimits", "load_limits"]

MAX_CONFIG_BYTES = 64 * 1024


# What handling times may be grouped by (matcher/supervision/handling.py), named here beside the steps so that a
# command's help lists them without loading the statistics.
BY = ("step", "office", "policy_id", "month")


class Step(StrEnum):
    """A step that waits on officers, named as in the API and the docs."""

    OBJECTION = "objection"  # an enterprise's objection to review
    SUPPLIED_FACT = "supplied_fact"  # a fact an enterprise supplied, to accept or reject
    PAYMENT_APPROVAL = "payment_approval"  # a prepared payment batch, for a second officer to approve
    PAYMENT = "payment"  # an approved batch, until the bank's return is reconciled
    DEAD_LETTER = "dead_letter"  # a notice that exhausted its delivery attempts, to mend and send again


DEFAULT_LIMITS = {
    Step.OBJECTION: 5,
    Step.SUPPLIED_FACT: 3,
    Step.PAYMENT_APPROVAL: 2,
    Step.PAYMENT: 1,
    Step.DEAD_LETTER: 2,
}
PER_POLICY = (Step.OBJECTION, Step.SUPPLIED_FACT, Step.DEAD_LETTER)
Days = Field(default=None, ge=1, le=60)  # working days; None: the default


class _Steps(BaseModel):
    model_config = ConfigDict(extra="forbid")
    objection: int | None = Days
    supplied_fact: int | None = Days
    payment_approval: int | None = Days
    payment: int | None = Days
    dead_letter: int | None = Days


class _PolicySteps(BaseModel):
    model_config = ConfigDict(extra="forbid")
    objection: int | None = Days
    supplied_fact: int | None = Days
    dead_letter: int | None = Days


class TimeLimits(BaseModel):
    """Working days allowed per step, per-policy overrides, the yellow share, and how many digits of the
    administrative division code (inside the USCC) name the office that handles an enterprise's matters."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    yellow_share: float = Field(default=0.8, gt=0, lt=1)
    office_digits: int = Field(default=6, ge=2, le=6)
    # Open statistics (matcher/supervision/open_statistics.py): no figure of fewer enterprises than this.
    statistics_threshold: int = Field(default=5, ge=3, le=100)
    steps: _Steps = _Steps()
    policies: dict[str, _PolicySteps] = {}

    def limit(self, step: Step, policy_id: str | None = None) -> int:
        if policy_id is not None and policy_id in self.policies:
            override = getattr(self.policies[policy_id], step.value, None)
            if override is not None:
                return override
        return getattr(self.steps, step.value) or DEFAULT_LIMITS[step]

    def table(self) -> dict[str, Any]:
        """Every limit in force: the defaults merged with the file, for the docs, the API and the CLI."""
        return {
            "yellow_share": self.yellow_share,
            "office_digits": self.office_digits,
            "statistics_threshold": self.statistics_threshold,
            "steps": {s.value: self.limit(s) for s in Step},
            "policies": {p: {s.value: self.limit(s, p) for s in PER_POLICY} for p in sorted(self.policies)},
        }


class LimitsError(MatcherError, ValueError):
    """A supervision file that cannot be used: where, what was expected, what was found."""


def read_config(path: Path, error: type[MatcherError]) -> Any:
    """An operator's YAML file in the data directory (limits, the calendar supplement), bounded before parsing;
    ``error`` names the file and what is wrong."""
    size = path.stat().st_size
    if size > MAX_CONFIG_BYTES:
        raise error(f"{path}: expected at most {MAX_CONFIG_BYTES:,} bytes, found {size:,}")
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (yaml.YAMLError, UnicodeDecodeError) as problem:
        raise error(f"{path}: not readable YAML ({problem}); see docs/supervision.md for the format") from problem


def load_limits(path: Path) -> TimeLimits:
    """The limits of ``path``, or the defaults when it does not exist."""
    if not path.exists():
        return TimeLimits()
    return parse_limits(read_config(path, LimitsError), str(path))


def parse_limits(data: Any, where: str = "supervision limits") -> TimeLimits:
    if not isinstance(data, Mapping):
        raise LimitsError(
            f"{where}: expected a mapping of yellow_share, office_digits, steps, policies; found {type(data).__name__}"
        )
    try:
        return TimeLimits.model_validate(data)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or '(top)'}: {e['msg']} (found {e.get('input')!r})" for e in error.errors()
        )
        raise LimitsError(f"{where}: {problems}. Steps: {', '.join(s.value for s in Step)}") from error
