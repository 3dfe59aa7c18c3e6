"""E-supervision (电子监察, 红黄牌预警): clocks on the steps that wait on officers, counted in working days on
China's official calendar; cards, escalations to supervisors, handling-time statistics; and the open statistics
(政务公开) published without a token, small cells suppressed. docs/supervision.md explains each."""

from matcher.supervision.calendar import CHINA, CalendarError, CalendarUnknown, WorkingCalendar
from matcher.supervision.cards import COLOURS, card
from matcher.supervision.handling import handling_times
from matcher.supervision.limits import LimitsError, Step, TimeLimits, load_limits, parse_limits
from matcher.supervision.matters import matters
from matcher.supervision.watch import WatchReport, open_cards, watch

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
