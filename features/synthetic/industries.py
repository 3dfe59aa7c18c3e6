"""Which industries each kind of entity is in, and the economics of each industry.

All shares and money figures here are guesses shaped on public statistics (SAMR yearly reports on new
market entities, NBS average wages, the 2018 economic census); none is an official figure.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from features.registries.schema import ENTERPRISE_TYPES
from features.standards.industry import SECTIONS

__all__ = [
    "ASSETS_PER_REVENUE",
    "INNOVATIVE_DIVISIONS",
    "LABOUR_DISPATCH_CLASS",
    "LETTERS",
    "MONTHLY_WAGE",
    "REVENUE_PER_EMPLOYEE",
    "STAFF_FACTOR",
    "draw_industry",
]

LETTERS = list(SECTIONS)  # section index -> letter

# Section shares (percent) of each entity type's industry. Guess: wholesale/retail, business services,
# tech services and manufacturing lead new company registrations; individual businesses are shops,
# restaurants and household services; cooperatives farm.
_COMPANY = {"A": 2.5, "B": 0.3, "C": 13, "D": 0.6, "E": 7, "F": 28, "G": 4, "H": 3, "I": 9, "J": 1.5, "K": 3,
            "L": 12, "M": 9, "N": 1, "O": 3, "P": 1, "Q": 0.6, "R": 2.5}  # fmt: skip
SECTION_SHARE: dict[str, dict[str, float]] = {
    "limited_company": _COMPANY,
    "joint_stock_company": {"C": 40, "I": 14, "F": 8, "J": 8, "M": 8, "E": 6, "K": 4, "D": 4, "G": 5, "B": 1, "L": 2},
    "sole_proprietorship": {"F": 40, "H": 10, "L": 15, "M": 8, "I": 5, "O": 10, "C": 5, "G": 4, "A": 3},
    "partnership": {"L": 50, "M": 12, "F": 13, "I": 6, "J": 12, "C": 4, "K": 3},
    "individual_business": {"F": 52, "H": 20, "O": 14, "G": 5, "A": 3, "R": 2, "C": 2, "I": 1, "M": 1},
    "cooperative": {"A": 90, "C": 5, "F": 5},
    "public_institution": {"P": 35, "Q": 25, "M": 10, "R": 10, "N": 10, "S": 10},
    "government_agency": {"S": 100},
    "social_organization": {"S": 70, "P": 15, "Q": 5, "M": 10},
    "law_firm": {"L": 100},
    "accounting_firm": {"L": 100},
}

# Division weights inside a section (default: equal). Policies name C26, C27, C34-C40, I64, I65, M73-M75,
# so those are common enough to be seen in small samples.
_DIVISION_WEIGHT: dict[int, float] = {
    26: 3, 27: 3, 34: 4, 35: 3, 36: 2, 38: 4, 39: 5, 40: 2, 13: 2, 18: 2, 29: 2, 33: 3,  # manufacturing
    47: 3, 48: 3.5, 49: 1.5, 50: 2,  # construction
    51: 55, 52: 45,  # wholesale, retail
    54: 5, 58: 2, 59: 1.5, 60: 1.5,  # road transport, logistics, storage, post
    61: 20, 62: 80,  # accommodation, catering
    63: 15, 64: 30, 65: 55,  # telecom, internet, software
    71: 10, 72: 90,  # leasing, business services
    73: 15, 74: 35, 75: 50,  # R&D, technical services, technology promotion
    80: 45, 81: 30, 82: 25,
    91: 0.5, 92: 6, 93: 0.3, 94: 1, 95: 6, 96: 0.5,
}  # fmt: skip
# Per-type overrides: agencies are state organs (S92), social organisations are associations (S95).
_TYPE_DIVISIONS: dict[str, dict[int, float]] = {
    "government_agency": {92: 90, 91: 10},
    "social_organization": {95: 70, 83: 15, 84: 5, 75: 10},
    "public_institution": {83: 35, 84: 25, 73: 10, 87: 5, 88: 5, 78: 10, 94: 10},
    "cooperative": {1: 55, 3: 25, 2: 5, 4: 5, 5: 5, 13: 5, 51: 5},
    "law_firm": {72: 100},
    "accounting_firm": {72: 100},
}

# Real GB/T 4754-2017 classes for the divisions policies name or that dominate; other divisions get a
# plausible group+class ("{division}{1-4}{0-3}"), which the standard checks accept as the division is real.
_CLASSES: dict[int, tuple[int, ...]] = {
    26: (2611, 2612, 2613, 2614, 2619, 2621, 2631, 2641, 2651, 2661, 2662, 2669),
    27: (2710, 2720, 2730, 2740, 2750, 2761, 2762, 2770, 2780),
    39: (3911, 3912, 3913, 3914, 3919, 3921, 3922, 3940, 3951, 3961, 3971, 3972, 3973, 3974, 3976, 3981, 3982),
    40: (4011, 4012, 4013, 4014, 4015, 4016, 4019, 4021, 4028, 4040, 4090),
    63: (6311, 6312, 6319, 6321, 6322, 6331, 6339),
    64: (6410, 6421, 6422, 6429, 6431, 6432, 6433, 6434, 6440, 6450, 6490),
    65: (6511, 6512, 6513, 6513, 6513, 6519, 6520, 6520, 6531, 6532, 6540, 6550, 6560, 6591, 6599),
    73: (7310, 7320, 7330, 7340, 7350),
    75: (7511, 7512, 7513, 7514, 7515, 7517, 7519, 7520, 7530, 7540, 7590),
    51: (5111, 5121, 5131, 5137, 5141, 5151, 5161, 5171, 5172, 5174, 5176, 5178, 5181, 5191, 5193),
    52: (5211, 5212, 5219, 5221, 5223, 5231, 5232, 5242, 5251, 5261, 5271, 5281, 5292, 5292, 5299),
    62: (6210, 6220, 6220, 6231, 6232, 6241, 6291, 6299),
    70: (7010, 7010, 7020, 7020, 7030, 7040, 7090),
    72: (7211, 7212, 7221, 7222, 7224, 7251, 7259, 7263, 7281, 7283, 7291, 7299),
    92: (9221, 9222, 9223, 9224, 9225, 9226, 9227, 9231),
    95: (9521, 9522, 9529, 9530, 9541, 9542),
}
_TYPE_CLASSES: dict[str, tuple[int, ...]] = {"law_firm": (7231,), "accounting_firm": (7241,)}
LABOUR_DISPATCH_CLASS = 7263  # 劳务派遣服务

# Staff of a sector relative to its entity type's typical size (guess): factories and builders are bigger.
STAFF_FACTOR = {"B": 3.0, "C": 2.2, "D": 3.0, "E": 1.6, "G": 1.4, "H": 1.1, "I": 1.2, "J": 1.3, "K": 1.5,
                "F": 0.8, "L": 0.8, "O": 0.8, "Q": 1.5, "P": 1.3}  # fmt: skip
# Median annual revenue per employee, yuan (guess from census revenue / headcount by sector).
REVENUE_PER_EMPLOYEE = {"A": 300e3, "B": 1.5e6, "C": 800e3, "D": 2.0e6, "E": 600e3, "F": 1.0e6, "G": 500e3,
                        "H": 200e3, "I": 450e3, "J": 1.2e6, "K": 2.0e6, "L": 500e3, "M": 400e3, "N": 300e3,
                        "O": 200e3, "P": 200e3, "Q": 300e3, "R": 300e3, "S": 200e3, "T": 200e3}  # fmt: skip
# Median total assets / annual revenue (guess): real estate and finance hold much, traders little.
ASSETS_PER_REVENUE = {"A": 1.5, "B": 2.0, "C": 0.9, "D": 3.0, "E": 1.0, "F": 0.4, "G": 0.8, "H": 0.6, "I": 0.8,
                      "J": 5.0, "K": 4.0, "L": 1.2, "M": 0.8, "N": 1.5, "O": 0.5, "P": 1.0, "Q": 1.0, "R": 1.2,
                      "S": 1.5, "T": 1.5}  # fmt: skip
# Median monthly wage, yuan (guess near NBS 2023 urban private/non-private averages by sector).
MONTHLY_WAGE = {"A": 4000, "B": 7000, "C": 5500, "D": 8000, "E": 5500, "F": 5000, "G": 5500, "H": 4200,
                "I": 9000, "J": 10000, "K": 6000, "L": 5500, "M": 8000, "N": 5000, "O": 4300, "P": 6000,
                "Q": 7000, "R": 5500, "S": 7000, "T": 7000}  # fmt: skip
# Divisions where R&D, patents and high-tech certificates concentrate, with a propensity bonus.
INNOVATIVE_DIVISIONS = {26: 0.8, 27: 1.2, 34: 0.8, 35: 1.0, 36: 0.8, 37: 0.8, 38: 1.0, 39: 1.3, 40: 1.3,
                        63: 0.6, 64: 0.9, 65: 1.2, 73: 1.5, 74: 0.8, 75: 1.2}  # fmt: skip


def _division_weights(type_name: str) -> np.ndarray:
    """Weight of each division 1..97 (index = division) for one entity type."""
    w = np.zeros(98)
    if type_name in _TYPE_DIVISIONS:
        for d, share in _TYPE_DIVISIONS[type_name].items():
            w[d] = share
        return w / w.sum()
    for letter, share in SECTION_SHARE[type_name].items():
        lo, hi = SECTIONS[letter][2], SECTIONS[letter][3]
        inner = np.array([_DIVISION_WEIGHT.get(d, 1.0) for d in range(lo, hi + 1)])
        w[lo : hi + 1] = share * inner / inner.sum()
    return w / w.sum()


def _class_table() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Flat list of class codes, with each division's offset and count into it."""
    codes: list[int] = []
    offset = np.zeros(98, dtype=np.int64)
    count = np.zeros(98, dtype=np.int64)
    for d in range(1, 98):
        classes = _CLASSES.get(d) or tuple(d * 100 + g * 10 + c for g in range(1, 5) for c in range(4))
        offset[d], count[d] = len(codes), len(classes)
        codes.extend(classes)
    return np.array(codes), offset, count


_DIVISION_LETTER = np.array(
    [0] + [i for i, (_, (_, _, lo, hi)) in enumerate(SECTIONS.items()) for _ in range(lo, hi + 1)]
)


def draw_industry(kind: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, pl.Series]:
    """Division (int), section index and industry code ('C3911') for entities of each type index."""
    n = len(kind)
    division = np.zeros(n, dtype=np.int64)
    cls = np.zeros(n, dtype=np.int64)
    codes, offset, count = _class_table()
    for t, name in enumerate(ENTERPRISE_TYPES):
        rows = np.flatnonzero(kind == t)
        division[rows] = rng.choice(98, size=len(rows), p=_division_weights(name))
        if name in _TYPE_CLASSES:
            cls[rows] = rng.choice(_TYPE_CLASSES[name], size=len(rows))
    pick = offset[division] + (rng.random(n) * count[division]).astype(np.int64)
    cls = np.where(cls > 0, cls, codes[pick])
    section = _DIVISION_LETTER[division]
    letters = pl.Series(LETTERS).gather(section)
    return division, section, letters + pl.Series(cls).cast(pl.String).str.zfill(4)
