"""The shipped catalogue: every example of every policy runs as a test of its own."""

import pytest

from policies.conditions import Leaf
from policies.examples import DEFAULT_EXAMPLE_AS_OF, run_example
from policies.load import load_catalogue
from policies.trace import trace

CATALOGUE = load_catalogue()
EXAMPLES = [(p, ex) for p in CATALOGUE.policies for ex in p.policy.examples]


@pytest.mark.parametrize(("policy", "example"), EXAMPLES, ids=[f"{p.id}::{ex.name}" for p, ex in EXAMPLES])
def test_catalogue_example_when_run_gives_the_expected_eligibility_and_amount(policy, example):
    result = run_example(policy, example)
    assert result.ok, "; ".join(result.problems)


def test_catalogue_when_its_examples_run_each_policy_admits_one_and_refuses_another():
    assert len(CATALOGUE.ids) >= 10
    for p in CATALOGUE.policies:
        assert len(p.policy.examples) >= 3, p.id
        # What the compiled rule decides on the examples, not what they declare: a rule that admits
        # everyone (or no one) fails here.
        decided = {
            trace(p, ex.facts | {"uscc": "example"}, ex.as_of or DEFAULT_EXAMPLE_AS_OF).eligible
            for ex in p.policy.examples
        }
        assert {True, False} <= decided, f"{p.id} needs an eligible and an ineligible example, decided {decided}"


def _leaves(cond):
    return [cond] if isinstance(cond, Leaf) else [leaf for c in cond.children for leaf in _leaves(c)]


def test_catalogue_when_rendered_labels_every_condition_in_both_languages():
    for p in CATALOGUE.policies:
        assert p.policy.title.zh and p.policy.title.en
        for leaf in _leaves(p.eligibility):
            assert leaf.label is not None, f"{p.id}: condition {leaf.expr.text!r} has no zh/en label"
