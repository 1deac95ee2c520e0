"""The classification names shipped as data (schemas/labels/classification.json)."""
from __future__ import annotations

from catalog.web.labels import classification_table


def test_the_base_items_are_the_five_base_resources_of_the_2017_guide():
    # 政务信息资源目录编制指南（试行）: 人口, 法人单位, 自然资源和空间地理, 社会信用, 电子证照 (cited in the file)
    items = classification_table()["items"]
    assert [items[c]["zh"] for c in ("101", "102", "103", "104", "105")] == [
        "人口基础信息", "法人单位基础信息", "自然资源和空间地理基础信息", "社会信用基础信息", "电子证照基础信息"]
    assert len([c for c in items if c.startswith("2")]) == 21  # GB/T 21063.4's 21 theme classes


def test_the_schema_table_labels_every_field_with_its_help_codes_and_mask(browser, catalog, make, db_session):
    from tests.web.test_sharing_sync_health import household_dataset

    household_dataset(make, db_session, catalog, records=0)
    page = browser.text("/dataset/huji")
    table = page.split('id="schema-h"')[1].split("</table>")[0]
    member_phone = table.split("家庭成员 › 联系电话")[1].split("</tr>")[0]  # a member's field, by its labels
    assert "<code>members.*.phone</code>" in member_phone and "手机号码" in member_phone
    assert "只显示前 3 位和后 4 位" in member_phone  # how a reader outside the department sees it
    sex = table.split("家庭成员 › 性别")[1].split("</tr>")[0]
    assert "1 男" in sex and "2 女" in sex  # GB/T 2261.1 codes with their names
    assert "与身份证件一致" in table  # x-help
    browser.get("/lang/en")
    english = browser.text("/dataset/huji").split('id="schema-h"')[1].split("</table>")[0]
    assert "Members › Mobile phone" in english
    assert "masked to the first 3 and last 4 digits" in english


def test_the_explorer_explains_its_filters_with_the_fields_help(browser, catalog, make, db_session):
    from tests.web.test_sharing_sync_health import household_dataset

    _dataset, resource = household_dataset(make, db_session, catalog, records=2)
    browser.login(catalog.editor.name)
    page = browser.text(f"/dataset/huji/resource/{resource.id}")
    assert '<label title="户口簿上的户主姓名">户主姓名' in page  # x-help of head_name
    assert 'placeholder="户口簿上的户主姓名"' in page
