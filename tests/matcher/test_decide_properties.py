"""Properties of the bulk ``decide`` over the shipped catalogue, on small random populations.

The bulk path orders enterprises by USCC without sorting text, reads each policy's rows as slices and gathers
evidence in profile order; none of that may change a decision. A population decided at once must be decided
exactly as each of its enterprises decided alone (budgets are far from exhausted at these sizes), and each
decision must say what the tracer says of that enterprise and policy.
"""

import json
from datetime import date

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal, assert_series_equal

from features.profiles import build_profiles
from features.profiles.social_insurance import hired_persons
from features.registries.validate import check_registry
from features.standards.uscc import as_sort_key, uscc_arg_sort, uscc_order, uscc_sort_key
from features.synthetic import generate
from matcher.decide import decide
from matcher.ledger.statuses import ELIGIBLE_DECISIONS, DecisionStatus
from matcher.persons import person_families
from policies.load import load_catalogue
from policies.trace import trace

AS_OF = date(2025, 6, 30)
POLICIES = load_catalogue().in_force(AS_OF)
BY_ID = {p.id: p for p in POLICIES}
FACTS = sorted(set().union(*(p.facts for p in POLICIES)) - {"division_code"})


@pytest.fixture(scope="module")
def population(tmp_path_factory):
    registry = tmp_path_factory.mktemp("registry")
    generate(registry, enterprises=300, seed=17)
    checked = check_registry(registry)
    profiles = build_profiles({t: checked.clean(t) for t in checked.tables}, AS_OF).collect()
    facts = sorted({fact for _, fact in person_families(POLICIES).values()})
    persons = hired_persons(checked.clean("si_hires").lazy(), AS_OF, facts).collect()
    return profiles, persons


# Enterprises drawn from the synthetic registry, some of their facts made unknown (needs data, near misses).
samples = st.tuples(
    st.lists(st.integers(0, 10_000), min_size=1, max_size=8, unique=True),
    st.lists(st.tuples(st.integers(0, 7), st.sampled_from(FACTS)), max_size=8),
)


def _sample(profiles: pl.DataFrame, drawn) -> pl.DataFrame:
    picks, blanks = drawn
    rows = profiles[list(dict.fromkeys(i % profiles.height for i in picks))]  # in the drawn order, not by USCC
    for at, fact in blanks:
        if at < rows.height:
            rows = rows.with_columns(
                pl.when(pl.int_range(pl.len()) == at).then(None).otherwise(pl.col(fact)).alias(fact)
            )
    return rows


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(drawn=samples)
def test_decide_when_a_population_is_decided_at_once_decides_each_enterprise_as_alone(population, drawn):
    profiles, persons = population
    rows = _sample(profiles, drawn)
    whole = decide(rows, POLICIES, AS_OF, persons=persons)
    alone = [decide(rows[i : i + 1], POLICIES, AS_OF, persons=persons) for i in range(rows.height)]
    assert all(b["scale"] == 1.0 for b in whole.budgets.values())  # far from any budget: no pro-rata scaling
    expected = pl.concat([a.decisions for a in alone]).sort("policy_id", "uscc", maintain_order=True)
    assert_frame_equal(whole.decisions, expected, check_exact=True)
    for key in ("granted", "needs_data", "near_miss", "superseded", "excluded", "already_granted"):
        assert whole.counts.get(key, 0) == sum(a.counts.get(key, 0) for a in alone), key


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(drawn=samples)
def test_decide_when_evidence_is_gathered_in_bulk_says_what_the_tracer_says(population, drawn):
    profiles, persons = population
    rows = _sample(profiles, drawn)
    facts_of = {r["uscc"]: r for r in rows.iter_rows(named=True)}
    decided = decide(rows, POLICIES, AS_OF, persons=persons).decisions
    for d in decided.iter_rows(named=True):
        policy, facts = BY_ID[d["policy_id"]], facts_of[d["uscc"]]
        traced = trace(policy, facts, AS_OF)
        stored = json.loads(d["facts"])
        assert sorted(stored) == sorted(policy.facts)
        assert {k: v for k, v in stored.items() if v is None} == {k: None for k in policy.facts if facts[k] is None}
        status = DecisionStatus(d["status"])
        if status in ELIGIBLE_DECISIONS:
            assert traced.eligible is True and d["amount_full_fen"] is not None
        elif status == DecisionStatus.NEAR_MISS:
            assert traced.eligible is False and d["failing"] is not None and d["failing_zh"] is not None
        else:  # needs data: the tracer is unsure, the amount is unknown, or a required benefit is
            missing = [n for n in sorted(policy.facts) if facts[n] is None]
            assert d["unknown_facts"] == ("; ".join(missing) or None)
        if status != DecisionStatus.NEEDS_DATA:
            assert d["unknown_facts"] is None
        if status != DecisionStatus.NEAR_MISS:
            assert d["failing"] is None and d["failing_zh"] is None


def test_decide_when_other_runs_granted_some_benefits_keeps_each_other_decisions_facts(population):
    profiles, persons = population
    first = decide(profiles, POLICIES, AS_OF, persons=persons).decisions
    payable = first.filter(pl.col("status").is_in([str(s) for s in ELIGIBLE_DECISIONS]))
    prior = payable.gather_every(3).select("uscc", "policy_id", "period_key", "amount_fen")
    later = decide(profiles, POLICIES, AS_OF, prior=prior, persons=persons)
    assert later.counts["already_granted"] == prior.height
    # The granted are split off before the evidence is matched to each decision: every other decision keeps its own.
    both = later.decisions.join(first, on=["uscc", "policy_id"], suffix="_first")
    assert both.height == later.decisions.height
    assert_series_equal(both["facts"], both["facts_first"], check_names=False)


usccs = st.one_of(
    st.text("0123456789ABCDEFGHJKLMNPQRTUWXY", min_size=18, max_size=18),
    st.text("0123456789ABCDEFGHJKLMNPQRTUWXY", min_size=18, max_size=18).map(lambda u: "91" + u[2:]),
)


@settings(max_examples=200, deadline=None)
@given(values=st.one_of(st.lists(usccs, max_size=40), st.lists(st.one_of(usccs, st.text(max_size=19)), max_size=40)))
def test_uscc_order_when_usccs_are_standard_or_not_ranks_them_as_text_does(values):
    series = pl.Series("uscc", values, pl.String)
    assert_series_equal(uscc_order(series), series.rank("ordinal").cast(pl.UInt32))


@settings(max_examples=200, deadline=None)
@given(values=st.one_of(st.lists(usccs, max_size=40), st.lists(st.one_of(usccs, st.text(max_size=19), st.none()))))
def test_uscc_arg_sort_when_usccs_are_standard_or_not_sorts_as_text_stably(values):
    """The order the bulk writes put rows in (``key_order``) and ``decide`` reads the profiles in: text order, ties in
    their place, nulls first."""
    series = pl.Series("uscc", values, pl.String)
    expected = series.to_frame().with_row_index().sort("uscc", maintain_order=True, nulls_last=False)["index"]
    assert uscc_arg_sort(series).to_list() == expected.to_list()


@settings(max_examples=200, deadline=None)
@given(
    profiled=st.one_of(st.lists(usccs, max_size=40), st.lists(st.one_of(usccs, st.text(max_size=19)), max_size=40)),
    asked=st.lists(st.one_of(usccs, usccs.map(str.lower), st.text(max_size=19), st.none()), max_size=20),
)
def test_a_uscc_searched_by_its_sort_key_is_found_where_its_text_is(profiled, asked):
    """How ``decide`` finds the enterprises other runs granted a benefit among the profiles: bisecting their sort
    keys finds each asked USCC exactly where bisecting the text does — a lower-case or malformed code nowhere a
    standard one is, although base 36 would read it as one."""
    text = pl.Series("uscc", profiled, pl.String).sort()
    key = uscc_sort_key(text)
    wanted = pl.Series("uscc", asked, pl.String)
    by_key = as_sort_key(wanted, key)
    for code, k in zip(asked, by_key.to_list(), strict=True):
        found = text.to_list().count(code) if code is not None else 0
        if k is None:
            assert found == 0
            continue
        one = pl.Series([k], dtype=key.dtype)
        low, high = key.search_sorted(one, side="left")[0], key.search_sorted(one, side="right")[0]
        assert high - low == found
        assert text[low:high].to_list() == [code] * found
