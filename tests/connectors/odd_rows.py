"""Household export rows with what county exports really carry, good and bad: for the tests that run the
same file through the columnar and the per-row transform (issue 18).

Each entry is (what it is, the row in ``HEADER`` order, whether household@1 takes it). The rows come from
``households(…)`` records written by ``household_row``, then changed as a department's system or an
officer's Excel would change them.
"""
from __future__ import annotations

from typing import Any

from tests.connectors.exports import HEADER, household_row
from tests.schemas.records_samples import households

COLUMN = {name: index for index, name in enumerate(HEADER)}


def _check_char(first17: str) -> str:
    # GB 11643, written out here (not the code under test): weights 2^(17-i) mod 11
    total = sum(int(d) * (2 ** (17 - i) % 11) for i, d in enumerate(first17))
    return "10X98765432"[total % 11]


def _member_cells(row: list[Any]) -> list[list[str]]:
    return [item.split(",") for item in row[COLUMN["家庭成员"]].split(";\r\n")]


def _set_members(row: list[Any], members: list[list[str]]) -> None:
    row[COLUMN["家庭成员"]] = ";\r\n".join(",".join(parts) for parts in members)


def odd_rows(seed: int = 808) -> list[tuple[str, list[Any], bool]]:
    """About forty rows: every oddity below once, each on its own household."""
    records = list(households(60, seed))
    made: list[tuple[str, list[Any], bool]] = []

    def row(index: int) -> list[Any]:
        return household_row(records[index], index)

    def add(what: str, values: list[Any], valid: bool) -> None:
        made.append((what, values, valid))

    # --- bad rows -----------------------------------------------------------------------------
    r = row(0)
    head = r[COLUMN["户主公民身份号码"]]
    r[COLUMN["户主公民身份号码"]] = head[:17] + ("1" if head[17] != "1" else "2")
    add("wrong check digit (head)", r, False)
    r = row(1)
    members = _member_cells(r)
    number = members[-1][1]
    members[-1][1] = number[:17] + ("3" if number[17] != "3" else "4")
    _set_members(r, members)
    add("wrong check digit (a member)", r, False)
    r = row(2)
    r[COLUMN["最近走访日期"]] = "2026-13-01"
    add("bad date", r, False)
    r = row(3)
    r[COLUMN["更新时间"]] = "2026/02/30 10:00:00"
    add("bad date-time (30 February)", r, False)
    r = row(4)
    r[COLUMN["更新时间"]] = "2026/01/03 24:00:00"
    add("bad date-time (hour 24)", r, False)
    r = row(5)
    members = _member_cells(r)
    members[0][2] = "未知"
    _set_members(r, members)
    add("unknown sex code", r, False)
    r = row(6)
    members = _member_cells(r)
    members[-1][3] = "07"
    _set_members(r, members)
    add("unknown relation code", r, False)
    r = row(7)
    members = _member_cells(r)
    members[0] = (members[0] + ["", "", ""])[:7]
    members[0][4] = "也许"
    _set_members(r, members)
    add("not a yes/no", r, False)
    r = row(8)
    r[COLUMN["户主姓名"]] = "   "
    add("missing head name (spaces only)", r, False)
    r = row(9)
    r[COLUMN["家庭成员"]] = ""
    add("missing members", r, False)
    r = row(10)
    r[COLUMN["乡镇"]] = ""
    add("missing town", r, False)
    r = row(11)
    members = _member_cells(r)
    members[0] = (members[0] + ["", "", ""])[:7]
    members[0][4], members[0][5] = "是", ""
    _set_members(r, members)
    add("working away without a place of work", r, False)
    r = row(12)
    members = _member_cells(r)
    members[-1] = (members[-1] + ["", "", ""])[:7]
    members[-1][6] = "1234567"
    _set_members(r, members)
    add("bad mobile number", r, False)
    r = row(13)
    members = _member_cells(r)
    members[0] = (members[0] + ["", "", ""])[:7] + ["多余"]
    _set_members(r, members)
    add("a member with too many values", r, False)
    r = row(14)
    r[COLUMN["家庭成员"]] = ";；\r\n;"
    add("a member list of separators only", r, False)
    r = row(15)
    r[COLUMN["统计用区划代码"]] = "61092310020"
    add("division code of 11 digits", r, False)
    r = row(16)
    r[COLUMN["户编号"]] = "00" + r[COLUMN["户编号"]][2:]
    add("household number without a province", r, False)
    r = row(17)
    first17 = "61092320991231" + "123"
    r[COLUMN["户主公民身份号码"]] = first17 + _check_char(first17)
    add("resident ID born in 2099", r, False)
    r = row(18)
    r[COLUMN["家庭住址"]] = "陕" * 201
    add("address too long", r, False)

    # --- good rows with oddities -----------------------------------------------------------------
    r = row(20)
    r[COLUMN["户主姓名"]] = "\ufeff\u200b" + records[20]["head_name"] + "\u3000"
    add("BOM, zero-width and ideographic spaces around a name", r, True)
    r = row(21)
    members = _member_cells(r)
    r[COLUMN["家庭成员"]] = "；\n".join("，".join(parts) for parts in members) + "；"
    add("full-width separators and a trailing one", r, True)
    r = row(22)
    r[COLUMN["家庭住址"]] = r[COLUMN["家庭住址"]] + "𠮷祥巷"  # outside the BMP: four bytes in GB18030
    add("a character outside the BMP", r, True)
    r = row(23)
    r[COLUMN["家庭住址"]] = '陕西省"东河"村\\8组'
    add("a quote and a backslash (escaped in JSON)", r, True)
    r = row(24)
    r[COLUMN["家庭住址"]] = r[COLUMN["家庭住址"]] + "\t"
    add("a tab at the end of a cell", r, True)
    r = row(25)
    members = _member_cells(r)
    members[0][0] = " " + members[0][0] + " "
    _set_members(r, members)
    add("spaces around a member's name", r, True)
    r = row(26)
    r[COLUMN["最近走访日期"]] = "45678"
    add("Excel serial date", r, True)
    r = row(27)
    r[COLUMN["更新时间"]] = "2026年1月3日 9时5分"
    add("date-time in Chinese", r, True)
    r = row(28)
    r[COLUMN["更新时间"]] = "2026-01-03T09:30:00+08:00"
    add("date-time with its zone", r, True)
    r = row(29)
    r[COLUMN["乡镇"]] = "城關鎮"
    add("traditional town name", r, True)
    r = row(30)
    r[COLUMN["网格员"]] = ""
    r[COLUMN["包联干部"]] = "  "
    add("optional cells empty", r, True)
    r = row(31)
    r[COLUMN["户主姓名"]] = "欧阳 娜娜"
    add("a space inside a name", r, True)
    r = row(32)
    r[COLUMN["村"]] = "东河村\x1f"
    add("a unit separator at the end (str.strip takes it)", r, True)
    r = row(33)
    r[COLUMN["最近走访日期"]] = "２０２６年１月３日"
    add("full-width digits in a date", r, True)
    for index in range(34, 50):
        add("plain", row(index), True)
    return made
