"""Accepted attestations laid over profiles: declared facts take them; a registry's own value wins unless the
officer let the attestation override it."""

from __future__ import annotations

from datetime import date

import polars as pl

from features.profiles.attested import apply_attested

PROFILES = pl.DataFrame(
    {
        "uscc": ["A", "B", "C"],
        "ui_paid_months": [None, 7, 7],
        "zombie_firm": [None, None, None],
        "high_tech_first_recognised_on": [None, None, None],
    },
    schema={"uscc": pl.String, "ui_paid_months": pl.Int32, "zombie_firm": pl.Boolean,
            "high_tech_first_recognised_on": pl.Date},
)  # fmt: skip


def _row(uscc, fact, value, overrides=False):
    return {"uscc": uscc, "fact": fact, "value": value, "overrides_registry": overrides}


def test_attested_when_the_registry_has_no_value_fills_it_in_the_facts_type():
    out = apply_attested(
        PROFILES,
        [_row("A", "ui_paid_months", 14), _row("A", "zombie_firm", False),
         _row("B", "high_tech_first_recognised_on", date(2019, 11, 28))],
    )  # fmt: skip
    assert out.schema == PROFILES.schema
    assert out.row(0, named=True) | {} == {
        "uscc": "A", "ui_paid_months": 14, "zombie_firm": False, "high_tech_first_recognised_on": None,
    }  # fmt: skip
    assert out["high_tech_first_recognised_on"][1] == date(2019, 11, 28)


def test_attested_when_the_registry_later_reports_a_value_yields_unless_the_officer_said_otherwise():
    out = apply_attested(PROFILES, [_row("B", "ui_paid_months", 20), _row("C", "ui_paid_months", 20, overrides=True)])
    assert out["ui_paid_months"].to_list() == [None, 7, 20]


def test_attested_when_nothing_was_accepted_leaves_the_profiles_as_they_are():
    assert apply_attested(PROFILES, []).equals(PROFILES)
    assert apply_attested(PROFILES, [_row("Z", "zombie_firm", True)]).equals(PROFILES)  # no profile: ignored
