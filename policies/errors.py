"""Errors raised while loading, checking and running policies.

    PolicyError                   one problem, at a place in a file
     ├── PolicyFileError          YAML syntax, a missing or invalid field, a bad date, a duplicate key
     ├── ExpressionError          an expression that does not parse (unknown operator, stray character)
     │    ├── UnknownFactError    a name that is not in the fact catalogue (nearest facts suggested)
     │    ├── UnknownFunctionError
     │    └── TypeMismatchError   an operator or function applied to the wrong types (both named)
     └── CatalogueError           several problems across files (duplicate ids, unknown relation
                                  targets, ...); a catalogue with any error loads nothing

Each message says what was expected, what was found, where (file, line,
column) and how to fix it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

__all__ = [
    "CatalogueError",
    "ExpressionError",
    "Location",
    "PolicyError",
    "PolicyFileError",
    "TypeMismatchError",
    "UnknownFactError",
    "UnknownFunctionError",
]


@dataclass(frozen=True)
class Location:
    file: str | None = None
    line: int | None = None
    column: int | None = None

    def __str__(self) -> str:
        parts = [self.file or "<policy>"]
        if self.line is not None:
            parts.append(str(self.line))
            if self.column is not None:
                parts.append(str(self.column))
        return ":".join(parts)


class PolicyError(Exception):
    def __init__(self, message: str, *, hint: str | None = None, location: Location | None = None) -> None:
        self.message = message
        self.hint = hint
        self.location = location or Location()
        super().__init__(str(self))

    def __str__(self) -> str:
        text = f"{self.location}: {self.message}"
        return f"{text}\n  hint: {self.hint}" if self.hint else text

    def at(self, location: Location) -> PolicyError:
        """The same error, placed at ``location`` (an expression's position inside its file)."""
        self.location = location
        self.args = (str(self),)
        return self

    def shifted(self, file: str | None, line: int, column: int) -> PolicyError:
        """Place an error found inside an expression that starts at (line, column) of ``file``."""
        inner = self.location
        if inner.line in (None, 1):
            col = column + (inner.column or 1) - 1
            return self.at(Location(file, line, col))
        return self.at(replace(inner, file=file, line=line + (inner.line or 1) - 1))


class PolicyFileError(PolicyError):
    pass


class ExpressionError(PolicyError):
    pass


class UnknownFactError(ExpressionError):
    pass


class UnknownFunctionError(ExpressionError):
    pass


class TypeMismatchError(ExpressionError):
    pass


class CatalogueError(PolicyError):
    def __init__(self, errors: list[PolicyError]) -> None:
        self.errors = errors
        noun = "error" if len(errors) == 1 else "errors"
        super().__init__(f"{len(errors)} {noun} in the policy catalogue; nothing was loaded")

    def __str__(self) -> str:
        return "\n".join([self.message, *(f"- {e}" for e in self.errors)])
