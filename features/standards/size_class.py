"""Enterprise size class (中小企业划型标准, 工信部联企业〔2011〕300号).

Large, medium and small must meet the lower bound of *every* indicator listed
for the industry, otherwise the class drops one step; whatever meets no small
bound is micro. Staff in persons, revenue and assets in 10k yuan (万元).
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

__all__ = ["SIZE_CLASSES", "SIZE_GROUPS", "size_class_expr", "size_group_expr"]

SIZE_CLASSES = ("large", "medium", "small", "micro")


@dataclass(frozen=True)
class SizeGroup:
    zh: str
    en: str
    indicators: tuple[str, ...]  # among "staff", "revenue", "assets"
    # lower bounds per class, one per indicator, in the order of ``indicators``
    large: tuple[float, ...]
    medium: tuple[float, ...]
    small: tuple[float, ...]


SIZE_GROUPS: dict[str, SizeGroup] = {
    "industry": SizeGroup("工业", "industry (B, C, D)", ("staff", "revenue"),
                          (1000, 40000), (300, 2000), (20, 300)),
    "software": SizeGroup("软件和信息技术服务业", "software and IT services (I65)",
                          ("staff", "revenue"), (300, 10000), (100, 1000), (10, 50)),
    "telecom": SizeGroup("信息传输业", "information transmission (I63-I64)",
                         ("staff", "revenue"), (2000, 100000), (100, 1000), (10, 100)),
    "wholesale": SizeGroup("批发业", "wholesale (F51)", ("staff", "revenue"),
                           (200, 40000), (20, 5000), (5, 1000)),
    "retail": SizeGroup("零售业", "retail (F52)", ("staff", "revenue"),
                        (300, 20000), (50, 500), (10, 100)),
    "construction": SizeGroup("建筑业", "construction (E)", ("revenue", "assets"),
                              (80000, 80000), (6000, 5000), (300, 300)),
    "leasing": SizeGroup("租赁和商务服务业", "leasing and business services (L)",
                         ("staff", "assets"), (300, 120000), (100, 8000), (10, 100)),
    "other": SizeGroup("其他未列明行业", "other industries", ("staff",), (300,), (100,), (10,)),
}  # fmt: skip


def size_group_expr(industry_code: pl.Expr) -> pl.Expr:
    """Which row of the standard applies to a GB/T 4754 code with its section letter."""
    section = industry_code.str.slice(0, 1)
    division = industry_code.str.slice(1, 2)
    return (
        pl.when(industry_code.is_null())
        .then(None)
        .when(section.is_in(["B", "C", "D"]))
        .then(pl.lit("industry"))
        .when(division == "65")
        .then(pl.lit("software"))
        .when(division.is_in(["63", "64"]))
        .then(pl.lit("telecom"))
        .when(division == "51")
        .then(pl.lit("wholesale"))
        .when(division == "52")
        .then(pl.lit("retail"))
        .when(section == "E")
        .then(pl.lit("construction"))
        .when(section == "L")
        .then(pl.lit("leasing"))
        .otherwise(pl.lit("other"))
    )


def size_class_expr(industry_code: pl.Expr, staff: pl.Expr, revenue_10k: pl.Expr, assets_10k: pl.Expr) -> pl.Expr:
    """Size class per enterprise; null when a missing indicator leaves it undecided.

    Kleene logic keeps this honest: a firm below one small bound is micro even if
    its other indicator is unknown, but a missing indicator that could change the
    class leaves it null rather than guessing.
    """
    values = {"staff": staff, "revenue": revenue_10k, "assets": assets_10k}
    group = size_group_expr(industry_code)

    def meets(cls: str) -> pl.Expr:
        expr = pl.lit(None, dtype=pl.Boolean)
        for name, g in SIZE_GROUPS.items():
            bounds = getattr(g, cls)
            ok = pl.lit(True)
            for ind, bound in zip(g.indicators, bounds, strict=True):
                ok = ok & (values[ind] >= bound)  # `&` on booleans is Kleene in polars
            expr = pl.when(group == name).then(ok).otherwise(expr)
        return expr

    result = pl.lit("micro")
    for cls in ("small", "medium", "large"):
        m = meets(cls)
        result = pl.when(m.is_null()).then(None).when(m).then(pl.lit(cls)).otherwise(result)
    return pl.when(group.is_null()).then(None).otherwise(result)
