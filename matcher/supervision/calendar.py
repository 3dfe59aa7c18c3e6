"""Working days on China's official calendar: public holidays and the make-up working days (调休).

The State Council publishes each year's holidays late in the year before; the ``chinesecalendar`` package carries
them. A day outside the years it knows is refused (``CalendarUnknown``), never guessed as Monday-to-Friday: a
limit counted on a guessed calendar would turn a card red on a holiday. Upgrading the package adds the new year;
until a release carries it, the operator copies the State Council's notice into a supplement file
(``<data dir>/working_calendar.yaml``: per year, its holidays and its make-up working days), read strictly here.

Time limits count whole working days after the day a matter opens (the opening day is not counted, as in 行政许可法
art. 82's ``期限开始之日不计算在期限内``), in China Standard Time: a 5-working-day limit on a matter opened on a
Friday ends at the end of the following Friday, unless holidays or make-up Saturdays move it.

The arithmetic is vectorised: ``working_before`` maps each day to the number of working days before it, so the
working time between two instants is a difference of two looked-up numbers (whole frames at once, in polars).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, timedelta
from functools import cached_property
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import chinese_calendar
import numpy as np
import polars as pl

from matcher.errors import MatcherError
from matcher.supervision.limits import read_config

__all__ = ["CHINA", "CalendarError", "CalendarUnknown", "WorkingCalendar", "load_supplement"]

CHINA = ZoneInfo("Asia/Shanghai")


class CalendarUnknown(MatcherError, ValueError):
    """A day outside the years the official calendar is known for."""

    def __init__(self, day: date, first: int, last: int) -> None:
        super().__init__(
            f"the official working calendar for {day.year} is not known (chinesecalendar "
            f"{getattr(chinese_calendar, '__version__', '?')} and the supplement file know {first}–{last}): huiqi "
            f"will not guess which days are holidays; once the State Council publishes {day.year}'s holidays, add "
            f"them to working_calendar.yaml in the data directory (docs/supervision.md) or upgrade chinesecalendar"
        )
        self.day, self.first, self.last = day, first, last


class CalendarError(MatcherError, ValueError):
    """A supplement file that cannot be read as an official calendar."""


Supplement = dict[int, tuple[frozenset[date], frozenset[date]]]  # year -> (holidays, make-up working days)


def load_supplement(path: Path, after: int) -> Supplement:
    """The years of ``path`` (none when it does not exist): each must follow ``after`` (the package's last year)
    without a gap, list ``holidays`` and ``workdays`` (调休: make-up working days, always a Saturday or Sunday)
    as ISO dates of that year, and name no day twice."""
    if not path.exists():
        return {}
    data = read_config(path, CalendarError)
    if not isinstance(data, Mapping):
        found = type(data).__name__
        raise CalendarError(f"{path}: expected a mapping of year -> {{holidays, workdays}}, found {found}")
    if not all(isinstance(year, int) and not isinstance(year, bool) for year in data):
        raise CalendarError(f"{path}: expected years as whole numbers (2027:), found {sorted(map(repr, data))}")
    years = sorted(data)
    expected = list(range(after + 1, after + 1 + len(years)))
    if years != expected:
        raise CalendarError(
            f"{path}: expected the years after the package's last known year {after}, in order and without a gap "
            f"({', '.join(map(str, expected)) or 'none'}), found {', '.join(map(str, years))}; a year the package "
            f"knows is taken from the package, never overridden"
        )
    return {year: _year(path, year, data[year]) for year in years}


def _year(path: Path, year: int, entry: Any) -> tuple[frozenset[date], frozenset[date]]:
    if not isinstance(entry, Mapping) or set(entry) != {"holidays", "workdays"}:
        found = sorted(entry) if isinstance(entry, Mapping) else type(entry).__name__
        raise CalendarError(f"{path}: {year}: expected exactly the keys holidays and workdays, found {found}")
    lists: dict[str, frozenset[date]] = {}
    for key in ("holidays", "workdays"):
        days = entry[key] or []
        if not isinstance(days, list) or not all(isinstance(d, date) and not isinstance(d, datetime) for d in days):
            raise CalendarError(f"{path}: {year}.{key}: expected a list of dates (YYYY-MM-DD), found {days!r}")
        wrong = [d for d in days if d.year != year]
        if wrong:
            raise CalendarError(f"{path}: {year}.{key}: {wrong[0].isoformat()} is not in {year}")
        lists[key] = frozenset(days)
    both = lists["holidays"] & lists["workdays"]
    if both:
        raise CalendarError(f"{path}: {year}: {min(both).isoformat()} is listed as a holiday and as a working day")
    weekday = sorted(d for d in lists["workdays"] if d.weekday() < 5)
    if weekday:
        raise CalendarError(
            f"{path}: {year}.workdays: {weekday[0].isoformat()} is a weekday; list only the weekend days made "
            f"working days (调休), weekdays work anyway"
        )
    return lists["holidays"], lists["workdays"]


class WorkingCalendar:
    """Working days between ``first`` and ``last`` (years, inclusive): by default every year chinesecalendar
    knows, then the years of the ``supplement`` file (``load_supplement``)."""

    def __init__(self, first: int | None = None, last: int | None = None, supplement: Path | None = None) -> None:
        known = chinese_calendar.constants.holidays
        self.package_last = max(known).year
        self.supplement = load_supplement(supplement, self.package_last) if supplement is not None else {}
        self.first = first or min(known).year
        self.last = last or max([self.package_last, *self.supplement])

    def _is_workday(self, day: date) -> bool:
        if day.year not in self.supplement:
            return bool(chinese_calendar.is_workday(day))
        holidays, workdays = self.supplement[day.year]
        return day in workdays or (day.weekday() < 5 and day not in holidays)

    @cached_property
    def _days(self) -> tuple[date, np.ndarray]:
        start, end = date(self.first, 1, 1), date(self.last, 12, 31)
        days = [start + timedelta(n) for n in range((end - start).days + 1)]
        working = np.fromiter((self._is_workday(d) for d in days), dtype=np.int32, count=len(days))
        # before[i]: working days strictly before day i; one more entry for the day after the last.
        return start, np.concatenate([[0], np.cumsum(working)])

    def _index(self, day: date) -> int:
        start, before = self._days
        index = (day - start).days
        if index < 0 or index >= len(before) - 1:
            raise CalendarUnknown(day, self.first, self.last)
        return index

    def is_workday(self, day: date) -> bool:
        _, before = self._days
        index = self._index(day)
        return bool(before[index + 1] - before[index])

    def working_days(self, after: date, through: date) -> int:
        """Working days in (after, through]."""
        _, before = self._days
        return int(before[self._index(through) + 1] - before[self._index(after) + 1])

    def due(self, opened: datetime, limit: int) -> datetime:
        """The end of the ``limit``-th working day after the day ``opened`` (China time): when the card turns red."""
        due = self.dues(pl.Series([opened]), np.array([limit]))[0]
        if due is None:
            raise CalendarUnknown(date(self.last + 1, 1, 1), self.first, self.last)
        return due

    def dues(self, opened: pl.Series, limits: np.ndarray) -> pl.Series:
        """``due`` for each of ``opened`` (timezone-aware) and its limit; null where it falls past the known years."""
        start, before = self._days
        index = self._indices(opened)
        target = before[np.clip(index + 1, 0, len(before) - 1)] + limits  # working days through the due day
        after = np.searchsorted(before, target, side="left")  # first k with before[k] >= target: day k-1 is due
        known = (index >= 0) & (after < len(before))
        day_after = np.datetime64(start) + np.where(known, after, 0).astype("timedelta64[D]")
        due = pl.Series("due", day_after).cast(pl.Datetime("us")).dt.replace_time_zone("Asia/Shanghai")
        return due.set(pl.Series(~known), None) if not known.all() else due

    def _indices(self, moments: pl.Series) -> np.ndarray:
        start, _ = self._days
        days = moments.dt.convert_time_zone("Asia/Shanghai").dt.date()
        return (days - start).dt.total_days().to_numpy().astype(np.int64)

    def used(self, opened: pl.Series, until: datetime | pl.Series) -> pl.Series:
        """Working days used from the day after each ``opened`` to ``until`` (one moment, or one per matter), as
        floats: whole working days passed plus the share of the last day when it is a working day. A matter
        handled on the day it opened used nothing. Null where a day lies outside the known years; a ``until``
        outside them is refused (CalendarUnknown): nobody should be shown a colour from a guessed calendar."""
        _, before = self._days
        if isinstance(until, datetime):
            self._index(until.astimezone(CHINA).date())
            until = pl.Series([until] * len(opened), dtype=pl.Datetime("us", "UTC")) if len(opened) else opened
        local = until.dt.convert_time_zone("Asia/Shanghai")
        end = self._indices(until)
        workday = (before[np.clip(end + 1, 0, len(before) - 1)] - before[np.clip(end, 0, len(before) - 1)]) > 0
        share = (local - local.dt.truncate("1d")).dt.total_microseconds().to_numpy() / 86_400e6
        share = np.where(workday, share, 0.0)
        index = self._indices(opened)
        last = len(before) - 2
        known = (index >= 0) & (end >= 0) & (end <= last) & (index <= last)
        counted_from = np.clip(index + 1, 0, last + 1)
        whole = before[np.clip(end, 0, last + 1)] - before[counted_from]
        used = np.where(index < end, whole + share, 0.0)
        return pl.Series("used", np.where(known, used, np.nan)).fill_nan(None)
