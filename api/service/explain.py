"""A decision's explanation, rendered from its stored evidence by the tracer (as delivery does).

Every condition with its result, the facts it read, their registries and the
as-of date, in Chinese and English; for a near miss, the conditions missed
and by how much; for missing data, the facts to supply. Ranking reasons come
from the champion model (``ranking_reasons``): its top contributing features
for the pair as its run ranked it, or a note saying why there are none.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from features.profiles.catalogue import fact as catalogue_fact
from features.registries.schema import REGISTRIES
from policies.compiled import CompiledPolicy
from policies.delivery_trace import delivery_explained
from policies.model import Text
from policies.render import format_value
from policies.trace import ConditionTrace, FactUse, trace

if TYPE_CHECKING:
    from api.service.ranker import Ranker
    from matcher.ranking.parts import Rows

__all__ = ["RESULTS", "evidence", "explain", "ranking_reasons", "ranking_reasons_at_once", "used_lineage"]

RESULTS = {True: "met", False: "not_met", None: "unknown"}


def ranking_reasons(decision: Any, ranker: Ranker | None = None) -> dict[str, Any]:
    """Why the champion places this notice where it does: ``ranking_reasons`` [{feature, value, contribution,
    zh, en}, ...] for the decision's (uscc, policy) in its run, or null with ``ranking_note`` {zh, en} saying why
    (no champion, the pair was not ranked)."""
    if ranker is None or decision is None:
        return {"ranking_reasons": None, "ranking_note": None}
    reasons, note = ranker.reasons(decision["uscc"], decision["policy_id"], decision.get("run_id"))
    return {"ranking_reasons": reasons, "ranking_note": note}


def ranking_reasons_at_once(decision: Any, ranker: Ranker | None, rows: Rows) -> dict[str, Any] | None:
    """``ranking_reasons`` on the calling thread, its lookups run by ``rows`` (an ``async`` route: the event loop's
    connection, ``LoopReader.rows``), or None when the champion must first be read from the model store: then
    ``ranking_reasons``, in a thread. With the model in memory, a pair's reasons cost an indexed query and a
    fraction of a millisecond (the features' group of pairs decoded once per process, one row's contributions):
    less than the hop to a thread and its pooled connection would."""
    if ranker is None or decision is None:
        return {"ranking_reasons": None, "ranking_note": None}
    found = ranker.reasons_at_once(decision["uscc"], decision["policy_id"], decision.get("run_id"), rows)
    return None if found is None else {"ranking_reasons": found[0], "ranking_note": found[1]}


def evidence(facts_json: str) -> dict[str, Any]:
    """The stored facts, with dates back as dates (JSON has no date type)."""
    facts = json.loads(facts_json) if facts_json else {}
    for name, value in facts.items():
        if isinstance(value, str) and catalogue_fact(name).kind == "date":
            facts[name] = date.fromisoformat(value)
    return facts


def _fact(use: FactUse, as_of: date) -> dict[str, Any]:
    value = use.value.isoformat() if isinstance(use.value, date) else use.value
    return {
        "name": use.name,
        "label": {"zh": use.zh, "en": use.en},
        "value": value,
        "shown": {lang: format_value(use.value, catalogue_fact(use.name), lang) for lang in ("zh", "en")},
        "registries": _registries(use.registries),
        "period": use.period,
        "as_of": as_of,
        "lineage": use.lineage.model_dump() if use.lineage is not None else None,
    }


@lru_cache(maxsize=1024)
def _registries(ids: tuple[str, ...]) -> tuple[dict[str, str], ...]:
    """The registries' names, the same for every enterprise: made once (read only, as the JSON writer reads it)."""
    return tuple({"id": r, "zh": REGISTRIES[r].zh, "en": REGISTRIES[r].en} for r in ids)


def _missing(name: str) -> dict[str, Any]:
    """A fact to supply: its label and, for a declared fact, who attests it and what evidence is asked."""
    f = catalogue_fact(name)
    row: dict[str, Any] = {"name": name, "label": {"zh": f.zh, "en": f.en}, "attested_by": None, "evidence": None}
    if f.declared:
        row["attested_by"] = list(f.attested_by)
        row["evidence"] = {"zh": f.evidence[0], "en": f.evidence[1]} if f.evidence else None
    return row


def used_lineage(facts: dict[str, Any], attested: Mapping[str, Mapping[str, Any]] | None) -> dict[str, Text]:
    """The attestations that gave a value the decision read: its stored value is the attested one (when a
    registry's value won instead, the registry is the source)."""
    out: dict[str, Text] = {}
    for name, row in (attested or {}).items():
        if name in facts and facts[name] == row["value"]:
            out[name] = Text(**row["words"])
    return out


def _conditions(node: ConditionTrace, as_of: date, depth: int = 0) -> list[dict[str, Any]]:
    row: dict[str, Any] = {
        "depth": depth,
        "result": RESULTS[node.result],
        "sentence": {"zh": node.sentence("zh", as_of), "en": node.sentence("en", as_of)},
        "expression": node.text,
        "facts": [_fact(u, as_of) for u in node.facts],
        "operator": None,
        "threshold": None,
        "gap": None,
    }
    if node.comparison is not None:
        value = node.facts[0].value if node.facts else None
        row |= {
            "operator": node.comparison.op,
            "threshold": node.comparison.threshold,
            "gap": node.comparison.gap(value),
        }
    return [row] + [r for child in node.children for r in _conditions(child, as_of, depth + 1)]


def explain(
    policy: CompiledPolicy | None,
    uscc: str,
    facts_json: str,
    as_of: date,
    decision: Any = None,
    *,
    ranker: Ranker | None = None,
    ranked: dict[str, Any] | None = None,
    attested: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict:
    """The decision's explanation; ``decision`` (a row with uscc, policy_id, run_id) for its ranking reasons,
    unless they are given already (``ranked``: what ``ranking_reasons`` returned); ``attested``: the
    enterprise's accepted attestations when its run started (``supplied_facts.lineage``), named as the source of
    the values they gave. In Explanation's shape, every field in its order and its numbers floats (the policy
    language evaluates numbers as floats), so that a route may write it as JSON without validating it."""
    if ranked is None:
        ranked = ranking_reasons(decision, ranker)
    if policy is None:
        return {
            "available": False,
            "eligible": None,
            "in_region": None,
            "amount_yuan": None,
            "lines": None,
            "note": {
                "zh": "该政策版本已不在目录中，无法展开逐条说明",
                "en": "this policy version is no longer in the catalogue; no condition-by-condition explanation",
            },
            "conditions": [],
            "missing_facts": [],
            "failing": [],
            "delivery": None,
            **ranked,
        }
    facts = evidence(facts_json)
    lineage = used_lineage(facts, attested)
    traced = trace(policy, facts | {"uscc": uscc}, as_of, lineage)
    missing = [_missing(n) for n in traced.unknown_facts()]
    failing = [
        {
            "condition": {"zh": leaf.sentence("zh", as_of), "en": leaf.sentence("en", as_of)},
            "fact": leaf.comparison.fact if leaf.comparison else None,
            "value": leaf.facts[0].value if leaf.comparison and leaf.facts else None,
            "operator": leaf.comparison.op if leaf.comparison else None,
            "threshold": leaf.comparison.threshold if leaf.comparison else None,
            "gap": leaf.comparison.gap(leaf.facts[0].value) if leaf.comparison and leaf.facts else None,
        }
        for leaf in traced.failing()
    ]
    conditions = _conditions(traced.conditions, as_of)
    return {
        "available": True,
        "eligible": RESULTS[traced.eligible],
        "in_region": RESULTS[traced.in_region],
        "amount_yuan": traced.amount,
        # PolicyTrace.lines, from the sentences already rendered: the same walk (pre-order, indented by depth).
        "lines": {lang: ["  " * c["depth"] + c["sentence"][lang] for c in conditions] for lang in ("zh", "en")},
        "note": None,
        "conditions": conditions,
        "missing_facts": missing,
        "failing": failing,
        # Which delivery rule gave the mode (a policy whose delivery depends on facts); null for a fixed mode.
        "delivery": delivery_explained(policy, facts | {"uscc": uscc}, as_of, lineage),
        **ranked,
    }
