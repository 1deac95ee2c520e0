"""The published ckanapi client drives the catalog unchanged over real HTTP."""
from __future__ import annotations


import ckanapi
import pytest

from tests.conftest import dataset_values




def test_ckanapi_remote_round_trip(live_url, make, sysadmin):
    ckan = ckanapi.RemoteCKAN(live_url, apikey=sysadmin.token, user_agent="catalog-tests")

    org = ckan.action.organization_create(name="ningshan-mzj", title="宁陕县民政局")
    assert org["name"] == "ningshan-mzj"

    values = dataset_values(org["id"])
    created = ckan.action.package_create(**values)
    shown = ckan.action.package_show(id=created["name"])
    assert shown["title"] == values["title"]
    assert shown["share_type"] == "conditional"

    patched = ckan.action.package_patch(id=created["id"], title="宁陕县户籍人口信息表（更新）",
                                        metadata_modified=shown["metadata_modified"])
    assert patched["title"] == "宁陕县户籍人口信息表（更新）"
    assert created["name"] in ckan.action.package_list()

    # A second writer still holding the old version is refused instead of overwriting.
    with pytest.raises(ckanapi.ValidationError) as stale:
        ckan.action.package_patch(id=created["id"], title="旧版本覆盖",
                                  metadata_modified=shown["metadata_modified"])
    assert "metadata_modified" in stale.value.error_dict

    with pytest.raises(ckanapi.ValidationError) as invalid:
        ckan.action.package_patch(id=created["id"], share_type="sometimes")
    assert "share_type" in invalid.value.error_dict

    outsider = make.user("outsider")
    with pytest.raises(ckanapi.NotAuthorized):
        ckanapi.RemoteCKAN(live_url, apikey=outsider.token).action.package_patch(
            id=created["id"], title="不该改")

    ckan.action.package_delete(id=created["id"])
    assert created["name"] not in ckan.action.package_list()
    with pytest.raises(ckanapi.NotFound):
        ckan.action.package_show(id="no-such-dataset")
    anonymous = ckanapi.RemoteCKAN(live_url)
    with pytest.raises(ckanapi.NotFound):  # a deleted dataset is answered for as a missing one
        anonymous.action.package_show(id=created["id"])
