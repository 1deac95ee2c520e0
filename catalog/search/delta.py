"""Word searches kept up to date from the catalogue's change log (migration 0024) instead of recomputed.

A search with words keeps, per query (its hits statement, facets and order, not its page), every
hit's sort key and facet values, the counts per facet value and the hits in order, with the log
position and (PostgreSQL) the snapshot they were read in. After a write, instead of recounting
tens of thousands of matches, one statement reads the log since that position and runs the *same*
hits statement restricted to the datasets logged there (``Dataset.id IN changed``: visibility, fq,
words and flags mean exactly what they mean in a full computation), in one snapshot. Those
datasets' hits are replaced, the counts adjusted by the differences and the page cut again from the
ordered hits. A hit's score and sort keys depend on the dataset alone (``index.matches`` counts the
query words in its own title tokens), so each changed dataset is re-evaluated alone; doing one
twice is harmless, missing one is not:

* PostgreSQL numbers entries before commit, so an entry can commit after a higher one. A state
  records its snapshot (``xmin:xmax:xip``); the next read takes the entries above its position and
  those of the transactions the snapshot saw running (``xid IN xip``), which are all it could not
  see. A state is advanced only by a reader whose snapshot contains the state's (every transaction
  visible to the state is visible to the reader), else recomputed in full.
* A reader whose transaction wrote (its own uncommitted entries) answers from a copy and leaves the
  shared state alone (PostgreSQL: ``txid_current_if_assigned()``; SQLite: a statement that was not
  a read on the connection since its last commit or rollback).
* A "recompute everything" entry (departments, memberships, a truncation, the index rebuilt), more
  than :data:`BOUND` datasets, or a position older than the pruned horizon recompute in full.

Kept hits are bounded in total (:data:`MAX_KEPT_HITS`); a query with more hits than
:data:`MAX_STATE_HITS` is answered but not kept. Sort keys are compared in Python, so only orders
on numbers and times (and ``id`` ascending, the last tie-breaker: code-point order, as the
database's C collation and SQLite's binary one) are kept; a sort on title or name is computed as
before.
"""
from __future__ import annotations

import bisect
import contextlib
import copy
import datetime as dt
import re
import sys
import threading
from collections import Counter, OrderedDict
from typing import Hashable

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import Session

from ..datasets.models import Dataset, Resource, Tag, dataset_tag
from ..groups.models import DatasetGroup
from .models import CatalogVersion, change_horizon, change_log

#: Changed datasets one update re-evaluates at most (more: a full computation).
BOUND = 1000
#: Hits a query may have to be kept.
MAX_STATE_HITS = 150_000
#: Hits kept across all queries of the process (least recently used states go first).
MAX_KEPT_HITS = 400_000
#: The sort keys compared in Python (numbers and times); ``id`` only ascending.
NUMERIC_KEYS = ("score", "metadata_modified", "metadata_created", "num_resources", "num_tags")
#: Facets that are a dataset column.
COLUMN_FACETS = ("share_type", "update_cycle", "open_type", "category", "license_id")

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
_MICRO = dt.timedelta(microseconds=1)
_READS = re.compile(r"\s*(SELECT|PRAGMA|BEGIN|SAVEPOINT|RELEASE|EXPLAIN|COMMIT|ROLLBACK)\b", re.IGNORECASE)
_WRITES = re.compile(r"\b(INSERT|UPDATE|DELETE|REPLACE)\b", re.IGNORECASE)
_WROTE = "catalog.search.wrote"


# -- SQLite: did this transaction write? --------------------------------------------------------

@event.listens_for(sa.engine.Engine, "before_cursor_execute")
def _note_write(conn, _cursor, statement, _parameters, _context, _executemany):
    if conn.dialect.name != "sqlite" or conn.info.get(_WROTE):
        return
    text = statement.lstrip()
    if text[:4].upper() == "WITH":
        wrote = _WRITES.search(text) is not None
    else:
        wrote = _READS.match(text) is None
    if wrote:
        conn.info[_WROTE] = True


@event.listens_for(sa.engine.Engine, "commit")
@event.listens_for(sa.engine.Engine, "rollback")
def _transaction_ended(conn):
    conn.info.pop(_WROTE, None)


@event.listens_for(sa.pool.Pool, "reset")
def _connection_reset(_dbapi_connection, record, _reset_state):
    record.info.pop(_WROTE, None)


# -- kept states --------------------------------------------------------------------------------

class State:
    """One query's hits at one position of the log."""

    def __init__(self, facet_fields: list[str]):
        self.facet_fields = facet_fields
        #: id -> (sort key, facet values: a tuple of value tuples in ``facet_fields`` order)
        self.hits: dict[str, tuple[tuple, tuple]] = {}
        #: the sort keys in order (each ends with the id)
        self.order: list[tuple] = []
        self.counts: dict[str, Counter] = {name: Counter() for name in facet_fields}
        self.pos = 0
        #: PostgreSQL: (xmin, xmax, in-progress ids) of the snapshot the state is exact for
        self.snapshot: tuple[int, int, frozenset[int]] | None = None
        self.token: str | None = None
        self.lock = threading.Lock()

    def remove(self, dataset_id: str) -> None:
        old = self.hits.pop(dataset_id, None)
        if old is None:
            return
        key, values = old
        at = bisect.bisect_left(self.order, key)
        del self.order[at]
        for name, items in zip(self.facet_fields, values):
            counter = self.counts[name]
            for value in items:
                counter[value] -= 1
                if counter[value] <= 0:
                    del counter[value]

    def add(self, dataset_id: str, key: tuple, values: tuple) -> None:
        self.hits[dataset_id] = (key, values)
        bisect.insort(self.order, key)
        for name, items in zip(self.facet_fields, values):
            self.counts[name].update(items)

    def copy(self) -> "State":
        other = copy.copy(self)
        other.hits = dict(self.hits)
        other.order = list(self.order)
        other.counts = {name: Counter(counter) for name, counter in self.counts.items()}
        other.lock = threading.Lock()
        return other

    def answer(self, start: int, rows: int) -> tuple[int, dict[str, list[tuple[str, int]]], list[str]]:
        """The count, the counts per facet value and the page's ids."""
        counted = {name: list(counter.items()) for name, counter in self.counts.items()}
        return len(self.hits), counted, [key[-1] for key in self.order[start:start + rows]]


_states: OrderedDict[Hashable, State] = OrderedDict()
_lock = threading.Lock()
#: How answers were made: ``full`` (every hit read), ``followed`` (the changed datasets applied to a kept
#: state), ``aside`` (applied to a copy: the reader's transaction wrote). For the benchmark and the tests.
stats: Counter = Counter()


def _kept() -> int:
    return sum(len(state.hits) for state in _states.values())


def _keep(key: Hashable, state: State) -> None:
    with _lock:
        _states.pop(key, None)
        if len(state.hits) > MAX_STATE_HITS:
            return
        _states[key] = state
        total = _kept()
        while total > MAX_KEPT_HITS and len(_states) > 1:
            _old_key, old = _states.popitem(last=False)
            total -= len(old.hits)


def _get(key: Hashable) -> State | None:
    with _lock:
        state = _states.get(key)
        if state is not None:
            _states.move_to_end(key)
        return state


def clear() -> None:
    """Forget every kept state (the benchmark's cold runs, the tests' fresh computations)."""
    with _lock:
        _states.clear()


@contextlib.contextmanager
def set_aside():
    """Answer without the kept states inside the block (a fresh computation), then put them back."""
    with _lock:
        saved = OrderedDict(_states)
        _states.clear()
    try:
        yield
    finally:
        with _lock:
            _states.clear()
            _states.update(saved)


def kept_hits() -> int:
    """How many hits the process keeps (for the benchmark's memory line)."""
    with _lock:
        return _kept()


# -- the statement --------------------------------------------------------------------------------

def eligible(order: list[tuple[str, bool]]) -> bool:
    """Whether an order's keys compare in Python as in the database (numbers, times, id ascending)."""
    return all(key in NUMERIC_KEYS or (key == "id" and not desc) for key, desc in order)


def _statement(session: Session, hits_select: sa.Select, facet_fields: list[str], order: list[tuple[str, bool]],
               since: tuple[int, frozenset[int]] | None) -> sa.CompoundSelect:
    """One statement (one snapshot): the hits (all, or those among the datasets logged since
    ``since`` = (position, transaction ids)), their facet values, the log position, the horizon,
    the version tokens, the snapshot and, with ``since``, the logged ids."""
    postgresql = session.get_bind().dialect.name == "postgresql"
    parts_meta = []
    if since is not None:
        pos, xids = since
        logged = sa.select(change_log.c.dataset_id).where(
            sa.or_(change_log.c.seq > pos, change_log.c.xid.in_(sorted(xids)))).distinct().limit(BOUND + 1)
        changed = logged.cte("changed")
        if postgresql:
            changed = changed.prefix_with("MATERIALIZED")
        hits_select = hits_select.where(Dataset.id.in_(sa.select(changed.c.dataset_id)))
        parts_meta.append(sa.select(sa.literal("#changed"), changed.c.dataset_id, sa.null()))
    hits = hits_select.cte("hits").prefix_with("MATERIALIZED")
    text = sa.String()
    score_type = hits.c.score.type
    time_type = hits.c.metadata_modified.type

    def counted(key: str):
        return hits.c[key] if key in hits.c else sa.cast(sa.null(), sa.Integer)

    rows = [sa.select(sa.literal("#hit").label("kind"), hits.c.id.label("id"), hits.c.owner_org.label("value"),
                      hits.c.score.label("score"), hits.c.metadata_modified.label("modified"),
                      hits.c.metadata_created.label("created"), counted("num_resources").label("num_resources"),
                      counted("num_tags").label("num_tags"))]
    blanks = (sa.cast(sa.null(), score_type), sa.cast(sa.null(), time_type), sa.cast(sa.null(), time_type),
              sa.cast(sa.null(), sa.Integer), sa.cast(sa.null(), sa.Integer))

    def member(select: sa.Select) -> sa.Select:
        return select.add_columns(*blanks)

    for name in facet_fields:
        label = sa.literal(name)
        if name in COLUMN_FACETS:
            column = hits.c[f"f_{name}"]
            rows.append(member(sa.select(label, hits.c.id, column).where(column.is_not(None))))
        elif name == "tags":
            rows.append(member(sa.select(label, dataset_tag.c.dataset_id, Tag.name).select_from(
                dataset_tag.join(hits, hits.c.id == dataset_tag.c.dataset_id).join(Tag, Tag.id == dataset_tag.c.tag_id))))
        elif name == "groups":
            rows.append(member(sa.select(label, DatasetGroup.dataset_id, DatasetGroup.group_name)
                               .join(hits, hits.c.id == DatasetGroup.dataset_id)))
        elif name == "res_format":
            formats = (sa.select(Resource.package_id.label("dataset_id"), sa.func.upper(Resource.format).label("fmt"))
                       .distinct().join(hits, hits.c.id == Resource.package_id)
                       .where(Resource.format.is_not(None), Resource.format != "").subquery("formats"))
            rows.append(member(sa.select(label, formats.c.dataset_id, formats.c.fmt)))
        # organization: the hit row's value
    meta = [sa.select(sa.literal("#version"), CatalogVersion.token, sa.cast(CatalogVersion.id, text)),
            sa.select(sa.literal("#pos"), sa.cast(sa.func.coalesce(sa.func.max(change_log.c.seq), 0), text),
                      sa.null()),
            sa.select(sa.literal("#horizon"), sa.cast(change_horizon.c.seq, text), sa.cast(change_horizon.c.xid, text))]
    if postgresql:
        meta.append(sa.select(sa.literal("#snapshot"), sa.cast(sa.func.txid_current_snapshot(), text),
                              sa.cast(sa.func.txid_current_if_assigned(), text)))
    meta += parts_meta
    rows += [member(select) for select in meta]
    return sa.union_all(*rows)


def _micros(moment) -> int:
    if isinstance(moment, str):
        moment = dt.datetime.fromisoformat(moment)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.timezone.utc)
    return (moment - _EPOCH) // _MICRO


def _sort_key(order: list[tuple[str, bool]], row) -> tuple:
    """A hit's key: ascending tuples in the order's sense, then newest first, then the id."""
    values = {"score": row.score or 0, "metadata_modified": _micros(row.modified),
              "metadata_created": _micros(row.created), "num_resources": row.num_resources or 0,
              "num_tags": row.num_tags or 0}
    key = []
    for name, desc in [*order, ("metadata_modified", True)]:
        if name == "id":
            key.append(row.id)
        else:
            key.append(-values[name] if desc else values[name])
    key.append(row.id)
    return tuple(key)


class _Read:
    """What one run of the statement returned."""

    def __init__(self, session: Session, result, facet_fields: list[str], order: list[tuple[str, bool]]):
        self.rows: dict[str, tuple] = {}
        members: dict[str, dict[str, list[str]]] = {}
        versions, self.changed, self.snapshot, self.own = [], set(), None, False
        self.pos, self.horizon = 0, (0, 0)
        intern = sys.intern
        for row in result:
            kind = row.kind
            if kind == "#hit":
                self.rows[row.id] = (_sort_key(order, row), intern(row.value))
            elif kind == "#version":
                versions.append((int(row.value), row.id))
            elif kind == "#pos":
                self.pos = int(row.id)
            elif kind == "#horizon":
                self.horizon = (int(row.id), int(row.value))
            elif kind == "#snapshot":
                xmin, xmax, xip = row.id.split(":")
                self.snapshot = (int(xmin), int(xmax), frozenset(int(x) for x in xip.split(",") if x))
                self.own = row.value is not None
            elif kind == "#changed":
                self.changed.add(row.id)
            else:
                members.setdefault(row.id, {}).setdefault(kind, []).append(intern(row.value))
        self.token = ".".join(token for _id, token in sorted(versions)) if versions else None
        if session.get_bind().dialect.name == "sqlite":
            self.own = bool(session.connection().info.get(_WROTE))
        self.hits = {}
        for dataset_id, (key, owner) in self.rows.items():
            found = members.get(dataset_id, {})
            values = tuple((owner,) if name == "organization" else tuple(dict.fromkeys(found.get(name, ())))
                           for name in facet_fields)
            self.hits[dataset_id] = (key, values)


def _contains(reader: tuple[int, int, frozenset[int]], state: tuple[int, int, frozenset[int]]) -> bool:
    """Whether every transaction visible in snapshot ``state`` is visible in snapshot ``reader``."""
    r_xmin, r_xmax, r_xip = reader
    s_xmin, s_xmax, s_xip = state
    if any(t < s_xmax and t not in s_xip for t in r_xip):
        return False  # running for the reader, finished for the state
    if r_xmax < s_xmax:  # the state saw transactions the reader's snapshot does not know
        unknown = s_xmax - r_xmax
        return unknown <= len([t for t in s_xip if t >= r_xmax]) and \
            all(t in s_xip for t in range(r_xmax, s_xmax))
    return True


def answer(session: Session, key: Hashable, hits_select: sa.Select, facet_fields: list[str],
           order: list[tuple[str, bool]], start: int, rows: int
           ) -> tuple[tuple[int, dict[str, list[tuple[str, int]]], list[str]], str | None]:
    """``((count, counts per facet value, page ids), token)`` of a word search, kept up to date."""
    state = _get(key)
    if state is not None:
        found = _advance(session, key, state, hits_select, facet_fields, order, start, rows)
        if found is not None:
            return found
    read = _Read(session, session.execute(_statement(session, hits_select, facet_fields, order, None)),
                 facet_fields, order)
    state = State(facet_fields)
    for dataset_id, (sort_key, values) in read.hits.items():
        state.hits[dataset_id] = (sort_key, values)
        for name, items in zip(facet_fields, values):
            state.counts[name].update(items)
    state.order = sorted(sort_key for sort_key, _values in read.hits.values())
    state.pos, state.snapshot, state.token = read.pos, read.snapshot, read.token
    stats["full"] += 1
    if not read.own:
        _keep(key, state)
    return state.answer(start, rows), read.token


def _advance(session: Session, key: Hashable, state: State, hits_select: sa.Select, facet_fields: list[str],
             order: list[tuple[str, bool]], start: int, rows: int):
    """The state moved to this snapshot by the datasets logged since, or None (recompute in full)."""
    with state.lock:
        pos, snapshot = state.pos, state.snapshot
    xip = snapshot[2] if snapshot else frozenset()
    read = _Read(session, session.execute(_statement(session, hits_select, facet_fields, order, (pos, xip))),
                 facet_fields, order)
    if None in read.changed or len(read.changed) > BOUND:
        return None
    if read.horizon[0] > pos or any(xid < read.horizon[1] for xid in xip):
        return None  # entries this read needed were pruned (those above pos, those of the transactions in xip)
    with state.lock:
        # Another request may have moved the state since ``pos`` (only ever forward): what this read
        # found since ``pos`` covers what changed after the state's snapshot if this snapshot contains it.
        if state.snapshot is not None:
            if read.snapshot is None or not _contains(read.snapshot, state.snapshot):
                return None
        elif read.pos < state.pos:
            return None  # SQLite: an older snapshot than the state's
        target = state.copy() if read.own else state
        for dataset_id in read.changed:
            target.remove(dataset_id)
            hit = read.hits.get(dataset_id)
            if hit is not None:
                target.add(dataset_id, *hit)
        if not read.own:
            state.pos, state.snapshot, state.token = read.pos, read.snapshot, read.token
        result = target.answer(start, rows)
    stats["aside" if read.own else "followed"] += 1
    if not read.own:
        _keep(key, state)  # its size changed
    return result, read.token
