"""The demo's share workflow: 人社局's request returned by 民政局 for completion (补正), 城关镇's request that
信访局 answers late with an extension the data authority approved, and 民政局's grant on the household
register delivered by its first read, with a use record."""
from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from ..auth.models import User
from ..datasets.models import Dataset, Resource
from ..datastore.models import DatastoreTable
from ..departments.service import get_department
from . import service, workflow
from .models import Grant, ShareRequest, UsageRecord
from .reading import open_reader
from .usage import create_usage_record


def load(session, admin: User, config: dict[str, Any]) -> list[str]:
    """Add the demo's returned request, extension, delivered grant and use record when missing."""
    if session.scalar(sa.select(UsageRecord.id).limit(1)) is not None:
        return []
    lines = _returned(session, config) + _extended(session, admin, config) + _delivered(session, config)
    session.commit()
    return lines


def _user(session, name: str) -> User | None:
    return session.scalar(sa.select(User).where(User.name == name))


def _dataset(session, name: str) -> Dataset | None:
    return session.scalar(sa.select(Dataset).where(Dataset.name == name))


def _pending(session, dataset: Dataset, department_id: str) -> bool:
    return session.scalar(sa.select(ShareRequest.id).where(
        ShareRequest.package_id == dataset.id, ShareRequest.organization_id == department_id,
        ShareRequest.status.in_(("pending", "returned")))) is not None


def _returned(session, config: dict[str, Any]) -> list[str]:
    dataset, asker, provider = (_dataset(session, "minimum-living-allowance"), _user(session, "rsj-officer"),
                                _user(session, "mzj-officer"))
    if dataset is None or asker is None or provider is None:
        return []
    department = get_department(session, "ningshan-rsj")
    if _pending(session, dataset, department.id):
        return []
    request = service.create_request(session, asker, dataset=dataset, organization_id=department.id,
                                     purpose="就业困难人员认定时核对低保身份", basis="《就业促进法》",
                                     scenario="人社局就业服务窗口", fields=[], expires=None, config=config)
    workflow.return_request(session, provider, request, missing={
        "basis": "请写明所依据的具体条款（如《就业促进法》第五十二条）",
        "scenario": "请说明使用数据的业务系统和可查看人员范围"})
    return [f"Share request returned for completion (补正): minimum-living-allowance for {department.title}"]


def _extended(session, admin: User, config: dict[str, Any]) -> list[str]:
    dataset, asker, provider = (_dataset(session, "petition-cases"), _user(session, "cgz-officer"),
                                _user(session, "xfj-officer"))
    if dataset is None or asker is None or provider is None:
        return []
    department = get_department(session, "ningshan-cgz")
    if _pending(session, dataset, department.id):
        return []
    request = service.create_request(session, asker, dataset=dataset, organization_id=department.id,
                                     purpose="跟踪本镇信访件办理进度", basis="《信访工作条例》第三十条",
                                     scenario="城关镇信访办公室台账", fields=[], expires=None, config=config)
    workflow.request_extension(session, provider, request, days=5, reason="涉及多个责任单位，需逐件核对办理情况",
                               config=config)
    workflow.decide_extension(session, admin, request, approve=True, reason="同意延长 5 个工作日", config=config)
    return [f"Share request with an approved extension: petition-cases for {department.title}, "
            f"due {request.deadline.isoformat()}"]


def _delivered(session, config: dict[str, Any]) -> list[str]:
    dataset, reader = _dataset(session, "household-register"), _user(session, "mzj-officer")
    if dataset is None or reader is None:
        return []
    department = get_department(session, "ningshan-mzj")
    grants = service.active_grants(session, dataset.id, [department.id])
    table = session.scalar(sa.select(DatastoreTable).join(Resource, Resource.id == DatastoreTable.resource_id)
                           .where(Resource.package_id == dataset.id))
    if not grants or table is None:
        return []
    # the officer's first look at the records (as the web preview does) delivers the grant
    open_reader(session, reader, table).log(session, action="web_preview", params={"limit": 5}, count=5)
    grant = session.get(Grant, grants[0].id)
    create_usage_record(session, reader, grant, kind="use", description="比对低保对象 312 户户籍，发现 4 户已迁出",
                        occurred_on=None, config=config)
    return [f"Grant delivered with a use record: household-register for {department.title}"]
