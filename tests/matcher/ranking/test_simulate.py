"""The simulator: deterministic, answers every notice once, and attention fades down the push order."""

from datetime import UTC, date, datetime

import polars as pl
from sqlalchemy import func, select

from matcher.db.models import notices, responses
from matcher.ranking.simulate import as_of_dates, respond, simulate
from policies.load import load_catalogue
from tests.matcher.ranking.conftest import DATES


def test_simulate_when_repeated_records_nothing_new(simulated):
    with simulated.engine.connect() as connection:
        before = connection.execute(select(func.count()).select_from(responses)).scalar_one()
        answered = connection.execute(select(func.count(func.distinct(responses.c.notice_id)))).scalar_one()
        total = connection.execute(select(func.count()).select_from(notices)).scalar_one()
    assert answered == total == simulated.report.notices  # every notice answered (ignored counts), once
    again = simulate(simulated.engine, simulated.registry, DATES, load_catalogue().in_force, seed=7)
    assert again.notices == 0
    with simulated.engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(responses)).scalar_one() == before


def _shown(n: int) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "notice_id": list(range(n)),
            "uscc": [f"9144030000000{i:05d}" for i in range(n)],
            "policy_id": ["job-retention-refund"] * n,
            "period_key": ["2025"] * n,
            "kind": ["granted"] * n,
            "amount_fen": [1_000_000] * n,
            "category": ["employment"] * n,
            "position": [1 + i % 6 for i in range(n)],
            "wave": [0] * n,
            "due": [datetime(2025, 7, 1, tzinfo=UTC)] * n,
        }
    )


def test_simulate_responses_are_seeded_and_fade_with_position():
    profiles = pl.DataFrame(
        {
            "uscc": _shown(6000)["uscc"],
            "industry_section": ["C"] * 6000,
            "size_class": ["small"] * 6000,
            "employees_last_year": [20] * 6000,
        }
    )
    day = date(2025, 6, 30)
    first, second = respond(_shown(6000), profiles, seed=3, day=day), respond(_shown(6000), profiles, seed=3, day=day)
    assert first.equals(second)
    assert not first.equals(respond(_shown(6000), profiles, seed=4, day=day))
    ignored = (
        first.join(_shown(6000).select("notice_id", "position"), on="notice_id")
        .group_by("position")
        .agg(ignored=(pl.col("kind") == "ignored").sum() / pl.col("notice_id").n_unique())
        .sort("position")
    )
    assert ignored["ignored"].is_sorted() and ignored["ignored"][-1] > ignored["ignored"][0] + 0.3


def test_as_of_dates_are_month_ends_every_n_months():
    assert as_of_dates(date(2024, 6, 1), date(2025, 6, 30), 6) == [
        date(2024, 6, 30),
        date(2024, 12, 31),
        date(2025, 6, 30),
    ]
    assert as_of_dates(date(2024, 1, 15), date(2024, 4, 30), 1)[0] == date(2024, 1, 31)
