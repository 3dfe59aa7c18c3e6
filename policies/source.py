"""Strict, bounded YAML reading that remembers where every value came from.

Duplicate keys are an error (PyYAML would silently keep the last one), and
each value's line and column are recorded by its path, so later errors —
a schema violation, an unknown fact inside an expression — point into the file.
Hostile text (an alias bomb, nesting thousands deep, a tag that constructs
objects, a number of 400 digits) is refused at its place before it costs
time or memory: see policies.limits.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from policies.errors import Location, PolicyFileError
from policies.limits import MAX_ALIASES, MAX_POLICY_BYTES, MAX_VALUES, MAX_YAML_DEPTH, out_of_range

__all__ = ["Positions", "SourcePos", "read_policy_file", "read_yaml"]

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


class _BoundedLoader(yaml.SafeLoader):  # type: ignore[misc]  # PyYAML ships no types
    """PyYAML's safe loader, refusing as it composes what would nest too deep, alias too often or carry a tag.

    PyYAML's composer recurses once per nesting level, so the depth is counted
    here, before each recursion, not afterwards.
    """

    def __init__(self, text: str, file: str) -> None:
        super().__init__(text)
        self.file = file
        self.depth = 0
        self.aliases = 0
        self.nodes = 0

    def compose_node(self, parent: yaml.Node | None, index: object) -> yaml.Node:
        event = self.peek_event()
        where = _location(self.file, event.start_mark)
        self.nodes += 1
        if self.nodes > MAX_VALUES:  # stop composing early: PyYAML takes about 15 µs a value
            raise PolicyFileError(
                f"the text holds more than {MAX_VALUES:,} values (keys, values and list items)",
                hint="a policy holds a few hundred; split long lists of examples or values",
                location=where,
            )
        if isinstance(event, yaml.AliasEvent):
            self.aliases += 1
            if self.aliases > MAX_ALIASES:
                raise PolicyFileError(
                    f"the text uses more than {MAX_ALIASES} aliases (*name)",
                    hint="write the values out; a policy rarely needs to repeat itself",
                    location=where,
                )
        if index is None and isinstance(parent, yaml.MappingNode):  # a key: PyYAML composes keys with no index
            anchored = self.anchors.get(event.anchor) if isinstance(event, yaml.AliasEvent) else None
            if isinstance(event, yaml.CollectionStartEvent) or isinstance(anchored, yaml.CollectionNode):
                # A list key would become text, and with aliases a text of millions of items.
                raise PolicyFileError(
                    "expected a name as the key, found a list or mapping",
                    hint="keys are field names such as 'id' or 'eligibility'; remove the '?' or brackets before it",
                    location=where,
                )
        if not isinstance(event, yaml.AliasEvent) and event.tag is not None:
            raise PolicyFileError(
                f"YAML tag '{event.tag}' is not allowed in a policy file",
                hint="remove the tag; put text that starts with '!' in quotes",
                location=where,
            )
        self.depth += 1
        try:
            if self.depth > MAX_YAML_DEPTH:
                raise _too_deep(where)
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


def _location(file: str, mark: yaml.Mark) -> Location:
    return Location(file, mark.line + 1, mark.column + 1)


def _too_deep(where: Location) -> PolicyFileError:
    return PolicyFileError(
        f"the text nests more than {MAX_YAML_DEPTH} levels deep (lists and mappings inside each other)",
        hint="flatten the conditions: all/any take lists, and 'not' rarely needs nesting",
        location=where,
    )


def _out_of_range(field: str, value: object, where: Location) -> PolicyFileError:
    text = str(value)
    shown = text if len(text) <= 20 else f"{text[:12]}… ({len(text)} characters)"
    return PolicyFileError(
        f"field '{field}': the number {shown} is out of range: numbers must be finite and at most 1e15 in size",
        hint="write amounts in yuan and counts as whole numbers; nothing in a policy comes near 1e15",
        location=where,
    )


class _Converter:
    """Nodes to plain data, recording positions; aliases are expanded, so values are counted as they are."""

    def __init__(self, file: str, positions: Positions) -> None:
        self.file = file
        self.positions = positions
        self.values = 0
        self.loader = yaml.SafeLoader("")

    def convert(self, node: yaml.Node, path: Path_) -> Any:
        mark = node.start_mark
        where = _location(self.file, mark)
        self.values += 1
        if self.values > MAX_VALUES:
            raise PolicyFileError(
                f"the text holds more than {MAX_VALUES:,} values once its aliases (*name) are expanded",
                hint="remove the aliases that repeat large lists or mappings; write the policy out plainly",
                location=where,
            )
        if len(path) >= MAX_YAML_DEPTH:  # an alias can place a deep value deep inside another
            raise _too_deep(where)
        self.positions[path] = SourcePos(mark.line + 1, mark.column + 1, getattr(node, "style", None))
        if isinstance(node, yaml.MappingNode):
            return self.mapping(node, path)
        if isinstance(node, yaml.SequenceNode):
            return [self.convert(item, (*path, i)) for i, item in enumerate(node.value)]
        return self.scalar(node, path, where)

    def mapping(self, node: yaml.MappingNode, path: Path_) -> dict[str, Any]:
        out: dict[str, Any] = {}
        seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            key = str(self.scalar(key_node, (*path, key_node.value), _location(self.file, key_node.start_mark)))
            if key in seen:
                raise PolicyFileError(
                    f"duplicate key '{key}' (first at line {seen[key]})",
                    hint="each key may appear once in a mapping; merge the two entries",
                    location=_location(self.file, key_node.start_mark),
                )
            seen[key] = key_node.start_mark.line + 1
            out[key] = self.convert(value_node, (*path, key))
        return out

    def scalar(self, node: yaml.Node, path: Path_, where: Location) -> Any:
        field = ".".join(str(p) for p in path) or "value"
        try:
            value = self.loader.construct_object(node)
        except ValueError as err:
            if node.tag.endswith(":timestamp"):  # YAML reads 2025-13-01 as a date and fails on it
                raise PolicyFileError(
                    f"field '{field}': '{node.value}' is not a valid date ({err})",
                    hint="write dates as YYYY-MM-DD, e.g. 2025-12-31",
                    location=where,
                ) from None
            if node.tag.endswith((":int", ":float")):  # Python reads no integer of over 4,300 digits
                raise _out_of_range(field, node.value, where) from None
            raise _unreadable(field, node, str(err), where) from None
        except yaml.constructor.ConstructorError as err:  # a plain '=' or '<<' (YAML's value and merge keys)
            raise _unreadable(field, node, err.problem or "", where) from None
        if out_of_range(value):
            raise _out_of_range(field, node.value, where)
        return value


def _unreadable(field: str, node: yaml.Node, problem: str, where: Location) -> PolicyFileError:
    return PolicyFileError(
        f"field '{field}': cannot read {node.value!r} ({problem})",
        hint="put the text in quotes; YAML merge keys (<<: *name) are not supported, write the keys out",
        location=where,
    )


def _line_column(text: str, position: int) -> tuple[int, int]:
    before = text[:position]
    return before.count("\n") + 1, position - (before.rfind("\n") + 1) + 1


def _too_large(text: str, size: int, file: str) -> PolicyFileError:
    within = text.encode("utf-8", "surrogatepass")[:MAX_POLICY_BYTES].decode("utf-8", "ignore")
    line, column = _line_column(text, len(within))
    return PolicyFileError(
        f"the text is {size:,} bytes; a policy file holds at most {MAX_POLICY_BYTES // 1024} KiB",
        hint="a policy is a few KB: move long explanations to the policy document and cite it in 'basis'",
        location=Location(file, line, column),
    )


def read_yaml(text: str, file: str) -> tuple[Any, Positions]:
    """Parse ``text`` (from ``file``) into plain data and the position of every value.

    Every bound of policies.limits that YAML can break is checked here: size
    before reading, nesting, aliases and tags while composing, the expanded
    values and numbers while converting.
    """
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > MAX_POLICY_BYTES:
        raise _too_large(text, size, file)
    try:
        loader = _BoundedLoader(text, file)
        try:
            root = loader.get_single_node()
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        raise PolicyFileError(
            f"YAML syntax error: {err.problem or err.context}",
            hint="check the indentation and that text containing ': ' or '#' is quoted",
            location=_location(file, mark) if mark else Location(file),
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
    return _Converter(file, positions).convert(root, ()), positions


def read_policy_file(path: Path) -> str:
    """The text of a policy file, refusing a file over the size limit without reading all of it."""
    with path.open("rb") as handle:
        data = handle.read(MAX_POLICY_BYTES + 1)
        if len(data) > MAX_POLICY_BYTES:
            size = max(os.fstat(handle.fileno()).st_size, len(data))
            raise _too_large(data.decode("utf-8", "ignore"), size, str(path))
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        before = data[: err.start].decode("utf-8")
        line, column = _line_column(before, len(before))
        raise PolicyFileError(
            f"the file is not UTF-8 text: byte {data[err.start]:#04x} cannot be read",
            hint="save the file as UTF-8 (editors call it 'UTF-8' or 'Unicode'), not GBK",
            location=Location(str(path), line, column),
        ) from None


def read_yaml_file(path: Path) -> tuple[Any, Positions]:
    return read_yaml(read_policy_file(path), str(path))
