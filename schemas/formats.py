"""Format checkers for Chinese identifiers: one implementation per rule.

Each checker returns ``None`` when the value is valid and otherwise a message that names the
rule that failed, so that the same function serves JSON Schema ``format`` validation, the
marshmallow schemas and the connectors.
"""
from __future__ import annotations

import datetime as dt
import re
import time

# Patterns are ASCII-only (a bare \d also matches full-width and other Unicode digits, which int()
# accepts) and used with fullmatch (``$`` would also match before a trailing newline).

# GB 11643-1999 resident identity number.
_RESIDENT_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_RESIDENT_ID_CHECK = "10X98765432"
_RESIDENT_ID_RE = re.compile(r"^\d{17}[\dX]$", re.ASCII)
# the proleptic Gregorian ordinal of 1970-01-01, to turn time.time() into a day
_EPOCH_ORDINAL = dt.date(1970, 1, 1).toordinal()

# GB 32100-2015 unified social credit code: 0-9 and A-Z without I, O, Z, S, V.
_USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_USCC_RE = re.compile(r"^[0-9ABCDEFGHJKLMNPQRTUWXY]{18}$")

_DIVISION_RE = re.compile(r"^\d{6}(\d{6})?$", re.ASCII)
_MOBILE_RE = re.compile(r"^1[3-9]\d{9}$", re.ASCII)
_HOUSEHOLD_RE = re.compile(r"^\d{18}$", re.ASCII)

# RFC 3339 full-date and date-time (the JSON Schema "date" and "date-time" formats).
_DATE_RE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$", re.ASCII)
_DATE_TIME_RE = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.\d+)?(?:[Zz]|[+-](\d{2}):(\d{2}))$", re.ASCII)


def resident_id_check_char(first17: str) -> str:
    """Return the GB 11643 check character for the first 17 digits of a resident ID."""
    if len(first17) == 17 and first17.isascii() and first17.isdigit():
        # the weight of digit i (from 0) is 2**(17-i) mod 11, and 13 = 2 (mod 11): mod 11, the weighted sum
        # is twice the digits read as a base-13 number; one int() instead of 17 (a test compares the two)
        return _RESIDENT_ID_CHECK[2 * int(first17, 13) % 11]
    total = sum(int(d) * w for d, w in zip(first17, _RESIDENT_ID_WEIGHTS))
    return _RESIDENT_ID_CHECK[total % 11]


def _after_today(day: dt.date) -> bool:
    """``day > dt.date.today()``, without asking for the local date when ``day`` is before yesterday in UTC."""
    # the local date is never more than a day behind the UTC one (offsets are within ±14 hours)
    if day.toordinal() < _EPOCH_ORDINAL + int(time.time() // 86400) - 1:
        return False
    return day > dt.date.today()


def check_resident_id(value: str) -> str | None:
    """Validate a resident ID number (GB 11643): shape, birth date and check digit."""
    if not isinstance(value, str) or not _RESIDENT_ID_RE.fullmatch(value):
        return "resident ID must be 17 digits followed by a digit or X (GB 11643)"
    try:
        birth = dt.date.fromisoformat(value[6:14])  # YYYYMMDD: the same check as dt.date(y, m, d), in C
    except ValueError:
        return f"resident ID birth date {value[6:14]} is not a real date (GB 11643)"
    if birth.year < 1900 or _after_today(birth):
        return f"resident ID birth date {value[6:14]} is out of range (GB 11643)"
    expected = resident_id_check_char(value[:17])
    if value[17] != expected:
        return f"resident ID check digit should be {expected} (GB 11643)"
    return None


def uscc_check_char(first17: str) -> str:
    """Return the GB 32100 check character for the first 17 characters of a credit code."""
    total = sum(_USCC_ALPHABET.index(c) * w for c, w in zip(first17, _USCC_WEIGHTS))
    return _USCC_ALPHABET[(31 - total % 31) % 31]


def check_uscc(value: str) -> str | None:
    """Validate a unified social credit code (GB 32100): alphabet, length and check character."""
    if not isinstance(value, str) or not _USCC_RE.fullmatch(value):
        return ("unified social credit code must be 18 characters from 0-9 and A-Z "
                "without I, O, Z, S, V (GB 32100)")
    expected = uscc_check_char(value[:17])
    if value[17] != expected:
        return f"unified social credit code check character should be {expected} (GB 32100)"
    return None


def check_division_code(value: str) -> str | None:
    """Validate an administrative division code: 6 digits (GB/T 2260) or 12 (statistical)."""
    if not isinstance(value, str) or not _DIVISION_RE.fullmatch(value):
        return "division code must be 6 digits (GB/T 2260) or 12 digits (statistical code)"
    if value[:2] == "00":
        return "division code must start with a province code (GB/T 2260)"
    if len(value) == 12 and value[6:9] > "599":
        return (f"township code {value[6:9]} must be 001-099 (street), 100-199 (town), 200-399 "
                "(township) or 400-599 (other) (statistical division code)")
    return None


def check_mobile(value: str) -> str | None:
    """Validate a mainland China mobile number (11 digits starting 13-19)."""
    if not isinstance(value, str) or not _MOBILE_RE.fullmatch(value):
        return "mobile number must be 11 digits starting with 13 to 19"
    return None


def check_household_number(value: str) -> str | None:
    """Validate a household number: 12-digit statistical division code + group + household."""
    if not isinstance(value, str) or not _HOUSEHOLD_RE.fullmatch(value):
        return ("household number must be 18 digits: 12-digit statistical division code, "
                "2-digit group, 4-digit household")
    return check_division_code(value[:12])


def check_date(value: str) -> str | None:
    """Validate a calendar date written as RFC 3339 full-date (YYYY-MM-DD)."""
    match = _DATE_RE.fullmatch(value) if isinstance(value, str) else None
    if not match:
        return "date must be written as YYYY-MM-DD, e.g. 2026-01-03 (RFC 3339)"
    try:
        dt.date(*(int(part) for part in match.groups()))
    except ValueError:
        return f"date {value} is not a real calendar date (RFC 3339)"
    return None


def check_date_time(value: str) -> str | None:
    """Validate a timestamp written as RFC 3339 date-time, with its time zone offset."""
    match = _DATE_TIME_RE.fullmatch(value) if isinstance(value, str) else None
    if not match:
        return ("date and time must be written as YYYY-MM-DDThh:mm:ss with a time zone, "
                "e.g. 2026-01-03T09:30:00+08:00 (RFC 3339)")
    year, month, day, hour, minute, second, off_hour, off_minute = match.groups()
    try:
        dt.datetime(int(year), int(month), int(day), int(hour), int(minute), int(second))
    except ValueError:
        return f"date and time {value} is not a real calendar date and time (RFC 3339)"
    if off_hour is not None and (int(off_hour) > 23 or int(off_minute) > 59):
        return f"time zone offset of {value} is out of range (RFC 3339)"
    return None


#: format name (as used in JSON Schema ``format``) -> checker
CHECKERS = {
    "cn-resident-id": check_resident_id,
    "cn-uscc": check_uscc,
    "cn-division-code": check_division_code,
    "cn-mobile": check_mobile,
    "cn-household-number": check_household_number,
}

#: the standard JSON Schema formats we check ourselves, so that every validator (jsonschema, the
#: compiled fast path) applies the same rule: ASCII digits only, no trailing newline.
STANDARD_CHECKERS = {
    "date": check_date,
    "date-time": check_date_time,
}
