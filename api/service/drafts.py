"""Policy drafts: reading an officer's text, placing its effective dates, planning a publish.

A draft is kept as written (YAML, or JSON normalised to two-space indentation),
so every problem points at a line and column of the text the officer sees.
Publishing plans the change as a whole before writing anything: the new
version with its effective date, every older version of the policy closed the
day before, and the resulting catalogue checked like one loaded from files.
Related drafts (two new policies that exclude each other) are planned as one
set (``plan_publish_set``): the catalogue is checked with all of them at once,
and the route writes them in one transaction, or none.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import yaml

from api.service.published import check_catalogue, with_versions
from policies.catalogue import Catalogue
from policies.compiled import CompiledPolicy
from policies.errors import Location, PolicyError, PolicyFileError
from policies.limits import MAX_YAML_DEPTH
from policies.load import load_policy_text
from policies.source import read_yaml

__all__ = [
    "DraftText",
    "PublishPlan",
    "normalise_json",
    "plan_publish",
    "plan_publish_set",
    "plan_withdrawal",
    "problem_dicts",
    "read_draft",
    "set_effective",
]


@dataclass(frozen=True)
class DraftText:
    compiled: CompiledPolicy | None
    problems: list[PolicyError]
    policy_id: str | None = None
    version: int | None = None


def draft_file(draft_id: int | None, fmt: str) -> str:
    return f"draft-{draft_id if draft_id is not None else 'new'}.{'json' if fmt == 'json' else 'yaml'}"


# A string (escapes included) or a bracket: brackets inside strings do not nest.
_JSON_NESTING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]')


def _check_json_depth(raw: bytes) -> None:
    """Refuse JSON nested deeper than a policy may be, before json (recursive in C and Python) reads it."""
    text = raw.decode("utf-8", "replace")
    depth = 0
    for match in _JSON_NESTING.finditer(text):
        token = match.group()
        if token in ("[", "{"):
            depth += 1
            if depth > MAX_YAML_DEPTH:
                at = match.start()
                line, column = text.count("\n", 0, at) + 1, at - (text.rfind("\n", 0, at) + 1) + 1
                raise ValueError(
                    f"the JSON nests more than {MAX_YAML_DEPTH} levels deep at line {line}, column {column}:"
                    " flatten the conditions (all/any take lists)"
                )
        elif token in ("]", "}"):
            depth -= 1


def normalise_json(raw: bytes) -> str:
    """JSON as text the YAML reader takes (JSON is YAML, but not with tabs): raises ValueError with a position."""
    _check_json_depth(raw)
    try:
        value = json.loads(raw)
    except UnicodeDecodeError as err:
        raise ValueError(f"the body is not UTF-8 text: {err.reason}") from None
    except json.JSONDecodeError as err:
        raise ValueError(f"not valid JSON at line {err.lineno}, column {err.colno}: {err.msg}") from None
    if not isinstance(value, dict):
        raise ValueError(f"expected a JSON object of policy fields, found {type(value).__name__}")
    return json.dumps(value, ensure_ascii=False, indent=2) + "\n"


def _unreadable(err: yaml.YAMLError, text: str, file: str) -> PolicyFileError:
    """What the YAML reader refuses before parsing (a control character): placed at its line and column."""
    position = getattr(err, "position", None)
    line = column = None
    if isinstance(position, int):
        line = text.count("\n", 0, position) + 1
        column = position - (text.rfind("\n", 0, position) + 1) + 1
    return PolicyFileError(
        f"unreadable text: {getattr(err, 'reason', None) or err}",
        hint="remove control characters; policy files are plain UTF-8 text",
        location=Location(file, line, column),
    )


def read_draft(text: str, file: str) -> DraftText:
    """Compile the text; on failure keep the first problem and whatever id and version can be read."""
    try:
        compiled, _ = load_policy_text(text, file)
    except yaml.YAMLError as err:  # policies.source reports syntax errors, not the reader's refusals
        return DraftText(None, [_unreadable(err, text, file)])
    except PolicyError as err:
        pid, version = None, None
        try:
            raw, _ = read_yaml(text, file)
        except PolicyError:
            raw = None
        if isinstance(raw, dict):
            pid = raw.get("id") if isinstance(raw.get("id"), str) else None
            version = raw.get("version") if type(raw.get("version")) is int else None
        return DraftText(None, [err], pid[:80] if pid else None, version)
    return DraftText(compiled, [], compiled.id, compiled.version)


def problem_dicts(problems: list[PolicyError]) -> list[dict[str, Any]]:
    return [
        {
            "message": p.message,
            "hint": p.hint,
            "file": p.location.file,
            "line": p.location.line,
            "column": p.location.column,
        }
        for p in problems
    ]


def _scalar_date(day: date, quoted: bool) -> str:
    return f'"{day.isoformat()}"' if quoted else day.isoformat()


def set_effective(text: str, key: str, day: date) -> str:
    """The text with ``effective.<key>`` (``from`` or ``to``) set to ``day``, everything else left as written."""
    root = yaml.compose(text, Loader=yaml.SafeLoader)
    effective = next(
        (v for k, v in getattr(root, "value", []) if isinstance(k, yaml.ScalarNode) and k.value == "effective"), None
    )
    if not isinstance(effective, yaml.MappingNode):
        raise PolicyFileError("missing 'effective' mapping", hint="add effective: {from: YYYY-MM-DD}")
    quoted = text.lstrip().startswith("{")  # JSON: keep it JSON
    for k, v in effective.value:
        if k.value == key:
            start, end = v.start_mark.index, v.end_mark.index
            return text[:start] + _scalar_date(day, quoted or v.style in ("'", '"')) + text[end:]
    if effective.flow_style:
        at = effective.end_mark.index - 1  # before the closing brace
        return text[:at] + f', "{key}": "{day.isoformat()}"' + text[at:]
    last_key, last_value = effective.value[-1]
    at = last_value.end_mark.index
    return text[:at] + "\n" + " " * last_key.start_mark.column + f"{key}: {day.isoformat()}" + text[at:]


@dataclass
class PublishPlan:
    new: CompiledPolicy | None = None
    new_source: str = ""
    closed: list[tuple[CompiledPolicy, str]] = field(default_factory=list)  # older versions with effective.to set
    problems: list[PolicyError] = field(default_factory=list)
    conflict: str | None = None  # a reason the publish cannot happen in the current state (409)


def plan_publish(
    catalogue: Catalogue,
    draft: CompiledPolicy,
    source: str,
    effective_from: date,
    source_of: Callable[[CompiledPolicy], str],
) -> PublishPlan:
    """Everything a publish would write, or the reason it cannot; writes nothing."""
    plan = _plan_one(catalogue, draft, source, effective_from, source_of)
    if plan.conflict is None and plan.new is not None and not plan.problems:
        scenario = with_versions(catalogue.policies, [plan.new, *(c for c, _ in plan.closed)])
        plan.problems += check_catalogue(scenario)
    return plan


def plan_publish_set(
    catalogue: Catalogue,
    drafts: Sequence[tuple[CompiledPolicy, str]],
    effective_from: date,
    source_of: Callable[[CompiledPolicy], str],
) -> tuple[list[PublishPlan], list[PolicyError]]:
    """Plans for drafts published together, and the problems of the catalogue with all of them: a relation
    between two drafts (each excluding the other) is checked as it will stand, not one draft at a time."""
    ids = [d.id for d, _ in drafts]
    twice = sorted({i for i in ids if ids.count(i) > 1})
    if twice:
        plan = PublishPlan(conflict=f"a set publishes one version per policy; '{twice[0]}' is in it more than once")
        return [plan], []
    plans = [_plan_one(catalogue, d, text, effective_from, source_of) for d, text in drafts]
    if any(p.conflict or p.problems or p.new is None for p in plans):
        return plans, []
    written = [c for p in plans for c in (p.new, *(closed for closed, _ in p.closed)) if c is not None]
    return plans, check_catalogue(with_versions(catalogue.policies, written))


def _plan_one(
    catalogue: Catalogue,
    draft: CompiledPolicy,
    source: str,
    effective_from: date,
    source_of: Callable[[CompiledPolicy], str],
) -> PublishPlan:
    """One draft's new version and the older versions it closes, without the catalogue check."""
    plan = PublishPlan()
    existing = catalogue.versions(draft.id)
    if existing and draft.version <= existing[-1].version:
        plan.conflict = (
            f"version {draft.version} of '{draft.id}' is not new: the catalogue has versions"
            f" {[p.version for p in existing]}; set version: {existing[-1].version + 1} in the draft"
        )
        return plan
    try:
        plan.new_source = set_effective(source, "from", effective_from)
        plan.new, _ = load_policy_text(plan.new_source, draft.file)
    except PolicyError as err:
        plan.problems.append(err)
        return plan
    for older in existing:
        span = older.policy.effective
        if span.end is not None and span.end < effective_from:
            continue  # already over before the new version starts
        if span.start >= effective_from:
            plan.conflict = (
                f"version {older.version} of '{draft.id}' starts on {span.start}, not before the new version's"
                f" effective date {effective_from}: publish from a later date"
            )
            return plan
        text = set_effective(source_of(older), "to", effective_from - timedelta(days=1))
        plan.closed.append((load_policy_text(text, older.file)[0], text))
    return plan


def plan_withdrawal(
    catalogue: Catalogue,
    policy_id: str,
    version: int,
    withdraw_from: date,
    today: date,
    source_of: Callable[[CompiledPolicy], str],
) -> PublishPlan:
    """A published version out of force from a future date: its text with ``effective.to`` the day before, in
    ``closed``, and the catalogue checked without it from then on (a policy that requires it would break)."""
    plan = PublishPlan()
    older = next((p for p in catalogue.versions(policy_id) if p.version == version), None)
    if older is None:
        known = [p.version for p in catalogue.versions(policy_id)]
        plan.conflict = f"the catalogue has no version {version} of '{policy_id}'" + (
            f" (it has versions {known})" if known else ""
        )
        return plan
    span = older.policy.effective
    if withdraw_from <= today:
        plan.conflict = f"a withdrawal takes effect from a future date: {withdraw_from} is not after today ({today})"
    elif span.start >= withdraw_from:
        plan.conflict = (
            f"version {version} of '{policy_id}' starts on {span.start}; withdraw it from a later date than that"
        )
    elif span.end is not None and span.end < withdraw_from:
        plan.conflict = f"version {version} of '{policy_id}' already ends on {span.end}, before {withdraw_from}"
    if plan.conflict:
        return plan
    text = set_effective(source_of(older), "to", withdraw_from - timedelta(days=1))
    closed = load_policy_text(text, older.file)[0]
    plan.closed.append((closed, text))
    plan.problems += check_catalogue(with_versions(catalogue.policies, [closed]))
    return plan


def locate(problems: list[PolicyError], file: str) -> list[PolicyError]:
    """Errors found across the catalogue that have no file get the draft's."""
    return [p if p.location.file else p.at(Location(file)) for p in problems]
