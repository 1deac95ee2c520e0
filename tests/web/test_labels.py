"""The classification names shipped as data (schemas/labels/classification.json)."""
from __future__ import annotations

from catalog.web.labels import classification_table


def test_the_base_items_are_the_five_base_resources_of_the_2017_guide():
    # 政务信息资源目录编制指南（试行）: 人口, 法人单位, 自然资源和空间地理, 社会信用, 电子证照 (cited in the file)
    items = classification_table()["items"]
    assert [items[c]["zh"] for c in ("101", "102", "103", "104", "105")] == [
        "人口基础信息", "法人单位基础信息", "自然资源和空间地理基础信息", "社会信用基础信息", "电子证照基础信息"]
    assert len([c for c in items if c.startswith("2")]) == 21  # GB/T 21063.4's 21 theme classes
