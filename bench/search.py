"""Search benchmark: load N generated datasets, then time package_search against a plain lookup.

    python bench/search.py [--datasets 100000] [--database-url URL] [--runs 200]

The database is ``--database-url``, else ``CATALOG_DATABASE_URL``, else a new SQLite file in a
temporary folder. For PostgreSQL the URL names the server (and a database to connect to first):
the benchmark creates a fresh database ``catalog_bench`` there, migrates it and drops it at the
end (``--keep`` keeps it, ``--reuse`` measures an already loaded one again without loading).

Loading inserts the rows of ``dataset``, ``tag``, ``dataset_tag`` and ``resource`` in batches
(one commit per ``--batch`` datasets) and writes the search index with the index's own
``document_of`` and ``write_entries``; the text analysis (jieba, OpenCC, pypinyin) runs in worker
processes. Afterwards the tables are analysed (PostgreSQL: VACUUM ANALYZE, as autovacuum would).

Then each scenario runs ``--runs`` times after a few warm-up calls, anonymously through the
Flask test client (routing, parameter checks, search, JSON of 10 results):

* ``two-word+facets``: a two-word Chinese query with the facets organization, tags and res_format;
* ``filtered``: no words, fq on organization and share_type;
* ``empty+facets``: no words, the same three facets over every dataset;
* ``fields+or+facets``: Solr field syntax, ``title:<word> OR tags:<word>``, with the three facets;
* ``range+not``: a date range and a negated format, ``metadata_modified:[… TO *] -res_format:PDF``;
* ``lookup (baseline)``: ``SELECT id, title FROM dataset WHERE name = :name`` (a unique index)
  in a new session, which is the floor every request pays.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import multiprocessing
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

BENCH_DATABASE = "catalog_bench"
FACETS = ["organization", "tags", "res_format"]
TWO_WORD_QUERIES = ["户籍 人口", "低保 名单", "社会 救助", "登记 信息", "补贴 发放", "信访 办理"]
EPOCH = dt.datetime(2020, 1, 1, tzinfo=dt.timezone.utc)


# -- database ----------------------------------------------------------------------------------

def _driver_url(url: str) -> sa.URL:
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def prepare_database(url: str | None, *, reuse: bool) -> tuple[str, callable]:
    """Return (the URL to benchmark, a cleanup function)."""
    if not url:
        folder = tempfile.mkdtemp(prefix="catalog-bench-")
        return f"sqlite:///{folder}/bench.db", lambda keep: keep or shutil.rmtree(folder, ignore_errors=True)
    parsed = _driver_url(url)
    if not parsed.drivername.startswith("postgresql"):
        if reuse:
            return url, lambda keep: None
        path = Path(parsed.database or "")
        if path.exists():
            sys.exit(f"{path} exists; give a new file (the benchmark fills it) or --reuse")
        return url, lambda keep: keep or path.unlink(missing_ok=True)
    admin = sa.create_engine(parsed, isolation_level="AUTOCOMMIT")
    if not reuse:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{BENCH_DATABASE}" WITH (FORCE)')
            conn.exec_driver_sql(f'CREATE DATABASE "{BENCH_DATABASE}"')

    def cleanup(keep: bool) -> None:
        if not keep:
            with admin.connect() as conn:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{BENCH_DATABASE}" WITH (FORCE)')
        admin.dispose()

    return parsed.set(database=BENCH_DATABASE).render_as_string(hide_password=False), cleanup


# -- loading -----------------------------------------------------------------------------------

def _document(job: tuple[str, dict]) -> tuple[str, dict[str, str]]:
    """The index document of one generated dataset, built by the index's own ``document_of``."""
    from catalog.search.index import document_of

    dataset_id, item = job
    dataset = SimpleNamespace(
        title=item["title"], name=item["name"], notes=item["notes"],
        tags=[SimpleNamespace(name=t) for t in item["tags"]],
        organization=SimpleNamespace(title=item["org_title"], name=item["org"]),
        resource_code=item["resource_code"], category=item["category"])
    return dataset_id, document_of(dataset)


def _warm() -> None:
    from catalog.search import text

    text.warm_up()


def load(app, count: int, batch: int, workers: int) -> float:
    """Insert ``count`` generated datasets; return the seconds it took."""
    from catalog.auth.service import create_user
    from catalog.datasets.models import Dataset, Resource, Tag, dataset_tag
    from catalog.db import get_db
    from catalog.departments.service import create_department
    from catalog.search.index import write_entries
    from tests.search import corpus

    started = time.perf_counter()
    # Fork the analysis workers before the engine has opened any connection they could inherit.
    pool = multiprocessing.get_context("fork").Pool(workers, initializer=_warm) if workers > 1 else None
    if pool is None:
        _warm()
    items = corpus.generate(count)
    database = get_db(app)
    with database.session() as session:
        admin = create_user(session, None, name="bench-admin", password="bench-password-1",
                            sysadmin=True, check_auth=False)
        departments = {slug: create_department(session, admin, name=slug, title=title).id
                       for slug, title in corpus.ORGS.items()}
        tag_names = sorted({t for item in items for t in item["tags"]})
        tag_ids = {name: str(uuid.uuid4()) for name in tag_names}
        session.execute(sa.insert(Tag.__table__), [{"id": i, "name": n} for n, i in tag_ids.items()])
        session.commit()

    done = 0
    phases = {"setup": time.perf_counter() - started, "analysis": 0.0, "rows": 0.0, "index": 0.0}
    try:
        for start in range(0, count, batch):
            chunk = items[start:start + batch]
            ids = [str(uuid.uuid4()) for _ in chunk]
            jobs = list(zip(ids, chunk))
            mark = time.perf_counter()
            documents = pool.map(_document, jobs, chunksize=50) if pool else [_document(j) for j in jobs]
            phases["analysis"] += time.perf_counter() - mark
            datasets, links, resources = [], [], []
            for number, (dataset_id, item) in enumerate(jobs, start=start):
                when = EPOCH + dt.timedelta(minutes=number)
                datasets.append({
                    "id": dataset_id, "name": item["name"], "title": item["title"], "notes": item["notes"],
                    "owner_org": departments[item["org"]], "private": False, "state": "active",
                    "type": "dataset", "extras": {}, "resource_code": item["resource_code"],
                    "category": item["category"], "share_type": item["share_type"],
                    "share_condition": item["share_condition"] or None,
                    "share_method": {"channel": "platform", "type": "api"},
                    "open_type": item["open_type"], "open_condition": item["open_condition"] or None,
                    "update_cycle": item["update_cycle"], "publish_date": when.date(),
                    "related_codes": [], "items": item["items"], "metadata_schema": "dataset@1",
                    "creator_user_id": None, "metadata_created": when, "metadata_modified": when,
                    "revision": 1})
                links.extend({"dataset_id": dataset_id, "tag_id": tag_ids[t]} for t in item["tags"])
                resources.extend({
                    "id": str(uuid.uuid4()), "package_id": dataset_id, "name": f"{item['title']} {fmt}",
                    "url": f"http://example.gov.cn/{item['name']}.{fmt.lower()}", "format": fmt,
                    "position": position, "extras": {}, "created": when, "metadata_modified": when,
                } for position, fmt in enumerate(item["formats"]))
            mark = time.perf_counter()
            with database.session() as session:
                session.execute(sa.insert(Dataset.__table__), datasets)
                session.execute(sa.insert(dataset_tag), links)
                session.execute(sa.insert(Resource.__table__), resources)
                phases["rows"] += time.perf_counter() - mark
                mark = time.perf_counter()
                write_entries(session, documents)
                session.commit()
                phases["index"] += time.perf_counter() - mark
            done += len(chunk)
            if done % (batch * 10) == 0 or done == count:
                elapsed = time.perf_counter() - started
                print(f"  loaded {done:>7,} / {count:,} datasets ({done / elapsed:,.0f}/s; "
                      + ", ".join(f"{k} {v:.0f} s" for k, v in phases.items()) + ")", flush=True)
    finally:
        if pool:
            pool.close()
            pool.join()
    mark = time.perf_counter()
    analyse(database.engine)
    print(f"  analyse: {time.perf_counter() - mark:.1f} s")
    return time.perf_counter() - started


def analyse(engine: sa.Engine) -> None:
    """Refresh the planner statistics (and, on PostgreSQL, the visibility map)."""
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE")
    else:
        with engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE")


# -- measuring ---------------------------------------------------------------------------------

def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def measure(call, runs: int, warmup: int = 5) -> dict[str, float]:
    for number in range(warmup):
        call(number)
    times = []
    for number in range(runs):
        started = time.perf_counter()
        call(number)
        times.append((time.perf_counter() - started) * 1000)
    return {"p50": statistics.median(times), "p95": _percentile(times, 0.95),
            "mean": statistics.fmean(times), "max": max(times)}


def scenarios(app, names: list[str]) -> tuple[dict[str, tuple], dict[str, list[int]]]:
    """The timed calls, by label, with a description; and where they note their match counts."""
    from catalog.db import get_db
    from tests.search import corpus

    client = app.test_client()
    orgs = list(corpus.ORGS)
    counts: dict[str, list[int]] = {}

    def search(label: str, params: dict) -> None:
        query = {k: json.dumps(v) if isinstance(v, list) else v for k, v in params.items()}
        response = client.get("/api/3/action/package_search", query_string=query)
        body = response.get_json()
        if response.status_code != 200 or not body.get("success"):
            raise SystemExit(f"package_search failed: {params} -> {response.status_code} {body}")
        counts.setdefault(label, []).append(body["result"]["count"])

    def two_words(n: int) -> None:
        search("two-word+facets", {"q": TWO_WORD_QUERIES[n % len(TWO_WORD_QUERIES)], "facet.field": FACETS})

    def filtered(n: int) -> None:
        search("filtered", {"fq": f"organization:{orgs[n % len(orgs)]} share_type:conditional"})

    def empty(n: int) -> None:
        search("empty+facets", {"facet.field": FACETS})

    def fields_or(n: int) -> None:  # q in Solr's field syntax: a text field OR an exact one
        words = TWO_WORD_QUERIES[n % len(TWO_WORD_QUERIES)].split()
        search("fields+or+facets", {"q": f"title:{words[0]} OR tags:{words[1]}", "facet.field": FACETS})

    def range_not(n: int) -> None:
        search("range+not", {"q": f"metadata_modified:[{2020 + n % 5}-01-01T00:00:00Z TO *] -res_format:PDF"})

    database = get_db(app)
    lookup_sql = sa.text("SELECT id, title FROM dataset WHERE name = :name")

    def lookup(n: int) -> None:
        with database.session() as session:
            row = session.execute(lookup_sql, {"name": names[n % len(names)]}).first()
            assert row is not None

    return {"two-word+facets": (two_words, f"q in {TWO_WORD_QUERIES}, facet.field={FACETS}"),
            "filtered": (filtered, "fq=organization:<one of 8> share_type:conditional"),
            "empty+facets": (empty, f"q empty, facet.field={FACETS}"),
            "fields+or+facets": (fields_or, f"q=title:<word> OR tags:<word>, facet.field={FACETS}"),
            "range+not": (range_not, "q=metadata_modified:[<year>-01-01T00:00:00Z TO *] -res_format:PDF"),
            "lookup (baseline)": (lookup, "SELECT id, title FROM dataset WHERE name = :name")}, counts


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", type=int, default=100_000)
    parser.add_argument("--database-url", default=os.environ.get("CATALOG_DATABASE_URL"))
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--keep", action="store_true", help="keep the benchmark database")
    parser.add_argument("--reuse", action="store_true", help="measure an already loaded benchmark database")
    args = parser.parse_args(argv)

    from catalog import create_app
    from catalog.cli import run_migrations
    from catalog.datasets.models import Dataset
    from catalog.db import get_db

    url, cleanup = prepare_database(args.database_url, reuse=args.reuse)
    instance = tempfile.mkdtemp(prefix="catalog-bench-instance-")
    app = create_app({"DATABASE_URL": url, "INSTANCE_PATH": instance, "SECRET_KEY": "bench",
                      "SITE_URL": "http://localhost"})
    engine = get_db(app).engine
    print(f"database: {engine.dialect.name} {make_url(url).render_as_string(hide_password=True)}")
    try:
        if not args.reuse:
            run_migrations(app)
            seconds = load(app, args.datasets, args.batch, args.workers)
            print(f"load: {args.datasets:,} datasets in {seconds:.1f} s = {args.datasets / seconds:,.0f} datasets/s "
                  f"(batches of {args.batch}, {args.workers} analysis workers, including ANALYZE)")
        with engine.connect() as conn:
            total = conn.scalar(sa.select(sa.func.count()).select_from(Dataset))
            names = list(conn.scalars(sa.select(Dataset.name).order_by(sa.func.random()).limit(1000)))
        print(f"datasets in the database: {total:,}; {args.runs} timed runs per scenario after 5 warm-up runs")
        random.seed(0)
        plan, counts = scenarios(app, names)
        results = {}
        for label, (call, description) in plan.items():
            results[label] = measure(call, args.runs)
            print(f"  {label:<18} {description}")
        base = results["lookup (baseline)"]
        print(f"\n{'scenario':<18} {'p50 ms':>9} {'p95 ms':>9} {'mean ms':>9} {'max ms':>9} "
              f"{'p50/base':>9} {'p95/base':>9}  matches")
        for label, figures in results.items():
            matched = counts.get(label)
            found = f"{min(matched):,}-{max(matched):,}" if matched else "1"
            print(f"{label:<18} {figures['p50']:>9.2f} {figures['p95']:>9.2f} {figures['mean']:>9.2f} "
                  f"{figures['max']:>9.2f} {figures['p50'] / base['p50']:>9.1f} "
                  f"{figures['p95'] / base['p95']:>9.1f}  {found}")
    finally:
        engine.dispose()
        cleanup(args.keep)
        shutil.rmtree(instance, ignore_errors=True)


if __name__ == "__main__":
    main()
