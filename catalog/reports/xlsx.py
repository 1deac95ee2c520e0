"""The quarterly ranking as an .xlsx workbook for the county's joint meeting (联席会议), with openpyxl:
a sheet for the departments, one for the towns, one for the weights and notes. Each figure links to
the page listing the cases behind it when the site's address is known."""
from __future__ import annotations

from io import BytesIO
from typing import Any
from urllib.parse import urlencode

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

#: the column headings of each criterion (Chinese first: the meeting's language)
CRITERION_LABELS = {"share_requests": "共享申请按时答复率", "objections": "数据异议按时办结率",
                    "freshness": "目录按时更新率", "petitions": "信访按期办结率",
                    "service_cases": "办件按承诺时限办结率", "satisfaction": "群众满意度（分）"}
GRADE_LABELS = {"satisfied": "满意", "basically_satisfied": "基本满意", "dissatisfied": "不满意"}
_HEAD = Font(bold=True)
_FILL = PatternFill("solid", fgColor="DDEBF7")


def _cell_value(criterion: str, figure: dict[str, Any]) -> Any:
    if criterion == "satisfaction":
        return figure["score"]
    return None if figure["rate"] is None else round(100 * figure["rate"], 1)


def _detail(criterion: str, figure: dict[str, Any]) -> str:
    if criterion == "satisfaction":
        return " / ".join(f"{GRADE_LABELS[g]} {figure[g]}" for g in GRADE_LABELS)
    return f"按时 {figure['in_time']} / 逾期 {figure['late']} / 未到期 {figure['pending']}"


def _sheet(book: Workbook, title: str, rows: list[dict[str, Any]], criteria: list[str], kind: str,
           report: dict[str, Any], site_url: str | None, first: bool) -> None:
    sheet = book.active if first else book.create_sheet()
    sheet.title = title
    sheet.append([f"{report['quarter']} 季度考核排名（{report['from']} 至 {report['to']}，截至 {report['as_of']}）"])
    sheet["A1"].font = Font(bold=True, size=13)
    header = ["排名", "单位", "综合得分"]
    for criterion in criteria:
        header += [CRITERION_LABELS[criterion], "明细"]
    sheet.append(header)
    for cell in sheet[2]:
        cell.font, cell.fill, cell.alignment = _HEAD, _FILL, Alignment(wrap_text=True, vertical="center")
    for row in rows:
        values: list[Any] = [row["rank"] if row["rank"] is not None else "—", row["title"], row["score"]]
        for criterion in criteria:
            figure = row["figures"][criterion]
            values += [_cell_value(criterion, figure), _detail(criterion, figure)]
        sheet.append(values)
        if site_url:
            for index, criterion in enumerate(criteria):
                cell = sheet.cell(row=sheet.max_row, column=4 + 2 * index)
                cell.hyperlink = site_url.rstrip("/") + "/report/quarterly/cases?" + urlencode(
                    {"quarter": report["quarter"], "as_of": report["as_of"], "criterion": criterion, "kind": kind,
                     "unit": row["name"]})
    widths = [6, 28, 10] + [14, 30] * len(criteria)
    for index, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width
    sheet.freeze_panes = "C3"


def workbook(report: dict[str, Any], *, site_url: str | None = None) -> bytes:
    """The report as .xlsx bytes."""
    book = Workbook()
    _sheet(book, "部门排名", report["departments"], report["criteria"], "department", report, site_url, True)
    _sheet(book, "乡镇排名", report["towns"], report["town_criteria"], "town", report, site_url, False)
    notes = book.create_sheet("权重与说明")
    notes.append(["指标", "权重"])
    for criterion in report["criteria"]:
        notes.append([CRITERION_LABELS[criterion], report["weights"][criterion]])
    notes.append([])
    notes.append(["满意度等级", "分值"])
    for grade, label in GRADE_LABELS.items():
        notes.append([label, report["satisfaction_weights"][grade]])
    notes.append([])
    notes.append(["综合得分 = 有案件的各项指标按权重加权平均（0–100）；得分相同名次相同。"])
    for note in report["notes"]:
        notes.append([note["zh"]])
    if report["units_not_in_catalog"]:
        notes.append(["记录中出现但目录中没有的单位：" + "、".join(report["units_not_in_catalog"])])
    for row in notes.iter_rows(min_row=1, max_row=1):
        for cell in row:
            cell.font = _HEAD
    notes.column_dimensions["A"].width = 60
    buffer = BytesIO()
    book.save(buffer)
    return buffer.getvalue()
