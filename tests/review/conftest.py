"""The catalog review turned on, with a civil affairs department (民政局), a health department (卫健局) and the
county big data bureau (数据局) as the data authority, each with its people."""
from __future__ import annotations

import pytest

from tests.conftest import dataset_values


@pytest.fixture
def review_on(app, monkeypatch):
    monkeypatch.setitem(app.config, "CATALOG_REVIEW", True)
    monkeypatch.setitem(app.config, "AUTHORITY_DEPARTMENT", "ningshan-sjj")
    monkeypatch.setitem(app.config, "HOLIDAYS", "")
    monkeypatch.setitem(app.config, "WORKDAYS", "")


@pytest.fixture
def people(make, sysadmin, review_on):
    names = ("mz-member", "mz-editor", "mz-admin", "wj-editor", "wj-admin", "sj-member", "sj-editor", "sj-admin")
    accounts = {name: make.user(name) for name in names}
    accounts["sysadmin"] = sysadmin
    mz = make.department("ningshan-mzj", members={"member": accounts["mz-member"], "editor": accounts["mz-editor"],
                                                  "admin": accounts["mz-admin"]})
    wj = make.department("ningshan-wjj", members={"editor": accounts["wj-editor"], "admin": accounts["wj-admin"]})
    sj = make.department("ningshan-sjj", members={"member": accounts["sj-member"], "editor": accounts["sj-editor"],
                                                  "admin": accounts["sj-admin"]})
    accounts["departments"] = {"mz": mz, "wj": wj, "sj": sj}
    return accounts


def token(people, who: str) -> str | None:
    """The API token of ``who``; None: anonymous."""
    return None if who == "anonymous" else people[who].token


@pytest.fixture
def draft(api, people):
    """A dataset the civil affairs editor registered: a draft, since publishing needs the review."""
    values = dataset_values("ningshan-mzj", 501)
    values.update(name="mz-dibao", title="宁陕县低保对象名册")
    made = api.call("package_create", values, token=people["mz-editor"].token)
    assert made.status == 200, made.body
    assert made.result["state"] == "draft"
    return made.result


@pytest.fixture
def submitted(api, people, draft):
    reply = api.call("package_submit", {"id": draft["id"]}, token=people["mz-admin"].token)
    assert reply.status == 200, reply.body
    return reply.result


@pytest.fixture
def published(make, people):
    """A dataset of civil affairs published before (the data authority's own direct publishing)."""
    return make.dataset("ningshan-mzj", name="mz-wubao", title="宁陕县特困供养人员名册", tags=["民政"])
