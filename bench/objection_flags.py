"""Flag lookup benchmark: what the `_objection` flags add to a page of DataStore records.

    python bench/objection_flags.py [--records 50000] [--covered 10000] [--database-url URL]

A table of ``--records`` records; one page is ``search_records`` (100 records in key order, at an
offset in the middle), the baseline. Then ``flags_for`` looks up that page's flags (one query) with: no
objection; an open objection covering ``--covered`` records (a filter's keys); and that one plus an
objection to the whole dataset. Pages alternate between scenarios (a shared machine drifts).

The database is ``--database-url``, else a new SQLite file in a temporary folder. For PostgreSQL
the URL names the server: a fresh database ``catalog_bench_flags`` is created there and dropped.
"""
from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from bench.common import scratch_database  # noqa: E402
from catalog import create_app  # noqa: E402
from catalog.auth.service import create_user  # noqa: E402
from catalog.cli import run_migrations  # noqa: E402
from catalog.datasets import resources as resource_service  # noqa: E402
from catalog.datasets.service import create_dataset  # noqa: E402
from catalog.datastore import query  # noqa: E402
from catalog.datastore.service import create_table, get_table, upsert_records  # noqa: E402
from catalog.db import get_db, get_session, utcnow  # noqa: E402
from catalog.departments.service import create_department  # noqa: E402
from catalog.objections import flags  # noqa: E402
from catalog.objections.models import Objection, ObjectionRecord  # noqa: E402

BENCH_DATABASE = "catalog_bench_flags"
FIELDS = [{"id": "code", "type": "text"}, {"id": "name", "type": "text"}, {"id": "town", "type": "text"}]




def _setup(session, records: int) -> tuple[str, str, str]:
    admin = create_user(session, None, name="bench", password="bench-password", sysadmin=True, check_auth=False)
    provider = create_department(session, admin, name="bench-provider", title="基准提供部门")
    user = create_department(session, admin, name="bench-user", title="基准使用部门")
    dataset = create_dataset(session, admin, values={
        "name": "shops", "title": "商户名录", "notes": "基准数据。", "owner_org": provider.id,
        "resource_code": "101001/000001", "category": "101", "share_type": "unconditional",
        "share_method": {"channel": "platform", "type": "api"}, "open_type": "none", "open_condition": "基准",
        "update_cycle": "monthly", "publish_date": "2026-01-03", "items": [{"name": "code", "type": "C"}]}, tags=[])
    resource = resource_service.create_resource(session, admin, dataset, values={"name": "shops", "format": "JSON",
                                                                                 "url": "http://localhost/d"})
    table = create_table(session, admin, resource, fields=FIELDS, primary_key=["code"], record_schema=None)
    for start in range(0, records, 5000):
        upsert_records(session, admin, table, [{"code": f"s{n:07d}", "name": f"商店{n}", "town": "城关镇"}
                                               for n in range(start, min(start + 5000, records))])
        session.commit()
    return dataset.id, table.resource_id, user.id


def _objection(session, dataset_id: str, resource_id: str, provider_id: str, organization_id: str, *,
               scope: str) -> Objection:
    objection = Objection(package_id=dataset_id, resource_id=resource_id if scope != "dataset" else None,
                          provider_id=provider_id, organization_id=organization_id, scope=scope, keys=[],
                          fields=["name"], reason="基准", status="open", corrections=[], created=utcnow(),
                          deadline=dt.date.today(), filed_seq=0)
    session.add(objection)
    session.flush()
    return objection


def _time(function, repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    """Run the benchmark and print one line per scenario."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=50000)
    parser.add_argument("--covered", type=int, default=10000)
    parser.add_argument("--pages", type=int, default=200)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder, scratch_database(args.database_url, Path(folder), BENCH_DATABASE) as url:
        app = create_app({"DATABASE_URL": url, "INSTANCE_PATH": folder, "SECRET_KEY": "bench",
                          "STORAGE_PATH": str(Path(folder) / "storage")})
        run_migrations(app)
        with app.app_context():
            session = get_session()
            dataset_id, resource_id, user_id = _setup(session, args.records)
            table = get_table(session, resource_id)
            provider_id = table.resource.dataset.owner_org
            offset = args.records // 2

            def page():
                return query.search_records(session, table, limit=100, offset=offset, include_total=False)["records"]

            def flagged():
                return flags.flag_page(session, table, page_records, lambda r: r)

            def lookup():
                return flags.flags_for(session, dataset_id, resource_id, page_keys)

            page_records = page()
            page_keys = [r["code"] for r in page_records]
            scenarios = ["no objection", f"filter objection ({args.covered} keys)", "+ whole-dataset objection"]
            for name in scenarios:
                if name.startswith("filter"):
                    objection = _objection(session, dataset_id, resource_id, provider_id, user_id, scope="filter")
                    keys = [f"s{n:07d}" for n in range(offset - args.covered // 2, offset + args.covered // 2)]
                    session.execute(sa.insert(ObjectionRecord), [
                        {"objection_id": objection.id, "resource_id": resource_id, "key": k} for k in keys])
                    session.commit()
                elif name.startswith("+"):
                    _objection(session, dataset_id, resource_id, provider_id, user_id, scope="dataset")
                    session.commit()
                _time(page, 10), _time(lookup, 10)  # warm-up
                searches, lookups = [], []
                for _round in range(args.pages // 20):
                    searches += _time(page, 20)
                    lookups += _time(lookup, 20)
                count = sum(1 for r in flagged() if "_objection" in r)
                search_ms, flag_ms = statistics.median(searches) * 1000, statistics.median(lookups) * 1000
                print(f"{name:<36} page {search_ms:6.2f} ms   flags {flag_ms:6.2f} ms   "
                      f"flags/page {flag_ms / search_ms:5.2f}   flagged {count}/100")
        print(f"{make_url(url).get_backend_name()}, {args.records} records, medians of {args.pages // 20 * 20} pages")
        get_db(app).engine.dispose()


if __name__ == "__main__":
    main()
