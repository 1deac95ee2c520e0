"""A private dataset's records must not even be known to exist outside its department.

The attack: another department's officer (or an anonymous caller) asks for the DataStore table of a
private dataset by its resource id. The answer must be the very answer for a resource id that has no
table at all, naming the id asked for, so that probing ids tells nothing about hidden tables.
"""
from __future__ import annotations

import uuid

import pytest

from tests.sharing.cast import share_cast  # noqa: F401 - the fixture

FIELDS = [{"id": "id", "type": "text"}, {"id": "name", "type": "text"}]


@pytest.mark.parametrize("who", ["outsider_admin", "consumer_editor", "anonymous"])
def test_a_private_datasets_table_is_answered_like_a_table_that_does_not_exist(api, make, share_cast, who):
    hidden = make.dataset(share_cast.provider["id"], name="gaj-private", private=True,
                          share_type="unconditional", share_condition=None)
    created = api.call("datastore_create", {"resource": {"package_id": hidden["id"], "name": "内部名册"},
                                            "fields": FIELDS, "primary_key": "id",
                                            "records": [{"id": "p1", "name": "王建国"}]},
                       token=share_cast.tokens["provider_editor"])
    assert created.status == 200, created.body
    hidden_id, missing_id = created.result["resource_id"], str(uuid.uuid4())

    for action in ("datastore_search", "datastore_changes"):
        probed = api.call(action, {"resource_id": hidden_id}, token=share_cast.tokens[who])
        nothing = api.call(action, {"resource_id": missing_id}, token=share_cast.tokens[who])
        assert (probed.status, nothing.status) == (404, 404), (probed.body, nothing.body)
        assert probed.error["message"] == nothing.error["message"].replace(missing_id, hidden_id), action
        assert hidden_id in probed.error["message"]
        assert "王建国" not in str(probed.body) and "gaj-private" not in str(probed.body)
