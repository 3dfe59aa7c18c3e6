"""Cards for whole frames of matters: the limit per step or policy, yellow at the configured share, red overdue."""

from __future__ import annotations

from datetime import datetime

import polars as pl
import pytest

from matcher.supervision import CHINA, LimitsError, Step, WorkingCalendar, card, load_limits, parse_limits

CALENDAR = WorkingCalendar()
MONDAY = datetime(2026, 3, 2, 9, tzinfo=CHINA)  # an ordinary week: Mon 2 – Fri 6 March 2026


def _matters(*rows: tuple[str, str | None, datetime]) -> pl.DataFrame:
    return pl.DataFrame(
        [(step, policy, opened) for step, policy, opened in rows],
        schema={"step": pl.String, "policy_id": pl.String, "opened_at": pl.Datetime("us", "UTC")},
        orient="row",
    )


def test_card_when_share_used_crosses_the_thresholds_turns_yellow_then_red():
    matters = _matters(("objection", "P1", MONDAY))  # 5 working days: due at the end of Monday 9 March
    limits = parse_limits({"yellow_share": 0.8})
    colours = {}
    for day, hour in [(5, 23), (6, 23), (7, 1), (9, 23), (10, 0)]:
        now = datetime(2026, 3, day, hour, tzinfo=CHINA)
        colours[(day, hour)] = card(matters, calendar=CALENDAR, limits=limits, now=now)["colour"][0]
    # Counted from Tuesday: Fri 6 23:00 is 3.96 days (79 %) green; once Friday is over, 4 days (80 %) yellow,
    # all weekend long (it uses nothing); red from Tuesday 10 March 00:00, the end of the fifth working day.
    assert colours == {(5, 23): "green", (6, 23): "green", (7, 1): "yellow", (9, 23): "yellow", (10, 0): "red"}
    sunday = card(matters, calendar=CALENDAR, limits=limits, now=datetime(2026, 3, 8, 20, tzinfo=CHINA))
    assert sunday["used_days"][0] == 4 and sunday["colour"][0] == "yellow"
    # A yellow share of 90 % keeps it green on the weekend.
    later = card(
        matters, calendar=CALENDAR, limits=parse_limits({"yellow_share": 0.9}), now=datetime(2026, 3, 8, tzinfo=CHINA)
    )
    assert later["colour"][0] == "green"


def test_card_when_a_policy_overrides_a_step_uses_its_limit_and_orders_the_most_urgent_first():
    limits = parse_limits({"yellow_share": 0.5, "steps": {"objection": 10}, "policies": {"P2": {"objection": 2}}})
    matters = _matters(("objection", "P1", MONDAY), ("objection", "P2", MONDAY), ("payment", None, MONDAY))
    now = datetime(2026, 3, 4, 12, tzinfo=CHINA)  # 1.5 working days used by each
    out = card(matters, calendar=CALENDAR, limits=limits, now=now)
    assert out.select("step", "policy_id", "limit_days", "colour").rows() == [
        ("payment", None, 1, "red"),
        ("objection", "P2", 2, "yellow"),
        ("objection", "P1", 10, "green"),
    ]


def test_limits_when_the_file_is_wrong_say_where_and_what_was_expected(tmp_path):
    assert load_limits(tmp_path / "missing.yaml").limit(Step.OBJECTION) == 5
    bad = tmp_path / "supervision.yaml"
    bad.write_text("steps: {objection: 0, appeal: 3}\nyellow_share: 1.5\n", encoding="utf-8")
    with pytest.raises(LimitsError) as refused:
        load_limits(bad)
    message = str(refused.value)
    assert str(bad) in message and "steps.objection" in message and "steps.appeal" in message
    assert "yellow_share" in message and "objection, supplied_fact" in message
    with pytest.raises(LimitsError, match="payment_approval"):  # batches span policies: no per-policy limit
        parse_limits({"policies": {"P1": {"payment_approval": 1}}})
