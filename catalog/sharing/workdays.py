"""Working-day arithmetic for share request deadlines (weekends and configured holidays excluded)."""
from __future__ import annotations

import datetime as dt
from typing import Iterable


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
