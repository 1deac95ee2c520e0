"""County exports as departments really send them, for the example jobs of docs/examples.

* a household summary (户主信息表): GB18030, a title line above the header, a 16-digit 户号 (the
  18-digit household number without its province prefix ``61``; Excel drops its leading zero on
  every third row), town and village codes without their leading zeros, the head's columns only;
* a petition ledger (信访台账): GB18030, 受理日期 in three styles (2026/01/03, 2026年1月3日, 20260103),
  a time limit in working days instead of a deadline, and a status told only by whether 办结日期 is filled.

Both end with a re-export of 0.5 % of their rows (newer values) and carry 2 % bad rows.
"""
from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass, field
from pathlib import Path

from tests.schemas.records_samples import households, petitions

CHANNELS = {"letter": "来信", "visit": "来访", "online": "网上信访", "hotline": "12345热线"}


@dataclass
class Export:
    """What a test needs to know about a generated export."""

    rows: int = 0                                   # data rows in the file (re-exports included)
    keys: set[str] = field(default_factory=set)     # the distinct keys
    bad: set[str] = field(default_factory=set)      # keys whose last row is invalid
    reexported: dict[str, dict] = field(default_factory=dict)  # key → the values its last row says


def date_style(day: dt.date, index: int) -> str:
    return (day.strftime("%Y/%m/%d"), f"{day.year}年{day.month}月{day.day}日", day.strftime("%Y%m%d"))[index % 3]


def _write(path: Path, header: list[str], rows: list[list[str]], title: str | None = None) -> None:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n")
    if title:
        writer.writerow([title])
    writer.writerow(header)
    writer.writerows(rows)
    path.write_bytes(buffer.getvalue().encode("gb18030"))


HOUSEHOLD_HEADER = ["户号", "户主姓名", "户主身份证号", "乡镇代码", "村代码", "乡镇", "村社区", "住址", "变更日期"]


def household_export(path: Path, n: int, seed: int = 14) -> Export:
    facts = Export()
    rows, good = [], []
    for index, record in enumerate(households(n, seed=seed)):
        number = record["household_number"]
        hu = number[2:]  # 16 digits, "0923…"
        division = record["division_code"]
        changed = dt.date(2026, 1, 1) + dt.timedelta(days=index % 300)
        row = [hu.lstrip("0") if index % 3 == 0 else hu, record["head_name"], record["head_id_number"],
               str(int(division[6:9])), str(int(division[9:12])) if index % 2 else division[9:12],
               record["town"], record["village"], record["address"], date_style(changed, index)]
        if index % 50 == 7:
            row[2] = row[2][:-1]  # a digit short: the head's ID and what is computed from it fail
            facts.bad.add(number)
        elif index % 50 == 32:
            row[8] = "2026年13月01日"  # no such month
            facts.bad.add(number)
        else:
            good.append((number, row))
        facts.keys.add(number)
        rows.append(row)
    for number, row in good[::200]:  # 0.5 %: re-exported at the end with a new address
        again = list(row)
        again[7] = row[7] + "（搬迁安置点）"
        again[8] = "2026年12月1日"
        rows.append(again)
        facts.reexported[number] = {"address": again[7]}
    _write(path, HOUSEHOLD_HEADER, rows, title="宁陕县住户信息表（户主）")
    facts.rows = len(rows)
    return facts


PETITION_HEADER = ["信访件编号", "信访渠道", "信访人姓名", "诉求内容", "诉求类别", "责任单位", "受理日期",
                   "办理期限（工作日）", "答复意见", "办结日期"]


def petition_export(path: Path, n: int, seed: int = 14) -> Export:
    facts = Export()
    rows, good = [], []
    for index, record in enumerate(petitions(n, seed=seed)):
        accepted = dt.date.fromisoformat(record["accepted_on"])
        completed = record.get("completed_on") if record.get("status") == "completed" else None
        reply = record.get("reply", "") if record.get("status") in ("replied", "completed") else ""
        row = [record["petition_number"], CHANNELS[record["channel"]], record["petitioner"]["name"],
               record["content"], record.get("category", ""), record["responsible_unit"],
               date_style(accepted, index), "60" if index % 4 == 0 else "15", reply,
               date_style(dt.date.fromisoformat(completed), index + 1) if completed else ""]
        if index % 50 == 7:
            row[6] = "2026年13月45日"
            facts.bad.add(record["petition_number"])
        elif index % 50 == 32:
            row[7] = "十五"  # not a number of days: the deadline cannot be computed
            facts.bad.add(record["petition_number"])
        else:
            good.append((record["petition_number"], row))
        facts.keys.add(record["petition_number"])
        rows.append(row)
    for number, row in good[::200]:
        again = list(row)
        again[8], again[9] = "经复核，已办结。", "2026/12/01"
        rows.append(again)
        facts.reexported[number] = {"status": "completed", "completed_on": "2026-12-01", "reply": again[8]}
    _write(path, PETITION_HEADER, rows)
    facts.rows = len(rows)
    return facts
