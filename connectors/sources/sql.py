"""A table or query of any database SQLAlchemy can reach, read in keyset pages.

With a ``cursor_field`` (e.g. ``updated_at``) and a ``primary_key`` the rows are read in pages
ordered by (cursor, key), each page starting after the last row of the one before::

    WHERE (cursor > :c) OR (cursor = :c AND key > :k) ORDER BY cursor, key LIMIT :page_size

so rows sharing a cursor value are neither lost nor read twice across pages or runs. A checkpoint
follows every row: ``{"cursor": <value>, "key": <value or list for a composite key>}``, plus
``"types": {"cursor": "datetime"}`` when a value is not plain JSON (date, datetime, time, decimal),
so it is bound back as the database returned it. Rows whose cursor is NULL cannot be placed in that
order and are not read (a warning says how many). Without a cursor the key alone orders the pages;
with neither, the table is streamed once without checkpoints.

A source only reads, and the database is told so: SQLite files are opened read-only
(``mode=ro``) with ``PRAGMA query_only``; PostgreSQL sessions start with
``default_transaction_read_only`` and every transaction is ``READ ONLY``; MySQL/MariaDB sessions are
``TRANSACTION READ ONLY``. On PostgreSQL a login that is a superuser is refused unless the config
says ``allow_superuser`` (a superuser can read server files with ``pg_read_file``, whatever the
transaction mode): give the source a role that may only SELECT what it needs.
"""
from __future__ import annotations

import datetime as dt
import decimal
import logging
from pathlib import Path
from typing import Any, Iterator

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from ..base import Checkpoint, Row, Source, SourceError, Stream, TransientSourceError

__all__ = ["SqlSource", "decode_state", "encode_state"]

log = logging.getLogger(__name__)

_DECODERS = {"datetime": dt.datetime.fromisoformat, "date": dt.date.fromisoformat,
             "time": dt.time.fromisoformat, "decimal": decimal.Decimal}


def _encode(value: Any) -> tuple[Any, str | None]:
    for name, kind in (("datetime", dt.datetime), ("date", dt.date), ("time", dt.time)):
        if isinstance(value, kind):
            return value.isoformat(), name
    if isinstance(value, decimal.Decimal):
        return str(value), "decimal"
    return value, None


def encode_state(cursor: tuple[str, Any] | None, key: list[Any]) -> dict[str, Any]:
    """The JSON state after a row: its cursor value (when there is a cursor) and key value(s)."""
    state: dict[str, Any] = {}
    types: dict[str, Any] = {}
    if cursor is not None:
        state["cursor"], kind = _encode(cursor[1])
        if kind:
            types["cursor"] = kind
    encoded = [_encode(v) for v in key]
    if len(encoded) == 1:
        state["key"] = encoded[0][0]
        if encoded[0][1]:
            types["key"] = encoded[0][1]
    else:
        state["key"] = [v for v, _k in encoded]
        if any(k for _v, k in encoded):
            types["key"] = [k for _v, k in encoded]
    if types:
        state["types"] = types
    return state


def decode_state(state: dict[str, Any], has_cursor: bool, key_size: int) -> list[Any]:
    """The (cursor, key...) values of a state, as the database returned them."""
    types = state.get("types", {})

    def value(raw: Any, kind: str | None) -> Any:
        return _DECODERS[kind](raw) if kind and raw is not None else raw

    values = [value(state.get("cursor"), types.get("cursor"))] if has_cursor else []
    keys = state.get("key")
    if key_size == 1:
        values.append(value(keys, types.get("key")))
    else:
        kinds = types.get("key") or [None] * key_size
        if not isinstance(keys, list) or len(keys) != key_size:
            raise SourceError(f"the saved sync state {state} does not fit a {key_size}-column key")
        values.extend(value(v, k) for v, k in zip(keys, kinds))
    return values


def _after(columns: list[Any], values: list[Any]) -> Any:
    """(c0, c1, …) > (v0, v1, …) in lexicographic order, written portably (no row values)."""
    params = [sa.literal(v, type_=sa.types.NullType()) for v in values]
    condition = columns[-1] > params[-1]
    for column, param in zip(reversed(columns[:-1]), reversed(params[:-1])):
        condition = sa.or_(column > param, sa.and_(column == param, condition))
    return condition


class SuperuserRefused(SourceError):
    """The login is a PostgreSQL superuser and the config does not allow it."""


def _keys(config: dict[str, Any], stream: Stream | None) -> tuple[str | None, list[str]]:
    cursor = config.get("cursor_field") or (stream.cursor_field if stream else None)
    key = config.get("primary_key") or (stream.primary_key if stream else None) or []
    return cursor, [key] if isinstance(key, str) else list(key)


class SqlSource(Source):
    """A database table or query (SQLAlchemy URL)."""

    name = "sql"

    def spec(self) -> dict[str, Any]:
        """url and exactly one of table/query; cursor_field, primary_key, page_size."""
        key = {"oneOf": [{"type": "string", "minLength": 1},
                         {"type": "array", "items": {"type": "string", "minLength": 1}, "minItems": 1}]}
        return {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "type": "object",
            "required": ["url"],
            "additionalProperties": False,
            "oneOf": [{"required": ["table"]}, {"required": ["query"]}],
            "properties": {
                "url": {"type": "string", "minLength": 1,
                        "description": "SQLAlchemy URL, e.g. postgresql+psycopg://user@host/db"},
                "table": {"type": "string", "minLength": 1, "description": "name or schema.name"},
                "query": {"type": "string", "minLength": 1, "description": "a SELECT statement"},
                "cursor_field": {"type": "string", "minLength": 1},
                "primary_key": key,
                "page_size": {"type": "integer", "minimum": 1, "default": 1000},
                "allow_superuser": {"type": "boolean", "default": False,
                                    "description": "PostgreSQL: accept a superuser login (refused by default)"},
            },
        }

    def check(self, config: dict[str, Any]) -> None:
        """The config fits the spec; a SQLite database file exists."""
        if isinstance(config, dict) and bool(config.get("table")) == bool(config.get("query")):
            raise SourceError("invalid sql source configuration: give either table or query (one of them)")
        super().check(config)
        self._url(config)

    def discover(self, config: dict[str, Any]) -> list[Stream]:
        """One stream: the table (with its reflected primary key) or the query."""
        engine = self._engine(config)
        try:
            cursor, key = _keys(config, None)
            with engine.connect() as conn:
                if config.get("table"):
                    schema, _, name = config["table"].rpartition(".")
                    inspector = sa.inspect(conn)
                    fields = [c["name"] for c in inspector.get_columns(name, schema=schema or None)]
                    key = key or inspector.get_pk_constraint(name, schema=schema or None).get(
                        "constrained_columns", [])
                else:
                    fields = list(conn.execute(sa.select(sa.literal_column("*"))
                                               .select_from(self._source(config)).limit(0)).keys())
            return [Stream(name=config.get("table") or "query", fields=fields, primary_key=list(key),
                           cursor_field=cursor)]
        except sa.exc.NoSuchTableError:
            raise SourceError(f"the database has no table {config['table']!r}") from None
        except sa.exc.SQLAlchemyError as exc:
            raise self._translate(exc, "reading the table's columns") from exc
        finally:
            engine.dispose()

    def read(self, config: dict[str, Any], stream: Stream,
             state: dict[str, Any] | None) -> Iterator[Row | Checkpoint]:
        """Rows after ``state`` in (cursor, key) order, a checkpoint after each one."""
        cursor, key = _keys(config, stream)
        order = ([cursor] if cursor else []) + key
        engine = self._engine(config)
        try:
            with engine.connect() as conn:
                source = self._source(config)
                if not order:
                    yield from self._stream_all(conn, source)
                    return
                if cursor and not state:
                    self._warn_null_cursors(conn, source, cursor)
                yield from self._pages(conn, source, cursor, key, state, config.get("page_size", 1000))
        except sa.exc.SQLAlchemyError as exc:
            raise self._translate(exc, "reading") from exc
        finally:
            engine.dispose()

    # --- reading -----------------------------------------------------------------------------

    def _pages(self, conn: Any, source: Any, cursor: str | None, key: list[str],
               state: dict[str, Any] | None, page_size: int) -> Iterator[Row | Checkpoint]:
        order = ([cursor] if cursor else []) + key
        columns = [sa.column(name) for name in order]
        last = decode_state(state, cursor is not None, len(key)) if state else None
        number = 0
        while True:
            query = sa.select(sa.literal_column("*")).select_from(source)
            if cursor:
                query = query.where(sa.column(cursor).is_not(None))
            if last is not None:
                query = query.where(_after(columns, last))
            page = conn.execute(query.order_by(*columns).limit(page_size)).mappings().all()
            conn.rollback()  # end the read transaction: no session sits "idle in transaction" between pages
            for data in page:
                missing = [name for name in order if name not in data]
                if missing:
                    raise SourceError(f"the rows have no column {missing[0]!r}; columns: {', '.join(data)}")
                number += 1
                yield Row(dict(data), number)
                last = [data[name] for name in order]
                yield Checkpoint(encode_state((cursor, last[0]) if cursor else None,
                                              last[1:] if cursor else last))
            if len(page) < page_size:
                return

    def _stream_all(self, conn: Any, source: Any) -> Iterator[Row]:
        result = conn.execution_options(stream_results=True, yield_per=1000).execute(
            sa.select(sa.literal_column("*")).select_from(source))
        for number, data in enumerate(result.mappings(), start=1):
            yield Row(dict(data), number)

    def _warn_null_cursors(self, conn: Any, source: Any, cursor: str) -> None:
        nulls = conn.execute(sa.select(sa.func.count()).select_from(source)
                             .where(sa.column(cursor).is_(None))).scalar_one()
        if nulls:
            log.warning("%d rows have no %s (NULL) and are not read: the cursor column must be filled",
                        nulls, cursor)

    # --- connecting --------------------------------------------------------------------------

    def _url(self, config: dict[str, Any]) -> sa.URL:
        try:
            url = make_url(config["url"])
        except (sa.exc.ArgumentError, ValueError) as exc:  # ValueError: a port that is not a number
            raise SourceError(f"not a database URL: {exc}") from exc
        if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:") \
                and not url.database.startswith("file:") and not Path(url.database).is_file():
            raise SourceError(f"file not found: {url.database}")  # SQLite would create an empty one
        return url

    def _engine(self, config: dict[str, Any]) -> sa.Engine:
        """A read-only engine (see the module docstring) that refuses a PostgreSQL superuser."""
        url = self._url(config)
        backend = url.get_backend_name()
        options: dict[str, Any] = {}
        if backend == "sqlite" and url.database not in (None, "", ":memory:") and not url.database.startswith("file:"):
            # an URI filename opened with mode=ro: SQLite itself refuses every write to the file
            path = Path(url.database).resolve()
            url = url.set(database=f"file:{path}", query={**url.query, "mode": "ro", "uri": "true"})
        elif backend == "postgresql":
            options["connect_args"] = {"options": "-c default_transaction_read_only=on"}
        try:
            engine = sa.create_engine(url, poolclass=sa.pool.NullPool, **options)
        except (sa.exc.ArgumentError, sa.exc.NoSuchModuleError, ImportError) as exc:
            raise SourceError(f"cannot use the database URL {url.render_as_string(hide_password=True)}: "
                              f"{exc}") from exc
        allow_superuser = bool(config.get("allow_superuser"))

        @sa.event.listens_for(engine, "connect")
        def _read_only_session(dbapi_connection, _record) -> None:
            cursor = dbapi_connection.cursor()
            try:
                if backend == "sqlite":
                    cursor.execute("PRAGMA query_only = ON")
                elif backend in ("mysql", "mariadb"):
                    cursor.execute("SET SESSION TRANSACTION READ ONLY")
                elif backend == "postgresql":
                    cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
                    row = cursor.fetchone()
                    if row and row[0] and not allow_superuser:
                        raise SuperuserRefused(
                            f"the database login of {url.render_as_string(hide_password=True)} is a PostgreSQL "
                            "superuser, which can read any file of the database server: connect as a role that "
                            "may only SELECT the tables it needs (docs/CONNECTORS.md), or set allow_superuser "
                            "on the connection")
            finally:
                cursor.close()
            if backend == "postgresql":
                dbapi_connection.commit()  # the role check ran in a transaction of its own

        if backend == "postgresql":
            @sa.event.listens_for(engine, "begin")
            def _read_only_transaction(conn) -> None:
                # also per transaction: a SELECT cannot turn a READ ONLY transaction read-write
                cursor = conn.connection.cursor()  # the DBAPI cursor: no streaming options of the read
                try:
                    cursor.execute("SET TRANSACTION READ ONLY")
                finally:
                    cursor.close()

        return engine

    def _source(self, config: dict[str, Any]) -> Any:
        if config.get("table"):
            schema, _, name = config["table"].rpartition(".")
            return sa.table(name, schema=schema or None)
        return sa.text(config["query"].strip().rstrip(";")).columns().subquery("src")

    def _translate(self, exc: sa.exc.SQLAlchemyError, doing: str) -> SourceError:
        """A database error as a user-facing message; connection trouble is transient."""
        if isinstance(getattr(exc, "orig", None), SuperuserRefused):
            return SourceError(str(exc.orig))
        message = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        transient = isinstance(exc, (sa.exc.DisconnectionError, sa.exc.TimeoutError)) or (
            isinstance(exc, sa.exc.DBAPIError) and exc.connection_invalidated)
        if isinstance(exc, sa.exc.OperationalError):
            sqlite = type(exc.orig).__module__.startswith("sqlite3")
            # SQLite reports a missing table as OperationalError too; only lock contention passes
            transient = transient or not sqlite or "locked" in message or "busy" in message
        text = f"database error while {doing}: {message}"
        return TransientSourceError(text) if transient else SourceError(text)
