"""Open statistics: no published figure counts fewer than the threshold of enterprises, whatever is asked, and
no subtraction of shown figures from the total recovers one; a firm alone in its region stays hidden."""

from __future__ import annotations

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from matcher.supervision.open_statistics import DIMENSIONS, MEASURES, publish

REGIONS = ["4403", "4401", "4404", "4406", "3301"]
SIZES = ["large", "medium", "small", "micro"]
SECTIONS = ["C", "F", "I", "M"]


def _rows(firms: list[tuple[int, int, int, bool, bool, int]]) -> pl.DataFrame:
    return pl.DataFrame(
        [
            (f"91{REGIONS[r]}{i:012d}", SIZES[s], SECTIONS[n], eligible, granted, paid, float(i % 40))
            for i, (r, s, n, eligible, granted, paid) in enumerate(firms)
        ],
        schema={
            "uscc": pl.String,
            "size_class": pl.String,
            "industry": pl.String,
            "eligible": pl.Boolean,
            "granted": pl.Boolean,
            "paid_fen": pl.Int64,
            "days_to_payment": pl.Float64,
        },
        orient="row",
    ).with_columns(region=pl.col("uscc").str.slice(2, 4))


FIRMS = st.lists(
    st.tuples(
        st.integers(0, len(REGIONS) - 1),
        st.integers(0, len(SIZES) - 1),
        st.integers(0, len(SECTIONS) - 1),
        st.booleans(),
        st.booleans(),
        st.one_of(st.just(0), st.integers(1, 10_000_000)),
    ),
    max_size=60,
)


def _true(rows: pl.DataFrame, dimension: str, category: str, measure: str) -> int:
    cell = rows.filter(pl.col(dimension) == category)
    return int((cell["paid_fen"] > 0).sum()) if measure == "paid" else int(cell[measure].sum())


@settings(max_examples=300, deadline=None)
@given(firms=FIRMS, threshold=st.integers(2, 8), dimension=st.sampled_from([None, *DIMENSIONS]))
def test_publish_when_any_filter_is_asked_shows_no_cell_under_the_threshold(firms, threshold, dimension):
    rows = _rows(firms)
    out = publish(rows, dimension=dimension, threshold=threshold)
    total = out["total"]
    for measure in MEASURES:
        assert total[measure] is None or total[measure] == 0 or total[measure] >= threshold
    if total["paid"] is None or total["paid"] < threshold:
        assert total["paid_fen"] is None or total["paid"] == 0
    if dimension is None:
        return
    for measure in MEASURES:
        hidden_true = 0
        for cell in out["cells"]:
            shown = cell[measure]
            assert shown is None or shown == 0 or shown >= threshold, (measure, cell)
            if shown is None:
                hidden_true += _true(rows, dimension, cell[dimension], measure)
            else:
                assert shown == _true(rows, dimension, cell[dimension], measure)
        # What subtraction from a shown total recovers is an aggregate of at least threshold firms, or nothing.
        if total[measure] is not None:
            assert hidden_true == 0 or hidden_true >= threshold, (measure, hidden_true)
    for cell in out["cells"]:  # money and time only for at least threshold paid enterprises
        if cell["paid_fen"] is not None and cell["paid"]:
            assert cell["paid"] >= threshold


def test_publish_when_one_firm_is_alone_in_its_region_cannot_be_identified():
    # Twelve paid firms in Shenzhen and one large payment to the only firm in Hangzhou (3301).
    firms = [(0, 3, 0, True, True, 100_000)] * 12 + [(4, 0, 1, True, True, 9_999_999)]
    rows = _rows(firms)
    out = publish(rows, dimension="region", threshold=5)
    cells = {c["region"]: c for c in out["cells"]}
    alone = cells["3301"]
    assert alone["paid"] is None and alone["paid_fen"] is None and alone["eligible"] is None
    # The attack: the total minus every shown cell. The total is published, so the partner cell must be hidden.
    shown = sum(c["paid_fen"] for c in out["cells"] if c["paid_fen"] is not None)
    recovered = out["total"]["paid_fen"] - shown
    assert recovered != 9_999_999  # what is left is the sum of at least five firms, not the lone firm's amount
    assert cells["4403"]["paid_fen"] is None
    # By size class the lone firm is the only large one: hidden too, with its complement.
    by_size = {c["size_class"]: c for c in publish(rows, dimension="size_class", threshold=5)["cells"]}
    assert by_size["large"]["paid_fen"] is None and by_size["micro"]["paid_fen"] is None
