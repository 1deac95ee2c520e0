"""Counted key blocks: the live records of each DataStore table counted per key range (issue 17).

A deep ``offset`` in key order (CKAN's paging, kept beside the cursor) must not walk every record before
it. ``datastore_key_block`` splits a table's keys into ranges of about :data:`BLOCK` live records, each
with its count, written by every write that adds or removes a live key, in that write's transaction and
under the table's write lock (``service._lock``): an order-statistic index beside the primary key. A
page at offset ``n`` is one statement: the running sum of the blocks' counts finds the block holding
position ``n`` and how many live records come before it, and the primary key index skips the rest
(fewer than :data:`MOST`) from the block's low key. The blocks and the page are read in one snapshot, so
a page holds exactly the records a plain ``ORDER BY key OFFSET n`` would, whatever writers do meanwhile.

Blocks are split in halves above :data:`MOST` live records (the middle key reached by the primary key)
and a block under :data:`FEWEST` is merged into the one before it. Keys are compared in SQL only: the
database's collation orders the keys, and Python's ordering may differ from it (PostgreSQL).
"""
from __future__ import annotations

import json
from typing import Any, Iterable

import sqlalchemy as sa
from sqlalchemy.orm import Session

from .models import KeyBlock, Record

#: a block is split in halves above MOST live records and merged into the block before it below FEWEST
BLOCK = 1000
MOST = 2 * BLOCK
FEWEST = BLOCK // 4
#: the low key of every table's first block: below every key
FIRST = ""
#: written through the table (Core): the ORM would look for loaded blocks to keep in step, and there are none
_BLOCKS = KeyBlock.__table__


def first_block(session: Session, resource_id: str) -> None:
    """Give a new table its first block (every key at or above ``''``, none live yet)."""
    session.execute(sa.insert(_BLOCKS).values(resource_id=resource_id, low_key=FIRST, live=0))


def drop_blocks(session: Session, resource_id: str) -> None:
    """Remove a table's blocks (the table is dropped)."""
    session.execute(sa.delete(_BLOCKS).where(_BLOCKS.c.resource_id == resource_id))


#: PostgreSQL: each key's block (the greatest low key at or below it: ``width_bucket``'s binary search in the
#: table's low keys, sorted in the database's collation as every comparison here is), the keys counted per
#: block and added to its count; the new counts and what each block was given come back
_COUNT_PG = """
WITH lows AS MATERIALIZED (
    SELECT array_agg(low_key::text ORDER BY low_key) AS lows FROM datastore_key_block WHERE resource_id = :resource
), moved AS (
    SELECT lows.lows[width_bucket(k.key, lows.lows)] AS low_key, count(*) AS n
    FROM unnest(CAST(:keys AS text[])) AS k(key), lows GROUP BY 1)
UPDATE datastore_key_block AS b SET live = b.live + :change * moved.n FROM moved
WHERE b.resource_id = :resource AND b.low_key = moved.low_key
RETURNING b.low_key, b.live, moved.n
"""

#: SQLite: the same grouping (the keys as a JSON array); the counts are then written per block
_MOVED_SQLITE = """
SELECT (SELECT b.low_key FROM datastore_key_block AS b WHERE b.resource_id = :resource AND b.low_key <= k.value
        ORDER BY b.low_key DESC LIMIT 1) AS low, count(*) AS n
FROM json_each(:keys) AS k GROUP BY low
"""


def count_keys(session: Session, resource_id: str, keys: list[str], change: int) -> None:
    """Add ``change`` (1: the keys became live; -1: they were deleted) to the count of each key's block,
    then split or merge the blocks that left their bounds. Call under the table's write lock."""
    if not keys:
        return
    if session.get_bind().dialect.name == "postgresql":
        rows = session.execute(sa.text(_COUNT_PG), {"keys": keys, "resource": resource_id, "change": change}).all()
        counted = sum(n for _low, _live, n in rows)
        touched = [(low, live) for low, live, _n in rows]
    else:
        moved = session.execute(sa.text(_MOVED_SQLITE), {"keys": json.dumps(keys), "resource": resource_id}).all()
        counted = sum(n for low, n in moved if low is not None)
        session.execute(sa.update(_BLOCKS).where(_BLOCKS.c.resource_id == resource_id,
                                                  _BLOCKS.c.low_key == sa.bindparam("low"))
                        .values(live=_BLOCKS.c.live + sa.bindparam("moved", type_=sa.BigInteger)),
                        [{"low": low, "moved": change * n} for low, n in moved])
        touched = [tuple(row) for row in session.execute(sa.select(KeyBlock.low_key, KeyBlock.live).where(
            KeyBlock.resource_id == resource_id, KeyBlock.low_key.in_([low for low, _n in moved])))]
    if counted != len(keys):  # a table without its first block: never, unless a write went around this module
        raise RuntimeError(f"counted {counted} of {len(keys)} keys in the key blocks of {resource_id}")
    settle(session, resource_id, touched)


def settle(session: Session, resource_id: str, touched: Iterable[tuple[str, int]]) -> None:
    """Split the blocks among ``touched`` ``(low key, live)`` holding more than :data:`MOST` live records
    and merge those under :data:`FEWEST` into the block before them."""
    for low, live in sorted(touched, key=lambda item: item[1], reverse=True):
        if live > MOST:
            split(session, resource_id, low, live)
        elif live < FEWEST and low != FIRST:
            _merge(session, resource_id, low)


def split(session: Session, resource_id: str, low: str, live: int) -> None:
    """Split the block from ``low`` (``live`` live records) in halves until none holds more than
    :data:`MOST`: each cut is the key at the block's middle position, reached by the primary key from the
    block's low key (half a block read: about one record read per key added, amortized)."""
    pending = [(low, live)]
    while pending:
        low, live = pending.pop()
        if live <= MOST:
            continue
        half = live // 2
        # bounded by the next block: without statistics PostgreSQL may fetch and sort every later key of
        # the table rather than walk the primary key (160 ms for 50,000 keys in a scratch run)
        high = session.scalar(sa.select(sa.func.min(KeyBlock.low_key)).where(KeyBlock.resource_id == resource_id,
                                                                              KeyBlock.low_key > low))
        inside = [Record.key < high] if high is not None else []
        middle = session.scalar(sa.select(Record.key).where(
            Record.resource_id == resource_id, Record.deleted.is_(False), Record.key >= low, *inside)
            .order_by(Record.key).offset(half).limit(1))
        if middle is None:  # fewer records than counted: never, unless a write went around this module
            raise RuntimeError(f"the key block {low!r} of {resource_id} counts {live} records, holds fewer")
        session.execute(sa.update(_BLOCKS).where(_BLOCKS.c.resource_id == resource_id, _BLOCKS.c.low_key == low)
                        .values(live=half))
        session.execute(sa.insert(_BLOCKS).values(resource_id=resource_id, low_key=middle, live=live - half))
        pending += [(low, half), (middle, live - half)]


def _merge(session: Session, resource_id: str, low: str) -> None:
    """Fold the block from ``low`` into the block before it (its range and its count), unless that one
    would then pass :data:`MOST` (the counts read again: an earlier merge may have changed them)."""
    live = session.scalar(sa.select(KeyBlock.live).where(KeyBlock.resource_id == resource_id,
                                                         KeyBlock.low_key == low))
    if live is None:
        return
    before = session.execute(sa.select(KeyBlock.low_key, KeyBlock.live).where(
        KeyBlock.resource_id == resource_id, KeyBlock.low_key < low).order_by(KeyBlock.low_key.desc()).limit(1)).first()
    if before is None or before.live + live > MOST:
        return
    session.execute(sa.update(_BLOCKS).where(_BLOCKS.c.resource_id == resource_id,
                                              _BLOCKS.c.low_key == before.low_key).values(live=before.live + live))
    session.execute(sa.delete(_BLOCKS).where(_BLOCKS.c.resource_id == resource_id, _BLOCKS.c.low_key == low))


def live_records(session: Session, resource_id: str) -> int:
    """The live records of a table: the sum of its blocks' counts (no walk of the records)."""
    return int(session.scalar(sa.select(sa.func.coalesce(sa.func.sum(KeyBlock.live), 0)).where(
        KeyBlock.resource_id == resource_id)) or 0)


def _page_statement() -> Any:
    resource = sa.bindparam("block_resource", type_=sa.String)
    offset = sa.bindparam("block_offset", type_=sa.BigInteger)
    running = sa.select(KeyBlock.low_key, sa.cast(sa.func.sum(KeyBlock.live).over(order_by=KeyBlock.low_key)
                                                  - KeyBlock.live, sa.BigInteger).label("before")).where(
        KeyBlock.resource_id == resource).subquery("running")
    start = sa.select(running.c.low_key, running.c.before).where(running.c.before <= offset) \
        .order_by(running.c.low_key.desc()).limit(1).cte("block_start")
    return (sa.select(Record.key, Record.data)
            .where(Record.resource_id == resource, Record.deleted.is_(False),
                   Record.key >= sa.select(start.c.low_key).scalar_subquery())
            .order_by(Record.key)
            .offset(offset - sa.select(start.c.before).scalar_subquery())
            .limit(sa.bindparam("block_limit", type_=sa.BigInteger)))


#: the page statement, built once (the resource, offset and limit bound)
PAGE = _page_statement()


def offset_page(session: Session, resource_id: str, offset: int, limit: int) -> list[Any]:
    """``(key, data)`` of the live records at positions ``offset`` … ``offset + limit - 1`` in key order:
    the block holding position ``offset`` found by the running sum of the counts, the rest of the way
    skipped by the primary key from the block's low key, all in one statement (one snapshot)."""
    return session.execute(PAGE, {"block_resource": resource_id, "block_offset": offset,
                                  "block_limit": limit}).all()
