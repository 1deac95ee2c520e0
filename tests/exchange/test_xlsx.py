"""The compilation sheet (编制表): export, import back, per-row errors, dry run and access rules."""
from __future__ import annotations

import io

import sqlalchemy as sa
from openpyxl import Workbook, load_workbook

from catalog.datasets.models import Dataset
from catalog.datasets.service import metadata_of
from catalog.exchange import layout
from tests.exchange.conftest import varied_datasets

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def export(client, token=None, **query) -> Workbook:
    response = client.get("/catalog.xlsx", query_string=query, headers={"Authorization": token} if token else {})
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == XLSX
    return load_workbook(io.BytesIO(response.data))


def xlsx_bytes(workbook: Workbook) -> bytes:
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def import_(api, content: bytes, token, **form):
    return api.call("catalog_import", content_type="multipart/form-data", token=token,
                    data_raw={"upload": (io.BytesIO(content), "catalog.xlsx"), **form})


def rows_of(sheet) -> list[dict]:
    values = list(sheet.iter_rows(values_only=True))
    header = values[0]
    return [dict(zip(header, row)) for row in values[1:]]


def label(path: str) -> str:
    return next(c.label for c in layout.dataset_columns() if c.path == path)


def catalog_state(db) -> dict[str, dict]:
    db.expire_all()
    found = {}
    for dataset in db.scalars(sa.select(Dataset).where(Dataset.state != "deleted")):
        values = metadata_of(dataset)
        values.pop("extras")
        found[dataset.name] = values
    return found


def test_export_lays_out_the_compilation_sheet_with_chinese_labels(client, depts, make):
    varied_datasets(make, depts.mzj["id"])
    workbook = export(client, depts.sysadmin.token)
    assert workbook.sheetnames == ["信息资源", "信息项"]
    rows = {r["标识名"]: r for r in rows_of(workbook["信息资源"])}
    assert set(rows) == {"hukou", "dibao", "draft-notes"}
    dibao = rows["dibao"]
    assert dibao["信息资源名称"] == "最低生活保障对象"
    assert dibao["共享类型"] == "无条件共享"
    assert dibao["更新周期"] == "每季度"
    assert dibao["共享渠道"] == "邮件" and dibao["共享方式类型"] == "文件"
    assert dibao["信息资源提供方"] == "宁陕县民政局" and dibao["提供方代码"] == "11610923MB00000019"
    assert rows["hukou"]["关联资源代码"] == "101001/000002"
    assert rows["hukou"]["标签"] in ("人口；户籍", "户籍；人口")
    assert rows["draft-notes"]["状态"] == "草稿" and rows["draft-notes"]["仅本部门可见"] == "是"
    items = rows_of(workbook["信息项"])
    hukou_items = [i for i in items if i["标识名"] == "hukou"]
    assert [(i["序号"], i["信息项名称"], i["数据类型"], i["数据长度"]) for i in hukou_items] == [
        (1, "户编号", "字符型", 18), (2, "户主姓名", "字符型", 50), (3, "人口数", "整型", None)]


def test_round_trip_into_an_empty_catalog_gives_the_same_datasets(client, api, db, depts, make):
    varied_datasets(make, depts.mzj["id"])
    make.dataset(depts.gaj["id"], name="gaj-hukou", resource_code="101001/000099")
    before = catalog_state(db)
    content = xlsx_bytes(export(client, depts.sysadmin.token))

    db.execute(sa.delete(Dataset))  # empty the catalog; the departments stay
    db.commit()
    assert catalog_state(db) == {}

    report = import_(api, content, depts.sysadmin.token).result
    assert report["errors"] == [] and report["failed"] == 0, report
    assert report["created"] == 4
    assert catalog_state(db) == before

    again = import_(api, content, depts.sysadmin.token).result
    assert (again["created"], again["updated"], again["unchanged"]) == (0, 0, 4)


def test_import_updates_by_name_or_resource_code(client, api, db, depts, make):
    varied_datasets(make, depts.mzj["id"])
    workbook = export(client, depts.editor.token, organization="mzj")
    sheet = workbook["信息资源"]
    header = [c.value for c in sheet[1]]
    col = {name: header.index(name) + 1 for name in header}
    for row in range(2, sheet.max_row + 1):
        if sheet.cell(row, col["标识名"]).value == "dibao":
            sheet.cell(row, col["更新周期"]).value = "每月"
            sheet.cell(row, col["标识名"]).value = None  # matched by its resource code instead
    report = import_(api, xlsx_bytes(workbook), depts.editor.token).result
    assert (report["updated"], report["unchanged"], report["failed"]) == (1, 2, 0), report
    assert catalog_state(db)["dibao"]["update_cycle"] == "monthly"


def bad_workbook() -> bytes:
    """Five dataset rows: two valid, a bad enum label, a missing required value, a duplicate name;
    and an item row with an unknown data type."""
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "信息资源"
    paths = ["name", "title", "provider_name", "category", "resource_code", "notes", "share_type",
             "share_condition", "open_type", "open_condition", "update_cycle", "publish_date"]
    sheet.append([label(p) for p in paths])
    good = ["good-one", "好的一", "mzj", "101", "101001/000501", "摘要", "无条件共享", None, "不予开放",
            "含个人信息", "每月", "2026年01月03日"]
    sheet.append(good)
    sheet.append(["bad-enum", "坏的枚举", "mzj", "101", "101001/000502", "摘要", "偶尔共享", None, "不予开放",
                  "含个人信息", "每月", None])
    sheet.append(["no-notes", "没有摘要", "mzj", "101", "101001/000503", None, "无条件共享", None, "不予开放",
                  "含个人信息", "每月", None])
    sheet.append(["good-one", "重复", "mzj", "101", "101001/000504", "摘要", "无条件共享", None, "不予开放",
                  "含个人信息", "每月", None])
    sheet.append(["good-two", "好的二", "mzj", "101", "101001/000505", "摘要", "有条件共享", "仅限民政", "不予开放",
                  "含个人信息", "unknown-cycle", "2026/02/01"])
    sheet.append(["good-three", "好的三", "mzj", "101", "101001/000506", "摘要", "有条件共享", "仅限民政",
                  "无条件开放", None, "实时", None])
    items = workbook.create_sheet("信息项")
    items.append(["标识名", "信息项名称", "数据类型", "数据长度"])
    for name in ("good-one", "bad-enum", "no-notes", "good-two", "good-three"):
        items.append([name, "户编号", "C", 18])
    items.append(["good-three", "金额", "复数型", None])  # row 7: unknown data type
    items.append(["nobody", "户编号", "字符型", None])  # row 8: no such data resource
    return xlsx_bytes(workbook)


def test_bad_rows_are_reported_by_sheet_row_and_column_and_valid_rows_applied(api, db, depts):
    reply = import_(api, bad_workbook(), depts.editor.token)
    report = reply.result
    assert report["created"] == 1 and report["failed"] == 5, report
    where = {(e["sheet"], e["row"], e["column"]) for e in report["errors"]}
    assert ("信息资源", 3, "共享类型") in where  # bad enum label
    assert ("信息资源", 4, "信息资源摘要") in where  # required when published
    assert ("信息资源", 5, "标识名") in where  # duplicate of row 2
    assert ("信息资源", 6, "更新周期") in where  # a value that is no label
    assert ("信息项", 7, "数据类型") in where  # item with an unknown type
    assert ("信息资源", 7, "信息项") in where  # ... so its dataset is not applied
    assert ("信息项", 8, "信息资源代码") in where  # item of an unknown resource
    messages = {(e["row"], e["column"]): e["message"] for e in report["errors"] if e["sheet"] == "信息资源"}
    assert "无条件共享" in messages[(3, "共享类型")] and "偶尔共享" in messages[(3, "共享类型")]
    assert "row 2" in messages[(5, "标识名")]
    state = catalog_state(db)
    assert set(state) == {"good-one"}
    assert state["good-one"]["publish_date"] == "2026-01-03"
    assert state["good-one"]["items"] == [{"name": "户编号", "type": "C", "length": 18}]


def test_dry_run_checks_every_row_and_keeps_nothing(api, db, depts):
    report = import_(api, bad_workbook(), depts.editor.token, dry_run="true").result
    assert report["dry_run"] is True
    assert report["created"] == 1 and report["failed"] == 5
    assert catalog_state(db) == {}


def test_import_is_limited_to_what_the_caller_may_write(api, db, depts):
    content = bad_workbook()
    forbidden = import_(api, content, depts.gaj_editor.token).result  # rows of mzj, editor of gaj
    assert forbidden["created"] == 0
    assert any(e["column"] == "信息资源提供方" and "cannot create" in e["message"] for e in forbidden["errors"])
    member = import_(api, content, depts.member.token).result
    assert member["created"] == 0
    anonymous = import_(api, content, None)
    assert anonymous.status == 403
    assert catalog_state(db) == {}
    admin = import_(api, content, depts.orgadmin.token).result
    assert admin["created"] == 1


def test_export_shows_only_what_the_caller_may_read(client, depts, make):
    varied_datasets(make, depts.mzj["id"])
    make.dataset(depts.gaj["id"], name="gaj-private", resource_code="101001/000098", private=True)

    def names(token=None, **query):
        return {r["标识名"] for r in rows_of(export(client, token, **query)["信息资源"])}

    assert names() == {"hukou", "dibao"}
    assert names(depts.outsider.token) == {"hukou", "dibao"}
    assert names(depts.member.token) == {"hukou", "dibao", "draft-notes"}
    assert names(depts.gaj_editor.token) == {"hukou", "dibao", "gaj-private"}
    assert names(depts.sysadmin.token) == {"hukou", "dibao", "draft-notes", "gaj-private"}
    assert names(depts.sysadmin.token, organization="gaj") == {"gaj-private"}
    items = rows_of(export(client)["信息项"])
    assert {i["标识名"] for i in items} == {"hukou", "dibao"}


def test_export_errors_use_the_api_envelope(client, depts):
    missing = client.get("/catalog.xlsx?organization=nope")
    assert missing.status_code == 404 and missing.get_json()["success"] is False
    bad_token = client.get("/catalog.xlsx", headers={"Authorization": "cat_not-a-token"})
    assert bad_token.status_code == 403


def test_import_refuses_a_file_that_is_no_workbook(api, depts):
    reply = api.call("catalog_import", content_type="multipart/form-data", token=depts.editor.token,
                     data_raw={"upload": (io.BytesIO(b"name,title\n"), "catalog.csv")})
    assert reply.status == 409 and "upload" in reply.error
    missing = api.call("catalog_import", {}, token=depts.editor.token)
    assert missing.status == 409 and "upload" in missing.error
    workbook = Workbook()
    workbook.active.append(["something", "else"])
    no_header = import_(api, xlsx_bytes(workbook), depts.editor.token)
    assert no_header.status == 409 and "heading" in no_header.error["upload"][0]


def test_catalog_export_action_names_the_download(api, depts):
    result = api.call("catalog_export", {"organization": "mzj"}, method="GET").result
    assert result["url"].endswith("/catalog.xlsx?organization=mzj")
    assert api.call("catalog_export", {"organization": "nope"}, method="GET").status == 404
    assert api.call("catalog_export", {"format": "pdf"}, method="GET").status == 409
