"""A mistake in q, fq or sort is told in the reader's language: in Chinese on the Chinese search page and
to an API caller who asks for Chinese (Accept-Language), in English otherwise, naming where it is."""
from __future__ import annotations

import html
import re

import pytest


def page_error(client, query: str, headers: dict | None = None) -> str:
    response = client.get(f"/dataset?{query}", headers=headers or {})
    assert response.status_code == 200
    found = re.search(r'<p class="error" role="alert">(.*?)</p>', response.get_data(as_text=True), re.DOTALL)
    assert found, "the page shows no error"
    return html.unescape(found.group(1))


@pytest.mark.parametrize("query, chinese", [
    ("q=title:(户籍", "位置 6 的“(”没有闭合"),
    ("q=户籍 AND", "位置 3 的运算符 'AND' 之后缺少子句"),
    ("q=colour:red", "位置 0：未知字段 'colour'"),
    ("q=户籍^2", "不支持加权（^）（位置 2）"),
    ("q=metadata_modified:[yesterday TO *]", "'yesterday' 不是日期（应如 2026-01-01T00:00:00Z、NOW-1DAY）（位置 0）"),
    ("q=num_tags:many", "num_tags 只接受整数，不接受 'many'（位置 9）"),
    ("q=户籍)", "多余的“)”（位置 2）"),
])
def test_the_chinese_search_page_explains_the_mistake_in_chinese(client, query, chinese):
    shown = page_error(client, query)
    assert chinese in shown, shown
    assert "position" not in shown and "unknown" not in shown and "unbalanced" not in shown


def test_the_english_search_page_keeps_the_english_message(client):
    client.get("/lang/en")
    assert "unbalanced '(' at position 6 (never closed)" in page_error(client, "q=title:(户籍")


def test_the_api_answers_in_the_language_asked_for(api, client):
    english = api.call("package_search", {"q": "户籍 AND"}, method="GET")
    assert english.status == 409
    assert english.error["q"] == ["dangling operator 'AND' at position 3: nothing follows it"]
    chinese = client.get("/api/3/action/package_search", query_string={"q": "户籍 AND"},
                         headers={"Accept-Language": "zh-CN,zh;q=0.9"}).get_json()
    assert chinese["error"]["q"] == ["位置 3 的运算符 'AND' 之后缺少子句"]
    several = client.get("/api/3/action/package_search",
                         query_string={"fq_list": '["tags:户籍", "colour:red"]', "sort": "size desc"},
                         headers={"Accept-Language": "zh-CN"}).get_json()
    assert several["error"]["fq"][0].startswith("第 1 项：位置 0：未知字段 'colour'；可用的字段：")
    sort = client.get("/api/3/action/package_search", query_string={"sort": "size desc"},
                      headers={"Accept-Language": "zh"}).get_json()
    assert sort["error"]["sort"][0].startswith("排序无效：未知字段 'size'；可用：")
