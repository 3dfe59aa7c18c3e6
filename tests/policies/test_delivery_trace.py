"""Explanations say which delivery rule applied (policies/delivery_trace.py), in the decision's explanation."""

from __future__ import annotations

import json
from datetime import date

import pytest

from api.service.explain import explain
from policies.delivery_trace import delivery_explained
from policies.load import load_catalogue

AS_OF = date(2025, 6, 30)
GD = {"division_code": "440305", "enterprise_type": "limited_company", "status": "operating"}


@pytest.fixture(scope="module")
def catalogue():
    return load_catalogue()


def test_delivery_when_a_rule_holds_fails_or_is_unknown_says_which_and_why(catalogue):
    p12 = catalogue.get("job-retention-refund-guangdong")
    told = delivery_explained(p12, GD | {"labour_dispatch": True}, AS_OF)
    assert (told["mode"], told["rule"]) == ("notify", 1)
    assert told["text"] == {
        "zh": "发放方式：「劳务派遣企业」成立，故通知企业申请",
        "en": "Delivery: “labour-dispatch firm” holds, so the enterprise is told to apply",
    }
    paid = delivery_explained(p12, GD | {"labour_dispatch": False}, AS_OF)
    assert (paid["mode"], paid["rule"]) == ("automatic", 2)
    assert paid["text"]["zh"] == "发放方式：「劳务派遣企业」不成立，故自动发放，无需申请"
    unknown = delivery_explained(p12, GD, AS_OF)
    assert (unknown["mode"], unknown["unknown_facts"]) == ("notify", ["labour_dispatch"])  # the safest mode
    assert "safest mode" in unknown["text"]["en"] and "尚不确定「劳务派遣企业」" in unknown["text"]["zh"]
    for case in (GD | {"labour_dispatch": True}, GD | {"labour_dispatch": False}, GD):
        assert delivery_explained(p12, case, AS_OF)["mode"] == p12.delivery_for(case, AS_OF)  # as the run decides


def test_delivery_of_a_fixed_mode_is_not_explained_and_the_decision_explanation_carries_it(catalogue):
    assert delivery_explained(catalogue.get("job-retention-refund"), GD, AS_OF) is None
    facts = json.dumps(GD | {"labour_dispatch": True})
    explained = explain(catalogue.get("job-retention-refund-guangdong"), "X", facts, AS_OF, ranked={})
    assert explained["delivery"]["mode"] == "notify" and explained["delivery"]["text"]["en"].startswith("Delivery:")
