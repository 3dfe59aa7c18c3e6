"""E-supervision (电子监察, 红黄牌预警): clocks on the steps that wait on officers, counted in working days on
China's official calendar; cards, escalations to supervisors, handling-time statistics; and the open statistics
(政务公开) published without a token, small cells suppressed. docs/supervision.md explains each."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from matcher.supervision.calendar import CHINA, CalendarError, CalendarUnknown, WorkingCalendar
    from matcher.supervision.cards import COLOURS, card
    from matcher.supervision.handling import handling_times
    from matcher.supervision.limits import LimitsError, Step, TimeLimits, load_limits, parse_limits
    from matcher.supervision.waiting import matters
    from matcher.supervision.watcher import WatchReport, open_cards, watch

# Each name's module, imported when the name is first asked for: `huiqi supervision --help` needs the steps' names
# (limits.py: YAML and pydantic), not the cards' and statistics' polars and SQLAlchemy. No module is named as a
# name here: importing it would set the package's attribute to the module, and the name would then read as that.
_MODULES = {
    "calendar": ("CHINA", "CalendarError", "CalendarUnknown", "WorkingCalendar"),
    "cards": ("COLOURS", "card"),
    "handling": ("handling_times",),
    "limits": ("LimitsError", "Step", "TimeLimits", "load_limits", "parse_limits"),
    "waiting": ("matters",),
    "watcher": ("WatchReport", "open_cards", "watch"),
}
_WHERE = {name: module for module, names in _MODULES.items() for name in names}

__all__ = [
    "CHINA",
    "COLOURS",
    "CalendarError",
    "CalendarUnknown",
    "LimitsError",
    "Step",
    "TimeLimits",
    "WatchReport",
    "WorkingCalendar",
    "card",
    "handling_times",
    "load_limits",
    "matters",
    "open_cards",
    "parse_limits",
    "watch",
]


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'matcher.supervision' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"matcher.supervision.{_WHERE[name]}"), name)
    globals()[name] = value  # asked once
    return value
