"""resource_* actions and uploaded-file downloads through the HTTP API."""
from __future__ import annotations

import hashlib
import io
from urllib.parse import urlparse

import pytest

from tests.api.test_datasets import assert_forbidden, assert_invalid, assert_not_found, token_of

CSV = "户编号,户主姓名\r\n610923100001010001,张三\r\n".encode("gb18030")




@pytest.fixture
def dataset(make, org):
    # open to the public with no record schema: its files are public; other datasets' files follow
    # the share rules (tests/security/test_record_leaks.py)
    return make.dataset(org.id, share_type="unconditional", open_type="unconditional", open_condition=None)


def show(api, id_or_name, token=None):
    return api.call("package_show", {"id": id_or_name}, token=token, method="GET").result


def add_link(api, org, package_id, url="https://data.ningshan.gov.cn/files/hukou.csv", **fields):
    reply = api.call("resource_create", {"package_id": package_id, "url": url, **fields}, token=org.editor.token)
    return reply.result


def upload(api, token, package_id, content=CSV, filename="data.csv", **form):
    return api.call("resource_create", content_type="multipart/form-data", token=token,
                    data_raw={"package_id": package_id, "upload": (io.BytesIO(content), filename), **form})


def download_path(url: str) -> str:
    return urlparse(url).path


def activity_types(api, dataset_id, token=None):
    reply = api.call("package_activity_list", {"id": dataset_id}, token=token, method="GET")
    return [a["activity_type"] for a in reply.result]


# --- resource_create --------------------------------------------------------------------------


def test_create_link_guesses_the_format(api, org, dataset):
    before = show(api, dataset["id"])
    resource = add_link(api, org, dataset["id"], name="户籍表", description="每月导出")
    assert resource["id"] and resource["package_id"] == dataset["id"]
    assert resource["url"] == "https://data.ningshan.gov.cn/files/hukou.csv"
    assert resource["format"] == "CSV"
    assert resource["name"] == "户籍表" and resource["description"] == "每月导出"
    assert resource["url_type"] is None and resource["position"] == 0
    assert resource["state"] == "active" and resource["created"]
    after = show(api, dataset["id"])
    assert [r["id"] for r in after["resources"]] == [resource["id"]]
    assert after["num_resources"] == 1
    assert after["metadata_modified"] > before["metadata_modified"]
    assert after["revision"] > before["revision"]


@pytest.mark.parametrize("url, fmt", [
    ("https://data.ningshan.gov.cn/files/hukou.XLSX", "XLSX"),
    ("https://data.ningshan.gov.cn/files/hukou.json?version=2", "JSON"),
    ("ftp://ftp.ningshan.gov.cn/export/hukou.zip", "ZIP"),
    ("https://api.ningshan.gov.cn/hukou", None),
])
def test_format_from_the_url_extension(api, org, dataset, url, fmt):
    assert add_link(api, org, dataset["id"], url=url)["format"] == fmt


def test_given_format_is_kept(api, org, dataset):
    assert add_link(api, org, dataset["id"], format="API")["format"] == "API"


def test_create_by_dataset_name(api, org, dataset):
    assert add_link(api, org, dataset["name"])["package_id"] == dataset["id"]


def test_positions_follow_creation_order(api, org, dataset):
    positions = [add_link(api, org, dataset["id"], name=str(i))["position"] for i in range(3)]
    assert positions == [0, 1, 2]
    assert [r["name"] for r in show(api, dataset["id"])["resources"]] == ["0", "1", "2"]


def test_create_needs_a_url_or_an_upload(api, org, dataset):
    reply = api.call("resource_create", {"package_id": dataset["id"], "name": "nothing"}, token=org.editor.token)
    assert_invalid(reply, "url", contains="Missing value")
    reply = api.call("resource_create", {"package_id": dataset["id"], "url": ""}, token=org.editor.token)
    assert_invalid(reply, "url", contains="Missing value")


@pytest.mark.parametrize("url", ["javascript:alert(1)", "data:text/html,<script>alert(1)</script>",
                                 "file:///etc/passwd", "hukou.csv", "//evil.example/x.csv", "https://"])
def test_create_refuses_unsafe_or_relative_urls(api, org, dataset, url):
    reply = api.call("resource_create", {"package_id": dataset["id"], "url": url}, token=org.editor.token)
    assert_invalid(reply, "url", contains="http")
    assert show(api, dataset["id"])["resources"] == []


@pytest.mark.parametrize("field, value", [("name", "x" * 201), ("url", "https://a.cn/" + "x" * 2000),
                                          ("format", "x" * 51), ("name", 5), ("extras", "not json")])
def test_create_checks_field_types_and_lengths(api, org, dataset, field, value):
    data = {"package_id": dataset["id"], "url": "https://data.ningshan.gov.cn/a.csv", field: value}
    assert_invalid(api.call("resource_create", data, token=org.editor.token), field)


def test_create_needs_package_id(api, org):
    assert_invalid(api.call("resource_create", {"url": "https://a.cn/a.csv"}, token=org.editor.token),
                   "package_id")


def test_create_in_unknown_dataset(api, org):
    reply = api.call("resource_create", {"package_id": "nope", "url": "https://a.cn/a.csv"}, token=org.editor.token)
    assert_not_found(reply)


@pytest.mark.parametrize("who", ["member", "outsider", None])
def test_create_refused_for_non_editors(api, org, dataset, who):
    reply = api.call("resource_create", {"package_id": dataset["id"], "url": "https://a.cn/a.csv"},
                     token=token_of(org, who))
    assert_forbidden(reply)
    assert show(api, dataset["id"])["resources"] == []


def test_extras_round_trip(api, org, dataset):
    # As CKAN: a resource's extra keys sit at the top level of the resource, given either way.
    resource = add_link(api, org, dataset["id"], extras={"encoding": "GB18030"}, rows="1024")
    assert (resource["encoding"], resource["rows"]) == ("GB18030", "1024")
    assert "extras" not in resource
    shown = api.call("resource_show", {"id": resource["id"]}, method="GET").result
    assert (shown["encoding"], shown["rows"]) == ("GB18030", "1024")
    assert shown["resource_type"] is None and shown["cache_url"] is None


# --- uploads ----------------------------------------------------------------------------------


def test_upload_and_download(api, client, org, dataset):
    reply = upload(api, org.editor.token, dataset["id"], name="户籍表")
    resource = reply.result
    assert resource["url"] == (f"http://localhost/dataset/{dataset['id']}/resource/{resource['id']}"
                               "/download/data.csv")
    assert resource["url_type"] == "upload"
    assert resource["format"] == "CSV"
    assert resource["mimetype"] == "text/csv"
    assert resource["size"] == len(CSV)
    assert resource["hash"] == "sha256:" + hashlib.sha256(CSV).hexdigest()
    assert resource["name"] == "户籍表"
    response = client.get(download_path(resource["url"]))
    assert response.status_code == 200
    assert response.data == CSV
    assert "attachment" in response.headers["Content-Disposition"]
    # also under the dataset's name
    by_name = client.get(f"/dataset/{dataset['name']}/resource/{resource['id']}/download/data.csv")
    assert by_name.status_code == 200 and by_name.data == CSV


def test_upload_through_the_flask_client(client, org, dataset):
    response = client.post("/api/3/action/resource_create", headers={"Authorization": org.editor.token},
                           data={"package_id": dataset["name"], "upload": (io.BytesIO(b"a,b\n1,2\n"), "x.csv")})
    assert response.status_code == 200, response.get_json()
    url = response.get_json()["result"]["url"]
    assert client.get(download_path(url)).data == b"a,b\n1,2\n"


def test_upload_with_a_chinese_file_name_keeps_its_extension(api, client, org, dataset):
    resource = upload(api, org.editor.token, dataset["id"], filename="宁陕县户籍人口.csv").result
    assert resource["url"].endswith(".csv")
    assert resource["format"] == "CSV"
    assert resource["mimetype"] == "text/csv"
    assert client.get(download_path(resource["url"])).data == CSV


def test_upload_with_a_hostile_file_name(api, client, org, dataset):
    resource = upload(api, org.editor.token, dataset["id"], filename="../../etc/passwd").result
    name = resource["url"].rsplit("/", 1)[1]
    assert "/" not in name and ".." not in name
    assert client.get(download_path(resource["url"])).data == CSV


def test_upload_with_a_very_long_file_name(api, client, org, dataset):
    resource = upload(api, org.editor.token, dataset["id"], filename="x" * 3000 + ".csv").result
    assert resource["format"] == "CSV"
    assert len(resource["url"]) < 2000
    assert client.get(download_path(resource["url"])).data == CSV


def test_download_of_a_private_dataset(api, client, make, org):
    private = make.dataset(org.id, private=True)
    resource = upload(api, org.editor.token, private["id"]).result
    path = download_path(resource["url"])
    assert client.get(path).status_code == 404
    assert client.get(path, headers={"Authorization": org.outsider.token}).status_code == 404
    member = client.get(path, headers={"Authorization": org.member.token})
    assert member.status_code == 200 and member.data == CSV


def test_download_of_a_deleted_dataset(api, client, org, dataset):
    resource = upload(api, org.editor.token, dataset["id"]).result
    api.call("package_delete", {"id": dataset["id"]}, token=org.editor.token).result
    path = download_path(resource["url"])
    assert client.get(path).status_code == 404
    assert client.get(path, headers={"Authorization": org.member.token}).status_code == 404
    assert client.get(path, headers={"Authorization": org.editor.token}).data == CSV


def test_download_with_wrong_names_is_404(api, client, make, org, dataset):
    resource = upload(api, org.editor.token, dataset["id"]).result
    other = make.dataset(org.id)
    link = add_link(api, org, dataset["id"])
    assert client.get(f"/dataset/{dataset['id']}/resource/{resource['id']}/download/other.csv").status_code == 404
    assert client.get(f"/dataset/{other['id']}/resource/{resource['id']}/download/data.csv").status_code == 404
    assert client.get(f"/dataset/{dataset['id']}/resource/nope/download/data.csv").status_code == 404
    assert client.get(f"/dataset/{dataset['id']}/resource/{link['id']}/download/hukou.csv").status_code == 404


def test_upload_refused_for_members(api, org, dataset):
    assert_forbidden(upload(api, org.member.token, dataset["id"]))


def test_upload_without_a_file_name_needs_a_url(api, org, dataset):
    reply = upload(api, org.editor.token, dataset["id"], filename="")
    assert_invalid(reply, "url", contains="Missing value")


# --- resource_show ----------------------------------------------------------------------------


def test_show(api, org, dataset):
    resource = add_link(api, org, dataset["id"], name="户籍表")
    shown = api.call("resource_show", {"id": resource["id"]}, method="GET").result
    assert shown == resource


def test_show_unknown(api):
    assert_not_found(api.call("resource_show", {"id": "nope"}, method="GET"))
    assert_invalid(api.call("resource_show", {}, method="GET"), "id")


@pytest.mark.parametrize("who, allowed", [("member", True), ("editor", True), ("sysadmin", True),
                                          ("outsider", False), (None, False)])
def test_show_of_a_private_dataset(api, make, org, who, allowed):
    private = make.dataset(org.id, private=True)
    resource = add_link(api, org, private["id"])
    reply = api.call("resource_show", {"id": resource["id"]}, token=token_of(org, who), method="GET")
    if allowed:
        assert reply.result["id"] == resource["id"]
    else:
        assert reply.status == 404
        assert reply.error["message"] == f"Resource not found: {resource['id']}"  # as for a missing one


# --- resource_update (replace) ----------------------------------------------------------------


def test_update_replaces_the_fields(api, org, dataset):
    resource = add_link(api, org, dataset["id"], name="户籍表", description="旧说明", format="CSV",
                        extras={"encoding": "GBK"})
    before = show(api, dataset["id"])
    reply = api.call("resource_update", {"id": resource["id"], "url": "https://data.ningshan.gov.cn/b.xlsx",
                                         "name": "新表"}, token=org.editor.token)
    updated = reply.result
    assert updated["url"] == "https://data.ningshan.gov.cn/b.xlsx"
    assert updated["name"] == "新表"
    assert updated["description"] is None and "encoding" not in updated
    assert updated["format"] == "XLSX"
    assert updated["metadata_modified"] > resource["metadata_modified"]
    assert api.call("resource_show", {"id": resource["id"]}, method="GET").result == updated
    assert show(api, dataset["id"])["metadata_modified"] > before["metadata_modified"]


def test_update_needs_a_url(api, org, dataset):
    resource = add_link(api, org, dataset["id"], name="户籍表")
    reply = api.call("resource_update", {"id": resource["id"], "name": "新表"}, token=org.editor.token)
    assert_invalid(reply, "url", contains="Missing value")
    assert api.call("resource_show", {"id": resource["id"]}, method="GET").result["name"] == "户籍表"


def test_update_refuses_a_javascript_url(api, org, dataset):
    resource = add_link(api, org, dataset["id"])
    reply = api.call("resource_update", {"id": resource["id"], "url": "javascript:alert(1)"}, token=org.editor.token)
    assert_invalid(reply, "url")


def test_update_of_an_upload_without_url_keeps_the_file(api, client, org, dataset):
    resource = upload(api, org.editor.token, dataset["id"]).result
    updated = api.call("resource_update", {"id": resource["id"], "name": "改名"}, token=org.editor.token).result
    assert updated["name"] == "改名"
    assert updated["url"] == resource["url"] and updated["url_type"] == "upload"
    assert client.get(download_path(updated["url"])).data == CSV


def test_update_with_a_new_file(api, client, org, dataset):
    resource = upload(api, org.editor.token, dataset["id"]).result
    new = b"a,b\n1,2\n"
    reply = api.call("resource_update", content_type="multipart/form-data", token=org.editor.token,
                     data_raw={"id": resource["id"], "upload": (io.BytesIO(new), "v2.csv")})
    updated = reply.result
    assert updated["url"].endswith("/download/v2.csv")
    assert updated["size"] == len(new)
    assert client.get(download_path(updated["url"])).data == new
    assert client.get(download_path(resource["url"])).status_code == 404


def test_update_an_upload_into_a_link(api, client, org, dataset):
    resource = upload(api, org.editor.token, dataset["id"]).result
    updated = api.call("resource_update", {"id": resource["id"], "url": "https://a.cn/x.json"},
                       token=org.editor.token).result
    assert updated["url"] == "https://a.cn/x.json" and updated["url_type"] is None
    assert client.get(download_path(resource["url"])).status_code == 404


@pytest.mark.parametrize("who", ["member", "outsider", None])
def test_update_refused_for_non_editors(api, org, dataset, who):
    resource = add_link(api, org, dataset["id"], name="户籍表")
    reply = api.call("resource_update", {"id": resource["id"], "url": resource["url"], "name": "x"},
                     token=token_of(org, who))
    assert_forbidden(reply)


def test_update_unknown(api, org):
    assert_not_found(api.call("resource_update", {"id": "nope", "url": "https://a.cn/a.csv"}, token=org.editor.token))


# --- resource_patch ---------------------------------------------------------------------------


def test_patch_changes_only_given_fields(api, org, dataset):
    resource = add_link(api, org, dataset["id"], name="户籍表", description="说明", extras={"encoding": "GBK"})
    patched = api.call("resource_patch", {"id": resource["id"], "name": "新名"}, token=org.editor.token).result
    assert patched["name"] == "新名"
    same = {k: v for k, v in patched.items() if k not in ("name", "metadata_modified")}
    assert same == {k: v for k, v in resource.items() if k not in ("name", "metadata_modified")}


def test_patch_url_is_checked(api, org, dataset):
    resource = add_link(api, org, dataset["id"])
    assert_invalid(api.call("resource_patch", {"id": resource["id"], "url": "javascript:x"},
                            token=org.editor.token), "url")
    assert_invalid(api.call("resource_patch", {"id": resource["id"], "url": None},
                            token=org.editor.token), "url")


def test_patch_refused_for_members(api, org, dataset):
    resource = add_link(api, org, dataset["id"])
    assert_forbidden(api.call("resource_patch", {"id": resource["id"], "name": "x"}, token=org.member.token))


# --- resource_delete --------------------------------------------------------------------------


def test_delete_renumbers_positions(api, org, dataset):
    first, second, third = (add_link(api, org, dataset["id"], name=n) for n in ("a", "b", "c"))
    before = show(api, dataset["id"])
    assert api.call("resource_delete", {"id": second["id"]}, token=org.editor.token).status == 200
    after = show(api, dataset["id"])
    assert [(r["name"], r["position"]) for r in after["resources"]] == [("a", 0), ("c", 1)]
    assert after["metadata_modified"] > before["metadata_modified"]
    assert_not_found(api.call("resource_show", {"id": second["id"]}, method="GET"))
    fourth = add_link(api, org, dataset["id"], name="d")
    assert fourth["position"] == 2


def test_delete_removes_the_file(api, client, org, dataset):
    resource = upload(api, org.editor.token, dataset["id"]).result
    api.call("resource_delete", {"id": resource["id"]}, token=org.editor.token).result
    assert client.get(download_path(resource["url"])).status_code == 404


@pytest.mark.parametrize("who", ["member", "outsider", None])
def test_delete_refused_for_non_editors(api, org, dataset, who):
    resource = add_link(api, org, dataset["id"])
    assert_forbidden(api.call("resource_delete", {"id": resource["id"]}, token=token_of(org, who)))
    assert len(show(api, dataset["id"])["resources"]) == 1


def test_delete_unknown(api, org):
    assert_not_found(api.call("resource_delete", {"id": "nope"}, token=org.editor.token))


# --- resources through package_update ----------------------------------------------------------


def test_package_update_refused_late_keeps_the_files_of_dropped_resources(api, client, org, dataset):
    uploaded = upload(api, org.editor.token, dataset["id"]).result
    shown = show(api, dataset["id"])
    shown["resources"] = [{"url": "https://data.ningshan.gov.cn/new.csv"}, {"name": "no url"}]
    assert_invalid(api.call("package_update", shown, token=org.editor.token), "resources.1.url")
    assert [r["id"] for r in show(api, dataset["id"])["resources"]] == [uploaded["id"]]
    assert client.get(download_path(uploaded["url"])).data == CSV


def test_package_update_drops_an_uploaded_resource_and_its_file(api, client, org, dataset):
    uploaded = upload(api, org.editor.token, dataset["id"]).result
    shown = show(api, dataset["id"])
    shown["resources"] = [{"url": "https://data.ningshan.gov.cn/new.csv"}]
    result = api.call("package_update", shown, token=org.editor.token).result
    assert [r["url"] for r in result["resources"]] == ["https://data.ningshan.gov.cn/new.csv"]
    assert client.get(download_path(uploaded["url"])).status_code == 404


def test_package_update_listing_a_resource_twice(api, org, dataset):
    link = add_link(api, org, dataset["id"])
    shown = show(api, dataset["id"])
    shown["resources"] = [{"id": link["id"], "url": link["url"]}, {"id": link["id"], "url": link["url"]}]
    assert_invalid(api.call("package_update", shown, token=org.editor.token), "resources.1.id", contains="twice")


def test_package_show_round_trip_keeps_uploads(api, client, org, dataset):
    uploaded = upload(api, org.editor.token, dataset["id"]).result
    add_link(api, org, dataset["id"])
    shown = show(api, dataset["id"])
    shown["resources"].reverse()
    result = api.call("package_update", shown, token=org.editor.token).result
    assert [r["id"] for r in result["resources"]] == [r["id"] for r in shown["resources"]]
    assert [r["position"] for r in result["resources"]] == [0, 1]
    assert result["resources"][1]["url_type"] == "upload"
    assert client.get(download_path(uploaded["url"])).data == CSV


# --- every change is recorded on the dataset --------------------------------------------------


def test_each_change_touches_the_dataset_and_is_in_its_activity(api, org, dataset):
    stamps = [show(api, dataset["id"])["metadata_modified"]]
    resource = add_link(api, org, dataset["id"], name="a")
    stamps.append(show(api, dataset["id"])["metadata_modified"])
    api.call("resource_update", {"id": resource["id"], "url": resource["url"], "name": "b"},
             token=org.editor.token).result
    stamps.append(show(api, dataset["id"])["metadata_modified"])
    api.call("resource_patch", {"id": resource["id"], "name": "c"}, token=org.editor.token).result
    stamps.append(show(api, dataset["id"])["metadata_modified"])
    api.call("resource_delete", {"id": resource["id"]}, token=org.editor.token).result
    stamps.append(show(api, dataset["id"])["metadata_modified"])
    assert stamps == sorted(stamps) and len(set(stamps)) == 5
    activities = api.call("package_activity_list", {"id": dataset["id"]}, method="GET").result
    assert [a["activity_type"] for a in activities] == ["changed package"] * 4 + ["new package"]
    deleted, patched, updated, created = (a["data"]["resource"] for a in activities[:4])
    assert created["id"] == resource["id"] and created["new"]["name"] == "a"
    assert {"field": "name", "old": "a", "new": "b"} in updated["changes"]
    assert {"field": "name", "old": "b", "new": "c"} in patched["changes"]
    assert deleted["deleted"]["name"] == "c"
    assert all(a["user_id"] == org.editor.id for a in activities[:4])


def test_a_stale_package_update_after_a_resource_change_is_refused(api, org, dataset):
    old = show(api, dataset["id"])
    add_link(api, org, dataset["id"])
    old["title"] = "基于旧版本"
    reply = api.call("package_update", old, token=org.editor.token)
    assert reply.status == 409


def test_files_change_only_when_the_transaction_commits(app, api, org, dataset):
    """A replaced or deleted upload whose transaction rolls back keeps the file the database points at."""
    from pathlib import Path

    from catalog.auth.models import User
    from catalog.datasets.models import Resource
    from catalog.datasets.resources import delete_resource, update_resource
    from catalog.db import get_db

    created = upload(api, org.editor.token, dataset["id"]).result
    storage = app.config["STORAGE_PATH"]
    folder = Path(storage) / "resources" / created["id"]
    database = get_db(app)

    def attempt(change, commit):
        with database.session() as session:
            actor = session.get(User, org.editor.id)
            change(session, actor, session.get(Resource, created["id"]))
            session.commit() if commit else session.rollback()

    def replace(session, actor, resource):
        update_resource(session, actor, resource, values={}, upload=("v2.csv", io.BytesIO(b"a\n1\n")),
                        storage_path=storage, site_url="http://localhost")

    attempt(replace, commit=False)
    assert [p.name for p in folder.iterdir()] == ["data.csv"] and (folder / "data.csv").read_bytes() == CSV
    attempt(lambda s, a, r: delete_resource(s, a, r, storage_path=storage), commit=False)
    assert (folder / "data.csv").read_bytes() == CSV
    assert api.call("resource_show", {"id": created["id"]}, token=org.editor.token).result["url"] == created["url"]

    attempt(replace, commit=True)
    assert [p.name for p in folder.iterdir()] == ["v2.csv"]
    attempt(lambda s, a, r: delete_resource(s, a, r, storage_path=storage), commit=True)
    assert not folder.exists()
