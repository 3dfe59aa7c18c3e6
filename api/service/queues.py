"""Narrowing an officer's queue by policy, region and date, in SQL: every matching matter is counted and the
page is the first of them, so a filter never hides a matter that sits past some first-N rows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import ColumnElement, func

__all__ = ["Narrow"]


@dataclass(frozen=True)
class Narrow:
    policy: str = ""
    region: str = ""  # a prefix of the administrative division code: the USCC's 3rd to 8th characters
    since: date | None = None

    def where(self, uscc: Any, policy_id: Any, at: Any) -> list[ColumnElement[bool]]:
        """The conditions for a queue whose rows carry these columns."""
        conditions: list[ColumnElement[bool]] = []
        if self.policy:
            conditions.append(policy_id == self.policy)
        if self.region:
            conditions.append(func.substr(uscc, 3, len(self.region)) == self.region)
        if self.since is not None:
            conditions.append(at >= datetime.combine(self.since, datetime.min.time(), tzinfo=UTC))
        return conditions
