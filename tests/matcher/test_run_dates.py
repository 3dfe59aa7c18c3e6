"""Any as-of date a run can be asked for either decides or is refused where it enters, never fails half-way."""

from datetime import date

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from features.profiles import build_profiles
from features.registries.validate import check_registry
from features.synthetic import generate
from matcher.decide import _SCHEMA, decide
from matcher.errors import AsOfOutOfRange
from matcher.periods import EARLIEST_AS_OF, LATEST_AS_OF, check_as_of
from matcher.run import run_matching
from policies.load import load_catalogue


@pytest.fixture(scope="module")
def catalogue():
    return load_catalogue()


@pytest.fixture(scope="module")
def tiny_registries(tmp_path_factory):
    """Registries of a handful of enterprises: most policies find nobody eligible, the edge this test is after."""
    out = []
    for seed, enterprises in ((1, 1), (2, 7), (3, 40)):
        path = tmp_path_factory.mktemp(f"tiny{seed}")
        generate(path, enterprises=enterprises, seed=seed)
        out.append(check_registry(path))
    return out


def test_run_when_no_exclusive_benefit_is_eligible_completes(engine, tmp_path, catalogue):
    # The reported case: as of 2022-08-01 no enterprise qualified for either side of an exclusive pair.
    generate(tmp_path, enterprises=2_000, seed=5)
    as_of = date(2022, 8, 1)
    summary = run_matching(engine, tmp_path, as_of, catalogue.in_force(as_of))
    assert summary.outcome == "completed"
    assert summary.counts["enterprises"] > 0


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(day=st.dates(min_value=EARLIEST_AS_OF, max_value=date(2030, 12, 31)), which=st.integers(0, 2))
def test_decide_when_any_as_of_date_and_tiny_registry_returns_typed_decisions(tiny_registries, catalogue, day, which):
    checked = tiny_registries[which]
    profiles = build_profiles({t: checked.clean(t) for t in checked.tables}, day).collect()
    decided = decide(profiles, catalogue.in_force(day), day)
    assert decided.decisions.schema == pl.Schema(_SCHEMA)
    assert decided.counts["enterprises"] == profiles.height


@pytest.mark.parametrize("day", [date(1, 1, 1), date(1989, 12, 31), date(2100, 1, 1), date(9999, 12, 31)])
def test_run_when_as_of_is_outside_the_window_is_refused_before_anything_is_written(engine, tmp_path, day):
    with pytest.raises(AsOfOutOfRange, match=f"as-of date {day.isoformat()} is outside the window"):
        run_matching(engine, tmp_path / "no-registry-needed", day, [])


def test_check_as_of_when_inside_the_window_returns_the_date():
    assert check_as_of(EARLIEST_AS_OF) == EARLIEST_AS_OF and check_as_of(LATEST_AS_OF) == LATEST_AS_OF
    with pytest.raises(AsOfOutOfRange, match="1990-01-01 to 2099-12-31"):
        check_as_of(date(2100, 1, 1))
