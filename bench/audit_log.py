"""Access log benchmark: what the keyed chain and its checkpoint file cost a read of records.

    python bench/audit_log.py [--entries 500] [--database-url URL]

Each logged read is ``append_entry`` then ``commit``, as a request does; the checkpoint file is then
moved (flock, read and check the old one, write a temporary file, ``os.replace``; no fsync on this
path, the commands fsync). The same
appends are timed with the checkpoint switched off (``AUDIT_CHECKPOINT_PATH`` unset after the app
is built), so the difference is the checkpoint's price. Then ``verify_chain`` walks the whole log.

The database is ``--database-url``, else a new SQLite file in a temporary folder. For PostgreSQL
the URL names the server: a fresh database ``catalog_bench_audit`` is created there and dropped.
"""
from __future__ import annotations

import argparse
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

from bench.common import household_dataset, scratch_database  # noqa: E402
from catalog import create_app  # noqa: E402
from catalog.auth.models import User  # noqa: E402
from catalog.auth.service import create_user  # noqa: E402
from catalog.datasets.service import get_dataset  # noqa: E402
from catalog.cli import run_migrations  # noqa: E402
from catalog.db import get_db, get_session  # noqa: E402
from catalog.sharing.access_log import append_entry, verify_chain  # noqa: E402

BENCH_DATABASE = "catalog_bench_audit"




def _appends(app, count: int) -> list[float]:
    with app.app_context():
        session = get_session()
        reader = session.scalar(sa.select(User).where(User.name == "bench"))
        dataset = get_dataset(session, "household-register")
        session.commit()
        times = []
        for n in range(count):
            start = time.perf_counter()
            append_entry(session, reader, action="datastore_search", dataset=dataset, resource_id=None,
                         departments=["bench-dept"], params={"filters": {"town": "城关镇"}, "limit": 100},
                         record_count=n)
            session.commit()
            times.append(time.perf_counter() - start)
    return times


def _line(name: str, times: list[float]) -> str:
    ms = sorted(t * 1000 for t in times)
    return (f"{name:<34} median {statistics.median(ms):6.2f} ms   p95 {ms[int(len(ms) * 0.95) - 1]:6.2f} ms"
            f"   mean {statistics.fmean(ms):6.2f} ms")


def main() -> None:
    """Run the benchmark and print one line per scenario."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=500)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder, scratch_database(args.database_url, Path(folder), BENCH_DATABASE) as url:
        app = create_app({"DATABASE_URL": url, "INSTANCE_PATH": folder, "SECRET_KEY": "bench",
                          "STORAGE_PATH": str(Path(folder) / "storage")})
        run_migrations(app)
        with app.app_context():
            session = get_session()
            admin = create_user(session, None, name="bench", password="bench-password", sysadmin=True,
                                check_auth=False)
            household_dataset(session, admin, department_name="bench-dept", department_title="基准部门")
            session.commit()
        print(f"{make_url(url).get_backend_name()}, {args.entries // 50 * 50} logged reads per scenario")
        _appends(app, 20)  # warm-up
        path, with_checkpoint, without = app.config["AUDIT_CHECKPOINT_PATH"], [], []
        for _round in range(max(1, args.entries // 50)):  # alternated: a shared machine drifts
            app.config["AUDIT_CHECKPOINT_PATH"] = path
            with_checkpoint += _appends(app, 50)
            app.config["AUDIT_CHECKPOINT_PATH"] = None
            without += _appends(app, 50)
        app.config["AUDIT_CHECKPOINT_PATH"] = path
        last = _appends(app, 1)  # catches the checkpoint up past the unchecked stretch
        print(_line("append + commit, no checkpoint", without))
        print(_line("append + commit + checkpoint file", with_checkpoint))
        print(f"{'checkpoint share of a logged read':<34} {(statistics.median(with_checkpoint) - statistics.median(without)) * 1000:+.2f} ms"
              f" (median), last append {last[0] * 1000:.2f} ms")
        with app.app_context():
            start = time.perf_counter()
            ok, checked, message = verify_chain(get_session())
            took = time.perf_counter() - start
        print(f"{'verify_chain':<34} {checked} entries in {took:.2f} s ({message})")
        assert ok, message
        get_db(app).engine.dispose()


if __name__ == "__main__":
    main()
