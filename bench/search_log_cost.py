"""What migration 0024's change log costs a catalogue write: a committed one-row ``UPDATE`` of a dataset's share
type, in rounds alternating 10 updates with the log's trigger on ``dataset`` enabled and 10 with it disabled
(``ALTER TABLE dataset DISABLE TRIGGER search_change_dataset_update``), on an already loaded database.

    python bench/search_log_cost.py --database-url postgresql://postgres@127.0.0.1:5432/srch_300k [--rounds 20]

PostgreSQL only (SQLite's row triggers cannot be disabled); the trigger is enabled again at the end.
"""
from __future__ import annotations

import argparse
import statistics
import time

import sqlalchemy as sa
from sqlalchemy.engine import make_url

FLIP = sa.text("UPDATE dataset SET share_type = CASE share_type WHEN 'conditional' THEN 'unconditional' "
               "ELSE 'conditional' END, metadata_modified = metadata_modified WHERE name = :name")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    url = make_url(args.database_url)
    if url.drivername in ("postgresql", "postgres"):
        url = url.set(drivername="postgresql+psycopg")
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        names = list(conn.scalars(sa.text("SELECT name FROM dataset ORDER BY random() LIMIT 400")))

    def trigger(enabled: bool) -> None:
        with engine.begin() as conn:
            conn.exec_driver_sql(f"ALTER TABLE dataset {'ENABLE' if enabled else 'DISABLE'} "
                                 f"TRIGGER search_change_dataset_update")

    times: dict[str, list[float]] = {"with the log": [], "without it": []}
    try:
        for number in range(args.rounds):
            for label in times:
                trigger(label == "with the log")
                for n in range(10):
                    with engine.connect() as conn:
                        started = time.perf_counter()
                        conn.execute(FLIP, {"name": names[(number * 10 + n) % len(names)]})
                        conn.commit()
                        times[label].append((time.perf_counter() - started) * 1000)
    finally:
        trigger(True)
        engine.dispose()
    for label, values in times.items():
        values.sort()
        print(f"{label:<13} p50 {statistics.median(values):6.2f} ms  p95 {values[int(len(values) * 0.95)]:6.2f} ms "
              f"({len(values)} updates)")


if __name__ == "__main__":
    main()
