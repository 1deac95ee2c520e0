"""Search answers cached under the catalog version (:class:`catalog.search.models.CatalogVersion`).

A search's count, facets and page of ids depend only on its SQL statements, their parameters
and the catalog's state. The state is named by the version token, which every write replaces in
the database in the writer's own transaction; the counts are filed under the token read by the
very statement that computed them (one snapshot), so a cached answer is exact for its token. A
reader looks its token up first (one primary-key read): the same token means nothing it could
see has changed since, a new one is a miss. Nothing here expires by clock.

The cache lives in each process (a small LRU); a process that has not seen a search recomputes it.
"""
from __future__ import annotations

import threading
import uuid
from collections import OrderedDict
from typing import Any, Hashable

import sqlalchemy as sa
from sqlalchemy.orm import Session

from .models import CatalogVersion

#: How many answers a process keeps (an answer is a count, at most a few facet lists and page ids).
MAX_ENTRIES = 512
#: Answers with more facet items than this (facet.limit=-1 over many tags) are not kept.
MAX_ITEMS = 5000

_entries: OrderedDict[Hashable, Any] = OrderedDict()
_lock = threading.Lock()

#: ``SELECT token`` of the version row, for adding to the statement that computes an answer.
TOKEN = sa.select(CatalogVersion.token).where(CatalogVersion.id == 1)


def current_token(session: Session) -> str | None:
    """The catalog's version token as this session sees it (None before migration 0018's row)."""
    return session.scalar(TOKEN)


def advance(session: Session) -> None:
    """Give the catalog a new version (for writes no trigger sees: the FTS5 index on SQLite)."""
    session.execute(sa.update(CatalogVersion).where(CatalogVersion.id == 1)
                    .values(token=uuid.uuid4().hex))


def get(key: Hashable) -> Any | None:
    with _lock:
        value = _entries.get(key)
        if value is not None:
            _entries.move_to_end(key)
        return value


def put(key: Hashable, value: Any) -> None:
    with _lock:
        _entries[key] = value
        _entries.move_to_end(key)
        while len(_entries) > MAX_ENTRIES:
            _entries.popitem(last=False)


def clear() -> None:
    """Forget every answer (the benchmark's cold runs)."""
    with _lock:
        _entries.clear()
