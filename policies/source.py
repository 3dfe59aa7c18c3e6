"""Strict YAML reading that remembers where every value came from.

Duplicate keys are an error (PyYAML would silently keep the last one), and
each value's line and column are recorded by its path, so later errors —
a schema violation, an unknown fact inside an expression — point into the file.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from policies.errors import Location, PolicyFileError

__all__ = ["Positions", "SourcePos", "read_yaml"]

Path_ = tuple[str | int, ...]


@dataclass(frozen=True)
class SourcePos:
    line: int
    column: int
    style: str | None  # quote style of a scalar: None (plain), "'", '"', "|", ">"

    def text_start(self) -> tuple[int, int]:
        """Line and column where a scalar's text begins (inside its quotes; below a block marker)."""
        if self.style in ("'", '"'):
            return self.line, self.column + 1
        if self.style in ("|", ">"):
            return self.line + 1, self.column + 2
        return self.line, self.column


class Positions(dict[Path_, SourcePos]):
    def location(self, file: str, path: Path_) -> Location:
        """The closest recorded position for ``path`` (or for its nearest recorded parent)."""
        for n in range(len(path), -1, -1):
            pos = self.get(tuple(path[:n]))
            if pos is not None:
                return Location(file, pos.line, pos.column)
        return Location(file)


def _convert(node: yaml.Node, path: Path_, positions: Positions, file: str, loader: yaml.SafeLoader) -> Any:
    mark = node.start_mark
    positions[path] = SourcePos(mark.line + 1, mark.column + 1, getattr(node, "style", None))
    if isinstance(node, yaml.MappingNode):
        out: dict[str, Any] = {}
        seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node)
            key = str(key)
            if key in seen:
                raise PolicyFileError(
                    f"duplicate key '{key}' (first at line {seen[key]})",
                    hint="each key may appear once in a mapping; merge the two entries",
                    location=Location(file, key_node.start_mark.line + 1, key_node.start_mark.column + 1),
                )
            seen[key] = key_node.start_mark.line + 1
            out[key] = _convert(value_node, (*path, key), positions, file, loader)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_convert(item, (*path, i), positions, file, loader) for i, item in enumerate(node.value)]
    try:
        return loader.construct_object(node)
    except ValueError as err:  # YAML reads 2025-13-01 as a date and fails on it
        field = ".".join(str(p) for p in path) or "value"
        raise PolicyFileError(
            f"field '{field}': '{node.value}' is not a valid date ({err})",
            hint="write dates as YYYY-MM-DD, e.g. 2025-12-31",
            location=Location(file, mark.line + 1, mark.column + 1),
        ) from None


def _line_column(text: str, position: int) -> tuple[int, int]:
    before = text[:position]
    return before.count("\n") + 1, position - (before.rfind("\n") + 1) + 1


def read_yaml(text: str, file: str) -> tuple[Any, Positions]:
    """Parse ``text`` (from ``file``) into plain data and the position of every value."""
    try:
        loader = yaml.SafeLoader(text)
        try:
            root = loader.get_single_node()
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        raise PolicyFileError(
            f"YAML syntax error: {err.problem or err.context}",
            hint="check the indentation and that text containing ': ' or '#' is quoted",
            location=Location(file, mark.line + 1, mark.column + 1) if mark else Location(file),
        ) from None
    except yaml.reader.ReaderError as err:  # a character YAML does not allow (control characters, …)
        line, column = _line_column(text, err.position)
        raise PolicyFileError(
            f"character {err.character!r} is not allowed in a policy file",
            hint="remove it; copy-pasted text sometimes carries invisible control characters",
            location=Location(file, line, column),
        ) from None
    if root is None:
        raise PolicyFileError(
            "the file is empty", hint="a policy file holds one policy mapping", location=Location(file)
        )
    positions = Positions()
    return _convert(root, (), positions, file, yaml.SafeLoader("")), positions


def read_yaml_file(path: Path) -> tuple[Any, Positions]:
    return read_yaml(path.read_text(encoding="utf-8"), str(path))
