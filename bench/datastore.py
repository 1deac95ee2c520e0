"""DataStore benchmark: validation, upsert, a raw COPY for comparison, a no-op re-upsert, the change feed.

    python bench/datastore.py [--records 1000000] [--database-url URL] [--batch 5000] [--sample 50000]

The database is ``--database-url`` (default: the local PostgreSQL server
postgresql://postgres@127.0.0.1:5432/postgres). For PostgreSQL the URL names the server: each run
creates a fresh database ``catalog_bench_ds`` there, migrates it with ``catalog.cli.run_migrations``
and drops it at the end (``--keep`` keeps it). A ``sqlite:///file.db`` URL benchmarks SQLite
(the file must not exist; it is removed afterwards unless ``--keep``).

The benchmark runs twice, each time in a fresh process and a fresh database: at N/10 and at N
records (``--no-small`` skips the N/10 run), so that the two peak memory figures (ru_maxrss) show
whether memory stays flat as N grows. Each run:

0. creates a department, a dataset bound to ``household@1`` and its DataStore table through the
   services, and generates N household records with ``tests.schemas.records_samples.households``,
   batch by batch (batch ``b`` uses seed ``b``), rewriting each record's household number, division
   code, town and village from its position so keys are unique by construction (checked at the end:
   the table holds N distinct keys). The records go to a temporary JSON-lines file, so no phase holds
   more than one batch; reading a batch back is not timed.
1. validation: ``RecordValidator.validate_many`` (the fast path) over every record, and plain
   jsonschema (``schemas.registry.SchemaValidator.is_valid``, Draft 2020-12) on the first
   ``--sample`` records;
2. upsert: ``catalog.datastore.service.upsert_records`` per batch, one commit per batch (the time
   spent in validation inside it is reported too);
3. COPY: the same rows ``(resource_id, key, seq, deleted, data)`` into a plain table with those
   columns and no index, with psycopg's ``cursor.copy`` (``json.dumps`` of each record included), one
   commit per batch: the physical limit of getting these rows into PostgreSQL. On SQLite the
   stand-in is a plain ``executemany`` INSERT into such a table. The same again into a table with
   datastore_record's two unique indexes shows what index upkeep costs at that size;
4. the same records upserted again: nothing changed, so inserted = updated = 0;
5. the change feed: ``catalog.datastore.query.changes`` with limit 10,000 until it is empty; and the
   JSON dump (``query.iter_records``, what ``/datastore/dump`` streams); then the text index brought up to the
   last change (5b) and the sync scheduler tick's look over the loaded table for common values to keep (5c,
   ``value_survey``; ``--no-look-over`` leaves it out, so each town's first total keeps its count);
6. peak memory of the process (``resource.getrusage(RUSAGE_SELF).ru_maxrss``);
7. reads through the HTTP API (``--no-reads`` skips them): the Flask test client with a sysadmin's API
   token, so each figure is the whole request (routing, token authentication, the share rules, masking,
   the access log, JSON) without a network hop; each beside its raw-SQL floor in the same run, p50/p95
   over up to 200 calls (at least 10, at most about 20 s per read): a primary-key lookup, a lookup
   on ``head_id_number``, ``filters`` town limit 100, ``q`` 城关镇 limit 10, a page at 75 % depth by
   ``offset`` and by the ``_links.next`` cursor, the change feed pulled and the JSON dump streamed.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import resource
import statistics
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

DEFAULT_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"
BENCH_DATABASE = "catalog_bench_ds"
FEED_LIMIT = 10_000
RESULT_MARK = "BENCH-RESULT "


# -- records -----------------------------------------------------------------------------------

def unique_place(index: int) -> tuple[str, str, str, str]:
    """(town, village, division code, household number) for record ``index``: distinct for every index
    below 110 x 99 x 9999 (about 108 million)."""
    from tests.schemas.records_samples import COUNTY, TOWNS, VILLAGES

    spot, rest = index % (len(TOWNS) * len(VILLAGES)), index // (len(TOWNS) * len(VILLAGES))
    town, township = TOWNS[spot // len(VILLAGES)]
    village_index = spot % len(VILLAGES)
    division = f"{COUNTY}{township}{200 + village_index:03d}"
    group, number = rest // 9999 + 1, rest % 9999 + 1
    if group > 99:
        raise SystemExit("too many records for distinct household numbers")
    return town, VILLAGES[village_index], division, f"{division}{group:02d}{number:04d}"


def generate(path: Path, count: int, batch: int) -> float:
    """Write ``count`` valid household records to ``path`` (one JSON per line); returns the seconds."""
    from tests.schemas.records_samples import households

    started = time.perf_counter()
    with path.open("w", encoding="utf-8") as out:
        for number, start in enumerate(range(0, count, batch)):
            size = min(batch, count - start)
            lines = []
            for offset, record in enumerate(households(size, seed=number + 1)):
                town, village, division, household_number = unique_place(start + offset)
                record.update(household_number=household_number, division_code=division, town=town,
                              village=village)
                lines.append(json.dumps(record, ensure_ascii=False, separators=(",", ":")))
            out.write("\n".join(lines) + "\n")
    return time.perf_counter() - started


def batches(path: Path, batch: int, limit: int | None = None):
    """The records of ``path`` in lists of ``batch`` (the first ``limit`` records only, if given)."""
    current, seen = [], 0
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            current.append(json.loads(line))
            seen += 1
            if len(current) == batch:
                yield current
                current = []
            if limit is not None and seen >= limit:
                break
    if current:
        yield current


# -- database ----------------------------------------------------------------------------------

def driver_url(url: str) -> sa.URL:
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def prepare_database(url: str, keep: bool, name: str = BENCH_DATABASE, reuse: bool = False):
    """(the URL to benchmark, a cleanup function) for a fresh database (``reuse``: the one kept by an
    earlier ``--keep`` run, as it is)."""
    parsed = driver_url(url)
    if reuse:
        if not parsed.drivername.startswith("postgresql"):
            if not Path(parsed.database or "").exists():
                sys.exit(f"--reads-only needs the SQLite file of an earlier --keep run: {parsed.database!r}")
            return parsed.render_as_string(hide_password=False), lambda: None
        return parsed.set(database=name).render_as_string(hide_password=False), lambda: None
    if not parsed.drivername.startswith("postgresql"):
        path = Path(parsed.database or "")
        if not parsed.database or path.exists():
            sys.exit(f"give a new SQLite file (the benchmark fills it): {parsed.database!r}")
        return parsed.render_as_string(hide_password=False), lambda: keep or _remove_sqlite(path)
    admin = sa.create_engine(parsed, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')

    def cleanup() -> None:
        if not keep:
            with admin.connect() as conn:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()

    return parsed.set(database=name).render_as_string(hide_password=False), cleanup


def _remove_sqlite(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(str(path) + suffix).unlink(missing_ok=True)


def setup_catalog(app):
    """A sysadmin, a department, a dataset bound to household@1 and its DataStore table."""
    from catalog.auth.models import User
    from catalog.datasets.resources import create_resource
    from catalog.datastore import service
    from catalog.db import get_db
    from bench.common import household_dataset

    with get_db(app).session() as session:
        admin = User(name="bench-admin", sysadmin=True)
        session.add(admin)
        session.flush()
        dataset = household_dataset(session, admin, department_name="ningshan-mzj", department_title="宁陕县民政局")
        resource = create_resource(session, admin, dataset, values={"name": "住户", "url": "http://localhost/ds"},
                                   record=False)
        table = service.create_table(session, admin, resource)
        assert table.record_schema == "household@1" and table.primary_key == ["household_number"]
        session.commit()
        return admin.id, resource.id


# -- phases ------------------------------------------------------------------------------------

def rate(count: int, seconds: float) -> str:
    return f"{count / seconds:,.0f} records/s ({count:,} in {seconds:.1f} s)" if seconds else "n/a"


def measure_validation(path: Path, batch: int, sample: int) -> dict:
    from schemas import load_schema
    from schemas.registry import SchemaValidator
    from schemas.validation import record_validator

    validator = record_validator("household", 1)
    fast_seconds, count, invalid = 0.0, 0, 0
    for records in batches(path, batch):
        started = time.perf_counter()
        valid, errors = validator.validate_many(records)
        fast_seconds += time.perf_counter() - started
        count += len(records)
        invalid += len(errors)
    assert invalid == 0, f"{invalid} generated records are invalid"
    plain = SchemaValidator(load_schema("records", "household", 1))
    plain_seconds, plain_count = 0.0, 0
    for records in batches(path, batch, limit=sample):
        started = time.perf_counter()
        ok = all(plain.is_valid(record) for record in records)
        plain_seconds += time.perf_counter() - started
        plain_count += len(records)
        assert ok
    print(f"(1) validation, fast path (RecordValidator.validate_many): {rate(count, fast_seconds)}")
    print(f"    validation, plain jsonschema (SchemaValidator.is_valid, Draft 2020-12), "
          f"on the first {plain_count:,} records: {rate(plain_count, plain_seconds)}")
    print(f"    fast path / plain jsonschema: {(count / fast_seconds) / (plain_count / plain_seconds):.1f}x")
    return {"validate_fast": count / fast_seconds, "validate_jsonschema": plain_count / plain_seconds,
            "jsonschema_sample": plain_count}


def upsert_pass(app, ids, path: Path, batch: int) -> tuple[dict, float, float]:
    """Every record through upsert_records, one commit per batch: (summed counts, seconds, of which validating)."""
    from catalog.auth.models import User
    from catalog.datastore import service
    from catalog.db import get_db

    database = get_db(app)
    totals = {"inserted": 0, "updated": 0, "unchanged": 0, "quarantined": 0, "skipped": 0}
    seconds = validating = 0.0
    for records in batches(path, batch):
        started = time.perf_counter()
        with database.session() as session:
            admin = session.get(User, ids[0])
            table = service.get_table(session, ids[1])
            validator = service.validator_for(table)
            original = validator.validate_many

            def timed(items, _original=original):
                nonlocal validating
                began = time.perf_counter()
                try:
                    return _original(items)
                finally:
                    validating += time.perf_counter() - began

            validator.validate_many = timed
            try:
                counts = service.upsert_records(session, admin, table, records)
            finally:
                del validator.validate_many
            session.commit()
        seconds += time.perf_counter() - started
        for name in totals:
            totals[name] += counts[name]
        assert not counts["invalid"]
    return totals, seconds, validating


def measure_copy(app, path: Path, batch: int, resource_id: str, *, indexed: bool = False) -> float:
    """Seconds to COPY (PostgreSQL) or executemany-INSERT (SQLite) every record as a plain row, into a
    table without index, or (``indexed``) with the primary key and sequence index of datastore_record."""
    from catalog.db import get_db

    engine = get_db(app).engine
    seconds = 0.0
    postgres = engine.dialect.name == "postgresql"
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE IF EXISTS bench_copy")
        conn.exec_driver_sql(
            "CREATE TABLE bench_copy (resource_id VARCHAR(36) NOT NULL, key VARCHAR(500) NOT NULL, "
            f"seq BIGINT NOT NULL, deleted BOOLEAN NOT NULL, data {'JSONB' if postgres else 'JSON'} NOT NULL"
            + (", PRIMARY KEY (resource_id, key))" if indexed else ")"))
        if indexed:
            conn.exec_driver_sql("CREATE UNIQUE INDEX ix_bench_copy_seq ON bench_copy (resource_id, seq)")
    seq = 0
    raw = engine.raw_connection()
    try:
        for records in batches(path, batch):
            started = time.perf_counter()
            rows = []
            for record in records:
                seq += 1
                rows.append((resource_id, record["household_number"], seq, False,
                             json.dumps(record, ensure_ascii=False, separators=(",", ":"))))
            cursor = raw.cursor()
            if postgres:
                with cursor.copy("COPY bench_copy (resource_id, key, seq, deleted, data) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
            else:
                cursor.execute("BEGIN")
                cursor.executemany("INSERT INTO bench_copy VALUES (?, ?, ?, ?, ?)", rows)
            raw.commit() if postgres else cursor.execute("COMMIT")
            cursor.close()
            seconds += time.perf_counter() - started
        cursor = raw.cursor()
        cursor.execute("SELECT count(*) FROM bench_copy")
        assert cursor.fetchone()[0] == seq
        cursor.close()
    finally:
        raw.close()
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE bench_copy")
    return seconds


def measure_feed(app, resource_id: str) -> tuple[int, float]:
    from catalog.datastore import query, service
    from catalog.db import get_db

    database = get_db(app)
    cursor, count, seconds, last = None, 0, 0.0, 0
    while True:
        started = time.perf_counter()
        with database.session() as session:
            table = service.get_table(session, resource_id)
            page = query.changes(session, table, cursor=cursor, limit=FEED_LIMIT)
        seconds += time.perf_counter() - started
        if not page["changes"]:
            return count, seconds
        assert page["changes"][0]["_seq"] > last
        last = page["changes"][-1]["_seq"]
        count += len(page["changes"])
        cursor = page["next_cursor"]


def measure_dump(app, resource_id: str) -> tuple[int, float]:
    """Every live record through query.iter_records (what /datastore/dump streams), as JSON text."""
    from catalog.datastore import query, service
    from catalog.db import get_db

    started, count, size = time.perf_counter(), 0, 0
    with get_db(app).session() as session:
        table = service.get_table(session, resource_id)
        for record in query.iter_records(session, table):
            size += len(json.dumps(record, ensure_ascii=False))
            count += 1
    return count, time.perf_counter() - started


# -- reads through the HTTP API, each beside its raw-SQL floor ---------------------------------

#: the app's settings besides its database and folder: the API rate limit raised above what the reads make
#: (600 lookups a minute per token by default: a run of faster lookups would be refused, not measured); the
#: limiter still counts every call, as in production
BENCH_CONFIG = {"RATELIMIT_API": "1000000 per minute"}
READ_REPEATS = 200
SLOW_REPEATS = 30
DEEP_FRACTION = 0.75
MIN_REPEATS = 10
READ_BUDGET = 20.0
#: whether the reads include the change feed and the dump over HTTP (``--no-streams``: minutes at 1,000,000)
STREAMS = True
#: ``--no-text``: neither the text index catch-up nor the ``q`` reads (a first catch-up at 1,000,000 records
#: takes many minutes)
TEXT = True
#: ``--streams-only``: of the reads, only the change feed and the dump over HTTP
STREAMS_ONLY = False
#: ``--lookups-only``: of the reads, only the primary-key and head_id_number lookups (and their floor)
LOOKUPS_ONLY = False
OFFSET_ONLY = False
#: ``--first-calls-only``: of the reads, only the town filter and ``q`` as the first call after a write
FIRST_CALLS_ONLY = False
#: calls of each first-call read (each after its own write): the first call per town and table version counts
FIRST_CALLS = 30


def _percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return ordered[len(ordered) // 2] * 1000, ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))] * 1000


def _timed(call, repeats: int) -> list[float]:
    """Seconds of each call, ``repeats`` times or until :data:`READ_BUDGET` seconds have passed (at
    least :data:`MIN_REPEATS` calls, ``--min-repeats``: a read taking seconds is not repeated 200 times)."""
    samples: list[float] = []
    for index in range(repeats):
        started = time.perf_counter()
        call(index)
        samples.append(time.perf_counter() - started)
        if len(samples) >= MIN_REPEATS and sum(samples) > READ_BUDGET:
            break
    return samples


def read_token(app, admin_id: str) -> str:
    """An API token of the benchmark's sysadmin (the reads go through token authentication)."""
    from catalog.auth.models import User
    from catalog.auth.service import create_token
    from catalog.db import get_db

    with get_db(app).session() as session:
        _token, secret = create_token(session, None, user=session.get(User, admin_id), name="bench",
                                      check_auth=False)
        session.commit()
        return secret


def sample_records(path: Path, count: int, wanted: int) -> list[dict]:
    """``wanted`` records spread evenly over the file (not timed)."""
    step = max(count // wanted, 1)
    picked = []
    with path.open(encoding="utf-8") as lines:
        for index, line in enumerate(lines):
            if index % step == step // 2:
                picked.append(json.loads(line))
    return picked[:wanted]


def measure_text_catch_up(app, resource_id: str) -> tuple[int, float] | None:
    """Seconds to bring the text index (``q``) up to the last change (``text_index.catch_up_all``), and the
    change numbers it covered; ``None`` where the code has no text index (a run of older code)."""
    try:
        from catalog.datastore import text_index
    except ImportError:
        return None
    from catalog.datastore import service
    from catalog.db import get_db

    started = time.perf_counter()
    with get_db(app).session() as session:
        covered = text_index.catch_up_all(session, service.get_table(session, resource_id))
    seconds = time.perf_counter() - started
    print(f"(5b) text index catch-up (text_index.catch_up_all, behind the writes): "
          f"{rate(covered, seconds) if covered else 'nothing to index'}", flush=True)
    return covered, seconds


def measure_look_over(app) -> None:
    """The sync scheduler tick's look over the tables loaded since its last look (``value_survey``): the values
    it kept and its seconds (a table that the reads below find kept needs no count in its first town total)."""
    try:
        from catalog.datastore import value_survey
    except ImportError:  # a run of older code
        return
    from catalog.db import get_db

    started = time.perf_counter()
    with get_db(app).session() as session:
        kept = value_survey.look_over_lagging(session)
    print(f"(5c) the scheduler tick's look over the loaded tables (value_survey.look_over_lagging): {kept} common "
          f"values kept in {time.perf_counter() - started:.1f} s", flush=True)


def stored_samples(app, resource_id: str, count: int, wanted: int) -> list[dict]:
    """``wanted`` stored records spread evenly over the change numbers (a ``--reads-only`` run has no
    records file; not timed)."""
    from catalog.db import get_db

    step = max(count // wanted, 1)
    rows: list = []
    with get_db(app).engine.connect() as conn:
        # the writes of earlier runs move records to new change numbers: the next residues fill the gaps
        for shift in range(min(step, 50)):
            rows += conn.execute(sa.text("SELECT data FROM datastore_record WHERE resource_id = :r AND NOT deleted "
                                         "AND seq % :step = :half ORDER BY seq LIMIT :wanted"),
                                 {"r": resource_id, "step": step, "half": (step // 2 + shift) % step,
                                  "wanted": wanted - len(rows)}).scalars().all()
            if len(rows) >= wanted:
                break
    return [json.loads(row) if isinstance(row, str) else row for row in rows]


def measure_reads(app, ids, samples: list[dict], count: int) -> dict:
    """p50/p95 of each read through the Flask test client (routing, token auth, share rules, masking,
    JSON) beside the same answer from raw SQL on the same database, in the same run."""
    from catalog.db import get_db

    client = app.test_client()
    headers = {"Authorization": read_token(app, ids[0])}
    resource_id = ids[1]
    engine = get_db(app).engine
    postgres = engine.dialect.name == "postgresql"
    mark = "%s" if postgres else "?"
    raw = engine.raw_connection()
    figures: dict = {}

    def api(name: str, data: dict) -> dict:
        response = client.post(f"/api/3/action/{name}", json=data, headers=headers)
        body = response.get_json()
        assert response.status_code == 200 and body["success"], body
        return body["result"]

    def sql(statement: str, params: tuple) -> list:
        cursor = raw.cursor()
        cursor.execute(statement.replace("?", mark), params)
        rows = cursor.fetchall()
        cursor.close()
        raw.rollback() if postgres else None
        return rows

    def report(label: str, key: str, now: list[float], floor: list[float] | None, floor_label: str) -> None:
        p50, p95 = _percentiles(now)
        figures[key] = {"p50": p50, "p95": p95}
        line = f"    {label}: p50 {p50:,.2f} ms, p95 {p95:,.2f} ms (first call {now[0] * 1000:,.2f} ms)"
        if floor:
            f50, f95 = _percentiles(floor)
            figures[key].update(floor_p50=f50, floor_p95=f95)
            line += f"; floor ({floor_label}) p50 {f50:,.3f} ms, p95 {f95:,.3f} ms; ratio p50 {p50 / f50:,.0f}x"
        print(line, flush=True)

    print(f"(7) reads through the HTTP API (Flask test client, sysadmin token), {count:,} records; "
          f"floors are raw SQL on the same database")
    if STREAMS_ONLY:
        return _streams(api, sql, client, headers, resource_id, count, figures, raw)
    if FIRST_CALLS_ONLY:
        _first_calls(api, sql, resource_id, samples, report)
        raw.close()
        return figures
    if OFFSET_ONLY:
        _offset_reads(api, sql, resource_id, count, samples, report)
        raw.close()
        return figures
    key_floor = _timed(lambda i: sql("SELECT data FROM datastore_record WHERE resource_id = ? AND key = ?",
                                     (resource_id, samples[i % len(samples)]["household_number"])), READ_REPEATS)

    def by_key(i):
        found = api("datastore_search", {"resource_id": resource_id,
                                         "filters": {"household_number": samples[i % len(samples)]["household_number"]}})
        assert len(found["records"]) == 1

    def by_id_number(i):
        sample = samples[i % len(samples)]
        found = api("datastore_search", {"resource_id": resource_id,
                                         "filters": {"head_id_number": sample["head_id_number"]}})
        assert any(r["household_number"] == sample["household_number"] for r in found["records"])

    for label, key, call, floor_label in (
            ("primary-key lookup (filters household_number)", "read_key", by_key,
             "SELECT … WHERE resource_id = … AND key = …"),
            ("indexed-field lookup (filters head_id_number)", "read_field", by_id_number,
             "the key lookup: one index probe")):
        cpu = time.process_time()
        now = _timed(call, READ_REPEATS)
        cpu = (time.process_time() - cpu) / len(now) * 1000
        report(label, key, now, key_floor, floor_label)
        figures[key]["cpu_ms"] = cpu
        print(f"      CPU of this process per lookup (test client and app): {cpu:,.2f} ms", flush=True)
    if LOOKUPS_ONLY:
        raw.close()
        return figures

    towns = sorted({s["town"] for s in samples})

    def town_floor(i):
        sql("SELECT data FROM datastore_record WHERE resource_id = ? AND deleted = ? AND key > ? "
            "ORDER BY key LIMIT 100", (resource_id, False, ""))
    report("filters town, limit 100", "read_town", _timed(lambda i: api("datastore_search", {
        "resource_id": resource_id, "filters": {"town": towns[i % len(towns)]}, "limit": 100}), SLOW_REPEATS),
        _timed(town_floor, SLOW_REPEATS), "the first 100 records by key")

    def q_floor(i):
        sql("SELECT data FROM datastore_record WHERE resource_id = ? AND deleted = ? ORDER BY key LIMIT 10",
            (resource_id, False))
    if not TEXT:
        print("    q reads: skipped (--no-text)")
    else:
        found = api("datastore_search", {"resource_id": resource_id, "q": "城关镇", "limit": 10})
        print(f"    q 城关镇 matches {found.get('total')} records (total_was_estimated: "
              f"{found.get('total_was_estimated', False)})")
        report("q 城关镇, limit 10", "read_q", _timed(lambda i: api("datastore_search", {
            "resource_id": resource_id, "q": "城关镇", "limit": 10}), SLOW_REPEATS),
            _timed(q_floor, SLOW_REPEATS), "the first 10 records by key")

        # A word whose records lie at the end of the key order (household numbers begin with the town's
        # division code, 新场镇 the last): a walk in key order meets it last.
        late = api("datastore_search", {"resource_id": resource_id, "q": "新场镇", "limit": 10})
        print(f"    q 新场镇 matches {late.get('total')} records (total_was_estimated: {late.get('total_was_estimated', False)})")
        report("q 新场镇 (the last town in key order), limit 10", "read_q_late", _timed(lambda i: api(
            "datastore_search", {"resource_id": resource_id, "q": "新场镇", "limit": 10}), SLOW_REPEATS),
            _timed(q_floor, SLOW_REPEATS), "the first 10 records by key")

    _first_calls(api, sql, resource_id, samples, report)
    deep, floor = _offset_reads(api, sql, resource_id, count, samples, report)
    # The cursor of the page after record ``deep``: walk there by cursor in pages of 10,000 (not timed).
    cursor, seen = None, 0
    first = api("datastore_search", {"resource_id": resource_id, "limit": 1, "include_total": False})
    if "cursor=" in first["_links"]["next"]:
        while seen < deep:
            page = api("datastore_search", {"resource_id": resource_id, "limit": min(10_000, deep - seen),
                                            "include_total": False, **({"cursor": cursor} if cursor else {})})
            seen += len(page["records"])
            cursor = page["_links"]["next"].split("cursor=")[1].split("&")[0]
        from urllib.parse import unquote
        cursor = unquote(cursor)

        def by_cursor(i):
            page = api("datastore_search", {"resource_id": resource_id, "limit": 100, "cursor": cursor})
            assert len(page["records"]) == 100
        report(f"the page after record {deep:,} by cursor (_links.next), limit 100", "read_cursor",
               _timed(by_cursor, SLOW_REPEATS), floor, "keyset: key > … ORDER BY key LIMIT 100")
    else:
        print("    paging by cursor: not offered (no cursor in _links.next)")

    if not STREAMS:
        print("    datastore_changes and /datastore/dump over HTTP: skipped (--no-streams)")
        raw.close()
        return figures
    return _streams(api, sql, client, headers, resource_id, count, figures, raw)


def _first_calls(api, sql, resource_id: str, samples: list[dict], report) -> None:
    """The town filter (limit 100) and ``q`` 城关镇 (limit 10) as the first call after a write: totals (and
    whether a word is common) are kept per table version, so a reader pays this after every write. Each call
    follows its own write (one record's grid worker changed through the API, not timed), beside the floors of
    the same reads as the warm calls."""
    towns = sorted({s["town"] for s in samples})
    written = [0]

    def write() -> None:  # always the same record (it moves to a new change number; the other samples stay)
        written[0] += 1
        done = api("datastore_upsert", {"resource_id": resource_id,
                                        "records": [dict(samples[-1], grid_worker=f"网格员{written[0]}")]})
        assert done["updated"] == 1, done

    def after_write(call):
        def timed(i):
            write()
            started = time.perf_counter()
            call(i)
            return time.perf_counter() - started
        return timed

    def town(i):
        api("datastore_search", {"resource_id": resource_id, "filters": {"town": towns[i % len(towns)]},
                                 "limit": 100})

    def word(_i):
        api("datastore_search", {"resource_id": resource_id, "q": "城关镇", "limit": 10})

    def town_floor(i):
        sql("SELECT data FROM datastore_record WHERE resource_id = ? AND deleted = ? AND key > ? "
            "ORDER BY key LIMIT 100", (resource_id, False, ""))

    def q_floor(i):
        sql("SELECT data FROM datastore_record WHERE resource_id = ? AND deleted = ? ORDER BY key LIMIT 10",
            (resource_id, False))

    for label, key, call, firsts, floor, floor_label in (
            ("filters town, limit 100", "read_town_after_write", town, len(towns), town_floor,
             "the first 100 records by key"),
            *((("q 城关镇, limit 10", "read_q_after_write", word, 1, q_floor, "the first 10 records by key"),)
              if TEXT else ())):
        timed = after_write(call)
        # the first call of each town (of the word) in this scenario: with --first-calls-only, the first in the
        # process (nothing of the search known yet); in a whole run the reads before searched them already
        first = [timed(i) for i in range(firsts)]
        print(f"    {label}, the first call of each of {firsts} in this scenario (after a write): "
              + ", ".join(f"{seconds * 1000:,.0f}" for seconds in first) + " ms", flush=True)
        report(f"{label}, the first call after a write (each town, word, searched before in this process)",
               key, [timed(i) for i in range(FIRST_CALLS)], _timed(floor, SLOW_REPEATS), floor_label)


#: where the household numbers of the keys the offset reads add come from (``unique_place``): far beyond
#: the loaded records' indexes, so each is a new key
FRESH_PLACE = 50_000_000


def _offset_reads(api, sql, resource_id: str, count: int, samples: list[dict], report) -> tuple[int, list[float]]:
    """The page at 75 % depth by ``offset``, then the same page as the first read after a write that adds a
    key and after one that deletes it again (the writes through the API, not timed), each beside the keyset
    floor; returns the depth and the floor's samples."""
    deep = int(count * DEEP_FRACTION)
    deep_key = sql("SELECT key FROM datastore_record WHERE resource_id = ? ORDER BY key LIMIT 1 OFFSET ?",
                   (resource_id, deep))[0][0]

    def keyset_floor(i):
        rows = sql("SELECT data FROM datastore_record WHERE resource_id = ? AND deleted = ? AND key > ? "
                   "ORDER BY key LIMIT 100", (resource_id, False, deep_key))
        assert len(rows) == 100
    floor = _timed(keyset_floor, SLOW_REPEATS)

    def page(_i=0):
        assert len(api("datastore_search", {"resource_id": resource_id, "offset": deep, "limit": 100})["records"]) == 100
    report(f"offset {deep:,}, limit 100", "read_offset", _timed(page, SLOW_REPEATS), floor,
           "keyset: key > … ORDER BY key LIMIT 100")
    added: list[float] = []
    removed: list[float] = []
    for i in range(SLOW_REPEATS):
        town, village, division, number = unique_place(FRESH_PLACE + i)
        record = {**samples[i % len(samples)], "household_number": number, "division_code": division,
                  "town": town, "village": village}
        written = api("datastore_upsert", {"resource_id": resource_id, "records": [record]})
        assert written.get("inserted") == 1, written
        started = time.perf_counter()
        page()
        added.append(time.perf_counter() - started)
        gone = api("datastore_delete", {"resource_id": resource_id, "filters": {"household_number": number}})
        assert gone.get("deleted") == 1, gone
        started = time.perf_counter()
        page()
        removed.append(time.perf_counter() - started)
        if len(added) >= MIN_REPEATS and sum(added) + sum(removed) > 2 * READ_BUDGET:
            break
    report(f"offset {deep:,}, limit 100, the first page after a write that adds a key", "read_offset_after_insert",
           added, floor, "keyset: key > … ORDER BY key LIMIT 100")
    report(f"offset {deep:,}, limit 100, the first page after a write that deletes a key",
           "read_offset_after_delete", removed, floor, "keyset: key > … ORDER BY key LIMIT 100")
    return deep, floor


def _streams(api, sql, client, headers, resource_id: str, count: int, figures: dict, raw) -> dict:
    """The change feed pulled and the JSON dump streamed over HTTP, each beside its raw-SQL floor."""
    started, pulled, cursor = time.perf_counter(), 0, None
    while True:
        page = api("datastore_changes", {"resource_id": resource_id, "limit": FEED_LIMIT,
                                         **({"cursor": cursor} if cursor else {})})
        pulled += len(page["changes"])
        cursor = page["next_cursor"]
        if not page["has_more"]:
            break
    feed_seconds = time.perf_counter() - started
    # the feed lists each record's latest change: the live records and the tombstones (the offset reads'
    # add-then-delete writes leave some)
    changed = sql("SELECT count(*) FROM datastore_record WHERE resource_id = ?", (resource_id,))[0][0]
    assert pulled == changed, (pulled, changed)
    # The floor reads windows of change numbers through the (resource_id, seq) index, as query.changes does:
    # a plain "seq > … ORDER BY seq LIMIT n" lets PostgreSQL without statistics fetch and sort every change
    # after the cursor (seconds a page at 1,000,000 records), which is no floor
    started, last, floor_count = time.perf_counter(), 0, 0
    newest = sql("SELECT max(seq) FROM datastore_record WHERE resource_id = ?", (resource_id,))[0][0] or 0
    while last < newest:
        rows = sql("SELECT seq, key, deleted, data FROM datastore_record WHERE resource_id = ? AND seq > ? "
                   "AND seq <= ? ORDER BY seq", (resource_id, last, last + FEED_LIMIT))
        rows = [(seq, key, deleted, json.loads(data) if isinstance(data, str) else data)
                for seq, key, deleted, data in rows]
        floor_count += len(rows)
        last += FEED_LIMIT
    feed_floor = time.perf_counter() - started
    figures["feed_http"], figures["feed_floor"] = pulled / feed_seconds, floor_count / feed_floor
    print(f"    datastore_changes pull over HTTP (limit {FEED_LIMIT:,}): {rate(pulled, feed_seconds)}; floor (raw "
          f"SQL seq > … AND seq <= … + {FEED_LIMIT:,} ORDER BY seq, JSON parsed): {rate(floor_count, feed_floor)}; "
          f"ratio {feed_seconds / feed_floor:.1f}x")

    started, size = time.perf_counter(), 0
    response = client.get(f"/datastore/dump/{resource_id}?format=json", headers=headers)
    for chunk in response.response:
        size += len(chunk)
    response.close()
    dump_seconds = time.perf_counter() - started
    # The floor pages by key ranges fixed first (every 1,000th live key, one walk of the primary key), as
    # query.iter_records does: a plain "key > … ORDER BY key LIMIT 1000" may fetch and sort every remaining
    # record on PostgreSQL without statistics
    started, last, floor_count = time.perf_counter(), "", 0
    bounds = [row[0] for row in sql(
        "SELECT key FROM (SELECT key, row_number() OVER (ORDER BY key) AS n FROM datastore_record "
        "WHERE resource_id = ? AND deleted = ?) AS numbered WHERE mod(n, 1000) = 0 ORDER BY key", (resource_id, False))]
    for bound in [*bounds, None]:
        rows = sql("SELECT key, data FROM datastore_record WHERE resource_id = ? AND deleted = ? AND key > ? "
                   + ("AND key <= ? ORDER BY key" if bound is not None else "ORDER BY key"),
                   (resource_id, False, last, *([bound] if bound is not None else [])))
        floor_count += len(rows)
        for _key, data in rows:
            json.dumps(json.loads(data) if isinstance(data, str) else data, ensure_ascii=False)
        last = bound
    dump_floor = time.perf_counter() - started
    assert floor_count == count
    figures["dump_http"], figures["dump_floor"] = count / dump_seconds, count / dump_floor
    print(f"    /datastore/dump?format=json over HTTP: {rate(count, dump_seconds)}, {size / 1e6:,.0f} MB; floor "
          f"(raw SQL key ranges of 1,000, JSON parsed and written): {rate(count, dump_floor)}; "
          f"ratio {dump_seconds / dump_floor:.1f}x")
    raw.close()
    return figures


def peak_memory_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kilobytes on Linux


def run_reads_only(url: str, name: str) -> dict:
    """The reads (7) alone, on the database an earlier ``--keep`` run left (migrated to this code's head
    first, so a kept database measures the code as it is now)."""
    from catalog import create_app
    from catalog.cli import run_migrations
    from catalog.db import get_db

    bench_url, _cleanup = prepare_database(url, True, name, reuse=True)
    folder = Path(tempfile.mkdtemp(prefix="catalog-bench-ds-"))
    try:
        app = create_app({"DATABASE_URL": bench_url, "INSTANCE_PATH": str(folder / "instance"),
                          "SECRET_KEY": "bench", **BENCH_CONFIG})
        run_migrations(app)
        engine = get_db(app).engine
        with engine.connect() as conn:
            admin_id = conn.scalar(sa.text("SELECT id FROM \"user\" WHERE name = 'bench-admin'"))
            resource_id = conn.scalar(sa.text("SELECT resource_id FROM datastore_table"))
            count = conn.scalar(sa.text("SELECT count(*) FROM datastore_record WHERE resource_id = :r "
                                        "AND NOT deleted"), {"r": resource_id})
        print(f"== reads only, {count:,} household records kept, {engine.dialect.name} "
              f"{engine.dialect.server_version_info or ''} ({make_url(bench_url).render_as_string(hide_password=True)})")
        with app.app_context():  # a new instance folder: start the access log's checkpoint there, so
            from catalog.db import get_session  # every logged read moves it, as in a fresh run
            from catalog.sharing.access_log import checkpoint_log

            print(f"    access log checkpoint: {checkpoint_log(get_session(), start=True)[1]}")
        if TEXT:
            measure_text_catch_up(app, resource_id)
        measure_look_over(app)
        if STREAMS_ONLY:  # phase (5) too: the query functions the feed and the dump are made of
            pulled, seconds = measure_feed(app, resource_id)
            print(f"(5) datastore_changes pull (query.changes, limit {FEED_LIMIT:,}): {rate(pulled, seconds)}")
            dumped, seconds = measure_dump(app, resource_id)
            print(f"    the JSON dump (query.iter_records + json.dumps, as /datastore/dump): {rate(dumped, seconds)}",
                  flush=True)
        figures = {"records": count, "database": engine.dialect.name,
                   "reads": measure_reads(app, (admin_id, resource_id),
                                          stored_samples(app, resource_id, count, READ_REPEATS), count)}
        engine.dispose()
        return figures
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def run(count: int, url: str, batch: int, sample: int, keep: bool, reads: bool = True,
        name: str = BENCH_DATABASE, load_only: bool = False) -> dict:
    """One complete benchmark in this process; prints the figures and returns them."""
    from catalog import create_app
    from catalog.cli import run_migrations
    from catalog.datastore import service
    from catalog.db import get_db

    bench_url, cleanup = prepare_database(url, keep, name)
    folder = Path(tempfile.mkdtemp(prefix="catalog-bench-ds-"))
    try:
        app = create_app({"DATABASE_URL": bench_url, "INSTANCE_PATH": str(folder / "instance"),
                          "SECRET_KEY": "bench", **BENCH_CONFIG})
        run_migrations(app)
        ids = setup_catalog(app)
        engine = get_db(app).engine
        print(f"== {count:,} household records, batches of {batch:,}, {engine.dialect.name} "
              f"{engine.dialect.server_version_info or ''} "
              f"({make_url(bench_url).render_as_string(hide_password=True)})")
        path = folder / "records.jsonl"
        generated = generate(path, count, batch)
        print(f"    generating the records (not part of any figure): {rate(count, generated)}, "
              f"{path.stat().st_size / count:,.0f} bytes of JSON each")
        figures = {"records": count, "database": engine.dialect.name, "batch": batch}
        figures.update(measure_validation(path, batch, sample))

        totals, seconds, validating = upsert_pass(app, ids, path, batch)
        assert totals["inserted"] == count and totals["updated"] == totals["unchanged"] == 0, totals
        with get_db(app).session() as session:
            table = service.get_table(session, ids[1])
            stored = session.scalar(sa.text("SELECT count(DISTINCT key) FROM datastore_record "
                                            "WHERE resource_id = :r"), {"r": ids[1]})
            info = service.table_info(session, table)
        assert stored == info["count"] == count and info["last_seq"] == count, (stored, info)
        figures["upsert"] = count / seconds
        figures["upsert_validation_share"] = validating / seconds
        print(f"(2) upsert (upsert_records + commit per batch): {rate(count, seconds)}; "
              f"{validating:.1f} s of it validating ({validating / seconds:.0%}); "
              f"without validation {count / (seconds - validating):,.0f} records/s; "
              f"inserted {totals['inserted']:,}, {stored:,} distinct keys stored")
        if load_only:
            print("    --load-only: stopped after (2), the database kept for --reads-only runs")
            get_db(app).engine.dispose()
            return figures

        copy_seconds = measure_copy(app, path, batch, ids[1])
        figures["copy"] = count / copy_seconds
        postgres = engine.dialect.name == "postgresql"
        label = "COPY (psycopg cursor.copy, json.dumps included)" if postgres \
            else "plain executemany INSERT (SQLite has no COPY; json.dumps included)"
        baseline = "COPY" if postgres else "plain INSERT"
        print(f"(3) {label} into a plain table without index: {rate(count, copy_seconds)}")
        print(f"    upsert / {baseline}: {figures['upsert'] / figures['copy']:.2f}; "
              f"upsert without validation / {baseline}: {count / (seconds - validating) / figures['copy']:.2f}")
        indexed_seconds = measure_copy(app, path, batch, ids[1], indexed=True)
        figures["copy_indexed"] = count / indexed_seconds
        print(f"    the same {baseline} into a table with datastore_record's primary key (resource_id, key) and "
              f"unique (resource_id, seq) index: {rate(count, indexed_seconds)}")

        totals, seconds, validating = upsert_pass(app, ids, path, batch)
        assert totals["inserted"] == totals["updated"] == 0 and totals["unchanged"] == count, totals
        figures["reupsert"] = count / seconds
        print(f"(4) upsert of the same, unchanged records: {rate(count, seconds)}; "
              f"inserted {totals['inserted']}, updated {totals['updated']}, unchanged {totals['unchanged']:,}; "
              f"{validating:.1f} s of it validating")

        pulled, seconds = measure_feed(app, ids[1])
        assert pulled == count, pulled
        figures["feed"] = count / seconds
        print(f"(5) datastore_changes pull (query.changes, limit {FEED_LIMIT:,}): {rate(count, seconds)}")
        dumped, seconds = measure_dump(app, ids[1])
        assert dumped == count, dumped
        figures["dump"] = count / seconds
        print(f"    the JSON dump (query.iter_records + json.dumps, as /datastore/dump): {rate(count, seconds)}")
        caught = measure_text_catch_up(app, ids[1])
        if caught and caught[1]:
            figures["text_catch_up"] = caught[0] / caught[1]
        if LOOK_OVER:
            measure_look_over(app)
        if reads:
            figures["reads"] = measure_reads(app, ids, sample_records(path, count, READ_REPEATS), count)
        figures["peak_memory_mb"] = peak_memory_mb()
        print(f"(6) peak memory (ru_maxrss): {figures['peak_memory_mb']:,.0f} MB")
        get_db(app).engine.dispose()
        return figures
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        cleanup()


#: a whole run: the scheduler tick's look over after the load (``--no-look-over``: the reads find nothing kept
#: and each town's first total keeps its count, as in a table no tick has looked over yet)
LOOK_OVER = True
#: ``--kept-writes``: records the table holds before the timed rounds (every town above KEEP_ABOVE), and the
#: rounds
KEPT_SEED, KEPT_ROUNDS = 20_000, 16


def run_kept_writes(url: str, name: str, batch: int) -> dict:
    """What the kept value counts cost the writes (issue 17): one household table in a fresh database, written
    in rounds of new households and the same households written again (another grid worker, a third of them
    in another town); in every other pair of rounds the table keeps every town's count (``value_counts``, kept
    by a town filter's total), in the others none (forgotten). Before every round each town's households are
    counted either way (keeping counts them), so both kinds of round start from the same pages read. The
    records are validated once beforehand and written with ``validated=True``: the figure is the write path."""
    from catalog import create_app
    from catalog.auth.models import User
    from catalog.cli import run_migrations
    from catalog.datastore import query, service, value_counts
    from catalog.datastore.models import Record
    from catalog.db import get_db
    from schemas.validation import record_validator
    from tests.schemas.records_samples import TOWNS, households

    towns = [town for town, _code in TOWNS]
    bench_url, cleanup = prepare_database(url, False, name)
    folder = Path(tempfile.mkdtemp(prefix="catalog-bench-ds-"))
    try:
        app = create_app({"DATABASE_URL": bench_url, "INSTANCE_PATH": str(folder / "instance"),
                          "SECRET_KEY": "bench", **BENCH_CONFIG})
        run_migrations(app)
        admin_id, resource_id = setup_catalog(app)
        database = get_db(app)
        validator = record_validator("household", 1)
        number = [0]
        rng = random.Random(17)

        def new_batch(size: int) -> list[dict]:
            records = []
            for offset, record in enumerate(households(size, seed=number[0] + 1)):
                town, village, division, household_number = unique_place(number[0] * size + offset)
                records.append(dict(record, household_number=household_number, division_code=division,
                                    town=town, village=village))
            number[0] += 1
            assert not validator.validate_many(records)[1]
            return records

        def write(records: list[dict]) -> float:
            started = time.perf_counter()
            with database.session() as session:
                table = service.get_table(session, resource_id)
                service.upsert_records(session, session.get(User, admin_id), table, records, validated=True)
                session.commit()
            return time.perf_counter() - started

        def keeping(keep: bool) -> set[str]:
            """Make the table keep every town's count, or none; every town's households counted either way."""
            with database.session() as session:
                value_counts.forget(session, resource_id)
                table = service.get_table(session, resource_id)
                for town in towns:
                    if keep:
                        query.field_total(session, table, "town", [town])
                    else:
                        session.scalar(sa.select(sa.func.count()).select_from(Record).where(
                            Record.resource_id == resource_id, Record.deleted.is_(False),
                            query._indexed_equals("town", town)))
                session.commit()
                return value_counts.kept(session, resource_id).get("town", set())

        for _seed in range(KEPT_SEED // batch):
            write(new_batch(batch))
        print(f"== kept value counts and the writes, {database.engine.dialect.name}: a table of {KEPT_SEED:,}+ "
              f"households, {KEPT_ROUNDS} rounds of {batch:,} new and {batch:,} rewritten households, the table "
              "keeping every town's count in every other pair of rounds (K N N K K N …), none in the others")
        seconds: dict = {(kind, keep): [] for kind in ("insert", "update") for keep in (True, False)}
        for round_ in range(KEPT_ROUNDS):
            keep = round_ % 4 in (0, 3)
            assert len(keeping(keep)) == (len(towns) if keep else 0)
            records = new_batch(batch)
            seconds[("insert", keep)].append(write(records))
            seconds[("update", keep)].append(write([dict(r, grid_worker=f"网格员{round_}",
                                                      **({"town": rng.choice(towns)} if i % 3 == 0 else {}))
                                                for i, r in enumerate(records)]))
            with database.session() as session:  # (after every round: the same reads before each kind of round)
                for town in towns:
                    counted = session.scalar(sa.select(sa.func.count()).select_from(Record).where(
                        Record.resource_id == resource_id, Record.deleted.is_(False),
                        query._indexed_equals("town", town)))
                    if keep:  # the counts the round's writes moved are each town's live households
                        assert value_counts.counts(session, resource_id, "town", [town]) == {town: counted}, town
        figures: dict = {}
        for kind in ("insert", "update"):
            kept_rate = batch * len(seconds[(kind, True)]) / sum(seconds[(kind, True)])
            plain_rate = batch * len(seconds[(kind, False)]) / sum(seconds[(kind, False)])
            median_kept, median_plain = (batch / statistics.median(seconds[(kind, keep)]) for keep in (True, False))
            figures[kind] = kept_rate / plain_rate
            print(f"    {kind}: keeping counts {kept_rate:,.0f} records/s, keeping none {plain_rate:,.0f} records/s; "
                  f"ratio {kept_rate / plain_rate:.3f} (the median batch's: {median_kept:,.0f} and {median_plain:,.0f}, "
                  f"ratio {median_kept / median_plain:.3f})")
        print("    (after each round that kept them, the counts were checked against a count of each town)")
        database.engine.dispose()
        return figures
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        cleanup()


def main() -> None:
    global MIN_REPEATS, STREAMS, TEXT, STREAMS_ONLY, OFFSET_ONLY, LOOKUPS_ONLY, READ_REPEATS, FIRST_CALLS_ONLY, \
        LOOK_OVER
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--database-url", default=os.environ.get("CATALOG_BENCH_URL", DEFAULT_SERVER))
    parser.add_argument("--batch", type=int, default=5000)
    parser.add_argument("--sample", type=int, default=50_000, help="records validated with plain jsonschema")
    parser.add_argument("--keep", action="store_true", help="keep the benchmark database")
    parser.add_argument("--no-small", action="store_true", help="skip the N/10 run")
    parser.add_argument("--no-reads", action="store_true", help="skip the reads (7)")
    parser.add_argument("--database-name", default=BENCH_DATABASE,
                        help=f"the PostgreSQL database made on the server (default {BENCH_DATABASE})")
    parser.add_argument("--reads-only", action="store_true",
                        help="only the reads (7), on the database a --keep run left (migrated first)")
    parser.add_argument("--single", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--no-streams", action="store_true",
                        help="leave the change feed and the dump over HTTP out of the reads (7)")
    parser.add_argument("--no-text", action="store_true",
                        help="--reads-only: no text index catch-up and no q reads")
    parser.add_argument("--streams-only", action="store_true",
                        help="--reads-only: only the change feed and the dump over HTTP (with their floors)")
    parser.add_argument("--offset-only", action="store_true",
                        help="--reads-only: only the deep offset reads (also after writes that add and delete a key)")
    parser.add_argument("--lookups-only", action="store_true",
                        help="--reads-only: only the primary-key and head_id_number lookups, with their floor and "
                             "the process's CPU per lookup (implies --no-text)")
    parser.add_argument("--first-calls-only", action="store_true",
                        help="--reads-only: only the town filter and q as the first call after a write (with "
                             "their floors)")
    parser.add_argument("--lookups", type=int, default=READ_REPEATS,
                        help=f"calls of each lookup and of the floor (default {READ_REPEATS})")
    parser.add_argument("--load-only", action="store_true",
                        help="generate, validate and upsert (0-2) only, then keep the database for --reads-only "
                             "(implies --keep and --no-small)")
    parser.add_argument("--no-look-over", action="store_true",
                        help="a whole run without the scheduler tick's look over after the load (5c)")
    parser.add_argument("--kept-writes", action="store_true",
                        help="only what the kept value counts cost the writes: rounds of writes into one table, "
                             "keeping every town's count in half of them (a fresh database)")
    parser.add_argument("--min-repeats", type=int, default=MIN_REPEATS,
                        help=f"calls of a read however slow (default {MIN_REPEATS})")
    args = parser.parse_args()
    MIN_REPEATS, STREAMS, TEXT = args.min_repeats, not args.no_streams, not args.no_text
    STREAMS_ONLY, OFFSET_ONLY = args.streams_only, args.offset_only
    LOOKUPS_ONLY, READ_REPEATS = args.lookups_only, args.lookups
    FIRST_CALLS_ONLY = args.first_calls_only
    LOOK_OVER = not args.no_look_over
    if LOOKUPS_ONLY:
        TEXT = False
    if args.load_only:
        run(args.records, args.database_url, args.batch, args.sample, True, False, args.database_name,
            load_only=True)
        return
    if args.reads_only:
        run_reads_only(args.database_url, args.database_name)
        return
    if args.kept_writes:
        run_kept_writes(args.database_url, args.database_name, args.batch)
        return
    if args.single:
        figures = run(args.records, args.database_url, args.batch, args.sample, args.keep, not args.no_reads,
                      args.database_name)
        print(RESULT_MARK + json.dumps(figures), flush=True)
        return
    sizes = ([max(args.records // 10, 1)] if not args.no_small else []) + [args.records]
    results = []
    for size in sizes:
        # A fresh process per size: ru_maxrss is the peak of the whole process.
        command = [sys.executable, "-u", __file__, "--single", "--records", str(size), "--database-url",
                   args.database_url, "--batch", str(args.batch), "--sample", str(min(args.sample, size))]
        if args.keep:
            command.append("--keep")
        if args.no_reads:
            command.append("--no-reads")
        command += ["--database-name", args.database_name, "--min-repeats", str(args.min_repeats)]
        if args.no_streams:
            command.append("--no-streams")
        if args.no_look_over:
            command.append("--no-look-over")
        process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, cwd=ROOT)
        for line in process.stdout:
            if line.startswith(RESULT_MARK):
                results.append(json.loads(line[len(RESULT_MARK):]))
            else:
                print(line, end="", flush=True)
        if process.wait():
            sys.exit(f"the run with {size:,} records failed")
    print("== summary")
    for figures in results:
        baseline = "COPY" if figures["database"] == "postgresql" else "plain INSERT"
        print(f"   {figures['records']:>9,} records: validation {figures['validate_fast']:,.0f}/s "
              f"(jsonschema {figures['validate_jsonschema']:,.0f}/s), upsert {figures['upsert']:,.0f}/s, "
              f"{baseline} {figures['copy']:,.0f}/s (ratio {figures['upsert'] / figures['copy']:.2f}; "
              f"with indexes {figures['copy_indexed']:,.0f}/s), re-upsert {figures['reupsert']:,.0f}/s, "
              f"feed {figures['feed']:,.0f}/s, dump {figures['dump']:,.0f}/s, "
              f"peak memory {figures['peak_memory_mb']:,.0f} MB")

if __name__ == "__main__":
    main()
