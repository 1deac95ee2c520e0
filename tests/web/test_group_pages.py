"""Theme pages (/group, /group/<code>): GB/T 21063.4's themes in Chinese (English on request), each listing
the datasets filed under it that the viewer may read (issue 16)."""
from __future__ import annotations

import re

from catalog.db import get_db
from catalog.datasets.service import get_dataset
from catalog.groups.service import set_dataset_themes
from catalog.auth.models import User


def _file(app, name: str, codes: list[str]) -> None:
    with get_db(app).session() as session:
        admin = session.query(User).filter(User.sysadmin.is_(True)).first()
        set_dataset_themes(session, admin, get_dataset(session, name), codes)
        session.commit()


def test_theme_pages_list_readable_datasets_only(app, browser, catalog, make):
    make.dataset(catalog.provider["id"], name="relief-roster", title="低保对象名册")
    make.dataset(catalog.provider["id"], name="secret-list", title="内部核查名单", private=True)
    _file(app, "relief-roster", ["218"])
    _file(app, "secret-list", ["218"])

    listing = browser.text("/group")
    assert "主题" in listing and "民政、社区" in listing and "综合政务" in listing
    assert 'href="/group/218"' in listing
    assert re.search(r'href="/group/218">民政、社区</a></h2>\s*<p class="meta">218 · 1 个数据资源', listing)

    page = browser.text("/group/218")
    assert "民政、社区" in page and "GB/T 21063.4 主题类 218" in page
    assert "低保对象名册" in page and "内部核查名单" not in page  # anonymous: the private one stays hidden

    browser.login(catalog.asker.name)  # another department's editor
    assert "内部核查名单" not in browser.text("/group/218")
    browser.login(catalog.editor.name)  # the owner department's editor
    assert "内部核查名单" in browser.text("/group/218")

    browser.text("/group/999", status=404)
    assert browser.text("/group/201").count("该主题下暂无数据资源") == 1


def test_theme_pages_in_english(browser):
    english = browser.text("/group/218", headers={"Accept-Language": "en"})
    assert "Civil affairs and communities" in english and "GB/T 21063.4 theme 218" in english
    assert "No datasets under this theme yet." in english
