"""Setup shared by the benchmarks: the household dataset they load into."""
from __future__ import annotations

from typing import Any


def household_dataset(session, admin, *, department_name: str, department_title: str) -> Any:
    """A department and its published dataset bound to household@1 (through the services)."""
    from catalog.datasets.service import create_dataset
    from catalog.departments.service import create_department

    department = create_department(session, admin, name=department_name, title=department_title)
    return create_dataset(session, admin, values={
        "name": "household-register", "title": "宁陕县住户信息", "notes": "全县住户及家庭成员信息。",
        "owner_org": department.id, "resource_code": "101001/000001", "category": "101",
        "share_type": "unconditional", "share_method": {"channel": "platform", "type": "api"},
        "open_type": "none", "open_condition": "含个人信息，依法不予开放", "update_cycle": "monthly",
        "publish_date": "2026-01-03", "record_schema": "household@1",
        "items": [{"name": "户编号", "type": "C"}, {"name": "户主姓名", "type": "C"}]}, tags=["住户"])
