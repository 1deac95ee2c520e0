"""Computed fields: small expressions in a sandboxed Jinja2 environment, with a few domain functions.

A mapping's ``computed`` section maps field paths to templates, for example::

    computed:
      household_number: "{{ concat('6109231', pad(户号, 11)) }}"
      members[0].name: "{{ 户主姓名 }}"
      members[0].sex: "{{ id_sex(户主身份证号) }}"
      deadline: "{{ date_add(受理日期, 办理期限天数, working=True) }}"
      status: "{{ '办结' if 办结日期 else '办理中' }}"

The template sees the source row's columns by name (trimmed, empty cells absent) and ``row`` (the
same columns as a mapping, for names that are not identifiers: ``row['办理期限(天)']``). A column the
row lacks is empty: ``{{ 办结日期 }}`` renders ``""``, and ``{% if 办结日期 %}`` is false. The result
is text; an empty result leaves the field out (so ``defaults`` can fill it), and the mapping's
per-field steps (``dates``, ``integers``…) then apply to it like to a renamed column.

The environment is Jinja2's :class:`~jinja2.sandbox.ImmutableSandboxedEnvironment`: no attribute
starting with ``_``, no calls of unsafe callables, no mutation of lists or dicts, and ranges bounded,
so an expression cannot reach Python internals, files or the network. Templates are compiled once
per mapping; a template that does not compile is a :class:`ExpressionError` naming the field, and
one that fails on a row (``id_sex('123')``) is a row error naming the field, so the row is quarantined.
"""
from __future__ import annotations

import datetime as dt
import functools
import re
from typing import Any, Callable

from jinja2 import ChainableUndefined, TemplateError
from jinja2.exceptions import SecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from . import coerce

__all__ = ["FUNCTIONS", "ExpressionError", "WorkingDay", "compile_expression", "parse_path", "weekdays"]

#: a working-day calendar: whether a day is a working day. The catalog hands its own (weekends,
#: configured holidays and make-up working days: catalog/sharing/workdays.py); alone, weekdays.
WorkingDay = Callable[[dt.date], bool]


def weekdays(day: dt.date) -> bool:
    """Monday to Friday: the calendar of a mapping used without the catalog's holidays."""
    return day.weekday() < 5


class ExpressionError(ValueError):
    """A computed field's expression that cannot be used; the message names the field."""


class _Failure(Exception):
    """A domain function refused its arguments (the message says why)."""


def _text(value: Any) -> str:
    if value is None or isinstance(value, ChainableUndefined):
        return ""
    return str(value).strip()


def pad(value: Any, width: int, char: str = "0", left: bool = True) -> str:
    """``value`` as text padded to ``width`` with ``char`` (on the left by default); longer text stays."""
    text = _text(value)
    if not text:
        return ""
    return text.rjust(int(width), char) if left else text.ljust(int(width), char)


def concat(*parts: Any) -> str:
    """The parts as text, one after the other; an empty part leaves the whole empty."""
    texts = [_text(part) for part in parts]
    return "" if any(t == "" for t in texts) else "".join(texts)


def substr(value: Any, start: int, length: int | None = None) -> str:
    """``length`` characters of ``value`` from ``start`` (0-based; all the rest without ``length``)."""
    text = _text(value)
    start = int(start)
    return text[start:] if length is None else text[start:start + int(length)]


def coalesce(*values: Any) -> Any:
    """The first value that is not empty, else ``""``."""
    for value in values:
        if _text(value) != "":
            return value
    return ""


def today() -> str:
    """Today's date (UTC+8, the exports' time zone) as ISO text."""
    return (dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=8)).date().isoformat()


def _date(value: Any) -> dt.date:
    try:
        return dt.date.fromisoformat(coerce.to_date(value))
    except coerce.CoercionError as exc:
        raise _Failure(str(exc)) from None


def date_add(value: Any, days: Any, working: bool = True, *, working_day: WorkingDay = weekdays) -> str:
    """The ISO date ``days`` days after the date ``value`` (any of the export date styles); with
    ``working`` (the default) only the working days of ``working_day`` are counted, the start day
    itself not included (``date_add('2026-09-30', 1)`` is the first working day after the National
    Day holidays when the calendar holds them). An empty date gives ``""``."""
    if _text(value) == "":
        return ""
    start = _date(value)
    try:
        count = int(coerce.to_integer(days))
    except coerce.CoercionError as exc:
        raise _Failure(str(exc)) from None
    if not working:
        return (start + dt.timedelta(days=count)).isoformat()
    if abs(count) > 36500:
        raise _Failure(f"{count} working days is too many")
    step = 1 if count >= 0 else -1
    day, left = start, abs(count)
    while left:
        day += dt.timedelta(days=step)
        if working_day(day):
            left -= 1
    return day.isoformat()


_ID = re.compile(r"^\d{17}[\dX]$|^\d{15}$")


def _id_number(value: Any) -> str:
    text = _text(value).upper()
    if not _ID.match(text):
        raise _Failure(f"{text!r} is not an 18- or 15-digit citizen ID number")
    return text


def id_birth_date(value: Any) -> str:
    """The birth date (ISO) written in a citizen ID number; ``""`` for an empty one."""
    if _text(value) == "":
        return ""
    text = _id_number(value)
    digits = text[6:14] if len(text) == 18 else "19" + text[6:12]
    try:
        return dt.date(int(digits[:4]), int(digits[4:6]), int(digits[6:8])).isoformat()
    except ValueError:
        raise _Failure(f"{text!r} holds no valid birth date") from None


def id_sex(value: Any) -> str:
    """The sex code (GB/T 2261.1: 1 male, 2 female) of a citizen ID number; ``""`` for an empty one."""
    if _text(value) == "":
        return ""
    text = _id_number(value)
    return "1" if int(text[16 if len(text) == 18 else 14]) % 2 else "2"


#: the functions an expression may call
FUNCTIONS: dict[str, Callable[..., Any]] = {
    "pad": pad, "concat": concat, "substr": substr, "coalesce": coalesce, "today": today,
    "date_add": date_add, "id_birth_date": id_birth_date, "id_sex": id_sex,
}


class _Empty(ChainableUndefined):
    """A column the row lacks: empty text, false, and safe to chain (``{{ a.b }}``)."""


#: the largest text or number an expression may build with * or ** (no row needs more)
MAX_SIZE = 10_000


class _Environment(ImmutableSandboxedEnvironment):
    """The sandbox, with ``*`` and ``**`` bounded: ``'x' * 10**9`` or ``9**9**9`` would stall a worker."""

    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "**":
            if not isinstance(right, (int, float)) or abs(right) > 64 or (
                    isinstance(left, int) and abs(left).bit_length() * abs(right) > MAX_SIZE):
                raise SecurityError(f"{left!r} ** {right!r} is too large")
            return left ** right
        if isinstance(left, (str, list)) or isinstance(right, (str, list)):
            count, sequence = (right, left) if isinstance(left, (str, list)) else (left, right)
            if isinstance(count, int) and count * len(sequence) > MAX_SIZE:
                raise SecurityError(f"the result would be longer than {MAX_SIZE}")
        return left * right


_ENVIRONMENT = _Environment(undefined=_Empty, autoescape=False, keep_trailing_newline=False,
                            finalize=lambda value: "" if value is None else value)
_ENVIRONMENT.globals.update(FUNCTIONS)

#: how long a template may be (a mapping is configuration, not a program)
MAX_LENGTH = 2000


def _calendar_globals(working_day: WorkingDay) -> dict[str, Any]:
    # a closure, not a keyword a template could pass: an expression cannot choose its own calendar
    def date_add_in_calendar(value: Any, days: Any, working: bool = True) -> str:
        return date_add(value, days, working, working_day=working_day)

    functools.update_wrapper(date_add_in_calendar, date_add)
    return {"date_add": date_add_in_calendar}


def compile_expression(field: str, source: Any, *, working_day: WorkingDay | None = None
                       ) -> Callable[[dict[str, Any]], str]:
    """The compiled template of ``field``: a function from the row's columns to the field's text,
    raising ``ValueError`` with the expression's message when it fails on a row. ``working_day`` is
    the calendar ``date_add(..., working=True)`` counts in (default: Monday to Friday)."""
    if not isinstance(source, str) or not source.strip():
        raise ExpressionError(f"computed.{field}: must be a non-empty template text")
    if len(source) > MAX_LENGTH:
        raise ExpressionError(f"computed.{field}: longer than {MAX_LENGTH} characters")
    try:
        template = _ENVIRONMENT.from_string(
            source, globals=_calendar_globals(working_day) if working_day is not None else None)
    except TemplateError as exc:
        line = getattr(exc, "lineno", None)
        raise ExpressionError(f"computed.{field}: {exc.message if hasattr(exc, 'message') else exc}"
                              + (f" (line {line})" if line and "\n" in source else "")) from None

    def render(columns: dict[str, Any]) -> str:
        try:
            return template.render({**columns, "row": columns}).strip()
        except _Failure as exc:
            raise ValueError(str(exc)) from None
        except (TemplateError, TypeError, ValueError, ArithmeticError, LookupError) as exc:
            raise ValueError(f"{type(exc).__name__}: {exc}") from None

    return render


_INDEX = re.compile(r"\[(\d+)\]")


def parse_path(path: str) -> list[str | int]:
    """``members[0].name`` (or ``members.0.name``) as ``["members", 0, "name"]``."""
    parts: list[str | int] = []
    for part in _INDEX.sub(r".\1", path).split("."):
        if part == "":
            raise ValueError(f"{path!r} is not a field path")
        parts.append(int(part) if part.isdigit() else part)
    return parts
