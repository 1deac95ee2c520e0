"""The ranking page: charts drawn on the server, every figure linking to its cases, the .xlsx download;
in Chinese by default."""
from __future__ import annotations

from io import BytesIO

from openpyxl import load_workbook

from tests.reports.test_permissions import accounts  # noqa: F401  (the fixture)
from tests.reports.test_ranking import CGZ, MZJ, RSJ, quarter  # noqa: F401
from tests.web.conftest import Browser

URL = "/report/quarterly?quarter=2026Q4&as_of=2027-01-10"


def test_the_page_ranks_with_charts_and_links_every_figure_to_its_cases(client, accounts):
    browser = Browser(client)
    browser.login(accounts["mzj"].name)
    page = browser.text(URL)
    assert "季度考核排名" in page or "季度排名" in page
    assert "<svg" in page and "<script" not in page and "cdn" not in page.lower()
    assert page.index(RSJ) < page.index(CGZ) < page.index(MZJ)  # ranked: 75.00, 36.00, 35.19
    assert "75.00" in page and "74.67" in page  # 人社局 and 城关镇
    assert "/report/quarterly/cases?" in page and "criterion=share_requests" in page
    own = browser.text("/report/quarterly/cases?quarter=2026Q4&as_of=2027-01-10&criterion=share_requests"
                       "&kind=department&unit=ningshan-mzj&outcome=late")
    assert own.count("<tr class=\"overdue\">") == 2 and "2026-11-10" in own and "2026-12-01" in own
    assert browser.get("/report/quarterly/cases?quarter=2026Q4&criterion=service_cases&kind=department"
                       "&unit=ningshan-rsj").status_code == 403
    download = browser.get("/report/quarterly.xlsx?quarter=2026Q4&as_of=2027-01-10")
    assert download.status_code == 200 and download.mimetype.endswith("spreadsheetml.sheet")
    assert load_workbook(BytesIO(download.data)).sheetnames == ["部门排名", "乡镇排名", "权重与说明"]


def test_a_bad_quarter_is_said_on_the_page(client, accounts):
    browser = Browser(client)
    browser.login(accounts["cgz"].name)
    assert "2026-4" in browser.text("/report/quarterly?quarter=2026-4")


def test_visitors_are_sent_to_log_in_and_accounts_of_no_department_refused(client, accounts):
    assert client.get(URL).status_code in (302, 401)
    browser = Browser(client)
    browser.login(accounts["loner"].name)
    assert browser.get(URL).status_code == 403
