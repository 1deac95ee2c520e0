"""Working-day arithmetic for share request deadlines (weekends and configured holidays excluded)."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Iterable, Mapping


def parse_holidays(raw: Iterable[str] | str | None) -> frozenset[dt.date]:
    """Holidays from a list of ISO dates or a comma-separated string (``CATALOG_HOLIDAYS``)."""
    if not raw:
        return frozenset()
    items = raw.split(",") if isinstance(raw, str) else raw
    return frozenset(dt.date.fromisoformat(str(item).strip()) for item in items if str(item).strip())


def is_working_day(day: dt.date, holidays: frozenset[dt.date] = frozenset(),
                   workdays: frozenset[dt.date] = frozenset()) -> bool:
    """Monday to Friday, except holidays; ``workdays`` are weekend days made working days (调休)."""
    if day in workdays:
        return True
    return day.weekday() < 5 and day not in holidays


def add_working_days(start: dt.date, days: int, holidays: frozenset[dt.date] = frozenset(),
                     workdays: frozenset[dt.date] = frozenset()) -> dt.date:
    """The date ``days`` working days after ``start`` (the start day itself does not count)."""
    current = start
    remaining = days
    while remaining > 0:
        current += dt.timedelta(days=1)
        if is_working_day(current, holidays, workdays):
            remaining -= 1
    return current


def working_days_between(start: dt.date, end: dt.date, holidays: frozenset[dt.date] = frozenset(),
                         workdays: frozenset[dt.date] = frozenset()) -> int:
    """How many working days fall after ``start`` up to and including ``end`` (0 when ``end`` is not later)."""
    count = 0
    current = start
    while current < end:
        current += dt.timedelta(days=1)
        if is_working_day(current, holidays, workdays):
            count += 1
    return count


@dataclass(frozen=True)
class Calendar:
    """The configured working-day calendar (``CATALOG_HOLIDAYS`` and ``CATALOG_WORKDAYS``)."""

    holidays: frozenset[dt.date] = frozenset()
    workdays: frozenset[dt.date] = frozenset()

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> "Calendar":
        """The calendar of an app's settings."""
        return cls(parse_holidays(config.get("HOLIDAYS")), parse_holidays(config.get("WORKDAYS")))

    def add(self, start: dt.date, days: int) -> dt.date:
        """:func:`add_working_days` on this calendar."""
        return add_working_days(start, days, self.holidays, self.workdays)

    def between(self, start: dt.date, end: dt.date) -> int:
        """:func:`working_days_between` on this calendar."""
        return working_days_between(start, end, self.holidays, self.workdays)
