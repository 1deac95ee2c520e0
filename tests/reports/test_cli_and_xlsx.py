"""`catalog report quarterly` and the .xlsx workbook for the joint meeting (联席会议)."""
from __future__ import annotations

from io import BytesIO

import pytest
from click.testing import CliRunner
from openpyxl import load_workbook

from catalog.cli import main
from catalog.reports import xlsx
from tests.reports.test_ranking import CGZ, MZJ, RSJ, quarter, report  # noqa: F401  (the hand-made quarter)


def run(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("CATALOG_INSTANCE_PATH", str(tmp_path / "instance"))
    monkeypatch.delenv("CATALOG_DATABASE_URL", raising=False)
    run("db", "upgrade")
    assert run("user", "create", "root", "--password", "s3cret-pass", "--sysadmin").exit_code == 0
    for name, title in (("ningshan-mzj", "宁陕县民政局"), ("ningshan-xfj", "宁陕县信访局")):
        assert run("department", "create", name, "--title", title).exit_code == 0
    return tmp_path


def test_the_command_prints_every_department_and_saves_the_workbook(env):
    path = env / "2026Q4.xlsx"
    done = run("report", "quarterly", "--quarter", "2026Q4", "--xlsx", str(path))
    assert done.exit_code == 0, done.output
    assert done.output.startswith("2026Q4 (2026-10-01 – 2026-12-31), as of ")
    assert "宁陕县民政局" in done.output and "宁陕县信访局" in done.output and f"saved {path}" in done.output
    book = load_workbook(path)
    assert book.sheetnames == ["部门排名", "乡镇排名", "权重与说明"]
    units = {row[1] for row in book["部门排名"].iter_rows(min_row=3, values_only=True)}
    assert units == {"宁陕县民政局", "宁陕县信访局"}


@pytest.mark.parametrize("args, message", [
    (("--quarter", "2026-4"), "is not a quarter"), (("--quarter", "2026Q4", "--as-of", "tomorrow"), "tomorrow")])
def test_a_bad_quarter_or_day_is_one_line_naming_it(env, args, message):
    result = CliRunner().invoke(main, ["report", "quarterly", *args])
    assert result.exit_code == 2 and message in result.output and "Traceback" not in result.output


def test_the_workbook_holds_the_ranking_worked_by_hand_with_links_to_the_cases(app, quarter):  # noqa: F811
    book = load_workbook(BytesIO(xlsx.workbook(report(app), site_url="https://data.ningshan.gov.cn")))
    sheet = book["部门排名"]
    assert sheet["A1"].value.startswith("2026Q4 季度考核排名")
    header = [c.value for c in sheet[2]]
    assert header[:4] == ["排名", "单位", "综合得分", "共享申请按时答复率"]
    rows = {row[1]: row for row in sheet.iter_rows(min_row=3, values_only=True)}
    assert (rows[RSJ][0], rows[RSJ][2]) == (1, 75.0) and (rows[CGZ][0], rows[CGZ][2]) == (2, 36.0)
    assert (rows[MZJ][0], rows[MZJ][2], rows[MZJ][3]) == (3, 35.19, 33.3)  # share requests 1 of 3
    assert rows[MZJ][4] == "按时 1 / 逾期 2 / 未到期 0"
    link = next(r for r in sheet.iter_rows(min_row=3) if r[1].value == MZJ)[3].hyperlink.target
    assert link.startswith("https://data.ningshan.gov.cn/report/quarterly/cases?") and "criterion=share_requests" in link
    towns = [(row[0], row[1], row[2]) for row in book["乡镇排名"].iter_rows(min_row=3, values_only=True)]
    assert towns == [(1, "城关镇", 74.67), (2, "四亩地镇", 0.0), ("—", "新场镇", None)]
    weights = {row[0]: row[1] for row in book["权重与说明"].iter_rows(values_only=True) if row and row[0]}
    assert weights["满意度等级"] == "分值" and weights["基本满意"] == 60 and weights["群众满意度（分）"] == 30
