"""Which delivery rule applied to one enterprise, in words (a policy's ``delivery: [{when, mode}]``).

The same semantics as ``CompiledPolicy.delivery_for`` (the first rule whose condition holds; while an earlier
condition is unknown, the safest mode that could still apply), told as the explanation says it: "「劳务派遣企业」
成立，故通知企业申请" / "labour-dispatch firm holds, so the enterprise is told to apply".
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from policies.compiled import CompiledPolicy
from policies.model import Text
from policies.trace import (
    ConditionTrace,
    _trace,
)  # the eligibility tracer: a delivery condition is written like eligibility

__all__ = ["MODE_WORDS", "delivery_explained"]

MODE_WORDS = {
    "automatic": {"zh": "自动发放，无需申请", "en": "it is paid automatically, with no application"},
    "confirm": {"zh": "请企业确认后发放", "en": "the enterprise confirms before it is paid"},
    "notify": {"zh": "通知企业申请", "en": "the enterprise is told to apply"},
}


def delivery_explained(
    policy: CompiledPolicy, facts: dict[str, Any], as_of: date, lineage: Mapping[str, Text] | None = None
) -> dict[str, Any] | None:
    """The delivery rule that gave the enterprise its mode: ``mode``, ``rule`` (1-based), ``text`` {zh, en} and
    the ``unknown_facts`` that left a condition open; None for a policy with one fixed mode."""
    rules = policy.delivery_rules
    if len(rules) < 2:
        return None
    mode = policy.delivery_for(facts, as_of)
    open_: list[tuple[int, Any]] = []  # earlier conditions still unknown, with their traces
    for i, (when, _mode) in enumerate(rules, start=1):
        if when is None:
            break
        traced = _trace(when, facts, as_of, lineage)
        if traced.result is True and not open_:
            return _out(mode, i, f"「{_said(traced, 'zh')}」成立", f"“{_said(traced, 'en')}” holds")
        if traced.result is None:
            open_.append((i, traced))
        elif traced.result is True:  # holds, but an earlier condition is unknown: the safest of them applies
            break
    if open_:
        unknown = list(dict.fromkeys(u.name for _, t in open_ for leaf in t.leaves() for u in leaf.facts
                                     if u.value is None))  # fmt: skip
        zh = "、".join(f"「{_said(t, 'zh')}」" for _, t in open_)
        en = "; ".join(f"“{_said(t, 'en')}”" for _, t in open_)
        out = _out(
            mode,
            open_[0][0],
            f"尚不确定{zh}是否成立，按最稳妥的方式",
            f"it is unknown whether {en} holds, so the safest mode applies:",
        )
        return out | {"unknown_facts": unknown}
    failed = [t for when, _ in rules if when is not None for t in [_trace(when, facts, as_of, lineage)]]
    zh = "、".join(f"「{_said(t, 'zh')}」" for t in failed)
    en = " or ".join(f"“{_said(t, 'en')}”" for t in failed)
    return _out(mode, len(rules), f"{zh}均不成立" if len(failed) > 1 else f"{zh}不成立", f"neither {en} holds"
                if len(failed) > 1 else f"{en} does not hold")  # fmt: skip


def _said(node: ConditionTrace, lang: str) -> str:
    """The condition as the officer named it: its label, else the fact a bare fact condition reads, else its
    expression."""
    if node.label is not None:
        return str(getattr(node.label, lang))
    if node.text and len(node.facts) == 1 and node.text.strip() == node.facts[0].name:
        return node.facts[0].zh if lang == "zh" else node.facts[0].en
    if node.text:
        return node.text
    return ("、" if lang == "zh" else "; ").join(_said(c, lang) for c in node.children)


def _out(mode: str, rule: int, why_zh: str, why_en: str) -> dict[str, Any]:
    words = MODE_WORDS[mode]
    return {
        "mode": mode,
        "rule": rule,
        "text": {
            "zh": f"发放方式：{why_zh}，故{words['zh']}",
            "en": f"Delivery: {why_en}{' ' if why_en.endswith(':') else ', so '}{words['en']}",
        },
        "unknown_facts": [],
    }
