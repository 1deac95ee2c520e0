"""Schedules: cron expressions (croniter), or derived from the dataset's promised update cycle."""
from __future__ import annotations

import datetime as dt

from croniter import croniter

#: What each update cycle (更新周期) promises, as a cron expression (UTC) that keeps the promise.
CYCLE_CRON = {
    "realtime": "*/15 * * * *",
    "daily": "0 18 * * *",  # 02:00 Beijing time
    "weekly": "0 18 * * 0",
    "monthly": "0 18 1 * *",
    "quarterly": "0 18 1 1,4,7,10 *",
    "semiannual": "0 18 1 1,7 *",
    "yearly": "0 18 1 1 *",
}


def check(expression: str) -> str | None:
    """A message when ``expression`` is not a valid five-field cron expression."""
    if len(expression.split()) != 5 or not croniter.is_valid(expression):
        return "must be a cron expression of five fields, e.g. '0 2 * * *'"
    return None


def from_update_cycle(cycle: str | None) -> str | None:
    """The default schedule of a dataset's update cycle (``irregular``: none, run by hand)."""
    return CYCLE_CRON.get(cycle or "")


def is_due(expression: str, last_run: dt.datetime | None, now: dt.datetime) -> bool:
    """Whether a scheduled time has passed since the last run (never run: due).

    Expressions are in UTC whatever zone the moments are given in (naive moments are taken as UTC):
    croniter reads an expression in the zone of its start time.
    """
    if last_run is None:
        return True
    following = croniter(expression, _utc(last_run)).get_next(dt.datetime)
    return following <= _utc(now)


def _utc(moment: dt.datetime) -> dt.datetime:
    if moment.tzinfo is None:
        return moment.replace(tzinfo=dt.timezone.utc)
    return moment.astimezone(dt.timezone.utc)
