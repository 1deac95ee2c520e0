"""The xlsx source: a workbook written with openpyxl, read streamed, dates as ISO, row numbers."""
from __future__ import annotations

import datetime as dt

import openpyxl
import pytest

from connectors import Mapping, Row, SourceError, Stream
from connectors.sources import get
from schemas import record_validator
from tests.connectors.exports import HEADER, HOUSEHOLD_MAPPING, bad_rows, household_export
from tests.connectors.helpers import MemoryTarget, sync


def read(config, stream=None):
    return [item for item in get("xlsx").read(config, stream or Stream("x"), None) if isinstance(item, Row)]


@pytest.fixture
def workbook(tmp_path):
    book = openpyxl.Workbook()
    cover = book.active
    cover.title = "说明"
    cover["A1"] = "本表由宁陕县民政局导出"
    sheet = book.create_sheet("办件")
    sheet.append(["宁陕县便民服务办件登记表"])
    sheet.append(["办件编号", "受理日期", "受理时间", "承诺天数", "是否办结", "备注"])
    sheet.append(["NS20260103000001", dt.date(2026, 1, 3), dt.datetime(2026, 1, 3, 9, 30), 5, "是", None])
    sheet.append([])  # a blank row in the middle
    sheet.append(["NS20260104000002", 46026, dt.datetime(2026, 1, 4, 0, 0), 5.0, False, "加急"])
    sheet.append(["NS20260105000003", "2026年01月05日", "2026/1/5 14:05", "10", "否"])
    path = tmp_path / "办件.xlsx"
    book.save(path)
    return str(path)


def test_rows_come_from_the_named_sheet_below_its_header_with_sheet_row_numbers(workbook):
    rows = read({"path": workbook, "sheet": "办件", "header_row": 2})
    assert [r.row_number for r in rows] == [3, 5, 6]
    assert rows[0].data == {"办件编号": "NS20260103000001", "受理日期": "2026-01-03",
                            "受理时间": "2026-01-03T09:30:00", "承诺天数": 5, "是否办结": "是"}
    assert rows[1].data["受理日期"] == 46026 and rows[1].data["受理时间"] == "2026-01-04"
    assert rows[1].data["是否办结"] is False and rows[1].data["备注"] == "加急"


def test_without_a_sheet_name_the_first_sheet_is_read(workbook):
    assert [r.data for r in read({"path": workbook})] == []  # the cover sheet has only its title
    assert [s.name for s in get("xlsx").discover({"path": workbook, "header_row": 2})] == ["说明", "办件"]


def test_a_stream_from_discover_selects_its_sheet(workbook):
    streams = get("xlsx").discover({"path": workbook, "header_row": 2})
    assert streams[1].fields == ["办件编号", "受理日期", "受理时间", "承诺天数", "是否办结", "备注"]
    assert len(read({"path": workbook, "header_row": 2}, streams[1])) == 3


def test_mapped_cells_become_typed_fields(workbook):
    mapping = Mapping.from_config({"rename": {"办件编号": "case_number", "受理日期": "accepted_on",
                                              "受理时间": "accepted_at", "承诺天数": "promised_days",
                                              "是否办结": "completed"},
                                   "dates": ["accepted_on"], "datetimes": ["accepted_at"],
                                   "integers": ["promised_days"], "booleans": ["completed"]})
    target = MemoryTarget(["case_number"])
    report = sync(get("xlsx"), {"path": workbook, "sheet": "办件", "header_row": 2}, target, mapping=mapping)
    assert report.succeeded and report.inserted == 3
    assert list(target.records.values()) == [
        {"case_number": "NS20260103000001", "accepted_on": "2026-01-03", "accepted_at": "2026-01-03T09:30:00+08:00",
         "promised_days": 5, "completed": True},
        {"case_number": "NS20260104000002", "accepted_on": "2026-01-04", "accepted_at": "2026-01-04T00:00:00+08:00",
         "promised_days": 5, "completed": False},
        {"case_number": "NS20260105000003", "accepted_on": "2026-01-05", "accepted_at": "2026-01-05T14:05:00+08:00",
         "promised_days": 10, "completed": False},
    ]


def test_a_household_workbook_syncs_with_quarantined_rows_named_by_sheet_row(tmp_path):
    rows, records = household_export(25, seed=3)
    bad = bad_rows()
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(HEADER)
    for row in rows[:10] + [b[0] for b in bad] + rows[10:]:
        sheet.append(row)
    path = tmp_path / "住户.xlsx"
    book.save(path)
    target = MemoryTarget(["household_number"])
    report = sync(get("xlsx"), {"path": str(path)}, target, mapping=Mapping.from_config(HOUSEHOLD_MAPPING),
                  validator=record_validator("household", 1), batch_size=7)
    assert report.succeeded
    assert (report.read, report.inserted, report.quarantined) == (28, 25, 3)
    assert target.records == {r["household_number"]: r for r in records}
    assert [r.row_number for r in target.rejected] == [12, 13, 14]


def test_a_missing_sheet_or_file_or_a_non_workbook_is_a_source_error(workbook, tmp_path):
    with pytest.raises(SourceError, match="has no sheet '汇总'; its sheets are: 说明, 办件"):
        read({"path": workbook, "sheet": "汇总"})
    with pytest.raises(SourceError, match="^file not found: "):
        read({"path": str(tmp_path / "none.xlsx")})
    fake = tmp_path / "old.xlsx"
    fake.write_bytes(b"\xd0\xcf\x11\xe0 an old .xls file")
    with pytest.raises(SourceError, match="is not a readable .xlsx workbook"):
        read({"path": str(fake)})
    report = sync(get("xlsx"), {"path": str(tmp_path / "none.xlsx")}, MemoryTarget(["k"]))
    assert report.status == "failed" and report.error_message.startswith("file not found: ")
