"""A sync run's log, as an officer reads it on the run's page in Chinese (the default): every line the
engine and the service write on a real run is translated, numbers and names kept. The lines are those of
a first run with a broken row and a row repeating a key, of an unchanged rerun (whose rows are counted
without being mapped again), and of a mirror run that deletes a record missing from the export.
"""
from __future__ import annotations

import re

import pytest
from flask_babel import force_locale

from catalog.messages import translate_log_line
from tests.connectors.exports import HOUSEHOLD_MAPPING, bad_rows, household_row
from tests.sync.helpers import catalog_fixture, household_csv, household_records

ROWS = 30
#: what a translated line may still hold in Latin letters besides the job's and the file's names and the
#: record fields' keys (``last_visit_date``, which a word match does not take): the level, the encoding
ALLOWED = {"INFO", "WARNING", "ERROR", "csv"}


@pytest.fixture(scope="module")
def catalog(tmp_path_factory):
    class Request:
        param = "sqlite"
    yield from catalog_fixture(Request, tmp_path_factory)


def english_words(line: str, names: set[str]) -> list[str]:
    words = re.findall(r"\b[A-Za-z]{2,}\b", line)
    return [w for w in words if w not in ALLOWED and w not in names]


def chinese(app, lines: list[str]) -> list[str]:
    with app.test_request_context(headers={"Accept-Language": "zh"}), force_locale("zh"):
        return [translate_log_line(line) for line in lines]


def test_every_line_of_first_run_rerun_and_mirror_reads_in_chinese(catalog):
    source = catalog.sources / "log-zh.csv"
    records = household_records(ROWS, seed=5)
    repeated = household_row(records[0], 0)
    broken = bad_rows()[0][0]
    household_csv(source, ROWS, seed=5, bad=[broken, repeated])
    job = catalog.create_job({
        "name": "log-zh", "dataset": catalog.dataset("log-zh-households"),
        "source": {"type": "csv", "config": {"connection": catalog.folder_connection(source.parent),
                                             "path": source.name}},
        "mapping": HOUSEHOLD_MAPPING, "mode": "full_refresh", "write": "upsert", "batch_size": 20})
    first = catalog.run("log-zh")
    again = catalog.run("log-zh")
    household_csv(source, ROWS - 1, seed=5)  # the last household left the export
    catalog.update_job("log-zh", {"write": "mirror"})
    mirror = catalog.run("log-zh")
    assert first.counts["quarantined"] == 1 and again.counts["unchanged"] >= ROWS - 1
    assert mirror.counts["deleted"] == 1, mirror.counts

    names = {"log", "zh"} | set(HOUSEHOLD_MAPPING)  # the job log-zh, its file log-zh.csv, the record's fields
    lines = first.log + again.log + mirror.log
    # the lines a user would otherwise see in English, each kind at least once
    joined = "\n".join(lines)
    for kind in ("committed", "superseded", "same source rows", "missing from the source deleted"):
        assert kind in joined, (kind, lines)
    # a job that quarantines says so on every batch, also on one without an invalid row
    batches = [line for line in chinese(catalog.app, first.log) if "批已提交" in line]
    assert len(batches) == 2 and all("隔离" in line and "跳过" not in line for line in batches), batches
    untranslated = [(original, shown) for original, shown in zip(lines, chinese(catalog.app, lines))
                    if english_words(shown, names)]
    assert untranslated == []
