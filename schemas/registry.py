"""Load, list and compile the JSON Schema documents shipped under ``schemas/``.

Documents live at ``schemas/<kind>/<name>/<version>.json`` (kind is ``metadata`` or
``records``) and are addressed as ``name@version``. Validation errors are turned into
:class:`FieldError` values whose messages say which field broke which rule; a schema can
override the wording for a keyword with ``x-messages``.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable

import jsonschema
import re2
from jsonschema import Draft202012Validator

from .formats import CHECKERS, STANDARD_CHECKERS

ROOT = Path(__file__).resolve().parent
KINDS = ("metadata", "records")


@dataclass(frozen=True)
class FieldError:
    """One broken rule: the dotted path of the field, the JSON Schema keyword and a message."""

    path: str
    keyword: str
    message: str


def _format_checker() -> jsonschema.FormatChecker:
    checker = Draft202012Validator.FORMAT_CHECKER
    checker = jsonschema.FormatChecker(formats=list(checker.checkers))
    # Our own rules for the cn-* formats, and for "date" and "date-time" too: jsonschema's own
    # date-time check accepts a trailing newline, and the fast path must apply the same rule.
    for name, check in {**CHECKERS, **STANDARD_CHECKERS}.items():
        def _check(value, _check=check):
            if not isinstance(value, str):
                return True  # the "type" keyword reports non-strings
            message = _check(value)
            if message:
                raise ValueError(message)
            return True
        checker.checks(name, raises=ValueError)(_check)
    return checker


FORMAT_CHECKER = _format_checker()


def _translate(pattern: str, *, end: str, word: tuple[str, str, str] | None) -> str:
    """Rewrite an ECMA-262 pattern's ``$``, ``\\d``, ``\\D`` (and ``\\w``, ``\\W`` when ``word`` is given)."""
    out, in_class, i = [], False, 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\" and i + 1 < len(pattern):
            following = pattern[i + 1]
            if following == "d":
                out.append("0-9" if in_class else "[0-9]")
            elif following == "D" and not in_class:
                out.append("[^0-9]")
            elif following == "w" and word is not None:
                out.append(word[1] if in_class else word[0])
            elif following == "W" and word is not None and not in_class:
                out.append(word[2])
            else:
                out.append(char + following)
            i += 2
            continue
        if char == "[" and not in_class:
            in_class = True
        elif char == "]" and in_class:
            in_class = False
        elif char == "$":
            char = "\\$" if in_class else end
        out.append(char)
        i += 1
    return "".join(out)


def python_pattern(pattern: str) -> str:
    """Translate a JSON Schema (ECMA-262) ``pattern`` into the equivalent Python regular expression.

    Python's ``$`` also matches before a final newline, so ``^[a-z]+$`` would accept ``"abc\\n"``:
    ``$`` becomes ``\\Z`` (and a ``$`` inside a character class is escaped). ECMA's ``\\d`` means
    ASCII 0-9 only, while Python's also matches full-width and other Unicode digits: ``\\d``
    becomes ``[0-9]`` (``0-9`` inside a class) and ``\\D`` outside a class ``[^0-9]``.
    """
    return _translate(pattern, end="\\Z", word=None)


def re2_pattern(pattern: str) -> str:
    """Translate a JSON Schema (ECMA-262) ``pattern`` into RE2 syntax, meaning what :func:`python_pattern` means.

    ``$`` becomes ``\\z`` (RE2 has no ``\\Z``); ``\\d`` stays ASCII; ``\\w`` keeps the Unicode meaning the
    shipped profile relies on (Chinese data item names match ``[\\w \\-.]``): letters, digits and ``_``.
    """
    return _translate(pattern, end="\\z", word=("[\\p{L}\\p{N}_]", "\\p{L}\\p{N}_", "[^\\p{L}\\p{N}_]"))


class PatternError(ValueError):
    """A ``pattern`` the linear-time engine (RE2) cannot compile: backreferences, lookaround, bad syntax."""


_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.log_errors = False  # a refused pattern is reported to the caller, not written to stderr


@lru_cache(maxsize=4096)
def ecma_regex(pattern: str) -> "re2._Regexp":
    """Compile a JSON Schema (ECMA-262) pattern with RE2, whose matching time is linear in the input.

    Python's ``re`` backtracks: ``^(a+)+$`` takes seconds on 26 characters and doubles with each more.
    Raises :class:`PatternError` for what RE2 does not support (backreferences, lookaround).
    """
    try:
        return re2.compile(re2_pattern(pattern), _RE2_OPTIONS)
    except re2.error as exc:
        reason = exc.args[0].decode("utf-8", "replace") if exc.args and isinstance(exc.args[0], bytes) else str(exc)
        raise PatternError(f"{pattern!r} cannot be compiled by the linear-time regular expression engine "
                           f"(RE2: no backreferences or lookaround): {reason}") from None


def pattern_search(pattern: str, value: str) -> bool:
    """Whether ``value`` contains a match of the ECMA ``pattern`` (RE2; a lone surrogate counts as U+FFFD)."""
    regex = ecma_regex(pattern)
    try:
        return regex.search(value) is not None
    except UnicodeEncodeError:  # RE2 matches UTF-8, which cannot hold a lone surrogate
        return regex.search(value.encode("utf-8", "replace").decode("utf-8")) is not None


def _pattern(validator, pattern, instance, schema):
    if validator.is_type(instance, "string") and not pattern_search(pattern, instance):
        yield jsonschema.ValidationError(f"{instance!r} does not match {pattern!r}")


def _pattern_properties(validator, patterns, instance, schema):
    if not validator.is_type(instance, "object"):
        return
    for pattern, subschema in patterns.items():
        for key, value in instance.items():
            if pattern_search(pattern, key):
                yield from validator.descend(value, subschema, path=key, schema_path=pattern)


def _additional_properties(validator, additional, instance, schema):
    """jsonschema's ``additionalProperties`` with the ``patternProperties`` matched by RE2."""
    if not validator.is_type(instance, "object"):
        return
    properties = schema.get("properties", {})
    patterns = list(schema.get("patternProperties", {}))
    extras = [key for key in instance
              if key not in properties and not any(pattern_search(p, key) for p in patterns)]
    if validator.is_type(additional, "object"):
        for extra in extras:
            yield from validator.descend(instance[extra], additional, path=extra)
    elif not additional and extras:
        listed = ", ".join(repr(each) for each in sorted(extras, key=str))
        yield jsonschema.ValidationError(f"Additional properties are not allowed ({listed} unexpected)")


def _regex_format(value: Any) -> bool:
    """``format: regex``: the value must compile with RE2 (never Python's backtracking ``re``)."""
    if isinstance(value, str):
        ecma_regex(value)
    return True


FORMAT_CHECKER.checks("regex", raises=PatternError)(_regex_format)

_Draft202012 = jsonschema.validators.extend(Draft202012Validator, {
    "pattern": _pattern, "patternProperties": _pattern_properties,
    "additionalProperties": _additional_properties})


def list_schemas(kind: str) -> list[tuple[str, int]]:
    """Return ``(name, version)`` pairs of the documents of one kind, sorted."""
    found = []
    for path in sorted((ROOT / kind).glob("*/*.json")):
        found.append((path.parent.name, int(path.stem)))
    return sorted(found)


def parse_ref(ref: str) -> tuple[str, int]:
    """Split ``name@version`` into its parts; raise ``ValueError`` on a malformed reference."""
    name, sep, version = ref.partition("@")
    if not sep or not name or not version.isdigit():
        raise ValueError(f"schema reference {ref!r} must look like name@version, e.g. household@1")
    return name, int(version)


@lru_cache(maxsize=None)
def load_schema(kind: str, name: str, version: int) -> dict[str, Any]:
    """Read one shipped schema document; ``FileNotFoundError`` when there is none."""
    if kind not in KINDS:
        raise ValueError(f"unknown schema kind {kind!r}")
    path = ROOT / kind / name / f"{int(version)}.json"
    if not path.is_file():
        raise FileNotFoundError(f"no {kind} schema {name}@{version}")
    return json.loads(path.read_text(encoding="utf-8"))


def _path(parts: Iterable[Any]) -> str:
    return ".".join(str(p) for p in parts)


def _describe(error: jsonschema.ValidationError) -> Iterable[FieldError]:
    schema = error.schema if isinstance(error.schema, dict) else {}
    custom = schema.get("x-messages", {})
    keyword = error.validator
    base = list(error.absolute_path)
    if keyword == "required":
        instance = error.instance if isinstance(error.instance, dict) else {}
        for prop in error.validator_value:
            if prop not in instance:
                yield FieldError(_path(base + [prop]), "required", "Missing value")
        return
    if keyword == "additionalProperties" and error.validator_value is False and isinstance(error.instance, dict):
        # one error per unknown field, at the field's own path: "records.3.phone", not the record
        patterns = list(schema.get("patternProperties") or {})
        for name in error.instance:
            if name not in (schema.get("properties") or {}) and not any(pattern_search(p, name) for p in patterns):
                yield FieldError(_path(base + [name]), "additionalProperties",
                                 custom.get(keyword) or "unknown field: the schema does not declare it")
        return
    if keyword in custom:
        message = custom[keyword]
    elif keyword in ("anyOf", "oneOf"):
        message = _alternatives_message(error)
    elif keyword == "format" and error.cause is not None:
        message = str(error.cause)
    elif keyword == "format":
        message = f"must be a valid {error.validator_value}"
    elif keyword == "enum":
        message = "must be one of: " + ", ".join(str(v) for v in error.validator_value)
    elif keyword == "const":
        message = f"must be {error.validator_value!r}"
    elif keyword == "type":
        kind = error.validator_value
        kinds = kind if isinstance(kind, list) else [kind]
        message = "must be " + " or ".join(f"a{'n' if k[0] in 'aeiou' else ''} {k}" for k in kinds)
    elif keyword == "minLength" and error.validator_value == 1:
        message = "Missing value"
    elif keyword == "minLength":
        message = f"must be at least {error.validator_value} characters"
    elif keyword == "maxLength":
        message = f"must be at most {error.validator_value} characters"
    elif keyword == "minItems":
        message = f"must have at least {error.validator_value} entr{'y' if error.validator_value == 1 else 'ies'}"
    elif keyword == "maxItems":
        message = f"must have at most {error.validator_value} entries"
    elif keyword == "uniqueItems":
        message = "must not contain duplicates"
    elif keyword in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        op = {"minimum": ">=", "maximum": "<=", "exclusiveMinimum": ">", "exclusiveMaximum": "<"}[keyword]
        message = f"must be {op} {error.validator_value}"
    elif keyword == "additionalProperties":
        extra = sorted(set(error.instance) - set(schema.get("properties", {})))
        message = "unknown field(s): " + ", ".join(extra)
    elif keyword == "pattern":
        message = f"does not have the expected form ({error.validator_value})"
    else:
        message = error.message
    yield FieldError(_path(base), keyword or "false", message)


def _alternatives_message(error: jsonschema.ValidationError) -> str:
    """A readable message for a failed ``anyOf``/``oneOf``: what the closest alternative lacks."""
    if error.validator == "oneOf" and not error.context:
        return "must match exactly one of the allowed forms, but matches several"
    detail = ""
    if error.context:
        best = jsonschema.exceptions.best_match(error.context)
        described = next(iter(_describe(best)), None) if best is not None else None
        if described is not None:
            where = described.path[len(_path(error.absolute_path)):].lstrip(".")
            detail = f" ({where + ': ' if where else ''}{described.message})"
    return "must match one of the allowed forms" + detail


class SchemaValidator:
    """A compiled Draft 2020-12 validator that reports readable, field-named errors."""

    def __init__(self, schema: dict[str, Any]):
        Draft202012Validator.check_schema(schema)
        self.schema = schema
        self._validator = _Draft202012(schema, format_checker=FORMAT_CHECKER)

    def errors(self, document: Any) -> list[FieldError]:
        """Every broken rule of ``document``, deduplicated, in a stable order."""
        seen: dict[tuple[str, str], FieldError] = {}
        for error in self._validator.iter_errors(document):
            if error.validator in ("allOf", "if", "then"):
                continue  # jsonschema reports the failures inside these; they never come alone
            for field_error in _describe(error):
                seen.setdefault((field_error.path, field_error.message), field_error)
        return sorted(seen.values(), key=lambda e: (e.path, e.message))

    def is_valid(self, document: Any) -> bool:
        """Whether ``document`` satisfies the schema."""
        return self._validator.is_valid(document)


@lru_cache(maxsize=None)
def get_validator(kind: str, name: str, version: int) -> SchemaValidator:
    """The compiled validator of one shipped schema document (cached)."""
    return SchemaValidator(load_schema(kind, name, version))
