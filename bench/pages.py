"""Page timings of the officer's walk against the demo data (a figure to watch, not a test).

    python bench/pages.py [--repeat 5]

Builds a fresh SQLite catalog in a temporary folder, loads the demo (``load_demo``, as ``make run``
does), logs in as the demo officers it prints and times each page of the walk through the Flask test
client: median and worst of ``--repeat`` requests, and how many pages answer under 300 ms (the issue's
target). The walk is every page the browser tests go through: search, departments, dashboard, sharing,
sync and quarantine, catalog health and the list behind a number, the dataset and resource forms, dataset
pages, the data explorer (first page, page 2, a filter), the account pages, and the request form for
another department's conditionally shared dataset. Pages that read records (explorer, preview) also append
to the access log, as in production.
"""
from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402

from catalog import create_app  # noqa: E402
from catalog.auth.models import User  # noqa: E402
from catalog.cli import run_migrations  # noqa: E402
from catalog.datasets.models import Dataset, Resource  # noqa: E402
from catalog.datastore.models import DatastoreTable, Record  # noqa: E402
from catalog.db import get_session  # noqa: E402
from catalog.departments.models import Department, Membership  # noqa: E402
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
            owners = {name: (org, share) for name, org, share in session.execute(
                sa.select(Dataset.name, Department.name, Dataset.share_type)
                .join(Department, Department.id == Dataset.owner_org).where(Dataset.state == "active"))}
            member_of = {user: department for user, department in session.execute(
                sa.select(User.name, Department.name).join(Membership, Membership.user_id == User.id)
                .join(Department, Department.id == Membership.department_id))}
            filters = {}
            for name, resource_id in tables[:1]:
                table = session.get(DatastoreTable, resource_id)
                record = session.scalar(sa.select(Record.data).where(Record.resource_id == resource_id).limit(1))
                field = next((f["id"] for f in table.fields if isinstance(record.get(f["id"]), str)), None)
                if field is not None:
                    filters[(name, resource_id)] = (field, record[field])
        walk = ["/", "/dataset", "/dataset?q=户籍", "/dataset?q=huji&sort=metadata_modified+desc", "/organization",
                "/dashboard", "/sharing", "/sync", "/sync/quarantine", "/dataset/new", "/health"]
        walk += [f"/dataset/{name}" for name in datasets[:4]]
        walk += [f"/dataset/{name}/resource/{rid}" for name, rid in tables[:3]]
        walk += [f"/dataset/{name}/resource/{rid}?page=2" for name, rid in tables[:1]]
        walk += [f"/dataset/{name}/resource/{rid}?{urlencode({'f.' + field: value})}"
                 for (name, rid), (field, value) in filters.items()]
        print(f"{'account':<16} {'page':<70} {'status':>6} {'median ms':>10} {'worst ms':>9}")
        rows = []
        for officer in ["admin", *officers[:2]]:
            client = app.test_client()
            login(client, names[officer])
            department = member_of.get(officer)
            mine = [f"/user/{officer}"]
            if department is not None:
                mine += [f"/organization/{department}", f"/health/datasets?organization={department}"]
                own = next((n for n, (org, _s) in owners.items() if org == department), None)
                other = next((n for n, (org, share) in owners.items()
                              if org != department and share == "conditional"), None)
                mine += [f"/dataset/{own}/resource/new"] if own else []
                mine += [f"/dataset/{other}/request-access"] if other else []
            else:
                mine += ["/user/new"]
            for url in walk + mine:
                status, median, worst = timed(client, url, args.repeat)
                if status == 200:
                    rows.append(median)
                shown = re.sub(r"([0-9a-f]{8})-[0-9a-f-]{27}", r"\1…", url)  # resource ids, shortened
                print(f"{officer:<16} {shown[:70]:<70} {status:>6} {median:>10.1f} {worst:>9.1f}")
        under = sum(1 for m in rows if m < TARGET_MS)
        print(f"\n{under}/{len(rows)} pages answering 200 are under {TARGET_MS} ms (median); "
              f"slowest median {max(rows):.1f} ms, "
              f"overall median {statistics.median(rows):.1f} ms")


if __name__ == "__main__":
    main()
