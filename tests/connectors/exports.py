"""Department exports of the household register as real systems write them, built from the samples.

``household_export(n, seed)`` gives the header and rows of a spreadsheet-style export (Chinese
headers, sex as 男/女, 是/否, dates in the formats exports mix, traditional town names now and
then) plus the records those rows must map to. ``HOUSEHOLD_MAPPING`` maps it back.
"""
from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Any

from opencc import OpenCC

from tests.schemas.records_samples import households

HEADER = ["户编号", "户主姓名", "户主公民身份号码", "家庭成员", "家庭住址", "统计用区划代码", "乡镇", "村",
          "包联干部", "网格员", "最近走访日期", "更新时间"]
MEMBER_FIELDS = ["name", "id_number", "sex", "relation", "working_away", "work_place", "phone"]

HOUSEHOLD_MAPPING: dict[str, Any] = {
    "rename": {"户编号": "household_number", "户主姓名": "head_name", "户主公民身份号码": "head_id_number",
               "家庭成员": "members", "家庭住址": "address", "统计用区划代码": "division_code", "乡镇": "town",
               "村": "village", "包联干部": "contact_cadre", "网格员": "grid_worker",
               "最近走访日期": "last_visit_date", "更新时间": "updated_at"},
    "split": {"members": {"fields": MEMBER_FIELDS}},
    "value_maps": {"members.*.sex": {"男": "1", "女": "2"}},
    "booleans": ["members.*.working_away"],
    "strings": ["household_number", "division_code"],
    "dates": ["last_visit_date"],
    "datetimes": ["updated_at"],
    "t2s": ["town"],
}

_S2T = OpenCC("s2t")
_EXCEL_EPOCH = dt.date(1899, 12, 30)


def _date_text(iso: str, style: int) -> str | int:
    day = dt.date.fromisoformat(iso)
    return [iso, f"{day:%Y/%m/%d}", f"{day:%Y}年{day:%m}月{day:%d}日", f"{day.year}.{day.month}.{day.day}",
            str((day - _EXCEL_EPOCH).days)][style % 5]


def _member_text(members: list[dict[str, Any]]) -> str:
    items = []
    for member in members:
        values = {**member, "sex": "男" if member["sex"] == "1" else "女"}
        if "working_away" in member:
            values["working_away"] = "是" if member["working_away"] else "否"
        items.append(",".join(str(values.get(name, "")) for name in MEMBER_FIELDS).rstrip(","))
    # a line break after each member, as a cell with Alt+Enter: a quoted newline in CSV
    return ";\r\n".join(items)


def household_row(record: dict[str, Any], index: int) -> list[Any]:
    """The export row of one household record (index varies the date style and script)."""
    updated = dt.datetime.fromisoformat(record["updated_at"])
    return [record["household_number"], f" {record['head_name']} ", record["head_id_number"],
            _member_text(record["members"]), record["address"], record["division_code"],
            _S2T.convert(record["town"]) if index % 3 == 0 else record["town"], record["village"],
            record.get("contact_cadre", ""), record.get("grid_worker", ""),
            _date_text(record["last_visit_date"], index) if "last_visit_date" in record else "",
            f"{updated:%Y/%m/%d %H:%M:%S}"]


def household_export(n: int, seed: int = 1) -> tuple[list[list[Any]], list[dict[str, Any]]]:
    """(rows, the records they map to) for ``n`` households."""
    records = list(households(n, seed))
    return [household_row(r, i) for i, r in enumerate(records)], records


def bad_rows(seed: int = 99) -> list[tuple[list[Any], str, str]]:
    """Three broken rows: (row, field the error must name, keyword)."""
    first, second, third = households(3, seed)
    date = household_row(first, 0)
    date[HEADER.index("最近走访日期")] = "2026-13-01"
    check = household_row(second, 1)
    wrong = "1" if second["head_id_number"][-1] != "1" else "2"
    check[HEADER.index("户主公民身份号码")] = second["head_id_number"][:-1] + wrong
    missing = household_row(third, 2)
    missing[HEADER.index("户主姓名")] = "   "
    return [(date, "last_visit_date", "date"), (check, "head_id_number", "format"),
            (missing, "head_name", "required")]


def csv_text(header: list[str], rows: list[list[Any]], *, title: str | None = None) -> str:
    """CSV with CRLF line ends, as Excel writes it."""
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    if title:
        writer.writerow([title])
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()
