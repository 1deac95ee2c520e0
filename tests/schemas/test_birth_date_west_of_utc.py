"""A resident ID whose birth date has not come yet where the server is, is refused, whatever UTC says.

The check of a birth date in the future compares it with the server's local date, and skips asking for it
when the day is well before today in UTC (the local date is never more than a day behind UTC). A server
whose clock is set west of UTC is still on the day before UTC's just after midnight UTC: there a birth date
of the UTC day is tomorrow, and must be refused. The instant and the local date are set by hand: 02:00 UTC
on 6 December 2026 is 21:00 on 5 December in New York (UTC-5).
"""
from __future__ import annotations

import datetime as dt
import types

import pytest

from schemas import formats

WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]   # GB 11643-1999


def with_check_digit(first17: str) -> str:
    """GB 11643's check character, computed here from the standard (not with the code under test)."""
    return first17 + "10X98765432"[sum(int(c) * w for c, w in zip(first17, WEIGHTS)) % 11]


class NewYorkDate(dt.date):
    @classmethod
    def today(cls):
        return dt.date(2026, 12, 5)


@pytest.fixture
def west_of_utc(monkeypatch):
    instant = dt.datetime(2026, 12, 6, 2, 0, tzinfo=dt.timezone.utc).timestamp()
    monkeypatch.setattr(formats, "time", types.SimpleNamespace(time=lambda: instant))
    monkeypatch.setattr(formats, "dt", types.SimpleNamespace(date=NewYorkDate, datetime=dt.datetime,
                                                             timedelta=dt.timedelta, timezone=dt.timezone))


def test_a_birth_on_the_utc_day_is_refused_while_it_is_still_the_day_before_here(west_of_utc):
    resident_id = with_check_digit("45010220261206001")
    assert "birth date 20261206" in (formats.check_resident_id(resident_id) or "")


def test_a_birth_on_the_local_day_is_accepted(west_of_utc):
    resident_id = with_check_digit("45010220261205001")
    assert formats.check_resident_id(resident_id) is None
