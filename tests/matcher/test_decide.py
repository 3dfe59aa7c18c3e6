"""The graph, budgets and statuses, on hand-made profiles (pure: no database)."""

import json
from datetime import date
from pathlib import Path

import polars as pl

from features.profiles import FACTS
from matcher.decide import decide
from policies.load import load_catalogue
from tests.policies.test_load import GOOD

AS_OF = date(2025, 6, 30)
SCHEMA = {"uscc": pl.String, **{f.name: f.dtype for f in FACTS}}


def profiles(*rows: dict) -> pl.DataFrame:
    base = {"division_code": "440305", "status": "operating", "serious_dishonesty": False}
    return pl.DataFrame([{**dict.fromkeys(SCHEMA), **base, **r} for r in rows], schema=SCHEMA)


def catalogue(tmp_path: Path, *specs: dict):
    """Policies paying `amount` to whoever has `ui_paid_months >= months`, with the given extras."""
    for spec in specs:
        text = GOOD.replace("id: test-policy", f"id: {spec['id']}").replace(
            'amount: "1000"', f'amount: "{spec.get("amount", 1000)}"'
        )
        text = text.replace('"ui_paid_months >= 12"', f'"ui_paid_months >= {spec.get("months", 12)}"')
        text = text.replace(
            "relations:\n  excludes: []\n", "relations:\n" + spec.get("relations", "  excludes: []") + "\n"
        )
        text = text.replace("delivery: automatic", f"delivery: {spec.get('delivery', 'automatic')}")
        if "budget" in spec:
            text = text.replace("category: employment", f"category: employment\nbudget: {spec['budget']}")
        (tmp_path / f"{spec['id']}.yaml").write_text(text, encoding="utf-8")
    return load_catalogue(tmp_path).in_force(AS_OF)


def statuses(decided) -> dict[tuple[str, str], str]:
    return {(r["uscc"], r["policy_id"]): r["status"] for r in decided.decisions.iter_rows(named=True)}


def test_decide_when_eligibility_is_true_unknown_or_nearly_sets_each_status(tmp_path):
    policies = catalogue(tmp_path, {"id": "a"})
    got = decide(
        profiles(
            {"uscc": "E1", "ui_paid_months": 24},
            {"uscc": "E2"},
            {"uscc": "E3", "ui_paid_months": 11},
            {"uscc": "E4", "ui_paid_months": 3},
        ),
        policies,
        AS_OF,
    )
    assert statuses(got) == {("E1", "a"): "granted", ("E2", "a"): "needs_data", ("E3", "a"): "near_miss"}
    rows = {r["uscc"]: r for r in got.decisions.iter_rows(named=True)}
    assert rows["E1"]["amount_fen"] == 100_000
    assert rows["E2"]["unknown_facts"] == "ui_paid_months"
    assert "is 11, needs ≥ 12 months" in rows["E3"]["failing"]
    assert '"ui_paid_months":24' in rows["E1"]["facts"]


def test_decide_when_benefits_are_mutually_exclusive_keeps_the_highest_and_breaks_ties_by_id(tmp_path):
    group = "  exclusive_group: awards"
    policies = catalogue(
        tmp_path,
        {"id": "small", "amount": 500, "relations": group},
        {"id": "big", "amount": 2000, "relations": group},
        {"id": "tie-b", "amount": 2000, "months": 30, "relations": group},
    )
    got = decide(profiles({"uscc": "E1", "ui_paid_months": 24}, {"uscc": "E2", "ui_paid_months": 36}), policies, AS_OF)
    assert statuses(got) == {("E1", "big"): "granted", ("E2", "big"): "granted"}  # 'big' < 'tie-b' on a tie
    assert got.counts["excluded"] == 3


def test_decide_when_a_conflicting_benefit_was_granted_by_an_earlier_run_does_not_grant_the_other(tmp_path):
    policies = catalogue(
        tmp_path,
        {"id": "a", "amount": 5000, "relations": "  excludes: [b]"},
        {"id": "b", "amount": 100, "relations": "  excludes: [a]"},
    )
    prior = pl.DataFrame({"uscc": ["E1"], "policy_id": ["b"], "period_key": ["once"], "amount_fen": [10_000]})
    got = decide(profiles({"uscc": "E1", "ui_paid_months": 24}), policies, AS_OF, prior=prior)
    assert statuses(got) == {}
    assert got.counts["already_granted"] == 1 and got.counts["excluded"] == 1


def test_decide_when_a_required_policy_is_not_met_drops_or_asks(tmp_path):
    policies = catalogue(
        tmp_path, {"id": "base", "months": 24}, {"id": "top", "months": 1, "relations": "  requires: [base]"}
    )
    got = decide(profiles({"uscc": "E1", "ui_paid_months": 30}, {"uscc": "E2", "ui_paid_months": 12}), policies, AS_OF)
    assert statuses(got) == {("E1", "base"): "granted", ("E1", "top"): "granted"}
    assert got.counts["unmet_requirement"] == 1


def test_decide_when_amounts_due_exceed_the_budget_scales_every_amount_pro_rata(tmp_path):
    policies = catalogue(tmp_path, {"id": "a", "amount": 1000, "budget": 1500})
    got = decide(profiles({"uscc": "E1", "ui_paid_months": 24}, {"uscc": "E2", "ui_paid_months": 24}), policies, AS_OF)
    amounts = got.decisions.select("amount_full_fen", "amount_fen").rows()
    assert amounts == [(100_000, 75_000), (100_000, 75_000)]
    assert got.budgets["a"]["scale"] == 0.75 and got.budgets["a"]["demanded_fen"] == 200_000


def test_decide_when_budget_was_partly_spent_by_an_earlier_run_scales_to_what_is_left(tmp_path):
    policies = catalogue(tmp_path, {"id": "a", "amount": 1000, "budget": 2000})
    prior = pl.DataFrame({"uscc": ["E0"], "policy_id": ["a"], "period_key": ["once"], "amount_fen": [150_000]})
    got = decide(
        profiles({"uscc": "E1", "ui_paid_months": 24}, {"uscc": "E2", "ui_paid_months": 24}),
        policies,
        AS_OF,
        prior=prior,
    )
    assert got.decisions["amount_fen"].to_list() == [25_000, 25_000]


def test_decide_when_delivery_needs_confirmation_or_an_application_says_so(tmp_path):
    policies = catalogue(tmp_path, {"id": "c", "delivery": "confirm"}, {"id": "n", "delivery": "notify"})
    got = decide(profiles({"uscc": "E1", "ui_paid_months": 24}), policies, AS_OF)
    assert statuses(got) == {("E1", "c"): "awaiting_confirmation", ("E1", "n"): "recommended"}


def test_decide_when_no_policy_is_in_force_decides_nothing_and_keeps_the_columns_writers_need():
    decided = decide(profiles({"uscc": "E1", "ui_paid_months": 30}), [], AS_OF)
    assert decided.decisions.height == 0
    assert {"uscc", "policy_id", "status", "amount_fen", "facts", "failing_zh"} <= set(decided.decisions.columns)
    assert decided.counts["granted"] == 0 and decided.counts["enterprises"] == 1


def test_decide_when_the_newer_policy_was_granted_by_an_earlier_run_does_not_pay_the_one_it_supersedes(tmp_path):
    policies = catalogue(tmp_path, {"id": "old"}, {"id": "new", "relations": "  supersedes: [old]"})
    prior = pl.DataFrame(
        {"uscc": ["E1"], "policy_id": ["new"], "period_key": ["once"], "amount_fen": [100_000],
         "status": ["granted"], "paid_fen": [0]}
    )  # fmt: skip
    got = decide(profiles({"uscc": "E1", "ui_paid_months": 24}), policies, AS_OF, prior=prior)
    assert statuses(got) == {}  # the newer benefit stands in the ledger; the replaced one is not due again


def test_decide_when_candidates_are_dropped_each_decision_keeps_the_evidence_of_its_own_enterprise(tmp_path):
    # The evidence is encoded beside the candidates (in profile order, in the background) and joined back by row:
    # dropping some (granted before, excluded) and reordering by USCC must not shift one enterprise's onto another.
    policies = catalogue(
        tmp_path,
        {"id": "a", "amount": 5000, "relations": "  excludes: [b]"},
        {"id": "b", "amount": 100, "relations": "  excludes: [a]"},
    )
    months = {"E5": 30, "E1": 24, "E4": 11, "E3": None, "E2": 26}
    prior = pl.DataFrame(
        {"uscc": ["E2", "E1"], "policy_id": ["a", "b"], "period_key": ["once"] * 2, "amount_fen": [1] * 2}
    )
    got = decide(profiles(*({"uscc": u, "ui_paid_months": m} for u, m in months.items())), policies, AS_OF, prior=prior)
    assert statuses(got) == {
        ("E3", "a"): "needs_data", ("E4", "a"): "near_miss", ("E5", "a"): "granted",
        ("E3", "b"): "needs_data", ("E4", "b"): "near_miss",
    }  # fmt: skip
    assert got.decisions["uscc"].to_list() == ["E3", "E4", "E5", "E3", "E4"]  # by policy, then by USCC
    for row in got.decisions.iter_rows(named=True):
        assert f'"ui_paid_months":{json.dumps(months[row["uscc"]])}' in row["facts"]
        assert row["unknown_facts"] == ("ui_paid_months" if row["uscc"] == "E3" else None)
        assert (row["failing"] is not None) == (row["uscc"] == "E4")


def test_decide_when_a_later_stage_raises_returns_only_after_its_background_evidence_work(tmp_path, monkeypatch):
    # The facts' JSON is encoded in a thread while the later stages run; an error after it started must not
    # leave that work running past the call (memory and a core taken from whatever the caller does next).
    import time
    from concurrent.futures import ThreadPoolExecutor

    import matcher.decide as module

    started: list = []
    real = module.candidates

    def slow_candidates(*args, **kwargs):  # the background work, made to last half a second
        cand, already, future = real(*args, **kwargs)
        wrapped = ThreadPoolExecutor(1).submit(lambda: (time.sleep(0.5), future.result())[1])
        started.append(wrapped)
        return cand, already, wrapped

    def broken(*args, **kwargs):
        raise RuntimeError("a later stage failed")

    monkeypatch.setattr(module, "candidates", slow_candidates)
    monkeypatch.setattr(module, "_standing", broken)
    policies = catalogue(tmp_path, {"id": "a"})
    began = time.perf_counter()
    try:
        decide(profiles({"uscc": "E1", "ui_paid_months": 24}), policies, AS_OF)
    except RuntimeError as error:
        assert "a later stage failed" in str(error)
    else:
        raise AssertionError("decide did not raise")
    assert started and started[0].done(), "decide returned while its background work still ran"
    assert time.perf_counter() - began >= 0.4
