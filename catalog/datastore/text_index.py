"""The text index of DataStore records, kept behind the writes (issue 17): ``q`` without reading every record.

``datastore_text`` (migration 0021) holds one row per indexed record: its key and ``body``, the lower-cased
text of its values (strings and numbers, at any depth; field names are not in it), under a trigram index
(PostgreSQL ``pg_trgm`` GIN, SQLite FTS5 ``trigram``), so a substring of a value is found through the index,
CJK included. ``datastore_text_position`` says up to which change number a resource's records are in it.

The record writes never touch it (the write path's rate stays what it was): :func:`catch_up` reads the
changes after the position, as the change feed does, and writes their text in one statement per chunk,
computed by the database from the stored JSON. ``q`` (:func:`text_condition`) asks the index for records
whose change number is at or below the position, and matches the few records changed after it by
substring, so an answer is always complete and current whether or not the index has caught up.

A ``q`` read catches up a lag of at most :data:`READ_CATCH_UP` changes itself, in its own transaction
(which already writes the access log); a bigger lag (a bulk load, a first sync) is caught up by the sync
scheduler's tick (:func:`catch_up_lagging`, at most :data:`TICK_CHUNKS` chunks of every lagging table a tick)
and is answered meanwhile by the substring scan of the records after the position.
"""
from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session

from .models import DatastoreTable, Record

#: changes indexed per statement
CHUNK = 20_000
#: the characters of a trigram: a shorter ``q`` cannot be looked up in a trigram index
TRIGRAM = 3
#: the largest lag a ``q`` read catches up itself before searching
READ_CATCH_UP = 2_000
#: the chunks of each lagging table one scheduler tick indexes (the rest waits for the next tick)
TICK_CHUNKS = 5

#: the values of a record as text: strings and numbers at any depth, not field names
_PG_VALUES = ("lower(jsonb_path_query_array(r.data, 'strict $.** ? (@.type() == \"string\" || "
              "@.type() == \"number\")')::text)")
_SQLITE_VALUES = ("lower((SELECT group_concat(leaf.atom, char(10)) FROM json_tree(r.data) AS leaf "
                  "WHERE leaf.type IN ('text', 'integer', 'real')))")


def _postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def position(session: Session, resource_id: str) -> int:
    """The change number up to which ``resource_id``'s records are in the index (0: none)."""
    return session.execute(sa.text("SELECT seq FROM datastore_text_position WHERE resource_id = :r"),
                           {"r": resource_id}).scalar() or 0


def _lock_position(session: Session, resource_id: str, *, wait: bool) -> int | None:
    """Take the resource's position row until commit and return it (``None``: another session holds it and
    ``wait`` is false)."""
    postgres = _postgres(session)
    conflict = "ON CONFLICT (resource_id) DO NOTHING" if postgres else "ON CONFLICT DO NOTHING"
    session.execute(sa.text(f"INSERT INTO datastore_text_position (resource_id, seq) VALUES (:r, 0) {conflict}"),
                    {"r": resource_id})
    if not postgres:  # SQLite: the insert above made this transaction the single writer
        return position(session, resource_id)
    lock = "FOR UPDATE" if wait else "FOR UPDATE SKIP LOCKED"
    return session.execute(sa.text(f"SELECT seq FROM datastore_text_position WHERE resource_id = :r {lock}"),
                           {"r": resource_id}).scalar()


def catch_up(session: Session, table: DatastoreTable, *, limit: int = CHUNK, wait: bool = True) -> int:
    """Index the changes of ``table`` after its position, at most ``limit`` change numbers of them; returns
    how many change numbers the position moved (the caller commits).

    Changes are committed in number order (the writers' lock on the table), so every change up to the
    committed ``last_seq`` is visible here; a record rewritten meanwhile has moved above the range and is
    taken by a later call (until then ``q`` matches it by substring).
    """
    after = _lock_position(session, table.resource_id, wait=wait)
    if after is None:
        return 0
    newest = session.scalar(sa.select(DatastoreTable.last_seq).where(
        DatastoreTable.resource_id == table.resource_id)) or 0
    upto = min(newest, after + limit)
    if upto <= after:
        return 0
    params = {"r": table.resource_id, "after": after, "upto": upto}
    changed = "r.resource_id = :r AND r.seq > :after AND r.seq <= :upto"
    if _postgres(session):
        session.execute(sa.text(
            f"INSERT INTO datastore_text (resource_id, key, body) SELECT r.resource_id, r.key, {_PG_VALUES} "
            f"FROM datastore_record AS r WHERE {changed} AND NOT r.deleted "
            "ON CONFLICT (resource_id, key) DO UPDATE SET body = EXCLUDED.body"), params)
    else:
        session.execute(sa.text(
            f"INSERT INTO datastore_text (resource_id, key, body) SELECT r.resource_id, r.key, "
            f"coalesce({_SQLITE_VALUES}, '') FROM datastore_record AS r WHERE {changed} AND NOT r.deleted "
            "ON CONFLICT (resource_id, key) DO UPDATE SET body = excluded.body"), params)
    session.execute(sa.text(
        "DELETE FROM datastore_text WHERE resource_id = :r AND key IN "
        f"(SELECT r.key FROM datastore_record AS r WHERE {changed} AND r.deleted)"), params)
    session.execute(sa.text("UPDATE datastore_text_position SET seq = :upto WHERE resource_id = :r"), params)
    return upto - after


def catch_up_all(session: Session, table: DatastoreTable, *, chunk: int = CHUNK) -> int:
    """Index every change of ``table`` not yet indexed, committing after each chunk; returns the change
    numbers covered."""
    moved = total = 0
    while True:
        moved = catch_up(session, table, limit=chunk)
        session.commit()
        total += moved
        if not moved:
            return total


def like_pattern(q: str) -> tuple[str, str | None]:
    """``(pattern, escape)`` of a LIKE matching values that contain ``q`` (lower-cased, as the index's body).

    No escape character unless ``q`` needs one: SQLite's FTS5 index answers a LIKE only without ESCAPE.
    """
    text = q.lower()
    if any(c in text for c in "%_\\"):
        return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%", "\\"
    return "%" + text + "%", None


def _like(column: Any, pattern: str, escape: str | None) -> Any:
    return column.like(pattern, escape=escape) if escape else column.like(pattern)


def _index_matches(session: Session, resource_id: str, pattern: str, escape: str | None):
    """SELECT of the keys the index holds matching ``pattern`` (through the trigram index)."""
    if _postgres(session):
        text = sa.table("datastore_text", sa.column("resource_id"), sa.column("key"), sa.column("body"))
        # "resource_id || ''" is not the primary key's expression: the planner, which prices the trigram
        # index high and a resource's rows low, would otherwise read every row of the resource and test it
        return sa.select(text.c.key).where(sa.literal_column("datastore_text.resource_id || ''") == resource_id,
                                           _like(text.c.body, pattern, escape))
    text = sa.table("datastore_text", sa.column("id"), sa.column("resource_id"), sa.column("key"),
                    sa.column("body"))
    if len(pattern) - 2 < TRIGRAM:
        # FTS5's trigram index finds nothing for a LIKE of one or two CJK characters (SQLite 3.40; a
        # shorter text has no trigram to look up): read the text table instead
        return sa.select(text.c.key).where(text.c.resource_id == resource_id, _like(text.c.body, pattern, escape))
    fts = sa.table("datastore_text_fts", sa.column("rowid"), sa.column("body"))
    return sa.select(text.c.key).select_from(fts.join(text, text.c.id == fts.c.rowid)).where(
        _like(fts.c.body, pattern, escape), text.c.resource_id == resource_id)


def _key_in(session: Session, keys: list[str]) -> Any:
    """``Record.key`` among ``keys`` (up to the total threshold of them) as one bound value, not a placeholder
    per key: an array on PostgreSQL, a JSON list on SQLite."""
    if _postgres(session):
        return Record.key == sa.any_(sa.bindparam("text_keys", keys, type_=postgresql.ARRAY(sa.String)))
    return Record.key.in_(sa.select(sa.literal_column("value", sa.String)).select_from(
        sa.func.json_each(sa.bindparam("text_keys", json.dumps(keys), type_=sa.Text))))


def text_condition(session: Session, table: DatastoreTable, q: str, substring: Any,
                   threshold: int, *, common: bool = False, reach: int | None = None) -> tuple[Any, bool, int | None]:
    """``(condition, common, lower)``: "a value of the record contains ``q``" over ``Record``, through the index,
    whether the index holds more than ``threshold`` matches, and how many records match at least (``None``
    when ``common`` was given).

    ``substring`` is the same test over the record's JSON, for the records changed after the position.
    Up to ``threshold`` index matches, their keys are read once (through the trigram index) and the records
    found by key. More: each record on the page's path is asked about in the index by its key (a common
    word fills a page after a few records, where reading every match first would cost the whole list), and
    the total is over the threshold (estimated) unless other conditions narrow it. ``common``: the caller
    knows the word is common (an earlier page), so the matches are not read again. ``reach``: how many of
    the index's matches are read at most (``threshold + 1`` by default); ``lower`` is those read less the
    records changed after the position (each may have stopped matching).
    """
    indexed_upto = position(session, table.resource_id)
    if table.last_seq is not None and 0 < int(table.last_seq) - indexed_upto <= READ_CATCH_UP:
        catch_up(session, table, limit=READ_CATCH_UP, wait=False)
        indexed_upto = position(session, table.resource_id)
    tail = sa.and_(Record.seq > indexed_upto, substring)
    if not indexed_upto:
        return tail, False, None
    pattern, escape = like_pattern(q)
    keys = [] if common else list(session.scalars(
        _index_matches(session, table.resource_id, pattern, escape).limit(max(reach or 0, threshold + 1))))
    lower = None if common else max(len(keys) - max(int(table.last_seq or 0) - indexed_upto, 0), 0)
    if not common and len(keys) <= threshold:
        found = _key_in(session, keys) if keys else sa.false()
        return sa.or_(sa.and_(Record.seq <= indexed_upto, found), tail), False, lower
    probe = sa.text("SELECT t.body FROM datastore_text AS t WHERE t.resource_id = datastore_record.resource_id "
                    "AND t.key = datastore_record.key").columns(body=sa.Text).scalar_subquery()
    # "seq + 0": not the (resource, seq) index's expression, so the planner keeps to the key order
    unindexed_seq = Record.seq + 0
    return sa.or_(sa.and_(unindexed_seq <= indexed_upto, _like(probe, pattern, escape)),
                  sa.and_(unindexed_seq > indexed_upto, substring)), True, lower


def matches_through_index(session: Session, table: DatastoreTable, q: str, substring: Any) -> Any:
    """The condition of :func:`text_condition` with every index match read first (a semi-join): for a
    common word whose records lie far along the key order, where walking the key order is the dearer way."""
    indexed_upto = position(session, table.resource_id)
    pattern, escape = like_pattern(q)
    found = Record.key.in_(_index_matches(session, table.resource_id, pattern, escape))
    return sa.or_(sa.and_(Record.seq <= indexed_upto, found), sa.and_(Record.seq > indexed_upto, substring))


def catch_up_lagging(session: Session, *, chunk: int = CHUNK, chunks: int = TICK_CHUNKS) -> int:
    """Index up to ``chunks`` chunks of every table whose records are ahead of its text index, committing
    after each chunk; returns the change numbers covered. A table whose position another session holds (a
    ``q`` read catching up) is left for the next call. Called by the sync scheduler's tick."""
    lagging = session.scalars(sa.text(
        "SELECT t.resource_id FROM datastore_table AS t LEFT JOIN datastore_text_position AS p "
        "ON p.resource_id = t.resource_id WHERE t.last_seq > coalesce(p.seq, 0) ORDER BY t.resource_id")).all()
    session.rollback()  # the positions read above are not held while the tables are indexed
    total = 0
    for resource_id in lagging:
        table = session.get(DatastoreTable, resource_id)
        if table is None:
            continue
        for _ in range(chunks):
            moved = catch_up(session, table, limit=chunk, wait=False)
            session.commit()
            total += moved
            if not moved:
                break
    return total
