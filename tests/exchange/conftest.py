"""Fixtures of the exchange tests: two departments with their people and a small, varied catalog."""
from __future__ import annotations

from types import SimpleNamespace

import pytest


def varied_datasets(make, dept_id: str) -> list[dict]:
    """Three datasets that use every kind of column: enums, lists, dates, items with lengths, private."""
    return [
        make.dataset(dept_id, name="hukou", tags=["户籍", "人口"], related_codes=["101001/000002"],
                     items=[{"name": "户编号", "type": "C", "length": 18, "description": "18 位户编号"},
                            {"name": "户主姓名", "type": "C", "length": 50},
                            {"name": "人口数", "type": "I"}],
                     version="2026", license_id="cc-by", maintainer="王五"),
        make.dataset(dept_id, name="dibao", title="最低生活保障对象", share_type="unconditional",
                     share_condition=None, open_type="unconditional", open_condition=None,
                     update_cycle="quarterly", share_method={"channel": "email", "type": "file"},
                     category="301", resource_code="301002/000007", tags=[],
                     items=[{"name": "救助金额", "type": "Y", "description": "元/月"},
                            {"name": "发放日期", "type": "D"}]),
        make.dataset(dept_id, name="draft-notes", title="内部台账", private=True, state="draft",
                     share_type="none", share_condition="涉密，依法不予共享", publish_date=None,
                     items=[{"name": "台账编号", "type": "N"}]),
    ]


@pytest.fixture
def depts(make, sysadmin):
    """Departments mzj (admin, editor, member) and gaj (editor), an outsider, and the sysadmin."""
    people = {role: make.user(role) for role in ("orgadmin", "editor", "member", "outsider", "gaj_editor")}
    mzj = make.department("mzj", title="宁陕县民政局", code="11610923MB00000019",
                          members={"admin": people["orgadmin"], "editor": people["editor"],
                                   "member": people["member"]})
    gaj = make.department("gaj", title="宁陕县公安局", members={"editor": people["gaj_editor"]})
    return SimpleNamespace(mzj=mzj, gaj=gaj, sysadmin=sysadmin, **people)
