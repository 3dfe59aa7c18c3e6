"""A loaded catalogue: every version of every policy, and which are in force on a date."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from policies.compiled import CompiledPolicy

__all__ = ["Catalogue"]


@dataclass(frozen=True)
class Catalogue:
    policies: tuple[CompiledPolicy, ...]  # every version, sorted by id then version

    @property
    def ids(self) -> list[str]:
        return sorted({p.id for p in self.policies})

    def versions(self, policy_id: str) -> list[CompiledPolicy]:
        return [p for p in self.policies if p.id == policy_id]

    def get(self, policy_id: str, version: int | None = None) -> CompiledPolicy:
        versions = self.versions(policy_id)
        if not versions:
            raise KeyError(f"no policy '{policy_id}' in the catalogue")
        if version is None:
            return versions[-1]
        for p in versions:
            if p.version == version:
                return p
        raise KeyError(f"policy '{policy_id}' has no version {version}; it has {[p.version for p in versions]}")

    def in_force(self, as_of: date) -> list[CompiledPolicy]:
        """Per policy, the highest version whose effective period covers ``as_of``."""
        chosen: dict[str, CompiledPolicy] = {}
        for p in self.policies:
            if p.policy.effective.covers(as_of):
                chosen[p.id] = p  # versions are sorted, so the last one wins
        return list(chosen.values())
