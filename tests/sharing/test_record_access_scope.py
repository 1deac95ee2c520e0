"""Who reads a dataset's records (decree 809, 国发〔2016〕51号): other departments only once the dataset is
published, whatever its share type; the access log names the department of every reader, the owner's own
officers included.

The data authority sees a dataset under the catalog review (it reviews its metadata), but the dataset is not
published yet: not even an unconditionally shared dataset lets it read the records before its publication.
"""
from __future__ import annotations

from tests.conftest import dataset_values

FIELDS = [{"id": "id", "type": "text"}, {"id": "name", "type": "text"}]
ROWS = [{"id": "p1", "name": "王建国"}, {"id": "p2", "name": "李秀英"}]


def test_the_authority_reviewing_an_unconditional_dataset_does_not_read_its_records_before_publication(
        api, app, share_cast, monkeypatch):
    monkeypatch.setitem(app.config, "CATALOG_REVIEW", True)
    values = dataset_values(share_cast.provider["id"], 701)
    values.update(name="gaj-roster", share_type="unconditional", share_condition=None)
    made = api.call("package_create", values, token=share_cast.tokens["provider_editor"])
    assert made.status == 200, made.body
    assert made.result["state"] == "draft"
    created = api.call("datastore_create", {"resource": {"package_id": made.result["id"], "name": "名册"},
                                            "fields": FIELDS, "primary_key": "id", "records": ROWS},
                       token=share_cast.tokens["provider_editor"])
    assert created.status == 200, created.body
    submitted = api.call("package_submit", {"id": made.result["id"]}, token=share_cast.tokens["provider_admin"])
    assert submitted.status == 200, submitted.body
    # the authority sees the dataset it reviews ...
    assert api.call("package_show", {"id": made.result["id"]}, token=share_cast.tokens["authority_editor"]).status == 200
    # ... but not its records: nothing is shared before publication
    read = api.call("datastore_search", {"resource_id": created.result["resource_id"]},
                    token=share_cast.tokens["authority_editor"])
    assert read.status == 403, read.body
    assert "王建国" not in str(read.body)
    # the provider's own officers read them
    own = api.call("datastore_search", {"resource_id": created.result["resource_id"]},
                   token=share_cast.tokens["provider_member"])
    assert own.status == 200 and sorted(r["id"] for r in own.result["records"]) == ["p1", "p2"]


def test_the_access_log_names_the_readers_department_the_owners_own_included(api, share_cast):
    for role in ("provider_editor", "sysadmin"):
        read = api.call("datastore_search", {"resource_id": share_cast.resource_id, "limit": 1},
                        token=share_cast.tokens[role])
        assert read.status == 200, read.body
    log = api.call("access_log_list", {"organization_id": share_cast.provider["id"]},
                   token=share_cast.tokens["provider_admin"])
    assert log.status == 200, log.body
    by_reader = {entry["user_name"]: entry["departments"] for entry in log.result}
    assert by_reader[share_cast.people["provider_editor"].name] == [share_cast.provider["id"]]
    assert by_reader[share_cast.sysadmin.name] == []     # a sysadmin belongs to no department
