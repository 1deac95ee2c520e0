"""Home/search, the dataset page, escaping, access rules and error pages."""
from __future__ import annotations

import re

import pytest


def test_home_is_the_search_page_with_facets(browser, catalog, make):
    make.dataset("minzheng", title="宁陕县户籍人口信息表", name="huji-renkou")
    make.dataset("renshe", title="宁陕县就业登记信息", name="jiuye", share_type="unconditional",
                 share_condition=None, tags=["就业"])
    page = browser.text("/")
    assert "宁陕县户籍人口信息表" in page and "宁陕县就业登记信息" in page
    assert "找到 2 个数据资源" in page
    # facets: department titles, share types labelled from the schema, tags
    assert "宁陕县民政局" in page and "有条件共享" in page and "无条件共享" in page
    assert 'href="/dataset?share_type=unconditional"' in page


def test_search_highlights_chinese_words_and_finds_pinyin(browser, catalog, make):
    make.dataset("minzheng", title="宁陕县户籍人口信息表", name="huji-renkou")
    make.dataset("minzheng", title="宁陕县低保救助对象", name="dibao", notes="低保救助对象名单",
                 tags=["低保"])
    page = browser.text("/dataset?q=户籍")
    assert "找到 1 个数据资源" in page
    assert "<mark>户籍</mark>" in page and "低保" not in page.split("</h1>", 1)[1].split("<aside")[0]
    page = browser.text("/dataset?q=huji")
    assert "宁陕县户籍人口信息表" in page and "宁陕县低保救助对象" not in page


def test_filters_sort_and_paging_live_in_the_url(browser, catalog, make):
    for n in range(23):
        make.dataset("minzheng", name=f"ds-{n:02d}", title=f"数据 {n:02d}")
    make.dataset("renshe", name="other", title="其他部门数据")
    page = browser.text("/dataset?organization=minzheng&sort=title_string+asc")
    assert "找到 23 个数据资源" in page and "其他部门数据" not in page
    assert "第 1 页，共 2 页" in page
    titles = re.findall(r'href="/dataset/(ds-\d\d)"', page)
    assert titles == sorted(titles) and len(titles) == 20
    second = browser.text("/dataset?organization=minzheng&sort=title_string+asc&page=2")
    assert re.findall(r'href="/dataset/(ds-\d\d)"', second) == ["ds-20", "ds-21", "ds-22"]
    # the active filter can be removed with one link that keeps the rest of the query
    assert 'href="/dataset?sort=title_string+asc"' in page


@pytest.mark.parametrize("query", ["page=abc", "page=-5", "page=99999999", "sort=drop+table",
                                   "organization=%22%5C", "tags=" + "x" * 5000, "q=" + "%" * 300,
                                   "res_format=(a+OR", "q=%00"])
def test_bad_search_input_never_gives_a_500(browser, catalog, query):
    assert browser.get(f"/dataset?{query}").status_code == 200


def test_dataset_page_shows_the_catalog_sheet_items_and_api_examples(browser, catalog, make):
    make.dataset("minzheng", name="huji-renkou", title="宁陕县户籍人口信息表")
    page = browser.text("/dataset/huji-renkou")
    for text in ("信息资源名称", "宁陕县户籍人口信息表", "101001/000", "有条件共享", "每月", "宁陕县民政局",
                 "户编号", "18 位户编号", "户主姓名", "字符型"):
        assert text in page, text
    assert "package_show?id=huji-renkou" in page and "ckanapi action package_show id=huji-renkou" in page
    assert "登记了数据资源" in page  # activity
    assert '<script src="/assets/copy.js"' in page


def test_titles_with_markup_show_as_text(browser, catalog, make):
    make.dataset("minzheng", name="xss", title="<script>alert(1)</script>", notes="<img src=x onerror=alert(2)>")
    for url in ("/dataset/xss", "/dataset", "/organization/minzheng"):
        page = browser.text(url)
        assert "<script>alert(1)</script>" not in page and "<img src=x" not in page
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    highlighted = browser.text("/dataset?q=script")  # the highlight marks words, never markup
    assert "&lt;<mark>script</mark>&gt;alert(1)&lt;/<mark>script</mark>&gt;" in highlighted


def test_missing_dataset_is_a_404_page(browser):
    response = browser.get("/dataset/no-such-thing")
    assert response.status_code == 404 and "未找到" in response.get_data(as_text=True)
    assert browser.get("/no/such/page").status_code == 404


def test_private_and_draft_datasets(browser, catalog, make):
    make.dataset("minzheng", name="private-one", private=True)
    make.dataset("minzheng", name="draft-one", state="draft")
    # outsiders get the page a missing dataset gets: they cannot tell a private dataset from none
    assert browser.get("/dataset/private-one").status_code == browser.get("/dataset/no-such-one").status_code == 404
    assert "private-one" not in browser.text("/dataset") and "draft-one" not in browser.text("/dataset")
    browser.login(catalog.asker.name)
    assert browser.get("/dataset/private-one").status_code == 404
    browser.login(catalog.editor.name)
    assert browser.get("/dataset/draft-one").status_code == 200
    page = browser.text("/organization/minzheng")
    assert "draft-one" in page and "private-one" in page and "草稿" in page


def test_english_pages_and_the_language_switch(browser, catalog, make):
    make.dataset("minzheng", name="huji", title="户籍")
    english = browser.text("/dataset/huji", headers={"Accept-Language": "en-US,en;q=0.9"})
    assert '<html lang="en">' in english and "Core metadata" in english and "Conditional sharing" in english
    assert "Monthly" in english and "Data items" in english
    assert '<html lang="zh-CN">' in browser.text("/dataset/huji")
    response = browser.get("/lang/en?next=/dataset/huji")
    assert response.status_code == 302 and response.headers["Location"] == "/dataset/huji"
    assert "Core metadata" in browser.text("/dataset/huji")
    # the switch wins over the browser's preference, and an outside next= is refused
    browser.get("/lang/zh?next=/dataset/huji")
    assert "核心元数据" in browser.text("/dataset/huji", headers={"Accept-Language": "en"})
    assert browser.get("/lang/en?next=https://evil.example/").headers["Location"] == "/dataset"


def test_department_list_and_page(browser, catalog, make):
    make.dataset("minzheng", name="huji")
    page = browser.text("/organization")
    assert "宁陕县民政局" in page and "1 个数据资源" in page
    page = browser.text("/organization/minzheng")
    assert "huji" in page and "mz_editor" not in page  # members are for members
    assert browser.get("/organization/nothing").status_code == 404


def test_every_page_has_the_security_headers_and_no_inline_script(browser, catalog, make):
    make.dataset("minzheng", name="huji")
    browser.login(catalog.admin.name)
    for url in ("/", "/dataset/huji", "/dataset/new", "/dataset/edit/huji", "/organization/minzheng",
                "/sharing", "/sync", f"/user/{catalog.admin.name}"):
        response = browser.get(url)
        assert response.status_code == 200, url
        assert "script-src 'self'" in response.headers["Content-Security-Policy"]
        page = response.get_data(as_text=True)
        assert not re.search(r"<script(?![^>]*\bsrc=)", page), url
        assert " style=" not in page and "onclick" not in page, url
