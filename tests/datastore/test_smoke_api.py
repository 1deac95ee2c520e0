"""DataStore through the API: the path a department's system takes end to end."""
from __future__ import annotations

from tests.conftest import dataset_values
from tests.schemas.records_samples import households


def test_household_records_round_trip(api, client, make, sysadmin):
    dept = make.department("ningshan-gaj")
    dataset = make.dataset(dept["id"], record_schema="household@1", share_type="unconditional",
                           share_condition=None)
    created = api.call("datastore_create", {"resource": {"package_id": dataset["id"], "name": "住户"}},
                       token=sysadmin.token)
    assert created.status == 200, created.body
    resource_id = created.result["resource_id"]
    assert created.result["primary_key"] == ["household_number"]

    records = list(households(30, seed=1))
    first = api.call("datastore_upsert", {"resource_id": resource_id, "records": records}, token=sysadmin.token)
    assert first.result["inserted"] == 30
    again = api.call("datastore_upsert", {"resource_id": resource_id, "records": records}, token=sysadmin.token)
    assert (again.result["inserted"], again.result["updated"], again.result["unchanged"]) == (0, 0, 30)

    page = api.call("datastore_changes", {"resource_id": resource_id, "limit": 20}, token=sysadmin.token).result
    assert len(page["changes"]) == 20 and page["has_more"]
    rest = api.call("datastore_changes", {"resource_id": resource_id, "cursor": page["next_cursor"]},
                    token=sysadmin.token).result
    assert len(rest["changes"]) == 10

    found = api.call("datastore_search", {"resource_id": resource_id,
                                          "filters": {"household_number": records[3]["household_number"]}},
                     token=sysadmin.token).result
    assert found["total"] == 1 and found["records"][0]["head_name"] == records[3]["head_name"]

    bad = dict(records[0], head_id_number="610923199001011234")
    refused = api.call("datastore_upsert", {"resource_id": resource_id, "records": [records[1], bad]},
                       token=sysadmin.token)
    assert refused.status == 409
    assert any(key.startswith("records.1.head_id_number") for key in refused.error)

    dump = client.get(f"/datastore/dump/{resource_id}?format=csv&bom=true",
                      headers={"Authorization": sysadmin.token})
    text = dump.get_data().decode("utf-8")
    assert text.startswith("\ufeffhousehold_number,")
    assert len(text.strip().splitlines()) == 31
