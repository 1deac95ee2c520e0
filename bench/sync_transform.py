"""The sync's transform alone, row by row against the columnar plan, on the same batches in one process.

    python bench/sync_transform.py [--rows 6000] [--batch 1000] [--profile]

Writes the household export of ``bench/sync.py`` (GB18030, read back with ``csv.DictReader`` as the csv
source reads it), then runs each batch through ``connectors.engine.transform_rows`` twice, alternating:
row by row, then with the ``ColumnarPlan`` of the export's mapping and household@1 (records, errors,
canonical JSON, content hash and source digest per row, as a transform worker makes them). The two see
the same load batch by batch, so on a shared machine their ratio holds when their seconds do not. Checks
that both give the same results. Set ``POLARS_MAX_THREADS=1`` to give polars one thread (the worker
shares the machine with the run's process and the server). ``--profile``: cProfile of the columnar runs.
"""
from __future__ import annotations

import argparse
import cProfile
import csv
import pstats
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from catalog.datastore.hashing import encode_record  # noqa: E402
from connectors.columnar import ColumnarPlan  # noqa: E402
from connectors.engine import transform_rows  # noqa: E402
from connectors.mapping import Mapping  # noqa: E402
from schemas.validation import record_validator  # noqa: E402
from tests.connectors.exports import HOUSEHOLD_MAPPING  # noqa: E402

sys.path.insert(0, str(ROOT / "bench"))
from sync import write_export  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=6000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        export = Path(folder) / "export.csv"
        write_export(export, args.rows)
        with export.open(encoding="gb18030", newline="") as text:
            datas = list(csv.DictReader(text))
    mapping = Mapping.from_config(HOUSEHOLD_MAPPING)
    validator = record_validator("household", 1)
    plan = ColumnarPlan.compile(mapping, validator.schema)
    assert plan is not None
    batches = [datas[start:start + args.batch] for start in range(0, len(datas), args.batch)]
    per_row = columnar = 0.0
    vouched = 0
    profiler = cProfile.Profile() if args.profile else None
    for batch in batches:
        started = time.perf_counter()
        expected = transform_rows(mapping, validator, batch, prepare=encode_record, prefix=b"bench")
        per_row += time.perf_counter() - started
        started = time.perf_counter()
        if profiler is not None:
            profiler.enable()
        got = transform_rows(mapping, validator, batch, prepare=encode_record, prefix=b"bench", columnar=plan)
        if profiler is not None:
            profiler.disable()
        columnar += time.perf_counter() - started
        assert got == expected
        vouched += sum(1 for made in plan.run(batch) if made is not None)
    rows = len(datas)
    print(f"{rows:,} household rows in batches of {args.batch:,}, the same results both ways; "
          f"the plan made {vouched:,} of them itself")
    print(f"row by row: {per_row / rows * 1e6:,.1f} µs a row; columnar: {columnar / rows * 1e6:,.1f} µs a row; "
          f"row by row / columnar: {per_row / columnar:.2f}")
    if profiler is not None:
        pstats.Stats(profiler, stream=sys.stdout).sort_stats("tottime").print_stats(15)


if __name__ == "__main__":
    main()
