"""The working-day calendar: China's holidays and make-up working days (调休), and nothing guessed past them."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import polars as pl
import pytest

from matcher.supervision import CHINA, CalendarError, CalendarUnknown, WorkingCalendar

CALENDAR = WorkingCalendar()


def at(*args: int) -> datetime:
    return datetime(*args, tzinfo=CHINA)


def test_calendar_when_spring_festival_2026_skips_the_holiday_and_counts_the_make_up_saturday():
    # 2026: Saturday 14 February is a make-up working day, 15–23 February the Spring Festival holiday.
    assert CALENDAR.is_workday(at(2026, 2, 14).date()) and not CALENDAR.is_workday(at(2026, 2, 16).date())
    # Objection made on Thursday 12 February, 5 working days: Fri 13, Sat 14 (make-up), Tue 24, Wed 25, Thu 26.
    assert CALENDAR.due(at(2026, 2, 12, 16, 30), 5) == at(2026, 2, 27)
    # A weekday-only count would end on Thursday 19 February, in the middle of the holiday.
    assert CALENDAR.due(at(2026, 2, 12, 16, 30), 5) != at(2026, 2, 20)
    # Opened on Friday 13, one working day: the make-up Saturday is that day.
    assert CALENDAR.due(at(2026, 2, 13, 9), 1) == at(2026, 2, 15)
    # Opened on the holiday's first day: the clock starts after it; Saturday 28 February is also a make-up day.
    assert CALENDAR.due(at(2026, 2, 15, 9), 5) == at(2026, 3, 1)


def test_calendar_when_counting_used_days_ignores_the_holiday_and_counts_part_of_a_working_day():
    opened = pl.Series([at(2026, 2, 12, 16, 30)]).dt.convert_time_zone("UTC")
    assert CALENDAR.used(opened, at(2026, 2, 12, 23))[0] == 0.0  # the opening day is not counted
    assert CALENDAR.used(opened, at(2026, 2, 14, 12))[0] == pytest.approx(1.5)
    assert CALENDAR.used(opened, at(2026, 2, 23, 23, 59))[0] == pytest.approx(2.0)  # the holiday uses nothing
    assert CALENDAR.used(opened, at(2026, 2, 24, 6))[0] == pytest.approx(2.25)


def test_calendar_when_asked_past_its_last_known_year_refuses_rather_than_guesses():
    with pytest.raises(CalendarUnknown, match=r"not known .* will not guess .*working_calendar.yaml"):
        CALENDAR.is_workday(datetime(CALENDAR.last + 1, 1, 4).date())
    with pytest.raises(CalendarUnknown):
        CALENDAR.used(pl.Series([at(CALENDAR.last, 12, 1)]), at(CALENDAR.last + 1, 1, 5))
    # A due date past the known years is null (shown as unknown), never a guessed weekday.
    late = pl.Series([datetime(CALENDAR.last, 12, 30, tzinfo=UTC)])
    assert CALENDAR.dues(late, np.array([5]))[0] is None
    with pytest.raises(CalendarUnknown):
        CALENDAR.due(datetime(CALENDAR.last, 12, 30, tzinfo=UTC), 5)


# The supplement: a year the package does not know yet, copied by the operator from the State Council's notice.
# The days below are made up for the test (a holiday on 1 January, the first Saturday made a working day).
NEXT = WorkingCalendar().package_last + 1
FIRST_SATURDAY = next(d for d in (datetime(NEXT, 1, n).date() for n in range(1, 8)) if d.weekday() == 5)


def _supplement(tmp_path, text: str):
    path = tmp_path / "working_calendar.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_calendar_when_the_supplement_adds_next_year_counts_its_holiday_and_its_make_up_saturday(tmp_path):
    path = _supplement(tmp_path, f"{NEXT}:\n  holidays: [{NEXT}-01-01]\n  workdays: [{FIRST_SATURDAY}]\n")
    opened = at(NEXT - 1, 12, 31, 16)
    with pytest.raises(CalendarUnknown, match=f"{NEXT}.*working_calendar.yaml"):
        WorkingCalendar().due(opened, 2)
    calendar = WorkingCalendar(supplement=path)
    assert calendar.last == NEXT
    assert not calendar.is_workday(datetime(NEXT, 1, 1).date()) and calendar.is_workday(FIRST_SATURDAY)
    # 1 January is off; the working days after it are the weekdays and the make-up Saturday, in order.
    day, working = datetime(NEXT, 1, 2).date(), []
    while len(working) < 2:
        if day == FIRST_SATURDAY or day.weekday() < 5:
            working.append(day)
        day = day.fromordinal(day.toordinal() + 1)
    due = working[1].fromordinal(working[1].toordinal() + 1)  # the card turns red as the second day ends
    assert calendar.due(opened, 2) == at(due.year, due.month, due.day)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (f"{NEXT + 1}:\n  holidays: []\n  workdays: []\n", f"without a gap \\({NEXT}\\)"),
        (f"{NEXT - 1}:\n  holidays: []\n  workdays: []\n", "never overridden"),
        (f"{NEXT}:\n  holidays: [{NEXT}-01-04]\n  workdays: [{NEXT}-01-04]\n", "as a holiday and as a working day"),
        (f"{NEXT}:\n  holidays: []\n  workdays: [{NEXT}-01-06]\n", "weekday|not in"),
        (f"{NEXT}:\n  holidays: [{NEXT + 1}-01-01]\n  workdays: []\n", f"is not in {NEXT}"),
        (f"{NEXT}:\n  holiday: []\n  workdays: []\n", "exactly the keys holidays and workdays"),
        (f"'{NEXT}':\n  holidays: []\n  workdays: []\n", "whole numbers"),
        (f"{NEXT}: [", "not readable YAML"),
    ],
)
def test_calendar_when_the_supplement_is_wrong_refuses_it_saying_where(tmp_path, text, message):
    path = _supplement(tmp_path, text)
    with pytest.raises(CalendarError, match=message) as error:
        WorkingCalendar(supplement=path)
    assert str(path) in str(error.value)
