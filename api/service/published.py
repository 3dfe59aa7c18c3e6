"""The published catalogue: the repository's policy files, overlaid by the versions published through the service.

Versions published over HTTP are rows of ``policy_versions`` (the database is
the service's source of truth: a publish commits together with its audit
entry, every service instance sees it at once, and nothing needs write access
to the code checkout). A row replaces the repository file with the same
(policy, version) — that is how a version is closed when a newer one takes
over from an effective date: the older text is stored again with its
``effective.to`` set to the day before, so the catalogue never has two
versions of one policy in force on the same day (the graph check refuses
that). The whole overlay is checked like a catalogue loaded from files.
"""

from __future__ import annotations

import difflib
import threading
import time
from collections.abc import Iterable, Sequence

from sqlalchemy import Connection, Engine, select

from matcher.db.models import policy_versions
from policies.catalogue import Catalogue
from policies.compiled import CompiledPolicy
from policies.errors import CatalogueError, Location, PolicyError
from policies.graph import check_relations
from policies.load import CATALOGUE_DIR, load_catalogue, load_policy_text

__all__ = ["PublishedCatalogue", "check_catalogue", "published_file", "with_versions"]


# Seconds a catalogue read through an engine is reused: a request then costs no catalogue query.
READ_TTL = 5.0
_PUBLISHED = select(policy_versions.c.policy_id, policy_versions.c.version, policy_versions.c.source)


def published_file(policy_id: str, version: int) -> str:
    """The name a published version goes by in error messages and ``CompiledPolicy.file``."""
    return f"published/{policy_id}-v{version}.yaml"


def check_catalogue(policies: Sequence[CompiledPolicy]) -> list[PolicyError]:
    """What ``load_catalogue`` checks across files: relation targets exist, then the policy graph."""
    ids = {p.id for p in policies}
    errors: list[PolicyError] = []
    for p in policies:
        for kind in ("excludes", "requires", "supersedes"):
            for target in getattr(p.policy.relations, kind):
                if target not in ids:
                    near = difflib.get_close_matches(target, sorted(ids), n=1, cutoff=0.5)
                    errors.append(
                        PolicyError(
                            f"'{kind}' names unknown policy '{target}'",
                            hint=(f"did you mean '{near[0]}'? " if near else "") + "check relations." + kind,
                            location=Location(p.file),
                        )
                    )
    return errors or check_relations(policies)


def with_versions(base: Iterable[CompiledPolicy], versions: Iterable[CompiledPolicy]) -> list[CompiledPolicy]:
    """``base`` with each of ``versions`` added, or replacing the one with the same (id, version)."""
    merged = {p.policy.key: p for p in base} | {p.policy.key: p for p in versions}
    return sorted(merged.values(), key=lambda p: p.policy.key)


class PublishedCatalogue:
    """Loads the repository catalogue once; compiles each published text once (keyed by its text)."""

    def __init__(self, repository: Catalogue | None = None) -> None:
        self._repository = repository
        self._compiled: dict[tuple[str, int, str], CompiledPolicy] = {}
        self._lock = threading.Lock()
        self._read: tuple[float, Catalogue] | None = None
        self._last: tuple[tuple, Catalogue] | None = None  # the published rows last read, and their catalogue

    @property
    def repository(self) -> Catalogue:
        with self._lock:
            if self._repository is None:
                self._repository = load_catalogue(CATALOGUE_DIR)
            return self._repository

    def _compile(self, policy_id: str, version: int, source: str) -> CompiledPolicy:
        key = (policy_id, version, source)
        if key not in self._compiled:
            self._compiled[key] = load_policy_text(source, published_file(policy_id, version))[0]
        return self._compiled[key]

    def load(self, source: Engine | Connection) -> Catalogue:
        """The catalogue now. Read through an engine, it may be up to ``READ_TTL`` seconds old (versions
        published by another process show after that); read in a transaction, it is exact."""
        if isinstance(source, Engine):
            with self._lock:
                fresh = self._read is not None and time.monotonic() - self._read[0] < READ_TTL
                if fresh:
                    return self._read[1]
            with source.connect() as connection:
                rows = tuple(map(tuple, connection.execute(_PUBLISHED)))
        else:
            rows = tuple(map(tuple, source.execute(_PUBLISHED)))
        last = self._last
        if last is not None and last[0] == rows:  # nothing published since: keep the catalogue and its indexes
            catalogue = last[1]
        else:
            published = [self._compile(*row) for row in rows]
            policies = with_versions(self.repository.policies, published)
            errors = check_catalogue(policies) if published else []
            if errors:  # only a change to the repository files can get here: publishing checks first
                raise CatalogueError(errors)
            catalogue = Catalogue(tuple(policies))
            self._last = (rows, catalogue)
        with self._lock:  # a read in a transaction may see uncommitted versions: not for others to reuse
            self._read = (time.monotonic(), catalogue) if isinstance(source, Engine) else None
        return catalogue

    def invalidate(self) -> None:
        """Forget the reused catalogue: call after committing a publish, so this process shows it at once."""
        with self._lock:
            self._read = None

    def is_published(self, policy: CompiledPolicy) -> bool:
        return policy.file.startswith("published/")
