"""Catalog health: every number links to the list behind it, and that list has as many rows as the number
says; a department admin sees only their own department's lists."""
from __future__ import annotations

import datetime as dt
import re

import sqlalchemy as sa

from catalog.datasets.models import Dataset


def _age(db_session, name: str, days: int) -> None:
    """Make a dataset's last change ``days`` old (no records, no sync: the metadata is its last change)."""
    db_session.execute(sa.update(Dataset).where(Dataset.name == name).values(
        metadata_modified=dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=days)))
    db_session.commit()


def _rows(page: str) -> int:
    return len(re.findall(r"<tr(?: class=\"overdue\")?><td><a href=\"/dataset/", page))


def test_every_number_opens_the_list_behind_it(browser, catalog, make, db_session, sysadmin):
    make.dataset("minzheng", name="dibao", title="低保对象", update_cycle="monthly")
    make.dataset("minzheng", name="huji", title="户籍人口", update_cycle="monthly")
    make.dataset("minzheng", name="yanglao", title="养老机构", update_cycle="irregular")
    make.dataset("renshe", name="jiuye", title="就业登记", update_cycle="monthly")
    _age(db_session, "dibao", 200)  # a monthly dataset untouched for 200 days is overdue
    browser.login(sysadmin.name)
    page = browser.text("/health")
    links = re.findall(r'href="(/health/datasets\?[^"]+)">(\d+)(%?)</a>', page)
    counts = [(url.replace("&amp;", "&"), int(n)) for url, n, percent in links if not percent]
    assert len(counts) == 2 + 2 * 4  # the chart's table, and four columns of the ranking, for two departments
    for url, number in counts:
        assert _rows(browser.text(url)) == number, (url, number)
    assert ("/health/datasets?organization=minzheng&status=overdue", 1) in counts
    assert ("/health/datasets?organization=minzheng&status=fresh", 2) in counts
    overdue = browser.text("/health/datasets?organization=minzheng&status=overdue")
    assert "低保对象" in overdue and "户籍人口" not in overdue
    assert _rows(browser.text("/health/datasets?organization=minzheng")) == 3
    ranking = page.split('class="ranking"')[1].split("</table>")[0]
    assert ranking.index("宁陕县人力资源和社会保障局") < ranking.index("宁陕县民政局")  # 100 % on time before 67 %
    assert "<figcaption>各部门已发布的数据资源数</figcaption>" in page


def test_a_department_admin_opens_only_their_own_lists(browser, catalog, make):
    make.dataset("minzheng", name="dibao", title="低保对象")
    make.dataset("renshe", name="jiuye", title="就业登记")
    browser.login(catalog.admin.name)
    assert "低保对象" in browser.text("/health/datasets?organization=minzheng")
    assert browser.get("/health/datasets?organization=renshe").status_code == 404
    assert browser.get("/health/datasets?organization=minzheng&status=nonsense").status_code == 404
    browser.login(catalog.editor.name)
    assert browser.get("/health/datasets?organization=minzheng").status_code == 403
