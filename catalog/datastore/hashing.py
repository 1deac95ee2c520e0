"""The canonical JSON of a record and its content hash (stored beside it in ``datastore_record``).

Canonical: keys sorted, no spaces, non-ASCII kept, NaN and Infinity refused. Two records with the same
canonical text are the same record; the hash of that text lets a write skip unchanged records by
comparing 32 characters instead of documents. ``true`` and ``1`` differ (as JSON values they do).
"""
from __future__ import annotations

import hashlib
import json
from typing import Any

#: one encoder for every record (``json.dumps`` with these options builds a new one per call)
canonical_json = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), sort_keys=True,
                                  allow_nan=False).encode

_blake2b = hashlib.blake2b


def text_hash(text: str) -> str:
    """The content hash of a record's canonical JSON text."""
    return _blake2b(text.encode(), digest_size=16).hexdigest()


def content_hash(record: Any) -> str:
    """The content hash of a record (ValueError for NaN and Infinity, TypeError for non-JSON values)."""
    return text_hash(canonical_json(record))
