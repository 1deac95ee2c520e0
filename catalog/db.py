"""The database: declarative base, portable column types, engine and request-scoped sessions.

Services receive a ``Session`` and never commit; the API dispatcher and the CLI commit once at
the request or job boundary.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import functools
import json
import time
import uuid
import weakref
from pathlib import Path
from typing import Any, Callable

import psycopg
import sqlalchemy as sa
from alembic import command as alembic_command
from alembic.config import Config
from flask import Flask, current_app, g
from sqlalchemy import event
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

from connectors.outbound import Policy

from . import config as settings
from .sharing import workdays

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(sa.TypeDecorator):
    """A timestamp stored in UTC and always returned timezone-aware (SQLite keeps no zone)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(dt.timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.timezone.utc)
        return value.astimezone(dt.timezone.utc)


#: JSON documents: JSONB on PostgreSQL, JSON text elsewhere.
JSONDocument = sa.JSON().with_variant(JSONB(), "postgresql")


class Base(DeclarativeBase):
    """Declarative base of every model, with a naming convention Alembic can follow."""

    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)


def new_id() -> str:
    """A new random identifier (UUID4 as text, as CKAN uses)."""
    return str(uuid.uuid4())


def utcnow() -> dt.datetime:
    """The current time, timezone-aware UTC."""
    return dt.datetime.now(dt.timezone.utc)


def make_engine(url: str, echo: bool = False) -> sa.Engine:
    """Create an engine with the per-dialect settings this project relies on."""
    if url.startswith("sqlite"):
        engine = sa.create_engine(url, echo=echo, json_serializer=_json_dumps,
                                  connect_args={"check_same_thread": False, "timeout": 30})
        _configure_sqlite(engine)
        return engine
    engine = sa.create_engine(url, echo=echo, json_serializer=_json_dumps)
    _ping_when_idle(engine)
    if engine.dialect.driver == "psycopg":
        _fold_round_trips(engine.dialect)
    return engine


#: execution option of a statement whose answer nobody reads (an INSERT without RETURNING): on PostgreSQL it
#: is held back and sent with whatever next goes to the server on its connection, the next statement or the
#: ``COMMIT``, in one round trip (psycopg's pipeline mode); a rollback drops it with the rest of the
#: transaction. Its errors surface with that next statement or the commit.
HOLD_BACK = "catalog_hold_back"

#: statements held back, per psycopg connection: [(SQL, parameters)]
_HELD: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
#: psycopg connections whose transaction was begun with its first statement (in autocommit until it ends)
_BEGUN: weakref.WeakSet = weakref.WeakSet()


def _fold_round_trips(dialect: Any) -> None:
    """Fewer round trips on PostgreSQL (psycopg 3), each a wait on the server that a loaded machine makes
    long: a transaction's ``BEGIN`` goes with its first statement, and a statement marked :data:`HOLD_BACK`
    goes with the next one or the ``COMMIT``, each pair in one pipeline (docs/PERFORMANCE.md, "DataStore
    reads", fourth pass). SQLAlchemy reads a statement's columns as soon as it has run, so only these
    pairs are pipelined, each synced before SQLAlchemy looks at the cursor."""
    execute, execute_no_params = dialect.do_execute, dialect.do_execute_no_params
    executemany, commit, rollback = dialect.do_executemany, dialect.do_commit, dialect.do_rollback
    idle, in_error = psycopg.pq.TransactionStatus.IDLE, psycopg.pq.TransactionStatus.INERROR

    def send_held(conn: psycopg.Connection, held: list, last: Callable[[], Any] | None = None) -> None:
        cursor = conn.cursor()
        try:
            with conn.pipeline():
                for statement, parameters in held:
                    cursor.execute(statement, parameters)
                if last is not None:
                    last()
        finally:
            cursor.close()

    def do_execute(cursor, statement, parameters, context=None):
        conn = cursor.connection
        in_transaction = not conn.autocommit or conn in _BEGUN  # its COMMIT will come
        if context is not None and context.execution_options.get(HOLD_BACK) and in_transaction:
            _HELD.setdefault(conn, []).append((statement, parameters))
            return
        held = _HELD.pop(conn, None)
        pipelined = parameters and not isinstance(cursor, psycopg.ServerCursor)
        if held and pipelined:
            send_held(conn, held, lambda: execute(cursor, statement, parameters, context))
            return
        if held:
            send_held(conn, held)
        if (pipelined and not conn.autocommit and conn.pgconn.transaction_status == idle
                and conn.isolation_level is None and conn.read_only is None):
            # psycopg would send its BEGIN and wait for it (it syncs a pipeline after BEGIN): send it here,
            # in the statement's pipeline, with psycopg in autocommit until the transaction ends (psycopg's
            # commit and rollback go by the server's transaction status, and autocommit can only be set
            # back between transactions: do_commit and do_rollback do it).
            conn.autocommit = True
            _BEGUN.add(conn)
            with conn.pipeline():
                cursor.execute("BEGIN")
                execute(cursor, statement, parameters, context)
            return
        execute(cursor, statement, parameters, context)

    def do_execute_no_params(cursor, statement, context=None):
        held = _HELD.pop(cursor.connection, None)
        if held:
            send_held(cursor.connection, held)
        execute_no_params(cursor, statement, context)

    def do_executemany(cursor, statement, parameters, context=None):
        held = _HELD.pop(cursor.connection, None)
        if held:
            send_held(cursor.connection, held)
        executemany(cursor, statement, parameters, context)

    def ended(conn: psycopg.Connection) -> None:
        if conn in _BEGUN and conn.pgconn.transaction_status == idle:
            _BEGUN.discard(conn)
            conn.autocommit = False

    def do_commit(dbapi_connection):
        conn = getattr(dbapi_connection, "driver_connection", dbapi_connection)
        held = _HELD.pop(conn, None)
        try:
            if not held:
                commit(dbapi_connection)
            else:  # the held statements and COMMIT, then one Sync (psycopg's commit() would sync once more)
                try:
                    send_held(conn, [*held, ("COMMIT", None)])
                except psycopg.Error:
                    # A held statement failed, so the server skipped the COMMIT after it: end the failed
                    # transaction as a failed COMMIT does (to SQLAlchemy the commit is over either way).
                    if conn.pgconn.transaction_status == in_error:
                        with contextlib.suppress(psycopg.Error):
                            conn.rollback()
                    raise
        finally:
            ended(conn)

    def do_rollback(dbapi_connection):
        conn = getattr(dbapi_connection, "driver_connection", dbapi_connection)
        _HELD.pop(conn, None)
        try:
            rollback(dbapi_connection)
        finally:
            ended(conn)

    dialect.do_execute, dialect.do_execute_no_params, dialect.do_executemany = (
        do_execute, do_execute_no_params, do_executemany)
    dialect.do_commit, dialect.do_rollback = do_commit, do_rollback


#: seconds a pooled connection may rest and still be handed out without a ping (HikariCP's
#: ``aliveBypassWindowMs``, 500 ms by default): a connection back in the pool this recently was working then
PING_AFTER_IDLE = 0.5


def _ping_when_idle(engine: sa.Engine) -> None:
    # SQLAlchemy's pool_pre_ping costs a round trip on every checkout, as much as a key lookup's own
    # query; under load connections come back within milliseconds. A connection the server dropped
    # meanwhile fails its first statement: the dispatcher answers 503 and the pool is invalidated.
    @event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_connection, record):
        record.info["checked_in"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_connection, record, _proxy):
        rested = time.monotonic() - record.info.get("checked_in", float("-inf"))
        if rested <= PING_AFTER_IDLE:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as error:
            # the pool retries with a new connection (SQLAlchemy's documented pessimistic ping)
            raise sa.exc.DisconnectionError() from error


def _json_dumps(value: Any) -> str:
    # Keep Chinese readable in stored JSON, so substring search (LIKE) matches it.
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _configure_sqlite(engine: sa.Engine) -> None:
    # pysqlite's own transaction handling breaks SAVEPOINT; take it over as SQLAlchemy documents.
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        if engine.url.database not in (None, "", ":memory:"):
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        # IMMEDIATE: take the write lock at the start. A deferred transaction that read first and
        # writes later fails at once (SQLITE_BUSY_SNAPSHOT) when another writer committed in
        # between; waiting for the lock up front makes SQLite's single writer queue instead.
        # A connection opened with the option read_only_snapshot (a long read that never writes, such
        # as verifying the access log) takes a deferred snapshot: in WAL mode it blocks no writer.
        read_only = conn.get_execution_options().get("read_only_snapshot")
        conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


_JIT_OFF = "SELECT current_setting('jit'), set_config('jit', 'off', true)"
_JIT_BACK = "SELECT set_config('jit', %s, true)"


@contextlib.contextmanager
def jit_off(target: Session | Any):
    """Run the block's statements without PostgreSQL's JIT compilation, then give the transaction its own
    setting back (``set_config(…, true)`` is ``SET LOCAL``; ``SET LOCAL jit TO DEFAULT`` would drop a setting the
    caller made). ``target``: a Session (nothing done on another database) or a psycopg cursor, whose rows the
    block must have fetched (putting the setting back runs a statement on it). After an exception nothing is put
    back: the failed statement aborted the transaction, where another would raise in place of its error, and the
    rollback that must follow undoes the local setting. For statements whose estimated cost makes PostgreSQL
    compile them though they run in milliseconds (docs/PERFORMANCE.md: the DataStore merge, the word search's
    hits)."""
    if isinstance(target, Session):
        if target.get_bind().dialect.name != "postgresql":
            yield
            return
        previous = target.execute(sa.text(_JIT_OFF)).scalar()
        yield
        target.execute(sa.text("SELECT set_config('jit', :previous, true)"), {"previous": previous})
        return
    target.execute(_JIT_OFF)
    previous = target.fetchone()[0]
    yield
    target.execute(_JIT_BACK, (previous,))


class Database:
    """The engine and session factory of one app, kept in ``app.extensions['catalog.db']``.

    ``secret_key`` is the app's ``SECRET_KEY``, for what is stored sealed (sync job credentials); its
    sessions carry it in ``session.info["secret_key"]``. ``protected`` names what can never be a sync
    source (the database URL, the instance folder, storage and key files: catalog/connections/policy.py);
    sessions carry it in ``session.info["protected"]``. ``outbound`` is where server-side requests may
    go (``CATALOG_OUTBOUND_ALLOW``, connectors/outbound.py); sessions carry it in ``session.info["outbound"]``.
    ``working_day`` is the working-day calendar (weekends, ``CATALOG_HOLIDAYS``, ``CATALOG_WORKDAYS``) that
    sync mappings' ``date_add(..., working=True)`` count in; sessions carry it in ``session.info["working_day"]``.
    """

    #: seconds between two heartbeats of a running sync run; how long its final write is retried (config)
    sync_heartbeat: float = 10.0
    sync_final_write_retry: float = 600.0

    def __init__(self, engine: sa.Engine, secret_key: str = "", protected: dict[str, Any] | None = None,
                 outbound: Policy | None = None, working_day: Callable[[dt.date], bool] | None = None):
        self.engine = engine
        self.working_day = working_day or workdays.is_working_day
        self.secret_key = secret_key
        self.outbound = outbound or Policy()
        self.protected = dict(protected or {"database_url": engine.url.render_as_string(hide_password=False)})
        self.sessionmaker = sessionmaker(bind=engine, expire_on_commit=False,
                                         info={"secret_key": secret_key, "protected": self.protected,
                                               "outbound": self.outbound, "working_day": self.working_day})

    def session(self) -> Session:
        """A new session (the caller owns it)."""
        return self.sessionmaker()


def init_app(app: Flask) -> None:
    """Create the engine and register the request-scoped session teardown."""
    app.extensions["catalog.db"] = Database(
        make_engine(app.config["DATABASE_URL"], echo=app.config.get("SQL_ECHO", False)),
        secret_key=str(app.config.get("SECRET_KEY") or ""), outbound=settings.outbound_policy(app.config),
        working_day=functools.partial(workdays.is_working_day,
                                      holidays=workdays.parse_holidays(app.config.get("HOLIDAYS")),
                                      workdays=workdays.parse_holidays(app.config.get("WORKDAYS"))),
        protected={"database_url": app.config["DATABASE_URL"],
                   "paths": [app.instance_path, app.config.get("STORAGE_PATH"),
                             *(value for name, value in app.config.items() if name.endswith("_FILE"))]})
    app.extensions["catalog.db"].sync_heartbeat = float(app.config.get("SYNC_HEARTBEAT") or 10)
    app.extensions["catalog.db"].sync_final_write_retry = float(app.config.get("SYNC_FINAL_WRITE_RETRY") or 600)
    app.teardown_appcontext(_close_session)


def get_db(app: Flask | None = None) -> Database:
    """The app's :class:`Database`."""
    return (app or current_app).extensions["catalog.db"]


def get_session() -> Session:
    """The session of the current request or CLI command, created on first use."""
    if "db_session" not in g:
        g.db_session = get_db().session()
    return g.db_session


def _close_session(_exc: BaseException | None) -> None:
    session = g.pop("db_session", None)
    if session is not None:
        session.rollback()
        session.close()


def run_migrations(app: Flask, revision: str = "head", *, downgrade: bool = False) -> None:
    """Apply (or revert) Alembic migrations on the app's database."""
    config = Config()
    config.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    with get_db(app).engine.begin() as connection:
        config.attributes["connection"] = connection
        if downgrade:
            alembic_command.downgrade(config, revision)
        else:
            alembic_command.upgrade(config, revision)
