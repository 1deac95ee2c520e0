"""Search answers cached under the catalog version (:class:`catalog.search.models.CatalogVersion`).

A search's count, facets and page of ids depend only on its SQL statements, their parameters
and the catalog's state. The state is named by the version's tokens (8 rows since migration 0023),
one of which every write replaces in the database in the writer's own transaction (PostgreSQL: the
row of its transaction id modulo 8, so writers rarely wait for each other's row); the counts are
filed under the tokens read by the very statement that computed them (one snapshot), so a cached
answer is exact for its tokens. A reader reads the tokens first (one index range read): the same
tokens mean nothing it could see has changed since, any new one is a miss. Nothing here expires by clock.

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

#: How many version rows a writer chooses from (migration 0023).
SHARDS = 8
#: ``SELECT id, token`` of the version rows.
TOKENS = sa.select(CatalogVersion.id, CatalogVersion.token).order_by(CatalogVersion.id)


def token_of(rows) -> str | None:
    """One key of the version rows ``(id, token)``: their tokens in id order (None without any row)."""
    tokens = [token for _id, token in sorted(rows)]
    return ".".join(tokens) if tokens else None


def current_token(session: Session) -> str | None:
    """The catalog's version as this session sees it (None before migration 0018's row)."""
    return token_of(session.execute(TOKENS).all())


def advance(session: Session) -> None:
    """Give the catalog a new version (for writes no trigger sees: the FTS5 index on SQLite)."""
    if session.get_bind().dialect.name == "postgresql":  # the row of this transaction, as the triggers
        row = sa.func.txid_current() % SHARDS + 1
    else:
        row = 1
    session.execute(sa.update(CatalogVersion).where(CatalogVersion.id == row).values(token=uuid.uuid4().hex))


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
