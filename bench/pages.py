"""Page timings of the officer's walk against the demo data (a figure to watch, not a test).

    python bench/pages.py [--repeat 5]

Builds a fresh SQLite catalog in a temporary folder, loads the demo (``load_demo``, as ``make run``
does), logs in as the demo officers it prints and times each page of the walk through the Flask test
client: median and worst of ``--repeat`` requests, and how many pages answer under 300 ms (the issue's
target). Pages that read records (explorer, preview) also append to the access log, as in production.
"""
from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402

from catalog import create_app  # noqa: E402
from catalog.auth.models import User  # noqa: E402
from catalog.cli import run_migrations  # noqa: E402
from catalog.datasets.models import Dataset, Resource  # noqa: E402
from catalog.datastore.models import DatastoreTable  # noqa: E402
from catalog.db import get_session  # noqa: E402
from catalog.demo import load_demo  # noqa: E402

TARGET_MS = 300


def login(client, user_id: str) -> None:
    """Log the test client in as Flask-Login would (the bench times pages, not the password hash)."""
    with client.session_transaction() as session:
        session["_user_id"] = user_id
        session["_fresh"] = True


def timed(client, url: str, repeat: int) -> tuple[int, float, float]:
    times = []
    status = 0
    for _ in range(repeat):
        start = time.perf_counter()
        response = client.get(url)
        response.get_data()
        times.append((time.perf_counter() - start) * 1000)
        status = response.status_code
    return status, statistics.median(times), max(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        app = create_app({"DATABASE_URL": f"sqlite:///{folder}/catalog.db", "INSTANCE_PATH": f"{folder}/instance",
                          "SECRET_KEY": "bench", "BROKER_URL": None})
        with app.app_context():
            run_migrations(app)
            lines = load_demo(app)
            officers = [m.group(1) for m in (re.match(r"Officer login \(.*\): (\S+) / ", line) for line in lines) if m]
            session = get_session()
            names = {u.name: u.id for u in session.scalars(sa.select(User))}
            datasets = list(session.scalars(sa.select(Dataset.name).where(Dataset.state == "active")))
            tables = [tuple(row) for row in session.execute(
                sa.select(Dataset.name, Resource.id).join(Resource, Resource.package_id == Dataset.id)
                .join(DatastoreTable, DatastoreTable.resource_id == Resource.id))]
        walk = ["/", "/dataset", "/dataset?q=户籍", "/organization", "/dashboard", "/sharing", "/sync",
                "/sync/quarantine", "/dataset/new"]
        walk += [f"/dataset/{name}" for name in datasets[:4]]
        walk += [f"/dataset/{name}/resource/{rid}" for name, rid in tables[:3]]
        walk += [f"/dataset/{name}/resource/{rid}?page=2" for name, rid in tables[:1]]
        print(f"{'account':<16} {'page':<70} {'status':>6} {'median ms':>10} {'worst ms':>9}")
        rows = []
        for officer in ["admin", *officers[:2]]:
            client = app.test_client()
            login(client, names[officer])
            for url in walk + [f"/user/{officer}"]:
                status, median, worst = timed(client, url, args.repeat)
                rows.append(median)
                print(f"{officer:<16} {url[:70]:<70} {status:>6} {median:>10.1f} {worst:>9.1f}")
        under = sum(1 for m in rows if m < TARGET_MS)
        print(f"\n{under}/{len(rows)} pages under {TARGET_MS} ms (median); slowest median {max(rows):.1f} ms, "
              f"overall median {statistics.median(rows):.1f} ms")


if __name__ == "__main__":
    main()
