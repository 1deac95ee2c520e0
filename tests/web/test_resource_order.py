"""Resources in the order the officer sets: package_resource_reorder (CKAN's action) and the page's
上移 / 下移 buttons, which call it."""
from __future__ import annotations


def _resources(api, catalog, make, names=("户籍名册", "变更记录", "说明文档")):
    dataset = make.dataset("minzheng", name="huji")
    ids = [api.call("resource_create", {"package_id": "huji", "name": n, "url": f"https://data.example.cn/{i}.csv"},
                    token=catalog.editor.token).result["id"] for i, n in enumerate(names)]
    return dataset, ids


def _order(api, catalog):
    return [r["name"] for r in api.call("package_show", {"id": "huji"}, token=catalog.editor.token).result["resources"]]


def test_listed_resources_come_first_and_the_rest_keep_their_order(api, catalog, make):
    dataset, (a, b, c) = _resources(api, catalog, make)
    reply = api.call("package_resource_reorder", {"id": "huji", "order": [c, a]}, token=catalog.editor.token)
    assert reply.result == {"id": dataset["id"], "order": [c, a, b]}
    assert _order(api, catalog) == ["说明文档", "户籍名册", "变更记录"]


def test_a_bad_order_is_refused_naming_the_entry(api, catalog, make):
    _dataset, (a, b, _c) = _resources(api, catalog, make)
    unknown = api.call("package_resource_reorder", {"id": "huji", "order": [a, "no-such-id"]},
                       token=catalog.editor.token)
    assert unknown.status == 409 and unknown.error["order.1"] == ["no resource no-such-id in dataset huji"]
    twice = api.call("package_resource_reorder", {"id": "huji", "order": [b, b]}, token=catalog.editor.token)
    assert twice.status == 409 and twice.error["order.1"] == ["lists a resource a second time"]
    missing = api.call("package_resource_reorder", {"id": "huji"}, token=catalog.editor.token)
    assert missing.status == 409 and "order" in missing.error
    assert _order(api, catalog) == ["户籍名册", "变更记录", "说明文档"]


def test_only_the_departments_editors_reorder(api, catalog, make):
    _dataset, (a, b, c) = _resources(api, catalog, make)
    for token in (catalog.asker.token, catalog.outsider.token, None):
        reply = api.call("package_resource_reorder", {"id": "huji", "order": [c, b, a]}, token=token)
        assert reply.status == 403, reply.body
    assert _order(api, catalog) == ["户籍名册", "变更记录", "说明文档"]


def test_the_dataset_page_moves_a_resource_up_and_down(browser, api, catalog, make):
    _dataset, (a, b, c) = _resources(api, catalog, make)
    browser.login(catalog.editor.name)
    page = browser.text("/dataset/huji")
    assert "上移: 变更记录" in page and "上移: 户籍名册" not in page and "下移: 说明文档" not in page
    moved = browser.post(f"/dataset/huji/resource/{c}/move", {"direction": "up"})
    assert moved.status_code == 302
    assert "资源“说明文档”已移动" in browser.text("/dataset/huji")
    assert _order(api, catalog) == ["户籍名册", "说明文档", "变更记录"]
    browser.post(f"/dataset/huji/resource/{a}/move", {"direction": "down"})
    assert _order(api, catalog) == ["说明文档", "户籍名册", "变更记录"]
    browser.login(catalog.asker.name)  # another department's editor sees no buttons and cannot post
    assert "上移" not in browser.text("/dataset/huji")
    assert browser.post(f"/dataset/huji/resource/{b}/move", {"direction": "up"}).status_code == 403
    assert _order(api, catalog) == ["说明文档", "户籍名册", "变更记录"]
