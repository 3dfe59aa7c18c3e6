"""Values and operators in words, in Chinese and English."""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from features.profiles.catalogue import Fact

__all__ = ["OPERATOR_WORDS", "RESULT_WORDS", "Lang", "format_value"]

Lang = Literal["zh", "en"]

RESULT_WORDS: dict[bool | None, dict[str, str]] = {
    True: {"zh": "满足", "en": "met"},
    False: {"zh": "不满足", "en": "not met"},
    None: {"zh": "未知（缺少数据）", "en": "unknown (data missing)"},
}
OPERATOR_WORDS = {">=": "≥", "<=": "≤", "==": "=", "!=": "≠", ">": ">", "<": "<"}
_UNITS = {
    "yuan": {"zh": "元", "en": "yuan"},
    "10k yuan": {"zh": "万元", "en": "×10k yuan"},
    "persons": {"zh": "人", "en": "persons"},
    "months": {"zh": "个月", "en": "months"},
    "years": {"zh": "年", "en": "years"},
    "patents": {"zh": "件", "en": "patents"},
}


def format_value(value: Any, fact: Fact | None, lang: Lang) -> str:
    if value is None:
        return "未知" if lang == "zh" else "unknown"
    if isinstance(value, bool):
        return ("是" if value else "否") if lang == "zh" else ("yes" if value else "no")
    if isinstance(value, date):
        return value.isoformat()
    unit = fact.unit if fact else None
    if isinstance(value, int | float):
        if unit == "ratio":
            return f"{value * 100:.2f}".rstrip("0").rstrip(".") + "%"
        number = f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"
        word = _UNITS.get(unit or "", {}).get(lang)
        if not word:
            return number
        return f"{number} {word}" if lang == "en" else f"{number}{word}"
    return str(value)
