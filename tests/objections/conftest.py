"""The county's parties for correction requests: a provider (公安局), a department holding a grant
(民政局), a third department without one (城关镇), the data authority's department (数据局), an account of
no department, and two datasets: people (conditional, the key field sensitive) and shops (unconditional)."""
from __future__ import annotations

from types import SimpleNamespace

import pytest

from catalog.db import get_db
from catalog.sharing.models import Grant

PEOPLE_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "x-primary-key": ["id_number"],
    "properties": {
        "id_number": {"type": "string", "x-sensitive": "resident-id"},
        "name": {"type": "string"},
        "town": {"type": "string"},
        "allowance": {"type": "number"},
    },
    "required": ["id_number", "name"],
    "additionalProperties": False,
}
PEOPLE = [
    {"id_number": "610923199001011234", "name": "王芳", "town": "城关镇", "allowance": 420},
    {"id_number": "610923198502023456", "name": "李强", "town": "城关镇", "allowance": 380},
    {"id_number": "610923197703037890", "name": "张伟", "town": "江口回族镇", "allowance": 500},
]
SHOP_FIELDS = [{"id": "code", "type": "text"}, {"id": "name", "type": "text"}, {"id": "town", "type": "text"}]
SHOPS = [{"code": "s1", "name": "东河商店", "town": "城关镇"}, {"code": "s2", "name": "西街药房", "town": "城关镇"},
         {"code": "s3", "name": "江口粮站", "town": "江口回族镇"}]


def _table(api, token, dataset_id, records, **params) -> str:
    created = api.call("datastore_create", {"resource": {"package_id": dataset_id}, **params}, token=token)
    assert created.status == 200, created.body
    resource_id = created.result["resource_id"]
    written = api.call("datastore_upsert", {"resource_id": resource_id, "records": records}, token=token)
    assert written.status == 200, written.body
    return resource_id


@pytest.fixture
def county(app, api, make, sysadmin, monkeypatch):
    people = {name: make.user(name) for name in (
        "gaj_admin", "gaj_editor", "gaj_member", "mzj_editor", "mzj_member", "town_editor", "sjj_editor", "nobody")}
    gaj = make.department("ningshan-gaj", members={"admin": people["gaj_admin"], "editor": people["gaj_editor"],
                                                   "member": people["gaj_member"]})
    mzj = make.department("ningshan-mzj", members={"editor": people["mzj_editor"], "member": people["mzj_member"]})
    town = make.department("ningshan-cgz", members={"editor": people["town_editor"]})
    sjj = make.department("ningshan-sjj", members={"editor": people["sjj_editor"]})
    monkeypatch.setitem(app.config, "AUTHORITY_DEPARTMENT", "ningshan-sjj")
    registered = api.call("schema_create", {"name": "dibao-people", "schema": PEOPLE_SCHEMA, "owner_org": gaj["id"]},
                          token=people["gaj_editor"].token)
    assert registered.status == 200, registered.body
    people_ds = make.dataset(gaj["id"], name="people", share_type="conditional",
                             record_schema=registered.result["id"])
    shops_ds = make.dataset(gaj["id"], name="shops", share_type="unconditional", share_condition=None)
    people_rid = _table(api, people["gaj_editor"].token, people_ds["id"], PEOPLE)
    shops_rid = _table(api, people["gaj_editor"].token, shops_ds["id"], SHOPS, fields=SHOP_FIELDS,
                       primary_key="code")
    with get_db(app).session() as session:  # 民政局 holds a live grant of people, without the sensitive fields
        session.add(Grant(package_id=people_ds["id"], organization_id=mzj["id"], fields=[]))
        session.commit()
    return SimpleNamespace(**people, sysadmin=sysadmin, gaj=gaj, mzj=mzj, town=town, sjj=sjj,
                           people=people_ds, shops=shops_ds, people_rid=people_rid, shops_rid=shops_rid)
