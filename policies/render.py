"""Values and operators in words, in Chinese and English."""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from features.profiles.catalogue import Fact
from features.standards.industry import SECTIONS

__all__ = ["OPERATOR_WORDS", "RESULT_WORDS", "VALUE_WORDS", "Lang", "format_value"]

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


_SINGULAR = {"persons": "person", "months": "month", "years": "year", "patents": "patent"}
# Coded words of str facts as a reader says them: no raw code (public_institution) inside a sentence.
VALUE_WORDS: dict[str, dict[str, tuple[str, str]]] = {
    "enterprise_type": {
        "limited_company": ("有限责任公司", "limited company"),
        "joint_stock_company": ("股份有限公司", "joint-stock company"),
        "sole_proprietorship": ("个人独资企业", "sole proprietorship"),
        "partnership": ("合伙企业", "partnership"),
        "individual_business": ("个体工商户", "individual business"),
        "cooperative": ("农民专业合作社", "farmers' cooperative"),
        "public_institution": ("事业单位", "public institution"),
        "government_agency": ("机关", "government agency"),
        "social_organization": ("社会组织", "social organisation"),
        "law_firm": ("律师事务所", "law firm"),
        "accounting_firm": ("会计师事务所", "accounting firm"),
    },
    "status": {
        "operating": ("存续（在营）", "operating"),
        "deregistered": ("注销", "deregistered"),
        "revoked": ("吊销", "licence revoked"),
    },
    "size_class": {"large": ("大型", "large"), "medium": ("中型", "medium"), "small": ("小型", "small"),
                   "micro": ("微型", "micro")},
    "specialised_innovative_level": {"national": ("国家级", "national"), "provincial": ("省级", "provincial"),
                                     "municipal": ("市级", "municipal")},
    "industry_section": {code: (words[0], words[1]) for code, words in SECTIONS.items()},
}  # fmt: skip


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
        if lang == "en" and value == 1 and unit in _SINGULAR:
            word = _SINGULAR[unit]
        return f"{number} {word}" if lang == "en" else f"{number}{word}"
    words = VALUE_WORDS.get(fact.name, {}) if fact else {}
    if isinstance(value, str) and value in words:
        return words[value][0 if lang == "zh" else 1]
    return str(value)
