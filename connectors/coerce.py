"""Value coercions used by :mod:`connectors.mapping`: dates, numbers, booleans, text folding.

Each ``to_*`` function takes one source value and returns the JSON value, or raises
:class:`CoercionError` whose message names the value and the rule, e.g. ``'2026-13-01' is not a date``.
"""
from __future__ import annotations

import datetime as dt
import decimal
import math
import re
import unicodedata
from functools import lru_cache
from typing import Any

__all__ = ["CoercionError", "parse_offset", "to_boolean", "to_date", "to_datetime", "to_integer",
           "to_number", "to_string", "to_simplified"]


class CoercionError(ValueError):
    """A value that does not fit the rule; the message is meant for a user."""


# Excel counts days from 1899-12-30 (its day 60 is the 1900-02-29 that never was)
_EXCEL_EPOCH = dt.datetime(1899, 12, 30)
_EXCEL_MAX = 2958465  # 9999-12-31

_DATE = r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?"
_TIME = r"(?:\s*T?\s*(\d{1,2})\s*[:时点]\s*(\d{1,2})\s*分?(?:\s*:?\s*(\d{1,2})(?:\.(\d{1,6})\d*)?\s*秒?)?)?"
_ZONE = r"\s*(Z|[+-]\d{2}:?\d{2})?"
_DATE_TIME_RE = re.compile(rf"^{_DATE}{_TIME}{_ZONE}$", re.IGNORECASE)
_COMPACT_DATE_RE = re.compile(r"^(\d{4})(\d{2})(\d{2})$")
# as text, only 5-digit serials (1927-2173) are taken for dates: "2026" alone is not day 2026
_SERIAL_RE = re.compile(r"^\d{5}(?:\.\d+)?$")
_OFFSET_RE = re.compile(r"^([+-])(\d{2}):?(\d{2})$")

TRUE_WORDS = frozenset({"是", "y", "yes", "true", "t", "1", "对", "√"})
FALSE_WORDS = frozenset({"否", "n", "no", "false", "f", "0", "不是", "×"})


def _normal(value: str) -> str:
    """Full-width digits and punctuation to ASCII (NFKC), trimmed."""
    if value.isascii():  # NFKC leaves ASCII as it is; most export values are ASCII
        return value.strip()
    return unicodedata.normalize("NFKC", value).strip()


def parse_offset(text: str) -> dt.timezone:
    """A UTC offset written ``+08:00``, ``+0800`` or ``Z``."""
    if text.upper() == "Z":
        return dt.timezone.utc
    match = _OFFSET_RE.match(text)
    if not match:
        raise CoercionError(f"{text!r} is not a UTC offset such as +08:00")
    sign, hours, minutes = match.groups()
    delta = dt.timedelta(hours=int(hours), minutes=int(minutes))
    return dt.timezone(-delta if sign == "-" else delta)


def _from_serial(serial: float, value: Any, kind: str) -> dt.datetime:
    if not (1 <= serial <= _EXCEL_MAX) or math.isnan(serial):
        raise CoercionError(f"{value!r} is not a {kind}")
    if serial < 60:  # before Excel's phantom 1900-02-29
        serial += 1
    elif serial < 61:
        raise CoercionError(f"{value!r} is not a {kind} (Excel day 60 is 1900-02-29, which does not exist)")
    moment = _EXCEL_EPOCH + dt.timedelta(days=serial)
    # serials carry float noise: round to the second
    return (moment + dt.timedelta(microseconds=500_000)).replace(microsecond=0)


def _parse(value: Any, kind: str) -> tuple[dt.datetime, bool, dt.tzinfo | None]:
    """(moment, whether a time of day was given, zone) of a date-like value."""
    if isinstance(value, bool):
        raise CoercionError(f"{value!r} is not a {kind}")
    if isinstance(value, dt.datetime):
        return value.replace(tzinfo=None), True, value.tzinfo
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day), False, None
    if isinstance(value, (int, float, decimal.Decimal)):
        moment = _from_serial(float(value), value, kind)
        return moment, moment.time() != dt.time(0), None
    if not isinstance(value, str):
        raise CoercionError(f"{value!r} is not a {kind}")
    text = _normal(value)
    try:
        compact = _COMPACT_DATE_RE.match(text)
        if compact:
            year, month, day = compact.groups()
            return dt.datetime(int(year), int(month), int(day)), False, None
        if _SERIAL_RE.match(text):
            return _parse(float(text), kind)[0], "." in text, None
        match = _DATE_TIME_RE.match(text)
        if not match:
            raise CoercionError(f"{value!r} is not a {kind}")
        year, month, day, hour, minute, second, fraction, zone = match.groups()
        moment = dt.datetime(int(year), int(month), int(day), int(hour or 0), int(minute or 0),
                             int(second or 0), int((fraction or "0").ljust(6, "0")))
        return moment, hour is not None, parse_offset(zone) if zone else None
    except (ValueError, OverflowError) as exc:
        if isinstance(exc, CoercionError):
            raise CoercionError(str(exc).replace(f"{text!r}", f"{value!r}")) from None
        raise CoercionError(f"{value!r} is not a {kind}") from None


def to_date(value: Any) -> str:
    """An ISO date (``2026-01-03``) from 2026-01-03, 2026/01/03, 2026年01月03日, 2026.1.3, 20260103,
    an Excel serial number, or a date/datetime object (a time of day is dropped)."""
    if type(value) is str:  # noqa: E721 - exact str only: a subclass's repr may differ in the message
        return _date_from_text(value)
    moment, _timed, _zone = _parse(value, "date")
    return moment.date().isoformat()


@lru_cache(maxsize=4096)
def _date_from_text(text: str) -> str:
    # an export repeats the same few hundred dates; a refused one raises and is not cached
    moment, _timed, _zone = _parse(text, "date")
    return moment.date().isoformat()


def to_datetime(value: Any, zone: dt.tzinfo) -> str:
    """An RFC 3339 date-time (``2026-01-03T09:30:00+08:00``); values without a zone get ``zone``."""
    moment, _timed, given = _parse(value, "date-time")
    moment = moment.replace(tzinfo=given or zone)
    return moment.isoformat(timespec="microseconds" if moment.microsecond else "seconds")


def _decimal(value: Any, kind: str) -> decimal.Decimal:
    if isinstance(value, bool):
        raise CoercionError(f"{value!r} is not {kind}")
    if isinstance(value, (int, decimal.Decimal)):
        number = decimal.Decimal(value)
    elif isinstance(value, float):
        number = decimal.Decimal(repr(value)) if math.isfinite(value) else decimal.Decimal("NaN")
    elif isinstance(value, str):
        text = _normal(value).replace(",", "").replace(" ", "")
        try:
            number = decimal.Decimal(text)
        except decimal.InvalidOperation:
            raise CoercionError(f"{value!r} is not {kind}") from None
    else:
        raise CoercionError(f"{value!r} is not {kind}")
    if not number.is_finite():
        raise CoercionError(f"{value!r} is not {kind}")
    return number


def to_integer(value: Any) -> int:
    """An integer from 12, 12.0, "12", "1,234" or "１２" (full width); 12.5 is refused."""
    number = _decimal(value, "an integer")
    if number != number.to_integral_value():
        raise CoercionError(f"{value!r} is not an integer")
    return int(number)


def to_number(value: Any) -> int | float:
    """A number (an ``int`` when integral) from numbers or numeric text such as "3.50" or "1,234.5"."""
    number = _decimal(value, "a number")
    if number == number.to_integral_value() and "." not in str(value) and "e" not in str(value).lower():
        return int(number)
    return float(number)


def to_boolean(value: Any) -> bool:
    """True/False from 是/否, Y/N, yes/no, true/false, 1/0 (any case) or a bool."""
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        word = _normal(value).lower()
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
    raise CoercionError(f"{value!r} is not a yes/no value (是/否, Y/N, true/false)")


def to_string(value: Any) -> str:
    """Text: a spreadsheet number such as 6.10923e5 or 12.0 becomes "610923" / "12"."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, decimal.Decimal) and value.is_finite() and value == value.to_integral_value():
        return str(int(value))
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    return str(value)


@lru_cache(maxsize=1)
def _t2s():
    from opencc import OpenCC  # loaded on first use: the dictionaries take a moment
    return OpenCC("t2s")


def to_simplified(value: Any) -> Any:
    """Traditional characters folded to simplified (OpenCC t2s); non-text is returned as is."""
    if not isinstance(value, str):
        return value
    if type(value) is str and len(value) <= _SHORT_TEXT:  # noqa: E721
        return _simplified_short(value)
    return _t2s().convert(value)


# names, towns and villages repeat on every row, and OpenCC takes ~30 µs a call even for 3 characters
_SHORT_TEXT = 64


@lru_cache(maxsize=4096)
def _simplified_short(text: str) -> str:
    return _t2s().convert(text)
