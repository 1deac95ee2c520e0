"""The demo's "department systems": a police household register (SQLite), a human-resources Excel
export of households with members working away, and a petition office CSV in GB18030 with a few
bad rows — each written in a folder of its own under the systems folder (outside the catalog's
instance folder, which can never be a source), registered as a connection open to its department,
and synced into the catalog by real jobs."""
from __future__ import annotations

import csv
import datetime as dt
import io
import sqlite3
from pathlib import Path
from typing import Any

from schemas.samples import households, petitions

SEX = {"1": "男", "2": "女"}
HOUSEHOLD_COLUMNS = {
    "户编号": "household_number", "户主姓名": "head_name", "户主身份证号": "head_id_number",
    "家庭成员": "members", "住址": "address", "区划代码": "division_code", "乡镇": "town",
    "村社区": "village", "包联干部": "contact_cadre", "网格员": "grid_worker",
    "最近走访日期": "last_visit_date", "更新时间": "updated_at",
}
MEMBER_FIELDS = ["name", "id_number", "sex", "relation", "working_away", "work_place", "phone"]
HOUSEHOLD_MAPPING: dict[str, Any] = {
    "rename": HOUSEHOLD_COLUMNS,
    "split": {"members": {"fields": MEMBER_FIELDS}},
    "value_maps": {"members.*.sex": {"男": "1", "女": "2"}},
    "booleans": ["members.*.working_away"],
    "dates": ["last_visit_date"], "datetimes": ["updated_at"],
}
PETITION_COLUMNS = {
    "信访件编号": "petition_number", "信访渠道": "channel", "信访人姓名": "petitioner.name",
    "信访人身份证号": "petitioner.id_number", "联系电话": "petitioner.phone", "诉求内容": "content",
    "诉求类别": "category", "涉及地点": "place", "责任单位": "responsible_unit", "受理日期": "accepted_on",
    "办结期限": "deadline", "办理状态": "status", "答复意见": "reply", "办结日期": "completed_on",
    "满意度": "satisfaction",
}
CHANNELS = {"letter": "来信", "visit": "来访", "online": "网上信访", "hotline": "12345热线"}
PETITION_MAPPING: dict[str, Any] = {
    "rename": PETITION_COLUMNS,
    "value_maps": {"channel": {v: k for k, v in CHANNELS.items()}},
    "dates": ["accepted_on", "deadline", "completed_on"],
}


def _member_text(members: list[dict[str, Any]]) -> str:
    parts = []
    for m in members:
        values = [m["name"], m["id_number"], SEX[m["sex"]], m["relation"], "是" if m.get("working_away") else "否",
                  m.get("work_place", ""), m.get("phone", "")]
        parts.append(",".join(values))
    return ";".join(parts)


def _household_row(record: dict[str, Any]) -> list[Any]:
    values = dict(record, members=_member_text(record["members"]))
    return [values.get(field, "") for field in HOUSEHOLD_COLUMNS.values()]


def police_register(path: Path, n: int = 200) -> None:
    """A SQLite household register with Chinese column names, as a police system might keep it."""
    path.unlink(missing_ok=True)
    with sqlite3.connect(path) as db:
        columns = ", ".join(f'"{c}" TEXT' for c in HOUSEHOLD_COLUMNS)
        db.execute(f'CREATE TABLE 户籍登记 ({columns}, PRIMARY KEY ("户编号"))')
        db.executemany(f"INSERT INTO 户籍登记 VALUES ({', '.join('?' * len(HOUSEHOLD_COLUMNS))})",
                       [_household_row(r) for r in households(n, seed=610923)])


def migrant_workbook(path: Path, n: int = 300) -> None:
    """An Excel export of households with members working away (人社局), visit dates as Excel dates."""
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet("外出务工家庭")
    sheet.append(["宁陕县外出务工人员家庭花名册（导出）"])
    sheet.append(list(HOUSEHOLD_COLUMNS))
    for record in households(n, seed=2026):
        if not any(m.get("working_away") for m in record["members"]):
            continue
        row = _household_row(record)
        if record.get("last_visit_date"):
            row[list(HOUSEHOLD_COLUMNS).index("最近走访日期")] = dt.date.fromisoformat(record["last_visit_date"])
        sheet.append(row)
    book.save(path)


def petition_csv(path: Path, n: int = 150) -> None:
    """The petition office's CSV: GB18030, CRLF, dates as 2026/01/03 and 2026年01月03日, a few bad rows."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(list(PETITION_COLUMNS))
    for index, record in enumerate(petitions(n, seed=12345)):
        flat = dict(record)
        for key in ("name", "id_number", "phone"):
            flat[f"petitioner.{key}"] = record["petitioner"].get(key, "")
        flat["channel"] = CHANNELS[record["channel"]]
        row = [flat.get(field, "") for field in PETITION_COLUMNS.values()]
        accepted = dt.date.fromisoformat(record["accepted_on"])
        row[list(PETITION_COLUMNS).index("受理日期")] = (
            f"{accepted.year}年{accepted.month:02d}月{accepted.day:02d}日" if index % 2 else accepted.strftime("%Y/%m/%d"))
        if index % 37 == 5:
            row[list(PETITION_COLUMNS).index("受理日期")] = "2026年13月01日"  # no such month
        if index % 37 == 11:
            row[list(PETITION_COLUMNS).index("信访人身份证号")] = "61092319800101123"  # a digit short
        writer.writerow(row)
    path.write_bytes(buffer.getvalue().encode("gb18030"))


def demo_connections(folder: Path) -> list[dict[str, Any]]:
    """Write the three systems under ``folder``, each in its own folder; their connections (the
    department whose jobs may use each is the owner of the dataset named in ``dataset``)."""
    for system in ("gaj", "rsj", "xfj"):
        (folder / system).mkdir(parents=True, exist_ok=True)
    police_register(folder / "gaj" / "police-register.db")
    migrant_workbook(folder / "rsj" / "migrant-households.xlsx")
    petition_csv(folder / "xfj" / "petitions-gb18030.csv")
    return [
        {"name": "gaj-household-register", "kind": "database", "title": "公安局户籍登记库（SQLite）",
         "config": {"url": f"sqlite:///{folder / 'gaj' / 'police-register.db'}"}, "dataset": "household-register"},
        {"name": "rsj-exports", "kind": "folder", "title": "人社局导出文件夹",
         "config": {"path": str(folder / "rsj")}, "dataset": "migrant-workers"},
        {"name": "xfj-exports", "kind": "folder", "title": "信访局台账导出文件夹",
         "config": {"path": str(folder / "xfj")}, "dataset": "petition-cases"},
    ]


def demo_jobs() -> list[dict[str, Any]]:
    """The three systems' sync job definitions, each naming its connection (:func:`demo_connections`)."""
    return [
        {"dataset": "household-register", "name": "police-households", "title": "公安户籍登记 → 户籍人口信息表",
         "source": "sql", "source_config": {"connection": "gaj-household-register", "table": "户籍登记",
                                            "cursor_field": "更新时间", "primary_key": "户编号"},
         "mode": "incremental", "write": "upsert", "mapping": HOUSEHOLD_MAPPING},
        {"dataset": "migrant-workers", "name": "hr-migrant-households", "title": "人社局外出务工家庭花名册",
         "source": "xlsx", "source_config": {"connection": "rsj-exports", "path": "migrant-households.xlsx",
                                             "sheet": "外出务工家庭", "header_row": 2},
         "mode": "full_refresh", "write": "mirror", "mapping": HOUSEHOLD_MAPPING},
        {"dataset": "petition-cases", "name": "petition-office", "title": "信访局台账（GB18030 CSV）",
         "source": "csv", "source_config": {"connection": "xfj-exports", "path": "petitions-gb18030.csv"},
         "mode": "full_refresh", "write": "upsert", "mapping": PETITION_MAPPING},
    ]
