"""The demo's catalog review: 民政局 has one dataset waiting for the data authority and one returned with
what to fix per field (the authority is the sysadmin unless CATALOG_AUTHORITY_DEPARTMENT names a department)."""
from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from ..auth.models import User
from ..datasets.models import Dataset
from ..datasets.service import create_dataset
from ..departments.service import get_department
from . import policy, service

COMMON = {"share_type": "conditional", "share_method": {"channel": "platform", "type": "database"},
          "open_type": "none", "open_condition": "涉及困难群众个人信息，不予开放", "update_cycle": "monthly",
          "publish_date": "2026-11-20", "state": "draft"}
WAITING = {"name": "elderly-allowance", "title": "宁陕县高龄津贴发放名册", "resource_code": "201003/000002",
           "category": "201", "notes": "80 周岁以上老年人高龄津贴的领取人、发放标准、发放月份及所在镇村。",
           "share_condition": "限乡镇和相关部门用于津贴核查",
           "items": [{"name": "姓名", "type": "C"}, {"name": "发放标准", "type": "Y"}, {"name": "发放月份", "type": "C"},
                     {"name": "所在镇村", "type": "C"}], **COMMON}
RETURNED = {"name": "disability-allowance", "title": "宁陕县残疾人两项补贴名册", "resource_code": "201003/000003",
            "category": "201", "notes": "困难残疾人生活补贴和重度残疾人护理补贴的对象与金额。",
            "share_condition": "按需共享",
            "items": [{"name": "姓名", "type": "C"}, {"name": "补贴类别", "type": "C"}, {"name": "月补贴金额", "type": "Y"}],
            **COMMON}
RETURN_REASONS = {"share_condition": "写明共享的使用依据和可用部门（条例第十七条），“按需共享”不是条件",
                  "items": "补充残疾证号、残疾等级两个信息项，并标明敏感项"}


def load(session, admin: User, config: dict[str, Any]) -> list[str]:
    """Add the demo's waiting and returned datasets when missing (only with the review on); lines to print."""
    if not policy.review_enabled(config):
        return []
    officer = session.scalar(sa.select(User).where(User.name == "mzj-officer"))
    if officer is None:
        return []
    department = get_department(session, "ningshan-mzj")
    lines = []
    for values, returned in ((WAITING, False), (RETURNED, True)):
        if session.scalar(sa.select(Dataset.id).where(Dataset.name == values["name"])):
            continue
        dataset = create_dataset(session, officer, values={**values, "owner_org": department.id},
                                 tags=["社会救助"])
        review = service.submit_dataset(session, officer, dataset, config=config)
        if returned:
            service.review_dataset(session, admin, dataset, decision="return", reason="共享条件和信息项不完整",
                                   field_reasons=RETURN_REASONS, config=config)
            lines.append(f"Catalog review: {values['title']} returned to {department.title} with what to fix")
        else:
            lines.append(f"Catalog review: {values['title']} waits for the data authority, due {review.due}")
    session.commit()
    return lines
