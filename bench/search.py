"""Search benchmark: load N generated datasets, then time package_search against a plain lookup.

    python bench/search.py [--datasets 100000] [--seed-datasets N] [--database-url URL] [--runs 200]
                           [--only NAME,...]

The database is ``--database-url``, else ``CATALOG_DATABASE_URL``, else a new SQLite file in a
temporary folder. For PostgreSQL the URL names the server (and a database to connect to first):
the benchmark creates a fresh database ``catalog_bench`` there, migrates it and drops it at the
end (``--keep`` keeps it, ``--reuse`` measures an already loaded one again without loading).

Loading inserts the rows of ``dataset``, ``tag``, ``dataset_tag`` and ``resource`` in batches
(one commit per ``--batch`` datasets) and writes the search index with the index's own
``document_of`` and ``write_entries``; the text analysis (jieba, OpenCC, pypinyin) runs in worker
processes. Afterwards the tables are analysed (PostgreSQL: VACUUM ANALYZE, as autovacuum would).
With ``--seed-datasets N`` (PostgreSQL) only N datasets go through that path and the rest are
copies of them made in SQL (``replicate``: new ids and names, same tokens), which is how the
300,000-dataset figures were loaded on the shared 2-core machine.

Then each scenario runs ``--runs`` times after a few warm-up calls, anonymously through the
Flask test client (routing, parameter checks, search, JSON of 10 results):

* ``two-word+facets``: a two-word Chinese query with the facets organization, tags and res_format;
* ``filtered``: no words, fq on organization and share_type (``filtered after write``: each after a
  committed ``UPDATE``; ``filtered cold``: each with the caches cleared; ``floor: count filtered``:
  the plain SQL count of its matches);
* ``fq+title+facets``: no words, fq on organization, sorted on title, the three facets (and ``fq+title
  after write``); ``two-word by title``: the two words sorted on title with the facets (and ``two-word
  title after write``);
* ``empty+facets``: no words, the same three facets over every dataset;
* ``fields+or+facets``: Solr field syntax, ``title:<word> OR tags:<word>``, with the three facets;
* ``range+not``: a date range and a negated format, ``metadata_modified:[… TO *] -res_format:PDF``;
* ``two-word after write`` / ``empty after write``: the same searches, each run after a committed
  ``UPDATE dataset`` (outside the timing), so no answer can come from the search cache: what the
  first search after any catalog write costs;
* ``two-word svc after write``: ``two-word service`` after a committed ``UPDATE`` (the search without
  HTTP and the JSON of the page);
* ``two-word after hit``: the same after a committed ``UPDATE`` that makes one of the query's hits the
  newest (its page changes); ``two-word cold``: the same with the process's caches cleared before each
  call, so every hit is read (a word search's first computation in a process). After the table, how
  the word searches were answered (``full``: every hit read; ``followed``: the datasets logged since a
  kept answer applied to it, catalog.search.delta; ``counted``: too many hits to keep, counted and paged
  by the database in the same statement), the hits kept and the process's peak RSS;
* ``cold words+facets``: one or two words never asked before in the process, with the three facets: a
  word search's first computation, which is what most distinct questions of real users cost (every
  fourth query a single word, the others two words of one dataset's title and abstract, drawn with a
  fixed seed from 2,000 loaded datasets); ``floor: cold words``: the plain SQL count of the same
  queries' matches, in the same order (``--only "cold,floor: cold"`` runs both); ``cold words after
  write``: the same, each after a committed ``UPDATE``; ``cold words, database``: the same without the
  process's replica (``catalog.search.memory``), every hit read by the database as before it;
* ``two-word service`` / ``empty service``: the same searches through ``search_datasets`` in a
  new session, without HTTP and without the JSON of the 10 results;
* ``floor: count words`` / ``floor: count all``: the plain SQL count of the visible datasets that
  match the two words / of all visible datasets, in a new session;
* ``write: reshare``: a committed ``UPDATE`` of one dataset's share type (a facet value: the facet
  counts' triggers change two values), and ``floor: no triggers``, the same with PostgreSQL's
  ``session_replication_role = replica`` (no trigger at all: the price of the version and counts);
* after the table, on PostgreSQL, the concurrent-writers check (``writer_waits``);
* before the scenarios, on PostgreSQL with ``SEARCH_MEMORY_INDEX`` on (the default), the replica's loading:
  its time, size and the process's memory before and after;
* ``lookup (baseline)``: ``SELECT id, title FROM dataset WHERE name = :name`` (a unique index)
  in a new session, which is the floor every request pays.
"""
from __future__ import annotations

import argparse
import datetime as dt
import itertools
import json
import multiprocessing
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from unittest import mock
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


def prepare_database(url: str | None, *, reuse: bool, name: str = BENCH_DATABASE) -> tuple[str, callable]:
    """Return (the URL to benchmark, a cleanup function); on PostgreSQL the database ``name``."""
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
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')

    def cleanup(keep: bool) -> None:
        if not keep:
            with admin.connect() as conn:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()

    return parsed.set(database=name).render_as_string(hide_password=False), cleanup


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


def replicate(app, copies: int) -> float:
    """Multiply the loaded datasets ``copies`` times in SQL (PostgreSQL only); return the seconds.

    Each copy repeats every loaded dataset with a new id (md5 of the old id and the copy number),
    ``-r<k>`` after its name and resource code, and its times moved past the previous copy; its
    tags, resources and search-index entry (the same tokens and tsvector) are copied with it. The
    text analysis is what makes loading slow (about 100 datasets/s on the shared machine); copies
    keep the corpus' proportions (one word matches the same share of the catalog) at any size.
    """
    from catalog.datasets.models import Dataset, Resource
    from catalog.db import get_db

    engine = get_db(app).engine
    if engine.dialect.name != "postgresql":
        raise SystemExit("--seed-datasets (copies made in SQL) needs PostgreSQL")
    started = time.perf_counter()

    def mapped(column: str) -> str:
        return f"md5({column} || ':' || :k)::uuid::text"

    special = {"id": mapped("d.id"), "name": "d.name || '-r' || :k",
               "resource_code": "d.resource_code || '-r' || :k",
               "metadata_created": "d.metadata_created + :k * s.span",
               "metadata_modified": "d.metadata_modified + :k * s.span"}
    columns = [c.name for c in Dataset.__table__.columns]
    dataset_sql = (f"INSERT INTO dataset ({', '.join(columns)}) SELECT "
                   + ", ".join(special.get(c, f"d.{c}") for c in columns)
                   + " FROM dataset d JOIN bench_seed b ON b.id = d.id CROSS JOIN "
                     "(SELECT (max(metadata_created) - min(metadata_created)) + interval '1 minute' AS span "
                     " FROM dataset d2 JOIN bench_seed b2 ON b2.id = d2.id) s")
    rcolumns = [c.name for c in Resource.__table__.columns]
    rspecial = {"id": mapped("r.id"), "package_id": mapped("r.package_id")}
    resource_sql = (f"INSERT INTO resource ({', '.join(rcolumns)}) SELECT "
                    + ", ".join(rspecial.get(c, f"r.{c}") for c in rcolumns)
                    + " FROM resource r JOIN bench_seed b ON b.id = r.package_id")
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE bench_seed AS SELECT id FROM dataset")
    try:
        for k in range(1, copies):
            with engine.begin() as conn:
                conn.execute(sa.text(dataset_sql), {"k": k})
                conn.execute(sa.text(f"INSERT INTO dataset_tag (dataset_id, tag_id) SELECT {mapped('t.dataset_id')}, "
                                     "t.tag_id FROM dataset_tag t JOIN bench_seed b ON b.id = t.dataset_id"), {"k": k})
                conn.execute(sa.text(resource_sql), {"k": k})
                conn.execute(sa.text(
                    "INSERT INTO dataset_search (dataset_id, title_tokens, body_tokens, document) "
                    f"SELECT {mapped('s.dataset_id')}, s.title_tokens, s.body_tokens, s.document "
                    "FROM dataset_search s JOIN bench_seed b ON b.id = s.dataset_id"), {"k": k})
            if k % 10 == 0 or k == copies - 1:
                print(f"  copy {k + 1} / {copies} ({time.perf_counter() - started:.0f} s)", flush=True)
    finally:
        with engine.begin() as conn:
            conn.exec_driver_sql("DROP TABLE bench_seed")
    mark = time.perf_counter()
    analyse(engine)
    print(f"  analyse: {time.perf_counter() - mark:.1f} s")
    return time.perf_counter() - started


# -- measuring ---------------------------------------------------------------------------------

#: A second worker (bench/search.py's main passes the database URL and instance folder): its replica opened from
#: the file the first wrote, 30 searches of new words, its memory.
SECOND_WORKER = """
import sys, time
from catalog import create_app
from catalog.db import get_db
from catalog.search import memory
from catalog.search.service import search_datasets

def rss(kind):
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith(kind + ":")) / 1024

app = create_app({"DATABASE_URL": sys.argv[1], "INSTANCE_PATH": sys.argv[2], "SECRET_KEY": "bench"})
before = rss("VmRSS")
with get_db(app).session() as session:
    started = time.perf_counter()
    replica = memory.replica_of(session, wait=True)
    opened = time.perf_counter() - started
    words = [w for w in replica.terms.values[:: max(1, len(replica.terms.values) // 60)] if len(w) >= 2][:30]
    for word in words:
        search_datasets(session, None, q=word, facet_fields=["organization", "tags", "res_format"])
print(f"opened in {opened:.2f} s ({dict(memory.stats)}); RSS {before:,.0f} MB before, {rss('VmRSS'):,.0f} MB after "
      f"{len(words)} searches ({rss('RssAnon'):,.0f} MB its own, {rss('RssFile'):,.0f} MB mapped files)")
"""


def _rss(kind: str = "VmRSS") -> float:
    """The process's resident memory now, in MB (Linux): all of it, or ``RssAnon`` (its own) or ``RssFile``
    (mapped files, such as the search replica's, shared with the other processes mapping them)."""
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith(f"{kind}:")) / 1024


def _peak_rss() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def measure(call, runs: int, warmup: int = 5, prepare=None) -> dict[str, float]:
    """Time ``runs`` calls after ``warmup`` ones; ``prepare`` runs before each, outside the timing."""
    for number in range(warmup):
        call(number)
    times = []
    for number in range(runs):
        if prepare:
            prepare(number)
        started = time.perf_counter()
        call(number)
        times.append((time.perf_counter() - started) * 1000)
    return {"p50": statistics.median(times), "p95": _percentile(times, 0.95),
            "mean": statistics.fmean(times), "max": max(times)}


def scenarios(app, names: list[str]) -> tuple[dict[str, tuple], dict[str, list[int]]]:
    """The timed calls, by label, with a description; and where they note their match counts."""
    from catalog.datasets.models import Dataset
    from catalog.db import get_db
    from catalog.search import cache, index, memory, text
    from catalog.search.service import search_datasets
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

    def filtered_title(n: int) -> None:
        search("fq+title+facets", {"fq": f"organization:{orgs[n % len(orgs)]}", "sort": "title asc",
                                   "facet.field": FACETS})

    def two_words_title(n: int) -> None:
        search("two-word by title", {"q": TWO_WORD_QUERIES[n % len(TWO_WORD_QUERIES)], "sort": "title asc",
                                     "facet.field": FACETS})

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

    hit_names: dict[str, list[str]] = {}  # a few datasets each two-word query finds

    def hit_write(n: int) -> None:
        """A committed write to a dataset the next query finds: it becomes the newest (its page changes)."""
        q = TWO_WORD_QUERIES[n % len(TWO_WORD_QUERIES)]
        if q not in hit_names:
            with database.session() as session:
                terms = index.safe_terms(text.query_terms(q))
                hit_names[q] = list(session.scalars(sa.select(Dataset.name).where(
                    visible, Dataset.id.in_(index.matching_ids(session, terms))).limit(50)))
        with database.session() as session:
            session.execute(sa.text("UPDATE dataset SET metadata_modified = :now WHERE name = :name"),
                            {"now": dt.datetime.now(dt.timezone.utc), "name": hit_names[q][n % len(hit_names[q])]})
            session.commit()

    def cold(n: int) -> None:  # no answer and no kept hits in the process: the full computation
        cache.clear()

    def write(n: int) -> None:  # a committed catalog write: the next search cannot reuse an answer
        with database.session() as session:
            session.execute(sa.text("UPDATE dataset SET metadata_modified = metadata_modified WHERE name = :name"),
                            {"name": names[n % len(names)]})
            session.commit()

    flip = sa.text("UPDATE dataset SET share_type = CASE share_type WHEN 'conditional' THEN 'unconditional' "
                   "ELSE 'conditional' END, metadata_modified = metadata_modified WHERE name = :name")

    def reshare(n: int, triggers: bool = True) -> None:  # a write that changes a facet value, committed
        with database.session() as session:
            if not triggers:  # PostgreSQL: no trigger fires (the version, the facet counts, the foreign keys)
                session.execute(sa.text("SET LOCAL session_replication_role = replica"))
            session.execute(flip, {"name": names[n % len(names)]})
            session.commit()

    visible = sa.and_(Dataset.state == "active", Dataset.private.is_(False))

    def count_all(n: int) -> None:
        with database.session() as session:
            session.scalar(sa.select(sa.func.count()).select_from(Dataset).where(visible))

    def count_filtered(n: int) -> None:
        with database.session() as session:
            org = session.scalar(sa.text("SELECT id FROM department WHERE name = :name"),
                                 {"name": orgs[n % len(orgs)]})
            session.scalar(sa.select(sa.func.count()).select_from(Dataset).where(
                visible, Dataset.owner_org == org, Dataset.share_type == "conditional"))

    def count_words(n: int) -> None:
        terms = index.safe_terms(text.query_terms(TWO_WORD_QUERIES[n % len(TWO_WORD_QUERIES)]))
        with database.session() as session:
            session.scalar(sa.select(sa.func.count()).select_from(Dataset).where(
                visible, Dataset.id.in_(index.matching_ids(session, terms))))

    # Cold word searches: distinct questions, each new to the process (no kept hits, no cached answer),
    # drawn from the words of the loaded titles and abstracts; every fourth a single word, the others
    # two words found together in one dataset. The floor counts the same queries' matches in plain SQL.
    cold_asked: list[str] = []
    cold_vocabulary: list[list[str]] = []
    picker = random.Random(17)
    floor_calls = itertools.count()

    def next_cold_query() -> str:
        if not cold_vocabulary:
            with database.session() as session:
                sample = session.execute(sa.select(Dataset.title, Dataset.notes).where(visible)
                                         .order_by(sa.func.md5(Dataset.id) if database.engine.dialect.name
                                                   == "postgresql" else Dataset.id).limit(2000)).all()
            for title, notes in sample:
                words = [w for w in dict.fromkeys(text.query_terms(f"{title} {notes or ''}"))
                         if len(w) >= 2 and not w.isascii() and index.safe_terms([w])]
                if len(words) >= 2:
                    cold_vocabulary.append(words)
        asked = set(cold_asked)
        for _attempt in range(100_000):
            words = picker.choice(cold_vocabulary)
            q = picker.choice(words) if len(cold_asked) % 4 == 3 else " ".join(picker.sample(words, 2))
            if q not in asked and q not in TWO_WORD_QUERIES:
                cold_asked.append(q)
                return q
        raise SystemExit(f"fewer distinct cold queries in the sample than asked for ({len(cold_asked)})")

    def cold_words(n: int, label: str = "cold words+facets") -> None:
        search(label, {"q": next_cold_query(), "facet.field": FACETS})

    def cold_words_database(n: int) -> None:  # the same without the replica: computed by the database
        with mock.patch.object(memory, "eligible", return_value=False):
            cold_words(n, "cold words, database")

    def count_cold(n: int) -> None:  # the same queries in the same order (the warm-up's five first)
        terms = index.safe_terms(text.query_terms(cold_asked[next(floor_calls) % len(cold_asked)]))
        with database.session() as session:
            session.scalar(sa.select(sa.func.count()).select_from(Dataset).where(
                visible, Dataset.id.in_(index.matching_ids(session, terms))))

    def service(n: int, q: str) -> None:  # the search alone: no HTTP, no JSON of the 10 results
        with database.session() as session:
            found = search_datasets(session, None, q=q, facet_fields=FACETS)
            assert found.count > 0

    return {"two-word+facets": (two_words, f"q in {TWO_WORD_QUERIES}, facet.field={FACETS}"),
            "two-word service": (lambda n: service(n, TWO_WORD_QUERIES[n % len(TWO_WORD_QUERIES)]),
                                 "the same through search_datasets in a new session (no HTTP, no result JSON)"),
            "two-word after write": (two_words, "the same, each call after a committed dataset UPDATE", write),
            "two-word svc after write": (lambda n: service(n, TWO_WORD_QUERIES[n % len(TWO_WORD_QUERIES)]),
                                         "the same through search_datasets, each after a committed dataset UPDATE",
                                         write),
            "two-word after hit":  (two_words, "the same, each after a committed UPDATE making one of its hits "
                                               "the newest (its page changes)", hit_write),
            "two-word cold":       (two_words, "the same, each with the process's caches cleared (every hit read)",
                                    cold),
            "cold words+facets": (cold_words, f"q: one or two words never asked before in the process (drawn "
                                              f"from the loaded titles and abstracts), facet.field={FACETS}"),
            "cold words after write": (lambda n: cold_words(n, "cold words after write"),
                                       "the same, each after a committed dataset UPDATE (the replica follows it)",
                                       write),
            "cold words, database": (cold_words_database, "the same without the replica (SEARCH_MEMORY_INDEX off): "
                                                          "every hit read by the database"),
            "floor: cold words": (count_cold, "SELECT count(*) of the visible datasets matching each cold query "
                                              "(the same queries, in the same order)"),
            "floor: count words": (count_words, "SELECT count(*) of the visible datasets matching the two words"),
            "filtered": (filtered, "fq=organization:<one of 8> share_type:conditional"),
            "filtered after write": (filtered, "the same, each call after a committed dataset UPDATE", write),
            "filtered cold": (filtered, "the same, each with the process's caches cleared (every hit read)", cold),
            "floor: count filtered": (count_filtered, "SELECT count(*) of the visible datasets of the department "
                                                      "with share_type conditional"),
            "fq+title+facets": (filtered_title, f"fq=organization:<one of 8>, sort=title asc, facet.field={FACETS}"),
            "fq+title after write": (filtered_title, "the same, each call after a committed dataset UPDATE", write),
            "two-word by title": (two_words_title, f"q two words, sort=title asc, facet.field={FACETS}"),
            "two-word title after write": (two_words_title, "the same, each call after a committed dataset UPDATE",
                                           write),
            "empty+facets": (empty, f"q empty, facet.field={FACETS}"),
            "empty service": (lambda n: service(n, ""), "the same through search_datasets (no HTTP, no result JSON)"),
            "empty after write": (empty, "the same, each call after a committed dataset UPDATE", write),
            "floor: count all": (count_all, "SELECT count(*) FROM dataset WHERE state='active' AND NOT private"),
            "fields+or+facets": (fields_or, f"q=title:<word> OR tags:<word>, facet.field={FACETS}"),
            "range+not": (range_not, "q=metadata_modified:[<year>-01-01T00:00:00Z TO *] -res_format:PDF"),
            "write: reshare": (reshare, "UPDATE one dataset's share_type (a facet value) and commit"),
            **({"floor: no triggers": (lambda n: reshare(n, triggers=False),
                                       "the same UPDATE with session_replication_role = replica (no trigger)")}
               if database.engine.dialect.name == "postgresql" else {}),
            "lookup (baseline)": (lookup, "SELECT id, title FROM dataset WHERE name = :name")}, counts


#: The catalog version's trigger function of migration 0018: every writer replaced row 1.
ONE_ROW_VERSION = """
    CREATE OR REPLACE FUNCTION catalog_version_advance() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        UPDATE catalog_version SET token = replace(gen_random_uuid()::text, '-', '') WHERE id = 1;
        RETURN NULL;
    END $$"""


def writer_waits(engine: sa.Engine, rounds: int) -> int:
    """In how many of ``rounds`` a transaction changing one dataset's share type waits for another one,
    still open, that changed another dataset of the same department (both rolled back)."""
    from catalog.datasets.models import Dataset

    with engine.connect() as conn:
        org = conn.scalar(sa.select(Dataset.owner_org).limit(1))
        first, second = conn.scalars(sa.select(Dataset.id).where(Dataset.owner_org == org).limit(2)).all()
    flip = sa.text("UPDATE dataset SET share_type = CASE share_type WHEN 'conditional' THEN 'unconditional' "
                   "ELSE 'conditional' END WHERE id = :id")
    waited = 0
    for _ in range(rounds):
        with engine.connect() as a, engine.connect() as b:
            a.begin()
            a.execute(flip, {"id": first})
            b.begin()
            b.exec_driver_sql("SET LOCAL lock_timeout = '300ms'")
            try:
                b.execute(flip, {"id": second})
            except sa.exc.OperationalError:  # lock_timeout: it waited for the first transaction's row
                waited += 1
            b.rollback()
            a.rollback()
    return waited


def writers(engine: sa.Engine, rounds: int) -> None:
    """Print writer_waits with the version trigger of migration 0018 (one row, swapped in for the
    measurement) and with the current one (8 rows), in the same run."""
    if engine.dialect.name != "postgresql":
        return
    with engine.connect() as conn:
        current = conn.scalar(sa.text("SELECT pg_get_functiondef('catalog_version_advance'::regproc)"))
    with engine.begin() as conn:
        conn.exec_driver_sql(ONE_ROW_VERSION)
    try:
        one_row = writer_waits(engine, rounds)
    finally:
        with engine.begin() as conn:
            conn.exec_driver_sql(current.replace("%", "%%"))  # no parameters: a literal %
    print(f"\nconcurrent writers (two open transactions, two datasets of one department, {rounds} rounds):")
    print(f"  one version row (migration 0018's trigger): the second waited in {one_row} of {rounds}")
    print(f"  current version trigger:                    the second waited in {writer_waits(engine, rounds)} "
          f"of {rounds}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", type=int, default=100_000)
    parser.add_argument("--database-url", default=os.environ.get("CATALOG_DATABASE_URL"))
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--seed-datasets", type=int, default=None,
                        help="load this many through the analysis, then copy them in SQL up to --datasets "
                             "(PostgreSQL; a multiple of it)")
    parser.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--keep", action="store_true", help="keep the benchmark database")
    parser.add_argument("--reuse", action="store_true", help="measure an already loaded benchmark database")
    parser.add_argument("--database-name", default=BENCH_DATABASE,
                        help=f"the benchmark's database on a PostgreSQL server (default {BENCH_DATABASE})")
    parser.add_argument("--only", default="",
                        help="comma-separated scenario names (or beginnings of them) to run; the baseline always runs")
    parser.add_argument("--writer-rounds", type=int, default=40,
                        help="rounds of the concurrent-writers check (PostgreSQL; 0 skips it)")
    args = parser.parse_args(argv)

    from catalog import create_app
    from catalog.cli import run_migrations
    from catalog.datasets.models import Dataset
    from catalog.db import get_db
    from catalog.search import delta, memory

    url, cleanup = prepare_database(args.database_url, reuse=args.reuse, name=args.database_name)
    instance = tempfile.mkdtemp(prefix="catalog-bench-instance-")
    app = create_app({"DATABASE_URL": url, "INSTANCE_PATH": instance, "SECRET_KEY": "bench",
                      "SITE_URL": "http://localhost"})
    engine = get_db(app).engine
    print(f"database: {engine.dialect.name} {make_url(url).render_as_string(hide_password=True)}")
    try:
        if not args.reuse:
            run_migrations(app)
            seed = min(args.seed_datasets or args.datasets, args.datasets)
            seconds = load(app, seed, args.batch, args.workers)
            print(f"load: {seed:,} datasets in {seconds:.1f} s = {seed / seconds:,.0f} datasets/s "
                  f"(batches of {args.batch}, {args.workers} analysis workers, including ANALYZE)")
            if seed < args.datasets:
                copies = -(-args.datasets // seed)
                seconds = replicate(app, copies)
                print(f"copied in SQL: {copies} copies of {seed:,} = {copies * seed:,} datasets in {seconds:.1f} s")
        with engine.connect() as conn:
            total = conn.scalar(sa.select(sa.func.count()).select_from(Dataset))
            names = list(conn.scalars(sa.select(Dataset.name).order_by(sa.func.random()).limit(1000)))
        print(f"datasets in the database: {total:,}; {args.runs} timed runs per scenario after 5 warm-up runs")
        if engine.dialect.name == "postgresql" and app.config["SEARCH_MEMORY_INDEX"]:
            before = _rss()
            memory.warm(engine)  # as a web worker at boot: a process of its own loads it and writes its file
            with get_db(app).session() as session:
                while (replica := memory.replica_of(session)) is None:
                    time.sleep(0.1)
            print(f"search replica: {replica.count:,} datasets, {len(replica.terms.values):,} terms loaded in "
                  f"{memory.load_seconds(session):.1f} s by another process and opened; its arrays "
                  f"{replica.memory() / 1e6:,.0f} MB; this process's RSS "
                  f"{before:,.0f} MB before, {_rss():,.0f} MB after ({_rss('RssAnon'):,.0f} MB its own, "
                  f"{_rss('RssFile'):,.0f} MB mapped files), peak {_peak_rss():,.0f} MB", flush=True)
            # what another worker of the host does: open the file instead of loading, then search
            second = subprocess.run([sys.executable, "-c", SECOND_WORKER, url, instance], capture_output=True,
                                    text=True, cwd=ROOT, check=False)
            print(f"  another process on the same instance folder: {second.stdout.strip() or second.stderr[-2000:]}",
                  flush=True)
        random.seed(0)
        plan, counts = scenarios(app, names)
        results = {}
        only = [name.strip() for name in args.only.split(",") if name.strip()]
        if only:
            plan = {label: entry for label, entry in plan.items()
                    if label == "lookup (baseline)" or any(label.startswith(name) for name in only)}
        for label, (call, description, *prepare) in plan.items():
            # a search after a write recomputes everything: fewer runs (a few seconds each at 300,000)
            runs = max(10, args.runs // 4) if prepare else args.runs
            results[label] = measure(call, runs, prepare=prepare[0] if prepare else None)
            print(f"  {label:<20} {description} ({runs} runs)", flush=True)
        base = results["lookup (baseline)"]
        print(f"\n{'scenario':<20} {'p50 ms':>9} {'p95 ms':>9} {'mean ms':>9} {'max ms':>9} "
              f"{'p50/base':>9} {'p95/base':>9}  matches")
        for label, figures in results.items():
            matched = counts.get(label)
            found = f"{min(matched):,}-{max(matched):,}" if matched else "-"
            print(f"{label:<20} {figures['p50']:>9.2f} {figures['p95']:>9.2f} {figures['mean']:>9.2f} "
                  f"{figures['max']:>9.2f} {figures['p50'] / base['p50']:>9.1f} "
                  f"{figures['p95'] / base['p95']:>9.1f}  {found}")
        if delta.stats or memory.stats:  # how the word searches were answered, and what they keep
            print(f"\nword searches: {dict(delta.stats)}; hits kept now: {delta.kept_hits():,}; replica: "
                  f"{dict(memory.stats)}; process RSS {_rss():,.0f} MB ({_rss('RssAnon'):,.0f} its own), "
                  f"peak {_peak_rss():,.0f} MB")
        if args.writer_rounds:
            writers(engine, args.writer_rounds)
    finally:
        engine.dispose()
        cleanup(args.keep)
        shutil.rmtree(instance, ignore_errors=True)


if __name__ == "__main__":
    main()
