"""Errors raised while reading registry extracts and building profiles.

    FeaturesError
     ├── RegistryFileError        a registry file is missing or unreadable
     │    └── SchemaMismatchError  a column is missing or has the wrong type
     ├── AsOfError                an as-of date outside the data it can be computed from
     └── FileWriteError           a file huiqi writes for people could not be written

Row-level problems are never raised: bad rows are quarantined with a reason
(see ``features.registries.validate``). Every message says what was expected,
what was found, where, and how to fix it.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["AsOfError", "FeaturesError", "FileWriteError", "RegistryFileError", "SchemaMismatchError"]


class FeaturesError(Exception):
    """Base class of every error in ``features``."""


class RegistryFileError(FeaturesError):
    def __init__(self, path: Path | str, problem: str, fix: str) -> None:
        self.path = Path(path)
        self.problem = problem
        self.fix = fix
        super().__init__(f"{self.path}: {problem}. {fix}")


class SchemaMismatchError(RegistryFileError):
    def __init__(self, path: Path | str, column: str, expected: str, found: str, fix: str) -> None:
        self.column = column
        self.expected = expected
        self.found = found
        super().__init__(
            path,
            f"column '{column}': expected {expected}, found {found}",
            fix,
        )


class AsOfError(FeaturesError):
    pass


class FileWriteError(FeaturesError):
    """A file could not be written; the file that was there before, if any, is left as it was."""

    def __init__(self, path: Path | str, reason: str, fix: str) -> None:
        self.path = Path(path)
        self.reason = reason
        self.fix = fix
        super().__init__(f"cannot write {self.path}: {reason}. Nothing was changed there. {fix}")
