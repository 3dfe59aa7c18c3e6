"""Industry classification (国民经济行业分类, GB/T 4754-2017).

Codes are a section letter (门类) followed by 2-4 digits: a division (大类,
numbered 01-97 across sections), group and class, e.g. ``C3911``. Registry
extracts sometimes omit the letter; it is implied by the division.
"""

from __future__ import annotations

import polars as pl

__all__ = ["SECTIONS", "industry_code_expr", "industry_problem_expr", "section_of_division"]

# section letter -> (zh, en, first division, last division)
SECTIONS: dict[str, tuple[str, str, int, int]] = {
    "A": ("农、林、牧、渔业", "Agriculture, forestry, animal husbandry and fishery", 1, 5),
    "B": ("采矿业", "Mining", 6, 12),
    "C": ("制造业", "Manufacturing", 13, 43),
    "D": ("电力、热力、燃气及水生产和供应业", "Electricity, heat, gas and water supply", 44, 46),
    "E": ("建筑业", "Construction", 47, 50),
    "F": ("批发和零售业", "Wholesale and retail trade", 51, 52),
    "G": ("交通运输、仓储和邮政业", "Transport, storage and postal services", 53, 60),
    "H": ("住宿和餐饮业", "Accommodation and catering", 61, 62),
    "I": ("信息传输、软件和信息技术服务业", "Information transmission, software and IT services", 63, 65),
    "J": ("金融业", "Finance", 66, 69),
    "K": ("房地产业", "Real estate", 70, 70),
    "L": ("租赁和商务服务业", "Leasing and business services", 71, 72),
    "M": ("科学研究和技术服务业", "Scientific research and technical services", 73, 75),
    "N": ("水利、环境和公共设施管理业", "Water, environment and public facilities management", 76, 79),
    "O": ("居民服务、修理和其他服务业", "Resident, repair and other services", 80, 82),
    "P": ("教育", "Education", 83, 83),
    "Q": ("卫生和社会工作", "Health and social work", 84, 85),
    "R": ("文化、体育和娱乐业", "Culture, sports and entertainment", 86, 90),
    "S": ("公共管理、社会保障和社会组织", "Public administration, social security and social organisations", 91, 96),
    "T": ("国际组织", "International organisations", 97, 97),
}

_DIVISION_SECTION = {f"{d:02d}": letter for letter, (_, _, lo, hi) in SECTIONS.items() for d in range(lo, hi + 1)}


def section_of_division(division: int) -> str | None:
    return _DIVISION_SECTION.get(f"{division:02d}")


def industry_code_expr(column: str = "industry_code") -> pl.Expr:
    """The code with its section letter, adding the letter when the extract left it out."""
    code = pl.col(column).str.strip_chars().str.to_uppercase()
    implied = code.str.slice(0, 2).replace_strict(_DIVISION_SECTION, default=None)
    return pl.when(code.str.contains(r"^\d{2,4}$")).then(implied + code).otherwise(code)


def industry_problem_expr(column: str = "industry_code") -> pl.Expr:
    """Why a code is not a GB/T 4754-2017 code, null when it is (or is null)."""
    code = industry_code_expr(column)
    raw = pl.col(column)
    division = code.str.slice(1, 2)
    section_for_division = division.replace_strict(_DIVISION_SECTION, default=None)
    return (
        pl.when(raw.is_null())
        .then(None)
        .when(~code.str.contains(r"^[A-T]\d{2,4}$"))
        .then(
            pl.format(
                "expected a GB/T 4754-2017 code such as 'C3911' (section letter A-T and 2-4 digits), found '{}'",
                raw,
            )
        )
        .when(section_for_division.is_null())
        .then(pl.format("division '{}' does not exist in GB/T 4754-2017 (01-97)", division))
        .when(section_for_division != code.str.slice(0, 1))
        .then(
            pl.format(
                "division '{}' belongs to section '{}', not '{}'",
                division,
                section_for_division,
                code.str.slice(0, 1),
            )
        )
        .otherwise(None)
    )
