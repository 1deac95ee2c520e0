"""Where a ``package_search`` request's time goes: the search, the JSON of its page, its SQL statements, the rest.

    python bench/search_split.py --database-url postgresql://postgres@127.0.0.1:5432/srch_300k [--runs 300]
        [--q WORDS] [--fq FILTER] [--sort SORT]

Runs the request (default: no words, facets organization, tags and res_format) through the Flask test client
on an already loaded database (``bench/search.py --keep``), after 10 warm-up calls, and prints the mean per
request of the whole request, of ``search_datasets``, of the page's JSON (``dataset_dicts``) and of the SQL
statements as the driver ran them (wall time between SQLAlchemy's before/after cursor events), with the
number of statements. No profiler: the parts are timed by wrapping the two functions the action calls.
"""
from __future__ import annotations

import argparse
import collections
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402
from sqlalchemy import event  # noqa: E402

from bench.search import FACETS, _driver_url  # noqa: E402
from catalog import create_app  # noqa: E402
from catalog.search import actions  # noqa: E402


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--q", default="")
    parser.add_argument("--fq", default=None)
    parser.add_argument("--sort", default=None)
    args = parser.parse_args(argv)
    url = _driver_url(args.database_url).render_as_string(hide_password=False)
    app = create_app({"DATABASE_URL": url, "INSTANCE_PATH": tempfile.mkdtemp(prefix="catalog-bench-instance-"),
                      "SECRET_KEY": "bench", "SITE_URL": "http://localhost"})
    client = app.test_client()
    spent: collections.Counter = collections.Counter()

    def timed(name, function):
        def wrapper(*positional, **named):
            started = time.perf_counter()
            try:
                return function(*positional, **named)
            finally:
                spent[name] += time.perf_counter() - started
        return wrapper

    actions.search_datasets = timed("search_datasets", actions.search_datasets)
    actions.dataset_dicts = timed("the page's JSON (dataset_dicts)", actions.dataset_dicts)
    began: list[float] = []

    @event.listens_for(sa.engine.Engine, "before_cursor_execute")
    def _before(*_args):
        began.append(time.perf_counter())

    @event.listens_for(sa.engine.Engine, "after_cursor_execute")
    def _after(*_args):
        spent["SQL statements (driver)"] += time.perf_counter() - began.pop()
        spent["statements"] += 1

    params = {"q": args.q, "facet.field": json.dumps(FACETS)}
    if args.fq:
        params["fq"] = args.fq
    if args.sort:
        params["sort"] = args.sort

    def request() -> None:
        response = client.get("/api/3/action/package_search", query_string=params)
        if response.status_code != 200:
            raise SystemExit(f"package_search failed: {response.status_code} {response.get_json()}")

    for _ in range(10):
        request()
    spent.clear()
    started = time.perf_counter()
    for _ in range(args.runs):
        request()
    total = time.perf_counter() - started
    print(f"package_search {params}: {args.runs} requests")
    print(f"  the whole request: {total / args.runs * 1000:.2f} ms")
    parts = 0.0
    for name in ("search_datasets", "the page's JSON (dataset_dicts)"):
        parts += spent[name]
        print(f"  {name}: {spent[name] / args.runs * 1000:.2f} ms")
    print(f"  the rest (routing, parameters, auth, the response's JSON): {(total - parts) / args.runs * 1000:.2f} ms")
    print(f"  SQL statements (driver), within the above: {spent['SQL statements (driver)'] / args.runs * 1000:.2f} ms, "
          f"{spent['statements'] / args.runs:.1f} a request")


if __name__ == "__main__":
    main()
