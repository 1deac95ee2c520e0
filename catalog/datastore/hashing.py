"""The canonical JSON of a record and its content hash (stored beside it in ``datastore_record``).

Canonical: keys sorted, no spaces, non-ASCII kept, NaN and Infinity refused, a whole number written
as a float (``2.0``, ``1e+20``) written as the integer (``2``): JSON has one kind of number, and 2 and 2.0
are the same value. Two records with the same canonical text are the same record; the hash of that text
lets a write skip unchanged records by comparing 32 characters instead of documents. ``true`` and ``1``
differ (as JSON values they do).
"""
from __future__ import annotations

import hashlib
import json
import re
from typing import Any

#: one encoder for every record (``json.dumps`` with these options builds a new one per call)
_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), sort_keys=True, allow_nan=False).encode

#: how Python writes a whole-number float (2.0, -0.0, 1e+20); also matches such text inside strings,
#: which only costs the walk below for nothing
_WHOLE_FLOAT = re.compile(r"\d\.0(?:[,\]}]|$)|\de\+")


def _whole_floats_as_ints(value: Any) -> Any:
    if isinstance(value, float):
        return int(value) if value.is_integer() else value
    if isinstance(value, dict):
        return {key: _whole_floats_as_ints(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_whole_floats_as_ints(item) for item in value]
    return value


def canonical_json(record: Any) -> str:
    """The canonical JSON text of a record (ValueError for NaN and Infinity, TypeError for non-JSON)."""
    text = _encode(record)
    if (".0" in text or "e+" in text) and _WHOLE_FLOAT.search(text):  # substring tests first: cheaper
        text = _encode(_whole_floats_as_ints(record))
    return text

_blake2b = hashlib.blake2b


def text_hash(text: str) -> str:
    """The content hash of a record's canonical JSON text."""
    return _blake2b(text.encode(), digest_size=16).hexdigest()


def content_hash(record: Any) -> str:
    """The content hash of a record (ValueError for NaN and Infinity, TypeError for non-JSON values)."""
    return text_hash(canonical_json(record))


def encode_record(record: Any) -> tuple[str, str] | None:
    """A record's canonical JSON text and its content hash, as a write stores them; None when the
    record is not JSON (the write then says which value). A sync makes these in its transform worker,
    beside the mapping, and hands them to the write (``upsert_records(encoded=…)``)."""
    try:
        text = canonical_json(record)
    except (TypeError, ValueError):
        return None
    return text, text_hash(text)


def source_hash(row_digest: str, content_digest: str) -> str:
    """What a sync stores beside a record it wrote (``datastore_record.source_hash``): the digest of the
    source row it made the record from (row, mapping and schema fingerprints; computed by the engine)
    bound to the record's content hash. It therefore matches a later row's digest only while the record
    still holds what that row made: a write by anyone else (the API, a deletion) that changes the content
    invalidates it, with no writer having to know about it."""
    return _blake2b(f"{row_digest}:{content_digest}".encode(), digest_size=16).hexdigest()
