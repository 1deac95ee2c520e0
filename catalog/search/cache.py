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

import contextlib
import threading
import uuid
from collections import OrderedDict
from typing import Any, Hashable, Iterable

import sqlalchemy as sa
from sqlalchemy.orm import Session

from . import delta
from .models import SHARDS, CatalogVersion, change_log

#: How many answers a process keeps (an answer is a count, at most a few facet lists and page ids).
MAX_ENTRIES = 512
#: Answers with more facet items than this (facet.limit=-1 over many tags) are not kept.
MAX_ITEMS = 5000

_entries: OrderedDict[Hashable, Any] = OrderedDict()
_lock = threading.Lock()

#: ``SELECT id, token`` of the version rows.
TOKENS = sa.select(CatalogVersion.id, CatalogVersion.token).order_by(CatalogVersion.id)


def token_of(rows) -> str | None:
    """One key of the version rows ``(id, token)``: their tokens in id order (None without any row)."""
    tokens = [token for _id, token in sorted(rows)]
    return ".".join(tokens) if tokens else None


def current_token(session: Session) -> str | None:
    """The catalog's version as this session sees it (None before migration 0018's row)."""
    return token_of(session.execute(TOKENS).all())


def advance(session: Session, dataset_ids: Iterable[str] | None = None) -> None:
    """Give the catalog a new version (for writes no trigger sees: the FTS5 index on SQLite) and log
    ``dataset_ids`` as changed (migration 0024; None: a write that can change any search)."""
    postgresql = session.get_bind().dialect.name == "postgresql"
    if postgresql:  # the row of this transaction, as the triggers
        row = sa.func.txid_current() % SHARDS + 1
    else:
        row = 1
    session.execute(sa.update(CatalogVersion).where(CatalogVersion.id == row).values(token=uuid.uuid4().hex))
    ids = [None] if dataset_ids is None else list(dict.fromkeys(dataset_ids))
    if not ids:
        return
    if postgresql:  # the triggers' function: the transaction's id with each entry, and the pruning
        session.execute(sa.text("SELECT search_change_log(CAST(:ids AS text[]))"), {"ids": ids})
    else:
        session.execute(sa.insert(change_log), [{"dataset_id": i} for i in ids])


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


@contextlib.contextmanager
def set_aside():
    """Compute without any cached answer or kept hits inside the block (a fresh computation, as after
    :func:`clear`), then put them back: the tests compare a followed answer with a fresh one."""
    with _lock:
        saved = OrderedDict(_entries)
        _entries.clear()
    try:
        with delta.set_aside():
            yield
    finally:
        with _lock:
            _entries.clear()
            _entries.update(saved)


def clear() -> None:
    """Forget every answer and every word search's kept hits (the benchmark's cold runs)."""
    with _lock:
        _entries.clear()
    delta.clear()
