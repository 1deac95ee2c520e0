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
  those of the transactions the snapshot could not see (``xid IN xip OR xid >= xmax``: ``xmax`` is
  one past the newest *finished* transaction, so a transaction that took its id before the snapshot
  but is newer than every finished one is in neither the list nor below ``xmax``, and its entries can
  be numbered below the position). A state is advanced only by a reader whose snapshot contains the state's (every transaction
  visible to the state is visible to the reader), else recomputed in full.
* A reader whose transaction wrote (its own uncommitted entries) answers from a copy and leaves the
  shared state alone (PostgreSQL: ``txid_current_if_assigned()``; SQLite: a statement that was not
  a read on the connection since its last commit or rollback).
* A "recompute everything" entry (departments, memberships, a truncation, the index rebuilt), more
  than :data:`BOUND` datasets, or a position older than the pruned horizon recompute in full.

Searches without words (``fq``, field conditions) are kept the same way: their hits statement has
no score (every hit scores 0) and the same sort keys.

Kept hits are bounded in total (:data:`MAX_KEPT_HITS`); a query with more hits than
:data:`MAX_STATE_HITS` is answered but not kept, and remembered as too big (:func:`too_big`: the
caller counts it in the database instead). Sort keys are compared in Python, so only orders on
numbers and times, ``id`` ascending (the last tie-breaker: ids are UUIDs, which sort alike in
code-point order, SQLite's binary collation and PostgreSQL's) and title or name where the database
compares text by code point (SQLite's binary collation; PostgreSQL's ``C``, ``POSIX`` and
``C.UTF-8``: :func:`eligible`) are kept; other orders are computed as before.
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

from ..datasets.models import Dataset
from ..db import jit_off
from .models import CatalogVersion, change_horizon, change_log, facet_member, version_rows

#: Changed datasets one update re-evaluates at most (more: a full computation).
BOUND = 1000
#: Hits a query may have to be kept.
MAX_STATE_HITS = 150_000
#: Hits kept across all queries of the process (least recently used states go first).
MAX_KEPT_HITS = 400_000
#: The sort keys compared in Python (numbers and times); ``id`` only ascending.
NUMERIC_KEYS = ("score", "metadata_modified", "metadata_created", "num_resources", "num_tags")
#: Text sort keys, compared in Python only where the database compares them by code point; ``name``
#: (a slug) before ``title`` (any text: the last field of a hit's row).
TEXT_KEYS = ("name", "title")
#: PostgreSQL collations that order text by code point (UTF-8's byte order), as Python compares str.
CODE_POINT_COLLATIONS = frozenset({"C", "POSIX", "C.UTF-8", "C.utf8", "ucs_basic"})
#: Queries remembered as having more hits than MAX_STATE_HITS (at most this many).
MAX_BIG = 256
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
    # Only SQLite's connections carry the mark; and an invalidated connection (its server gone) must not be
    # touched: reading its ``info`` would try to reconnect inside the failed transaction (PendingRollbackError
    # instead of the outage's own error).
    if conn.dialect.name != "sqlite" or conn.invalidated:
        return
    conn.info.pop(_WROTE, None)


@event.listens_for(sa.pool.Pool, "reset")
def _connection_reset(_dbapi_connection, record, _reset_state):
    record.info.pop(_WROTE, None)


# -- kept states --------------------------------------------------------------------------------

class State:
    """One query's hits at one position of the log."""

    def __init__(self, facet_fields: list[str]):
        self.facet_fields = facet_fields
        #: id -> (sort key, facet values: ``(facet number, value)`` pairs)
        self.hits: dict[str, tuple[tuple, tuple]] = {}
        #: the sort keys in order (each ends with the id)
        self.order: list[tuple] = []
        #: ``(facet number, value)`` -> how many hits have it
        self.counts: Counter = Counter()
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
        del self.order[bisect.bisect_left(self.order, key)]
        counts = self.counts
        for value in values:
            counts[value] -= 1
            if counts[value] <= 0:
                del counts[value]

    def add(self, dataset_id: str, key: tuple, values: tuple) -> None:
        self.hits[dataset_id] = (key, values)
        bisect.insort(self.order, key)
        self.counts.update(values)

    def copy(self) -> "State":
        other = copy.copy(self)
        other.hits = dict(self.hits)
        other.order = list(self.order)
        other.counts = Counter(self.counts)
        other.lock = threading.Lock()
        return other

    def answer(self, start: int, rows: int) -> tuple[int, dict[str, list[tuple[str, int]]], list[str]]:
        """The count, the counts per facet value and the page's ids."""
        counted: dict[str, list[tuple[str, int]]] = {name: [] for name in self.facet_fields}
        for (number, value), n in self.counts.items():
            counted[self.facet_fields[number]].append((value, n))
        return len(self.hits), counted, [key[-1] for key in self.order[start:start + rows]]


_states: OrderedDict[Hashable, State] = OrderedDict()
#: Queries whose last full computation had more hits than MAX_STATE_HITS (not kept: see too_big).
_big: OrderedDict[Hashable, None] = OrderedDict()
_lock = threading.Lock()
#: How answers were made: ``full`` (every hit read), ``followed`` (the changed datasets applied to a kept
#: state), ``aside`` (applied to a copy: the reader's transaction wrote), ``counted`` (too many hits to keep:
#: counted and paged by the database in the same statement). For the benchmark and the tests.
stats: Counter = Counter()


def _kept() -> int:
    return sum(len(state.hits) for state in _states.values())


def _remember_big(key: Hashable) -> None:
    with _lock:
        _states.pop(key, None)
        _big[key] = None
        _big.move_to_end(key)
        while len(_big) > MAX_BIG:
            _big.popitem(last=False)


def _keep(key: Hashable, state: State) -> None:
    if len(state.hits) > MAX_STATE_HITS:
        _remember_big(key)
        return
    with _lock:
        _states.pop(key, None)
        _big.pop(key, None)
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


def too_big(key: Hashable) -> bool:
    """Whether the query had too many hits to keep when last computed: reading every hit's row costs more
    than counting them in the database, and nothing would be kept to follow."""
    with _lock:
        return key in _big


def clear() -> None:
    """Forget every kept state (the benchmark's cold runs, the tests' fresh computations)."""
    with _lock:
        _states.clear()
        _big.clear()


@contextlib.contextmanager
def set_aside():
    """Answer without the kept states inside the block (a fresh computation), then put them back."""
    with _lock:
        saved, big = OrderedDict(_states), OrderedDict(_big)
        _states.clear()
        _big.clear()
    try:
        yield
    finally:
        with _lock:
            _states.clear()
            _states.update(saved)
            _big.clear()
            _big.update(big)


def kept_hits() -> int:
    """How many hits the process keeps (for the benchmark's memory line)."""
    with _lock:
        return _kept()


# -- the statement --------------------------------------------------------------------------------

_collations: dict[str, bool] = {}


def code_point_order(session: Session) -> bool:
    """Whether the database orders ``dataset.title`` and ``name`` by code point (read once per database)."""
    engine = session.get_bind().engine
    if engine.dialect.name == "sqlite":
        return True  # BINARY: memcmp of UTF-8, the code-point order
    url = str(engine.url)
    if url not in _collations:
        names = session.execute(sa.text(
            "SELECT coalesce(c.collation_name, d.datcollate) FROM information_schema.columns c "
            "CROSS JOIN pg_database d WHERE d.datname = current_database() AND c.table_schema = current_schema() "
            "AND c.table_name = 'dataset' AND c.column_name IN ('title', 'name')")).scalars().all()
        _collations[url] = bool(names) and all(name in CODE_POINT_COLLATIONS for name in names)
    return _collations[url]


def eligible(order: list[tuple[str, bool]], session: Session | None = None) -> bool:
    """Whether an order's keys compare in Python as in the database (numbers, times, id ascending; title
    and name where ``session``'s database orders them by code point)."""
    texts = False
    for key, desc in order:
        if key in TEXT_KEYS:
            texts = True
        elif not (key in NUMERIC_KEYS or (key == "id" and not desc)):
            return False
    return not texts or (session is not None and code_point_order(session))


class _Desc:
    """A text sort key in descending order (a str cannot be negated)."""

    __slots__ = ("value",)

    def __init__(self, value):
        self.value = value

    def __lt__(self, other: "_Desc") -> bool:
        return other.value < self.value

    def __eq__(self, other) -> bool:
        return isinstance(other, _Desc) and self.value == other.value

    __hash__ = None


def _text_key(field: str, desc: bool, postgresql: bool):
    """A text column's sort key from its field (``""`` for NULL, else ``v`` and the text): NULL is larger
    than any text on PostgreSQL (last ascending, first descending), smaller on SQLite."""
    key = (0, field[1:]) if field else ((1, "") if postgresql else (-1, ""))
    return _Desc(key) if desc else key


#: Separates the fields of a hit's row (sort keys, department, column facets: no value holds it).
FIELD = "\x1e"


def _texts(order: list[tuple[str, bool]]) -> list[str]:
    """The text sort keys an order needs, in the order of a hit's fields."""
    keys = {key for key, _desc in order}
    return [key for key in TEXT_KEYS if key in keys]


def _statement(session: Session, hits_select: sa.Select, facet_fields: list[str],
               since: tuple[int, int | None, frozenset[int]] | None,
               texts: list[str] = (), page: tuple[list[tuple[str, bool]], int, int] | None = None
               ) -> sa.CompoundSelect:
    """One statement (one snapshot): a row per hit (all, or those among the datasets logged since
    ``since`` = (position, snapshot's xmax, its running transactions)) with its sort keys and facet values, then rows naming the
    log position, the horizon, the version tokens, the snapshot and, with ``since``, the logged ids.

    With ``page`` (order, start, rows; a full computation) also the number of hits, and when that is more
    than :data:`MAX_STATE_HITS` no hit rows (they would not be kept) but the counts per facet value and the
    page's ids, computed by the database."""
    postgresql = session.get_bind().dialect.name == "postgresql"
    parts_meta = []
    if since is not None:
        pos, xmax, xids = since
        unseen = [change_log.c.seq > pos]
        if xmax is not None:  # PostgreSQL: the transactions the snapshot could not see
            unseen += [change_log.c.xid.in_(sorted(xids)), change_log.c.xid >= xmax]
        logged = sa.select(change_log.c.dataset_id).where(sa.or_(*unseen)).distinct().limit(BOUND + 1)
        changed = logged.cte("changed")
        if postgresql:
            changed = changed.prefix_with("MATERIALIZED")
        hits_select = hits_select.where(Dataset.id.in_(sa.select(changed.c.dataset_id)))
        parts_meta.append(sa.select(sa.literal("#changed"), changed.c.dataset_id, sa.null(), sa.null()))
    hits = hits_select.cte("hits").prefix_with("MATERIALIZED")
    text = sa.String()

    # A hit is two text values (a row of a few text columns converts far faster than one of a dozen typed
    # ones): its sort keys separated by FIELD (times as microseconds since the epoch on PostgreSQL, as stored,
    # ISO text, on SQLite; text sort keys last, as a title may hold FIELD), and its facet values, each as
    # ``facet:length:value`` (unambiguous whatever a value holds): department and column facets from the hit,
    # tags, formats and themes from the member rows the facet counts' triggers keep per dataset (migration
    # 0023: the same values, exact in every snapshot) aggregated per hit through the index on their dataset
    # (a join read all 3,000,000 member rows at 300,000 datasets for a few ten thousand hits). Hits share
    # few distinct facet strings, so the reader decodes each once and counts them by multiplicity.
    def micros(column):
        if postgresql:
            return sa.cast(sa.cast(sa.extract("epoch", column) * 1000000, sa.BigInteger), text)
        return sa.cast(column, text)

    def encoded(name: str, value) -> sa.ColumnElement:
        return sa.literal(f"{name}:").op("||")(sa.cast(sa.func.length(value), text)).op("||")(":").op("||")(value)

    fields = [sa.cast(hits.c.score, text) if "score" in hits.c else sa.literal("0"),
              micros(hits.c.metadata_modified), micros(hits.c.metadata_created),
              *(sa.cast(hits.c[key], text) if key in hits.c else sa.literal("0") for key in ("num_resources", "num_tags")),
              # "v" before a text key's value (NULL stays "")
              *(sa.literal("v").op("||")(hits.c[key]) for key in texts)]
    packed = None
    for field in fields:
        field = sa.func.coalesce(field, "")
        packed = field if packed is None else packed.op("||")(sa.literal(FIELD, sa.String)).op("||")(field)
    facet_parts = []
    for name in facet_fields:
        if name == "organization" or name in COLUMN_FACETS:
            column = sa.cast(hits.c.owner_org if name == "organization" else hits.c[f"f_{name}"], text)
            facet_parts.append(sa.case((sa.func.coalesce(column, "") == "", ""), else_=encoded(name, column)))
    listed = [name for name in facet_fields if name not in COLUMN_FACETS and name != "organization"]
    if listed:
        member = facet_member.alias("m")
        piece = encoded("", member.c.value)  # the facet's name is the member row's own column
        piece = member.c.facet.op("||")(piece)
        aggregate = sa.func.string_agg(piece, sa.literal_column("''")) if postgresql else \
            sa.func.group_concat(piece, "")
        facet_parts.append(sa.func.coalesce(
            sa.select(aggregate).where(member.c.dataset_id == hits.c.id, member.c.facet.in_(listed))
            .scalar_subquery(), ""))
    facet_text = None
    for part in facet_parts:
        facet_text = part if facet_text is None else facet_text.op("||")(part)
    if facet_text is None:
        facet_text = sa.literal("")
    hit_rows = sa.select(sa.literal("#hit").label("kind"), hits.c.id.label("id"), sa.cast(packed, text).label("value"),
                         sa.cast(facet_text, text).label("facets"))
    if page is not None:
        # A query with too many hits to keep (a word in nearly every dataset): reading each hit's row and facet
        # values only to drop them cost 7-11 s at 184,500-300,000 hits; the database counts and pages them instead
        # (a one-time filter: the branches that do not apply are not run).
        # counted once (each reference to a scalar sub-select of the hits counted them again)
        counted = sa.select(sa.func.count().label("n")).select_from(hits).cte("counted").prefix_with("MATERIALIZED")
        total = sa.select(counted.c.n).scalar_subquery()
        too_many = total > MAX_STATE_HITS
        hit_rows = hit_rows.where(total <= MAX_STATE_HITS)
        parts_meta.append(sa.select(sa.literal("#count"), sa.cast(total, text), sa.null(), sa.null()))
        count = sa.cast(sa.func.count(), text)
        for name in facet_fields:
            if name == "organization" or name in COLUMN_FACETS:
                column = sa.cast(hits.c.owner_org if name == "organization" else hits.c[f"f_{name}"], text)
                parts_meta.append(sa.select(sa.literal("#facet"), sa.literal(name), column, count)
                                  .where(too_many, column.is_not(None), column != "").group_by(column))
        if listed:
            member = facet_member.alias("counted")
            parts_meta.append(sa.select(sa.literal("#facet"), member.c.facet, member.c.value, count)
                              .select_from(member.join(hits, hits.c.id == member.c.dataset_id))
                              .where(too_many, member.c.facet.in_(listed)).group_by(member.c.facet, member.c.value))
        # the page: its rows first (a bounded sort), then numbered (a window over every hit sorted them all)
        order, start, rows = page
        keys = list(dict.fromkeys([key for key, _desc in order] + ["metadata_modified"]))
        cut = (sa.select(hits.c.id, *(hits.c[key] for key in keys if key != "id")).where(too_many)
               .order_by(*[(hits.c[key].desc() if desc else hits.c[key].asc()) for key, desc in order],
                         hits.c.metadata_modified.desc(), hits.c.id)
               .offset(start).limit(rows).subquery("cut"))
        sort = [(cut.c[key].desc() if desc else cut.c[key].asc()) for key, desc in order]
        sort += [cut.c.metadata_modified.desc(), cut.c.id]
        parts_meta.append(sa.select(sa.literal("#page"), cut.c.id,
                                    sa.cast(sa.func.row_number().over(order_by=sort), text), sa.null()))
    meta = [sa.select(sa.literal("#version"), CatalogVersion.token, sa.cast(CatalogVersion.id, text), sa.null())
            .where(version_rows()),
            sa.select(sa.literal("#pos"), sa.cast(sa.func.coalesce(sa.func.max(change_log.c.seq), 0), text),
                      sa.null(), sa.null()),
            sa.select(sa.literal("#horizon"), sa.cast(change_horizon.c.seq, text), sa.cast(change_horizon.c.xid, text),
                      sa.null())]
    if postgresql:
        meta.append(sa.select(sa.literal("#snapshot"), sa.cast(sa.func.txid_current_snapshot(), text),
                              sa.cast(sa.func.txid_current_if_assigned(), text), sa.null()))
    meta += parts_meta
    return sa.union_all(hit_rows, *meta)


def _micros(moment) -> int:
    if isinstance(moment, str):
        moment = dt.datetime.fromisoformat(moment)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.timezone.utc)
    return (moment - _EPOCH) // _MICRO


#: Where each numeric sort key is among a hit's fields, and whether it is a time.
_COLUMNS = {"score": (0, False), "metadata_modified": (1, True), "metadata_created": (2, True),
            "num_resources": (3, False), "num_tags": (4, False)}


def _decode(text: str, numbers: dict[str, int]) -> tuple:
    """The ``(facet number, value)`` pairs of a hit's facet string (``facet:length:value`` after each other)."""
    values, at, end, intern = [], 0, len(text), sys.intern
    while at < end:
        colon = text.index(":", at)
        second = text.index(":", colon + 1)
        stop = second + 1 + int(text[colon + 1:second])
        values.append((numbers[text[at:colon]], intern(text[second + 1:stop])))
        at = stop
    return tuple(values)


class _Read:
    """What one run of the statement returned."""

    def __init__(self, session: Session, fetched: list[tuple], facet_fields: list[str],
                 order: list[tuple[str, bool]]):
        numbers = {name: number for number, name in enumerate(facet_fields)}
        texts = _texts(order)
        splits = 5 + len(texts) - 1  # the last text field is the rest of the row
        # (field, is a time, descending); a text key's field is ("text", its index among the fields)
        plan = [(None, False, False) if name == "id" else
                (("text", 5 + texts.index(name)), False, desc) if name in TEXT_KEYS else
                (*_COLUMNS[name], desc)
                for name, desc in [*order, ("metadata_modified", True)]]
        versions, self.changed, self.snapshot, self.own = [], set(), None, False
        #: with a page asked (a full computation): the number of hits, and when too many to keep, the counts per
        #: facet value and the page's ids from the database
        self.total, self.counted, ranked = None, {name: [] for name in facet_fields}, []
        self.pos, self.horizon = 0, (0, 0)
        postgresql = session.get_bind().dialect.name == "postgresql"
        relevance = postgresql and plan == [(0, False, True), (1, True, True), (1, True, True)]
        #: id -> (sort key, facet values); hits with the same facet string share one decoded tuple (memory)
        self.hits: dict[str, tuple[tuple, tuple]] = {}
        #: facet string -> how many hits have it (the counts are taken per distinct string)
        self.facet_strings: Counter = Counter()
        decoded: dict[str, tuple] = {}
        hits, strings = self.hits, []
        for kind, dataset_id, packed, facets in fetched:
            if kind == "#hit":
                if relevance:  # the usual order: most words in the title, then the newest
                    score, modified, _rest = packed.split(FIELD, 2)
                    modified = -int(modified)
                    key = (-float(score or 0), modified, modified, dataset_id)
                else:
                    fields = packed.split(FIELD, splits) if texts else packed.split(FIELD)
                    key = []
                    for index, is_time, desc in plan:
                        if index is None:
                            key.append(dataset_id)
                            continue
                        if type(index) is tuple:  # a text key
                            key.append(_text_key(fields[index[1]], desc, postgresql))
                            continue
                        value = fields[index]
                        if is_time:
                            value = int(value) if postgresql else _micros(value)
                        else:
                            value = float(value) if value else 0
                        key.append(-value if desc else value)
                    key.append(dataset_id)
                    key = tuple(key)
                values = decoded.get(facets)
                if values is None:
                    values = decoded[facets] = _decode(facets, numbers)
                hits[dataset_id] = (key, values)
                strings.append(facets)
            elif kind == "#version":
                versions.append((int(packed), dataset_id))
            elif kind == "#pos":
                self.pos = int(dataset_id)
            elif kind == "#horizon":
                self.horizon = (int(dataset_id), int(packed))
            elif kind == "#snapshot":
                xmin, xmax, xip = dataset_id.split(":")
                self.snapshot = (int(xmin), int(xmax), frozenset(int(x) for x in xip.split(",") if x))
                self.own = packed is not None
            elif kind == "#changed":
                self.changed.add(dataset_id)
            elif kind == "#count":
                self.total = int(dataset_id)
            elif kind == "#facet":
                self.counted[dataset_id].append((packed, int(facets)))
            elif kind == "#page":
                ranked.append((int(packed), dataset_id))
        self.page_ids = [dataset_id for _n, dataset_id in sorted(ranked)]
        self.facet_strings.update(strings)
        self._decoded = decoded
        self.token = ".".join(token for _id, token in sorted(versions)) if versions else None
        if session.get_bind().dialect.name == "sqlite":
            self.own = bool(session.connection().info.get(_WROTE))

    def counts(self) -> Counter:
        """``(facet number, value)`` -> how many hits have it (each distinct facet string decoded once)."""
        counts: Counter = Counter()
        decoded = self._decoded
        for facets, n in self.facet_strings.items():
            for value in decoded[facets]:
                counts[value] += n
        return counts


def _execute(session: Session, statement: sa.CompoundSelect) -> list[tuple]:
    """The statement's rows (every column is text: the driver's rows, not SQLAlchemy's); on PostgreSQL run
    without JIT compilation (its estimated cost, above ``jit_above_cost`` from a few thousand hits on, made
    PostgreSQL compile the per-hit expressions: the members of 58,380 hits at 300,000 datasets aggregated in
    0.86 s with JIT, 0.50-0.59 s without), the transaction's own setting put back after it (:func:`jit_off`)."""
    with jit_off(session):
        result = session.execute(statement)
        fetched = result.cursor.fetchall()
        result.close()
    return fetched


def snapshot_contains(reader: tuple[int, int, frozenset[int]], state: tuple[int, int, frozenset[int]]) -> bool:
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
    read = _Read(session, _execute(session, _statement(session, hits_select, facet_fields, None, _texts(order),
                                                      (order, start, rows))),
                 facet_fields, order)
    if read.total is not None and read.total > MAX_STATE_HITS:  # counted by the database, nothing to keep
        stats["counted"] += 1
        _remember_big(key)
        return (read.total, read.counted, read.page_ids), read.token
    state = State(facet_fields)
    state.hits = read.hits
    state.counts = read.counts()
    state.order = sorted(sort_key for sort_key, _values in read.hits.values())
    state.pos, state.snapshot, state.token = read.pos, read.snapshot, read.token
    stats["full"] += 1
    result = state.answer(start, rows)  # before another request can find (and move) the state
    if not read.own:
        _keep(key, state)
    return result, read.token


def _advance(session: Session, key: Hashable, state: State, hits_select: sa.Select, facet_fields: list[str],
             order: list[tuple[str, bool]], start: int, rows: int):
    """The state moved to this snapshot by the datasets logged since, or None (recompute in full)."""
    with state.lock:
        pos, snapshot = state.pos, state.snapshot
    xmin, xmax, xip = snapshot if snapshot else (0, None, frozenset())
    read = _Read(session, _execute(session, _statement(session, hits_select, facet_fields, (pos, xmax, xip),
                                                      _texts(order))),
                 facet_fields, order)
    if None in read.changed or len(read.changed) > BOUND:
        return None
    if read.horizon[0] > pos or read.horizon[1] > xmin:
        # entries this read needed were pruned: above pos, or of a transaction the snapshot could not see
        # (all at or after its xmin, and pruning keeps entries at or after the xmin of its own time)
        return None
    with state.lock:
        # Another request may have moved the state since ``pos`` (only ever forward): what this read
        # found since ``pos`` covers what changed after the state's snapshot if this snapshot contains it.
        if state.snapshot is not None:
            if read.snapshot is None or not snapshot_contains(read.snapshot, state.snapshot):
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
