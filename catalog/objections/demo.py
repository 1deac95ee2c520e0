"""The demo's correction request and demand: 民政局 doubts two household records of 公安局 (open, so the
records carry the flag), and 人社局's need for the low-income monitoring list, fulfilled by 民政局."""
from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from ..auth.models import User
from ..datasets.models import Dataset, Resource
from ..datastore.models import DatastoreTable, Record
from ..demands import service as demands
from ..demands.models import Demand
from ..departments.service import get_department
from ..sharing import service as sharing
from . import service
from .models import Objection


def load(session, admin: User, config: dict[str, Any]) -> list[str]:
    """Add the demo's open correction request and fulfilled demand when missing; lines to print."""
    lines = []
    if session.scalar(sa.select(Objection.id).limit(1)) is None:
        lines += _objection(session, admin, config)
    if session.scalar(sa.select(Demand.id).limit(1)) is None:
        lines += _demand(session, admin, config)
    session.commit()
    return lines


def _user(session, name: str) -> User | None:
    return session.scalar(sa.select(User).where(User.name == name))


def _objection(session, admin: User, config: dict[str, Any]) -> list[str]:
    dataset = session.scalar(sa.select(Dataset).where(Dataset.name == "household-register"))
    officer = _user(session, "mzj-officer")
    table = session.scalar(sa.select(DatastoreTable).join(Resource, Resource.id == DatastoreTable.resource_id)
                           .where(Resource.package_id == dataset.id)) if dataset else None
    if table is None or officer is None:
        return []
    civil = get_department(session, "ningshan-mzj")
    if not sharing.active_grants(session, dataset.id, [civil.id]):
        request = sharing.create_request(session, officer, dataset=dataset, organization_id=civil.id,
                                         purpose="核实低保对象家庭成员", basis="《社会救助暂行办法》第十一条",
                                         scenario="民政局低保审核系统，仅审核人员可见", fields=[], expires=None,
                                         config=config)
        sharing.approve_request(session, admin, request, fields=[], expires=None, config=config)
    keys = list(session.scalars(sa.select(Record.key).where(Record.resource_id == table.resource_id,
                                                            Record.deleted.is_(False)).order_by(Record.key).limit(2)))
    if not keys:
        return []
    objection = service.create_objection(
        session, officer, dataset=dataset, organization_id=civil.id, resource_id=table.resource_id, keys=keys,
        filters=None, fields=["contact_cadre"], reason="入户核查发现包联干部已调整，户籍表仍为原干部",
        evidence="城关镇 2026 年包联干部调整通知", evidence_url=None, config=config)
    return [f"Correction request (open, records flagged): {', '.join(keys)} of household-register, "
            f"due {objection.deadline.isoformat()}"]


def _demand(session, admin: User, config: dict[str, Any]) -> list[str]:
    hr, civil = _user(session, "rsj-officer"), _user(session, "mzj-officer")
    dataset = session.scalar(sa.select(Dataset).where(Dataset.name == "minimum-living-allowance"))
    if hr is None or civil is None or dataset is None:
        return []
    demand = demands.create_demand(
        session, hr, organization_id=get_department(session, "ningshan-rsj").id, title="农村低收入人口名单",
        description="按月更新的低保、特困人员名单，用于就业帮扶对象识别", fields=["姓名", "身份证号", "保障类别", "所在村"],
        basis="《关于加强低收入人口动态监测做好分层分类社会救助工作的意见》", purpose="就业帮扶对象识别", config=config)
    demands.assign_demand(session, admin, demand, organization_id=dataset.owner_org, config=config)
    demands.fulfil_demand(session, civil, demand, dataset=dataset, note="已在目录中编目，按有条件共享申请使用",
                          config=config)
    return [f"Demand (fulfilled by {dataset.name}): {demand.title}"]
