"""A loaded catalogue: every version of every policy, and which are in force on a date."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import cached_property

from policies.compiled import CompiledPolicy

__all__ = ["Catalogue"]


@dataclass(frozen=True)
class Catalogue:
    policies: tuple[CompiledPolicy, ...]  # every version, sorted by id then version

    @property
    def ids(self) -> list[str]:
        return sorted({p.id for p in self.policies})

    @cached_property
    def _by_id(self) -> dict[str, list[CompiledPolicy]]:
        # Built on first use: the service looks policies up for every row it shows.
        index: dict[str, list[CompiledPolicy]] = {}
        for p in self.policies:
            index.setdefault(p.id, []).append(p)
        return index

    @cached_property
    def _by_key(self) -> dict[tuple[str, int], CompiledPolicy]:
        return {(p.id, p.version): p for p in self.policies}

    def versions(self, policy_id: str) -> list[CompiledPolicy]:
        return list(self._by_id.get(policy_id, ()))

    def get(self, policy_id: str, version: int | None = None) -> CompiledPolicy:
        if version is not None and (policy_id, version) in self._by_key:
            return self._by_key[policy_id, version]
        versions = self.versions(policy_id)
        if not versions:
            raise KeyError(f"no policy '{policy_id}' in the catalogue")
        if version is None:
            return versions[-1]
        raise KeyError(f"policy '{policy_id}' has no version {version}; it has {[p.version for p in versions]}")

    @cached_property
    def titles(self) -> dict[tuple[str, int], dict[str, str]]:
        """Each version's title as ``{"zh", "en"}``, by (policy id, version)."""
        return {key: p.policy.title.model_dump() for key, p in self._by_key.items()}

    def in_force(self, as_of: date) -> list[CompiledPolicy]:
        """Per policy, the highest version whose effective period covers ``as_of``."""
        chosen: dict[str, CompiledPolicy] = {}
        for p in self.policies:
            if p.policy.effective.covers(as_of):
                chosen[p.id] = p  # versions are sorted, so the last one wins
        return list(chosen.values())
