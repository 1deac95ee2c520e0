"""The freshness clock: when a dataset's next update is due, and whether it is fresh, due or overdue.

Pure functions, no database and no configuration: the one place that knows what each update cycle
(更新周期, ``update_cycle`` in ``schemas/metadata/dataset/1.json``) promises.

* ``due_at`` = the last change + one cycle. Cycles of months are calendar months, clamped to the
  month's end (Jan 31 + 1 month = Feb 28, or Feb 29 in a leap year).
* ``fresh`` before ``due_at``; ``due`` from ``due_at`` until the grace period has passed;
  ``overdue`` from ``due_at + grace`` on. ``irregular`` (不定期), an unknown or a missing cycle
  promise nothing: always ``fresh``, with no ``due_at``.
* The grace period is either a duration (``"2d"``, ``"6h"``, ``"30m"``, ``"90s"``, ``"0"``) or a share of
  the cycle (``"10%"``: about 3 days for a monthly dataset, 6 minutes for a real-time one).
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from dateutil.relativedelta import relativedelta

FRESH, DUE, OVERDUE = "fresh", "due", "overdue"
STATUSES = (FRESH, DUE, OVERDUE)

#: What each update cycle promises: the longest time between two changes of the data.
CYCLES: dict[str, relativedelta] = {
    "realtime": relativedelta(hours=1),
    "daily": relativedelta(days=1),
    "weekly": relativedelta(days=7),
    "monthly": relativedelta(months=1),
    "quarterly": relativedelta(months=3),
    "semiannual": relativedelta(months=6),
    "yearly": relativedelta(years=1),
}
#: Cycles that promise no date (never overdue).
IRREGULAR = "irregular"

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")
_SHARE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*%\s*$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


@dataclass(frozen=True)
class Grace:
    """A grace period: a fixed duration, or a share of the cycle's length (from the last change)."""

    duration: dt.timedelta = dt.timedelta(0)
    share: float = 0.0

    def after(self, last_change: dt.datetime, due_at: dt.datetime) -> dt.timedelta:
        """The grace granted for a cycle that ran from ``last_change`` to ``due_at``."""
        return self.duration + (due_at - last_change) * self.share


def parse_grace(text: str | int | float | None) -> Grace:
    """A grace period from its setting (``"10%"``, ``"2d"``, ``"6h"``, ``"30m"``, seconds); ValueError names the rule."""
    if text is None or text == "":
        return Grace()
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        if text < 0:
            raise ValueError("FRESHNESS_GRACE must not be negative")
        return Grace(duration=dt.timedelta(seconds=text))
    share = _SHARE.match(str(text))
    if share:
        return Grace(share=float(share.group(1)) / 100)
    duration = _DURATION.match(str(text))
    if duration:
        return Grace(duration=dt.timedelta(seconds=float(duration.group(1)) * _UNITS[duration.group(2)]))
    raise ValueError(f"FRESHNESS_GRACE must be a duration such as 2d, 6h, 30m or 90s, or a share of the "
                     f"update cycle such as 10%; got {text!r}")


def cycle_length(cycle: str | None) -> relativedelta | None:
    """The promised interval of an update cycle, or None (irregular, unknown or missing)."""
    return CYCLES.get(cycle or "")


def due_at(cycle: str | None, last_change: dt.datetime | None) -> dt.datetime | None:
    """When the next change is due: ``last_change`` + one cycle (calendar months clamp to the month's end)."""
    length = cycle_length(cycle)
    if length is None or last_change is None:
        return None
    return last_change + length


@dataclass(frozen=True)
class Reading:
    """One dataset's freshness at a moment."""

    status: str
    due_at: dt.datetime | None
    overdue_at: dt.datetime | None


def read(cycle: str | None, last_change: dt.datetime | None, now: dt.datetime, grace: Grace = Grace()) -> Reading:
    """The status at ``now`` of data with ``cycle`` that last changed at ``last_change``.

    A dataset with a cycle but no known change at all is overdue (nothing was ever delivered).
    """
    if cycle_length(cycle) is None:
        return Reading(FRESH, None, None)
    if last_change is None:
        return Reading(OVERDUE, None, None)
    due = due_at(cycle, last_change)
    overdue = due + grace.after(last_change, due)
    if now < due:
        return Reading(FRESH, due, overdue)
    if now < overdue:
        return Reading(DUE, due, overdue)
    return Reading(OVERDUE, due, overdue)
