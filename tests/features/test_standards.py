import polars as pl
import pytest

from features.standards.divisions import division_problem_expr
from features.standards.industry import industry_code_expr, industry_problem_expr
from features.standards.size_class import SIZE_GROUPS, size_class_expr
from features.standards.uscc import uscc_problem, uscc_problem_expr

VALID = ["91110000600037341L", "91110108551385082Q", "91350100M000100Y43", "91440101MA5CJQ4N59"]


@pytest.mark.parametrize("code", VALID)
def test_uscc_when_public_sample_is_valid_passes_both_checks(code):
    assert uscc_problem(code) is None
    assert pl.DataFrame({"uscc": [code]}).select(uscc_problem_expr()).item() is None


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("91350100M000100Y4Z", "position 18) should be '3', found 'Z'"),
        ("91350100M000100Y44", "position 18) should be '3', found '4'"),
        ("91110108551385083Q", "position 17) should be '2', found '3'"),
        ("9111010855138508", "expected 18 characters, found 16"),
        ("9I110108551385082Q", "outside the USCC alphabet"),
    ],
)
def test_uscc_when_code_is_wrong_says_where_and_what_it_should_be(code, expected):
    scalar = uscc_problem(code)
    vector = pl.DataFrame({"uscc": [code]}).select(uscc_problem_expr()).item()
    assert scalar is not None and vector is not None
    assert expected in vector
    if "alphabet" not in expected:
        assert expected in scalar


@pytest.mark.parametrize(
    ("code", "normalised", "problem"),
    [
        ("C3911", "C3911", None),
        ("3911", "C3911", None),
        ("i6513", "I6513", None),
        ("C6513", "C6513", "belongs to section 'I'"),
        ("C98", "C98", "does not exist"),
        ("X12", "X12", "expected a GB/T 4754-2017 code"),
    ],
)
def test_industry_code_when_checked_normalises_or_explains(code, normalised, problem):
    out = pl.DataFrame({"industry_code": [code]}).select(n=industry_code_expr(), p=industry_problem_expr()).row(0)
    assert out[0] == normalised
    assert (out[1] is None) if problem is None else (problem in out[1])


@pytest.mark.parametrize(
    ("code", "problem"),
    [("440305", None), ("500107", None), ("990101", "province '99'"), ("440000", "prefecture"), ("44030", "6-digit")],
)
def test_division_code_when_checked_explains_problem(code, problem):
    out = pl.DataFrame({"division_code": [code]}).select(division_problem_expr()).item()
    assert (out is None) if problem is None else (problem in out)


def _classify(industry: str, staff=None, revenue=None, assets=None) -> str | None:
    df = pl.DataFrame(
        {"i": [industry], "s": [staff], "r": [revenue], "a": [assets]},
        schema={"i": pl.String, "s": pl.Float64, "r": pl.Float64, "a": pl.Float64},
    )
    return df.select(size_class_expr(pl.col("i"), pl.col("s"), pl.col("r"), pl.col("a"))).item()


GROUP_INDUSTRY = {
    "industry": "C3911",
    "software": "I6513",
    "telecom": "I6410",
    "wholesale": "F5110",
    "retail": "F5210",
    "construction": "E4710",
    "leasing": "L7211",
    "other": "M7310",
}
BELOW = {"large": "medium", "medium": "small", "small": "micro"}


@pytest.mark.parametrize("group", list(SIZE_GROUPS))
@pytest.mark.parametrize("cls", ["large", "medium", "small"])
def test_size_class_when_exactly_at_lower_bounds_is_that_class_and_one_below_drops_a_step(group, cls):
    g = SIZE_GROUPS[group]
    bounds = dict(zip(g.indicators, getattr(g, cls), strict=True))
    at = {"staff": None, "revenue": None, "assets": None} | bounds
    assert _classify(GROUP_INDUSTRY[group], at["staff"], at["revenue"], at["assets"]) == cls
    for indicator in g.indicators:  # missing any one bound drops one step
        below = at | {indicator: bounds[indicator] - 1}
        assert _classify(GROUP_INDUSTRY[group], below["staff"], below["revenue"], below["assets"]) == BELOW[cls]


def test_size_class_when_an_indicator_is_unknown_decides_only_what_the_known_one_settles():
    assert _classify("C3911", staff=None, revenue=100) == "micro"  # below the small revenue bound anyway
    assert _classify("C3911", staff=None, revenue=5000) is None  # could be small or medium
    assert _classify("M7310", staff=None) is None
