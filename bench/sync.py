"""Sync benchmark: a department's household CSV export into the DataStore, against a raw COPY of the file.

    python bench/sync.py [--rows 1000000] [--server URL] [--batch 1000] [--keep] [--no-small] [--profile]
                          [--no-dlt] [--dlt-venv DIR]

What it does, at N rows and (unless ``--no-small``) first at N/10, each time in a fresh database:

0. writes a household CSV of N rows as a department exports it: Chinese headers, GB18030, CRLF, members
   as ``姓名,身份证号,性别,与户主关系,是否外出务工,务工地点,联系电话`` items separated by ``;`` and a
   line break (a quoted newline), 男/女 and 是/否, dates in the five styles exports mix, traditional town
   names on every third row (``tests.connectors.exports.household_row``). Records come from
   ``households(1000, seed=batch)`` with household numbers, division codes, towns and villages
   rewritten from the row's position, so the N keys are distinct by construction;
1. creates the PostgreSQL database ``catalog_bench_sync`` on ``--server`` (dropped first if it exists,
   dropped at the end unless ``--keep``), migrates it with ``catalog.cli.run_migrations``, and creates
   a sysadmin, a department, a dataset bound to ``household@1`` and a ``csv`` sync job with the export
   mapping (``tests.connectors.exports.HOUSEHOLD_MAPPING``), mode full_refresh, write upsert,
   on_invalid quarantine, batches of ``--batch``;
2. runs the job with ``catalog.sync.service.run_job`` in a child process (``--child``), so that the
   peak memory (``VmHWM``) is that of the run alone: read + detect the encoding + map + validate
   (``household@1``) + upsert + commit per batch. Prints rows/s and the engine's own split of the time;
3. COPYs the same file into a plain table of 12 text columns without index: ``COPY … FROM STDIN
   (FORMAT csv, HEADER, ENCODING 'GB18030')`` fed the file's bytes by psycopg 3 ``cursor.copy`` — the
   limit of getting these rows into PostgreSQL at all — and, for reference, the same COPY fed rows
   parsed in Python (``csv.reader`` + ``copy.write_row``). Prints rows/s and the sync/COPY ratio;
4. runs the job a second time over the unchanged file (a child process again): inserted = updated = 0,
   no change-feed entry (the table's last change number stays); prints its time as a share of the first;
5. checks the table holds N distinct keys and the quarantine is empty;
6. (unless ``--no-dlt``) times dlt's ``merge`` of the same file on the household number into the same
   PostgreSQL (``dlt[postgres]`` installed by pip into its own virtualenv, ``--dlt-venv``, reused when
   there; skipped with a message when it cannot be installed): the CSV read by ``csv.DictReader``, columns
   renamed as the job's mapping renames them, no validation. Prints our rows/s ÷ dlt's.

The machine the figures come from may be shared: compare the ratios printed by one run, not absolute times
between runs.

``--profile`` runs both syncs under cProfile instead and prints where the time goes.
"""
from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import logging
import os
import re
import resource
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
DEFAULT_DLT_VENV = Path(tempfile.gettempdir()) / "catalog-bench-dlt-venv"
BENCH_DATABASE = "catalog_bench_sync"
JOB = "household-export"
RESULT_MARK = "BENCH-RESULT "
GENERATE_BATCH = 1000


# -- the export --------------------------------------------------------------------------------

def unique_place(index: int) -> tuple[str, str, str, str]:
    """(town, village, division code, household number) of row ``index``, distinct for every index below
    110 villages x 99 groups x 9999 households (about 108 million)."""
    from tests.schemas.records_samples import COUNTY, TOWNS, VILLAGES

    spot, rest = index % (len(TOWNS) * len(VILLAGES)), index // (len(TOWNS) * len(VILLAGES))
    town, township = TOWNS[spot // len(VILLAGES)]
    village_index = spot % len(VILLAGES)
    division = f"{COUNTY}{township}{200 + village_index:03d}"
    group, number = rest // 9999 + 1, rest % 9999 + 1
    if group > 99:
        raise SystemExit("too many rows for distinct household numbers")
    return town, VILLAGES[village_index], division, f"{division}{group:02d}{number:04d}"


def write_export(path: Path, rows: int) -> float:
    """The household CSV export of ``rows`` rows at ``path``; returns the seconds it took."""
    from tests.connectors.exports import HEADER, household_row
    from tests.schemas.records_samples import households

    started = time.perf_counter()
    with path.open("w", encoding="gb18030", newline="") as out:
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(HEADER)
        for number, start in enumerate(range(0, rows, GENERATE_BATCH)):
            size = min(GENERATE_BATCH, rows - start)
            batch = []
            for offset, record in enumerate(households(size, seed=number + 1)):
                index = start + offset
                town, village, division, household_number = unique_place(index)
                # the village in the address follows the rewritten one, as a real register's would
                address = record["address"].replace(record["town"] + record["village"], town + village)
                record.update(household_number=household_number, division_code=division, town=town,
                              village=village, address=address)
                batch.append(household_row(record, index))
            writer.writerows(batch)
    return time.perf_counter() - started


# -- the database ------------------------------------------------------------------------------

def driver_url(url: str) -> sa.URL:
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    if not parsed.drivername.startswith("postgresql"):
        raise SystemExit("the sync benchmark compares with PostgreSQL's COPY: give a postgresql:// server URL")
    return parsed


def fresh_database(server: str) -> str:
    """A new, empty benchmark database on ``server`` (``BENCH_DATABASE``, dropped first); its URL."""
    admin = sa.create_engine(driver_url(server), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{BENCH_DATABASE}" WITH (FORCE)')
        conn.exec_driver_sql(f'CREATE DATABASE "{BENCH_DATABASE}"')
    admin.dispose()
    return driver_url(server).set(database=BENCH_DATABASE).render_as_string(hide_password=False)


def drop_database(server: str) -> None:
    admin = sa.create_engine(driver_url(server), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{BENCH_DATABASE}" WITH (FORCE)')
    admin.dispose()


def make_app(url: str, folder: Path):
    from catalog import create_app

    return create_app({"DATABASE_URL": url, "INSTANCE_PATH": str(folder / "instance"), "SECRET_KEY": "bench",
                       "BROKER_URL": None})


def setup_job(app, export: Path, batch: int) -> str:
    """A sysadmin, a department, a dataset bound to household@1 and the csv job; the resource id."""
    from catalog.auth.models import User
    from catalog.connections.service import create_connection
    from catalog.db import get_db
    from bench.common import household_dataset
    from catalog.sync import service
    from tests.connectors.exports import HOUSEHOLD_MAPPING

    with get_db(app).session() as session:
        admin = User(name="bench-admin", sysadmin=True)
        session.add(admin)
        session.flush()
        dataset = household_dataset(session, admin, department_name="ningshan-gaj", department_title="宁陕县公安局")
        # the export's folder registered as a connection, as a sysadmin would (jobs name no raw paths)
        create_connection(session, admin, name="gaj-exports", kind="folder", config={"path": str(export.parent)},
                          organizations=[dataset.owner_org])
        job = service.create_job(session, admin, package_id=dataset.id, values={
            "name": JOB, "title": "公安户籍系统住户导出", "source": "csv",
            "source_config": {"connection": "gaj-exports", "path": export.name},
            "mapping": HOUSEHOLD_MAPPING, "mode": "full_refresh", "write": "upsert", "on_invalid": "quarantine",
            "batch_size": batch})
        session.commit()
        return job.resource_id


# -- the sync run, in a child process ------------------------------------------------------------

def peak_mb() -> float:
    """This process's peak resident memory: VmHWM, of this program's own address space.

    (``ru_maxrss`` would do but for one thing: Linux carries it over ``exec`` from the forking process,
    so a child started by a parent that had grown to 200 MB reports at least 200 MB.)"""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024  # kB
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(url: str, folder: Path, profile: bool) -> None:
    """Run the job once (this process does nothing else) and print the figures as one JSON line."""
    from catalog.db import get_db
    from catalog.sync.service import run_job

    app = make_app(url, folder)
    database = get_db(app)
    import connectors.sources.csv_file  # noqa: F401 - loaded before the baseline memory figure
    import schemas.validation  # noqa: F401

    said_columnar = []  # the run's own log keeps its last 500 lines only: the line is caught as logged

    class Catch(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if "column by column" in record.getMessage():
                said_columnar.append(True)

    logging.getLogger("connectors.engine").addHandler(Catch(logging.INFO))
    baseline = peak_mb()
    reports = []
    started = time.perf_counter()
    if profile:
        import cProfile
        import pstats

        profiler = cProfile.Profile()
        run = profiler.runcall(run_job, database, JOB, trigger="bench", progress=reports.append)
        seconds = time.perf_counter() - started
        stats = pstats.Stats(profiler, stream=sys.stdout)
        stats.sort_stats("tottime").print_stats(30)
        stats.sort_stats("cumulative").print_stats(45)
    else:
        run = run_job(database, JOB, trigger="bench", progress=reports.append)
        seconds = time.perf_counter() - started
    timings = reports[-1].timings if reports else {}
    said = [re.search(r"(\d+) rows were the same source rows", line) for line in run.log or []]
    not_mapped = next((int(found.group(1)) for found in said if found), 0)
    columnar = bool(said_columnar)
    print(RESULT_MARK + json.dumps({"status": run.status, "error": run.error_message, "counts": run.counts,
                                    "not_mapped": not_mapped, "columnar": columnar,
                                    "seconds": seconds, "timings": timings, "baseline_mb": baseline,
                                    "peak_mb": peak_mb()}), flush=True)


def sync_in_child(url: str, folder: Path, profile: bool = False, env: dict[str, str] | None = None) -> dict:
    command = [sys.executable, __file__, "--child", "--database-url", url, "--folder", str(folder)]
    if profile:
        command.append("--profile")
    result = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, env={**os.environ, **(env or {})})
    if profile:
        print(result.stdout.split(RESULT_MARK)[0])
    lines = [line for line in result.stdout.splitlines() if line.startswith(RESULT_MARK)]
    if result.returncode != 0 or not lines:
        raise SystemExit(f"the sync child failed ({result.returncode}):\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    figures = json.loads(lines[-1][len(RESULT_MARK):])
    if figures["status"] != "succeeded":
        raise SystemExit(f"the sync run failed: {figures['error']}")
    return figures


# -- the COPY baseline ---------------------------------------------------------------------------

def copy_baseline(url: str, export: Path, rows: int) -> tuple[float, float]:
    """Seconds to COPY the file (server-side CSV parsing), and to COPY rows parsed by csv.reader."""
    import psycopg

    from tests.connectors.exports import HEADER

    columns = ", ".join(f'"{name}" text' for name in HEADER)
    conninfo = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(conninfo) as conn:
        timings = []
        for parse_in_python in (False, True):
            conn.execute("DROP TABLE IF EXISTS bench_copy")
            conn.execute(f"CREATE TABLE bench_copy ({columns})")
            conn.commit()
            started = time.perf_counter()
            with conn.cursor() as cursor:
                if parse_in_python:
                    with export.open(encoding="gb18030", newline="") as text, \
                            cursor.copy("COPY bench_copy FROM STDIN") as copy:
                        reader = csv.reader(text)
                        next(reader)
                        for row in reader:
                            copy.write_row(row)
                else:
                    with export.open("rb") as raw, \
                            cursor.copy("COPY bench_copy FROM STDIN (FORMAT csv, HEADER true, ENCODING 'GB18030')") as copy:
                        while chunk := raw.read(1 << 20):
                            copy.write(chunk)
            conn.commit()
            timings.append(time.perf_counter() - started)
            copied = conn.execute("SELECT count(*) FROM bench_copy").fetchone()[0]
            assert copied == rows, (copied, rows)
        conn.execute("DROP TABLE bench_copy")
        conn.commit()
    return timings[0], timings[1]


# -- one size --------------------------------------------------------------------------------------

def empty_table(url: str, resource_id: str) -> None:
    """Remove every record (the bench database holds this resource's only) and its change numbers: the next
    sync is a first sync into a table as fresh as the first one's. (A DELETE + VACUUM of 1,000,000 records
    left a merge of 1,000 records taking 13 s: TRUNCATE rebuilds the heap and the indexes empty.)"""
    import psycopg

    conninfo = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(conninfo) as conn:
        conn.execute("TRUNCATE datastore_record")
        conn.execute("UPDATE datastore_table SET last_seq = 0 WHERE resource_id = %s", (resource_id,))
        conn.commit()
        conn.autocommit = True
        conn.execute("ANALYZE datastore_record")


def write_floor(url: str, resource_id: str, batch: int) -> float:
    """Seconds to write the stored records again into the emptied table as a sync writes each batch, with
    nothing read, mapped, validated or encoded: the lock of the table, COPY of the prepared text into the
    staging table, the merge statement (``catalog.datastore.service._MERGE``), the new last change number,
    the job's state, the commit. What is left of a first sync when every other part costs nothing."""
    import psycopg

    from catalog.datastore.service import _MERGE, STAGE

    conninfo = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(conninfo) as conn:
        conn.execute("DROP TABLE IF EXISTS bench_floor")
        conn.execute("CREATE TABLE bench_floor AS SELECT seq, key, data::text AS data, content_hash, source_hash "
                     "FROM datastore_record WHERE resource_id = %s", (resource_id,))
        conn.commit()
    empty_table(url, resource_id)
    with psycopg.connect(conninfo) as source, psycopg.connect(conninfo) as conn:
        rows = source.cursor(name="bench_floor_rows")
        rows.itersize = batch
        rows.execute("SELECT key, data, content_hash, source_hash FROM bench_floor ORDER BY seq")
        seconds = 0.0
        while chunk := rows.fetchmany(batch):
            started = time.perf_counter()
            with conn.cursor() as cursor:
                cursor.execute("UPDATE datastore_table SET modified = now() WHERE resource_id = %s", (resource_id,))
                last = cursor.execute("SELECT last_seq FROM datastore_table WHERE resource_id = %s",
                                      (resource_id,)).fetchone()[0] or 0
                cursor.execute(f"CREATE TEMPORARY TABLE IF NOT EXISTS {STAGE} (ord integer, key text, data text, "
                               "content_hash text, source_hash text) ON COMMIT DELETE ROWS")
                with cursor.copy(f"COPY {STAGE} (ord, key, data, content_hash, source_hash) FROM STDIN") as copy:
                    for position, row in enumerate(chunk):
                        copy.write_row((position, *row))
                cursor.execute(_MERGE, {"resource": resource_id, "last": last, "now": dt.datetime.now(dt.timezone.utc)},
                               prepare=False)
                changed = cursor.fetchone()[0]
                assert changed == len(chunk), (changed, len(chunk))
                cursor.execute(f"DELETE FROM {STAGE}")
                cursor.execute("UPDATE datastore_table SET last_seq = %s WHERE resource_id = %s",
                               (last + changed, resource_id))
                cursor.execute("UPDATE sync_job SET modified = now()")
            conn.commit()
            seconds += time.perf_counter() - started
        source.rollback()
        source.execute("DROP TABLE bench_floor")
        source.commit()
    return seconds


def rate(rows: int, seconds: float) -> str:
    return f"{rows / seconds:,.0f} rows/s ({rows:,} in {seconds:.1f} s)"


def split(figures: dict) -> str:
    timings, total = figures["timings"], figures["seconds"]
    parts = [f"{name} {seconds:.1f} s ({seconds / total:.0%})" for name, seconds in timings.items() if seconds]
    other = total - sum(timings.values())
    return ", ".join(parts + [f"other {other:.1f} s ({other / total:.0%})"])


def last_seq(engine, resource_id: str) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.text("SELECT last_seq FROM datastore_table WHERE resource_id = :r"),
                            {"r": resource_id}).scalar_one()


# -- dlt, what a user might pick instead -----------------------------------------------------------

DLT_SCRIPT = """
import csv, json, sys, time
import dlt
credentials, path, rename, key, work = (json.loads(sys.argv[1]), sys.argv[2], json.loads(sys.argv[3]), sys.argv[4],
                                       sys.argv[5])

@dlt.resource(name="households", primary_key=key, write_disposition="merge")
def households():
    with open(path, encoding="gb18030", newline="") as text:
        for row in csv.DictReader(text):
            yield {rename[name]: value for name, value in row.items()}

pipeline = dlt.pipeline(pipeline_name="bench_sync", destination=dlt.destinations.postgres(credentials=credentials),
                        dataset_name="dlt_bench", pipelines_dir=work)
started = time.perf_counter()
pipeline.run(households())
print("DLT-SECONDS", time.perf_counter() - started)
"""


def dlt_python(venv: Path) -> Path | None:
    """The python of a virtualenv holding dlt[postgres], made with pip when missing; None (and a message)
    when it cannot be made (no network, no wheel for this Python) within a few minutes."""
    python = venv / "bin" / "python"
    if python.exists() and subprocess.run([str(python), "-c", "import dlt"], capture_output=True).returncode == 0:
        return python
    try:
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True, timeout=120)
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", "dlt[postgres]"], check=True,
                       capture_output=True, timeout=600)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as error:
        detail = getattr(error, "stderr", b"") or b""
        print(f"(5) dlt skipped: it could not be installed into {venv} ({type(error).__name__}: "
              f"{detail.decode(errors='replace').strip()[-300:] or error})")
        return None
    return python


def dlt_merge(venv: Path, url: str, export: Path, rows: int) -> float | None:
    """Seconds of dlt's merge of the export into the benchmark database, or None (with a message)."""
    from tests.connectors.exports import HOUSEHOLD_MAPPING

    python = dlt_python(venv)
    if python is None:
        return None
    parsed = make_url(url)
    # dlt requires a password even where the server does not ask for one (trust authentication)
    credentials = {"database": parsed.database, "username": parsed.username or "postgres",
                   "password": parsed.password or "unused", "host": parsed.host or "127.0.0.1",
                   "port": parsed.port or 5432}
    with tempfile.TemporaryDirectory(prefix="catalog-bench-dlt-") as work:
        result = subprocess.run([str(python), "-c", DLT_SCRIPT, json.dumps(credentials), str(export),
                                 json.dumps(HOUSEHOLD_MAPPING["rename"], ensure_ascii=False), "household_number",
                                 work], capture_output=True, text=True, timeout=3600)
    marks = [line for line in result.stdout.splitlines() if line.startswith("DLT-SECONDS ")]
    if result.returncode != 0 or not marks:
        print(f"(5) dlt skipped: its run failed ({result.returncode}): {result.stderr.strip()[-500:]}")
        return None
    return float(marks[-1].split()[1])


def bench(rows: int, server: str, batch: int, keep: bool, profile: bool, dlt_venv: Path | None,
          compare: bool = False) -> dict:
    folder = Path(tempfile.mkdtemp(prefix="catalog-bench-sync-"))
    try:
        (folder / "exports").mkdir()  # beside the instance folder, never holding it (a connection may not)
        export = folder / "exports" / "公安户籍住户导出.csv"
        generated = write_export(export, rows)
        size = export.stat().st_size
        url = fresh_database(server)
        from catalog.cli import run_migrations
        from catalog.db import get_db

        app = make_app(url, folder)
        run_migrations(app)
        resource_id = setup_job(app, export, batch)
        engine = get_db(app).engine
        print(f"== {rows:,} household rows, {size / 2**20:,.0f} MB of GB18030 CSV ({size / rows:,.0f} bytes a row), "
              f"batches of {batch:,}, PostgreSQL {'.'.join(map(str, engine.dialect.server_version_info))}")
        print(f"   writing the export (not part of any figure): {rate(rows, generated)}")

        first = sync_in_child(url, folder, profile)
        counts = first["counts"]
        assert counts["inserted"] == rows and counts["read"] == rows, counts
        print(f"(1) sync run (run_job: read, map, validate household@1, upsert, commit per batch): "
              f"{rate(rows, first['seconds'])}")
        print(f"    transform workers: {'columnar plan (connectors/columnar.py)' if first['columnar'] else 'row by row'}")
        print(f"    time split by the engine: {split(first)}")
        print(f"    peak memory of the run's process: {first['peak_mb']:,.0f} MB "
              f"(of which {first['baseline_mb']:,.0f} MB after imports, before the run)")

        copy_seconds, parsed_seconds = copy_baseline(url, export, rows)
        print(f"(2) raw COPY of the file into a plain 12-column text table (server-side CSV parsing): "
              f"{rate(rows, copy_seconds)}")
        print(f"    COPY fed rows parsed in Python (csv.reader + write_row): {rate(rows, parsed_seconds)}")
        ratio = (rows / first["seconds"]) / (rows / copy_seconds)
        print(f"    sync / raw COPY: {ratio:.3f} (1/{1 / ratio:,.0f}); aim: at least 0.25")

        seq_before = last_seq(engine, resource_id)
        second = sync_in_child(url, folder, profile)
        counts = second["counts"]
        feed_entries = last_seq(engine, resource_id) - seq_before
        assert counts["inserted"] == counts["updated"] == 0 and counts["unchanged"] == rows, counts
        assert feed_entries == 0, feed_entries
        rerun_ratio = second["seconds"] / first["seconds"]
        print(f"(3) second run over the unchanged file: {second['seconds']:.1f} s = {rerun_ratio:.2f} of the first "
              f"run's time (aim: at most 0.3); inserted {counts['inserted']}, updated {counts['updated']}, "
              f"unchanged {counts['unchanged']:,} (of which not mapped again: {second['not_mapped']:,}), "
              f"change-feed entries {feed_entries}; peak memory {second['peak_mb']:,.0f} MB")
        print(f"    time split by the engine: {split(second)}")

        with engine.connect() as conn:
            keys = conn.execute(sa.text("SELECT count(DISTINCT key) FROM datastore_record WHERE resource_id = :r"),
                                {"r": resource_id}).scalar_one()
            quarantined = conn.execute(sa.text("SELECT count(*) FROM quarantine")).scalar_one()
        assert keys == rows and quarantined == 0, (keys, quarantined)
        print(f"(4) stored: {keys:,} distinct keys, {quarantined} quarantined")
        engine.dispose()
        floor_seconds = write_floor(url, resource_id, batch)
        floor_ratio = copy_seconds / floor_seconds
        print(f"(6) the write alone (the stored records merged again into the emptied table per batch of {batch:,}, "
              f"each with the table's lock, the job's state and a commit; nothing read, mapped or encoded): "
              f"{rate(rows, floor_seconds)} = {floor_ratio:.3f} of the raw COPY")
        per_row = None
        if compare:
            empty_table(url, resource_id)
            per_row = sync_in_child(url, folder, env={"CATALOG_SYNC_COLUMNAR": "0"})
            assert per_row["counts"]["inserted"] == rows and not per_row["columnar"], per_row["counts"]
            print(f"(7) the same first sync with the workers mapping row by row (CATALOG_SYNC_COLUMNAR=0): "
                  f"{rate(rows, per_row['seconds'])} = {(rows / per_row['seconds']) / (rows / copy_seconds):.3f} "
                  f"of the raw COPY; columnar / row by row: {per_row['seconds'] / first['seconds']:.2f}")
            print(f"    time split by the engine: {split(per_row)}; peak memory {per_row['peak_mb']:,.0f} MB")
        dlt_rate = None
        if dlt_venv is not None:
            dlt_seconds = dlt_merge(dlt_venv, url, export, rows)
            if dlt_seconds is not None:
                dlt_rate = rows / dlt_seconds
                print(f"(5) dlt merge of the same file on the household number: {rate(rows, dlt_seconds)}; "
                      f"sync / dlt: {(rows / first['seconds']) / dlt_rate:.2f}")
        return {"rows": rows, "sync": rows / first["seconds"], "copy": rows / copy_seconds,
                "copy_python": rows / parsed_seconds, "ratio": ratio, "second_seconds": second["seconds"],
                "rerun_ratio": rerun_ratio, "peak_mb": first["peak_mb"], "second_peak_mb": second["peak_mb"],
                "dlt": dlt_rate, "floor": floor_ratio,
                "per_row": None if per_row is None else (rows / per_row["seconds"]) / (rows / copy_seconds)}
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        if not keep:
            drop_database(server)


def main() -> None:
    global BENCH_DATABASE
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--server", default=os.environ.get("CATALOG_BENCH_URL", DEFAULT_SERVER),
                        help="a PostgreSQL server URL; the benchmark works in its own database there")
    parser.add_argument("--batch", type=int, default=1000, help="the job's batch_size")
    parser.add_argument("--keep", action="store_true", help="keep the benchmark database")
    parser.add_argument("--database", default=BENCH_DATABASE,
                        help="the benchmark database's name on the server (dropped and made again)")
    parser.add_argument("--no-small", action="store_true", help="skip the N/10 run")
    parser.add_argument("--profile", action="store_true", help="profile the first sync run (cProfile)")
    parser.add_argument("--no-dlt", action="store_true", help="do not time dlt's merge")
    parser.add_argument("--per-row", action="store_true",
                        help="also time the first sync with the workers mapping row by row (CATALOG_SYNC_COLUMNAR=0)")
    parser.add_argument("--dlt-venv", type=Path, default=DEFAULT_DLT_VENV,
                        help="the virtualenv dlt is installed into (made when missing)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--database-url", help=argparse.SUPPRESS)
    parser.add_argument("--folder", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.database_url, Path(args.folder), args.profile)
        return
    BENCH_DATABASE = args.database
    started = time.perf_counter()
    sizes = [args.rows] if args.no_small or args.rows < 10 else [args.rows // 10, args.rows]
    dlt_venv = None if args.no_dlt else args.dlt_venv
    results = [bench(rows, args.server, args.batch, args.keep, args.profile, dlt_venv, args.per_row)
               for rows in sizes]
    print("== summary (ratios within one run; the machine may be shared, absolute times vary between runs)")
    print(f"{'rows':>10} {'sync rows/s':>12} {'COPY rows/s':>12} {'/COPY':>7} {'2nd run s':>10} {'2nd/1st':>8} "
          f"{'peak MB':>8} {'2nd peak MB':>12} {'/dlt':>6} {'write/COPY':>11} {'per-row/COPY':>13}")
    for r in results:
        versus_dlt = f"{r['sync'] / r['dlt']:>6.2f}" if r["dlt"] else f"{'-':>6}"
        per_row = f"{r['per_row']:>13.3f}" if r["per_row"] is not None else f"{'-':>13}"
        print(f"{r['rows']:>10,} {r['sync']:>12,.0f} {r['copy']:>12,.0f} {r['ratio']:>7.3f} "
              f"{r['second_seconds']:>10.1f} {r['rerun_ratio']:>8.2f} {r['peak_mb']:>8,.0f} "
              f"{r['second_peak_mb']:>12,.0f} {versus_dlt} {r['floor']:>11.3f} {per_row}")
    print(f"(benchmark wall time {time.perf_counter() - started:,.0f} s)")


if __name__ == "__main__":
    main()
