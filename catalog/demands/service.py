"""The demand list (需求清单, 政务数据共享条例 art. 20): a department registers data it needs that the catalog
lacks; the data authority assigns it to the source department (数源部门), which answers within
``DEMAND_DAYS`` working days of assignment by linking a dataset (fulfil) or refusing with the legal basis.

Demands are a coordination list between departments: every account that belongs to a department (and
the authority) sees and searches them; anonymous callers and department-less accounts do not.
"""
from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ..auth import rules
from ..auth.models import User
from ..datasets.models import Dataset
from ..db import utcnow
from ..departments.service import get_department
from ..errors import Conflict, NotAuthorized, NotFound, ValidationError, checked_text
from ..search.text import check_query_length
from ..sharing.service import departments_of_actor
from ..sharing.workdays import Calendar
from ..webhooks import service as webhooks
from .models import DEMAND_STATES, Demand

MAX_TEXT = 4000


def deadline_after(start: dt.date, config: dict[str, Any]) -> dt.date:
    """The day a demand assigned on ``start`` must be answered by (``DEMAND_DAYS`` working days)."""
    return Calendar.from_config(config).add(start, int(config.get("DEMAND_DAYS", 10)))


def is_overdue(demand: Demand, today: dt.date | None = None) -> bool:
    """An assigned demand not answered by its deadline."""
    today = today or utcnow().date()
    return demand.status == "assigned" and demand.deadline is not None and today > demand.deadline


def is_authority(session: Session, actor: User | None, config: dict[str, Any]) -> bool:
    """The data authority: sysadmins and the configured authority department's editors and admins."""
    return rules.is_authority(session, actor, config.get("AUTHORITY_DEPARTMENT"))


def can_see_demands(session: Session, actor: User | None, config: dict[str, Any]) -> bool:
    """Members of any department and the data authority see the demand list."""
    return actor is not None and (is_authority(session, actor, config) or bool(departments_of_actor(session, actor)))


def _require_viewer(session: Session, actor: User | None, config: dict[str, Any]) -> None:
    if actor is None:
        raise NotAuthorized("Log in or give an API token")
    rules.require(can_see_demands(session, actor, config),
                  "The demand list is for departments' accounts; yours belongs to no department")


def create_demand(session: Session, actor: User | None, *, organization_id: str, title: Any, description: Any,
                  fields: Any, basis: Any, purpose: Any, config: dict[str, Any]) -> Demand:
    """Register a need for data (what, which fields, the basis and the purpose) for the actor's department."""
    department = get_department(session, organization_id)
    rules.require(rules.is_sysadmin(actor) or rules.role_in(session, actor, department.id) in rules.EDIT_ROLES,
                  f"Only editors and admins of {department.name} can register its data needs")
    title_text = checked_text(title, "title", required=True, limit=300)
    if not isinstance(fields, list) or not fields or not all(isinstance(f, str) and f.strip() for f in fields):
        raise ValidationError.single("fields", "Missing value: list the data items (fields) needed")
    demand = Demand(title=title_text, description=checked_text(description, "description", required=False),
                    fields=list(dict.fromkeys(f.strip() for f in fields)),
                    basis=checked_text(basis, "basis", required=True), purpose=checked_text(purpose, "purpose", required=True),
                    organization_id=department.id, requester_id=actor.id, status="open", created=utcnow())
    session.add(demand)
    session.flush()
    _announce(session, demand, "demand.created", config)
    return demand


def get_demand(session: Session, actor: User | None, demand_id: str, config: dict[str, Any]) -> Demand:
    """One demand (for any department's account and the authority)."""
    _require_viewer(session, actor, config)
    demand = session.get(Demand, demand_id) if isinstance(demand_id, str) and demand_id else None
    if demand is None:
        raise NotFound(f"Demand not found: {demand_id}")
    return demand


def assign_demand(session: Session, actor: User | None, demand: Demand, *, organization_id: str,
                  config: dict[str, Any]) -> None:
    """The authority names the source department (数源部门); its clock of ``DEMAND_DAYS`` working days starts."""
    rules.require(is_authority(session, actor, config), "Only the data authority assigns demands to source departments")
    if demand.status not in ("open", "assigned"):
        raise Conflict.single("id", f"The demand is already {demand.status}")
    department = get_department(session, organization_id)
    if department.id == demand.organization_id:
        raise ValidationError.single("organization_id", "the source department must be another department than the "
                                                        "one that needs the data")
    now = utcnow()
    demand.status, demand.assignee_id, demand.assigned_by, demand.assigned = "assigned", department.id, actor.id, now
    demand.deadline = deadline_after(now.date(), config)
    _announce(session, demand, "demand.assigned", config)


def _answer_rule(session: Session, actor: User | None, demand: Demand) -> None:
    if demand.status != "assigned":
        raise Conflict.single("id", f"Only assigned demands are answered; this one is {demand.status}")
    rules.require(rules.can_edit_datasets_of(session, actor, demand.assignee_id),
                  "Only the source department's editors and admins answer the demand")


def fulfil_demand(session: Session, actor: User | None, demand: Demand, *, dataset: Dataset, note: Any,
                  config: dict[str, Any]) -> None:
    """The source department links a dataset of its own (existing or new) that meets the demand."""
    _answer_rule(session, actor, demand)
    if dataset.owner_org != demand.assignee_id:
        raise ValidationError.single("package_id", "link a dataset of the source department")
    if dataset.state == "deleted":
        raise ValidationError.single("package_id", "the dataset is deleted")
    demand.status, demand.package_id = "fulfilled", dataset.id
    demand.answer = checked_text(note, "note", required=False)
    demand.answered, demand.answered_by = utcnow(), actor.id
    _announce(session, demand, "demand.fulfilled", config)


def refuse_demand(session: Session, actor: User | None, demand: Demand, *, basis: Any,
                  config: dict[str, Any]) -> None:
    """The source department refuses, citing the legal basis (法律法规依据)."""
    _answer_rule(session, actor, demand)
    demand.answer = checked_text(basis, "basis", required=True)
    demand.status, demand.answered, demand.answered_by = "refused", utcnow(), actor.id
    _announce(session, demand, "demand.refused", config)


def list_demands(session: Session, actor: User | None, *, config: dict[str, Any], q: str | None,
                 status: str | None, organization_id: str | None, assignee_id: str | None, package_id: str | None,
                 overdue: bool | None, offset: int, limit: int) -> list[Demand]:
    """Demands matching a text query (every word in the title, description or purpose) and filters; earliest deadline first."""
    _require_viewer(session, actor, config)
    query = sa.select(Demand)
    if q:
        check_query_length(q)
        text = sa.func.coalesce(Demand.title, "") + " " + sa.func.coalesce(Demand.description, "") + " " + \
            sa.func.coalesce(Demand.purpose, "")
        for word in q.split():
            pattern = "%" + word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            query = query.where(text.ilike(pattern, escape="\\"))
    if status:
        if status not in DEMAND_STATES:
            raise ValidationError.single("status", "must be one of: " + ", ".join(DEMAND_STATES))
        query = query.where(Demand.status == status)
    if organization_id:
        query = query.where(Demand.organization_id == get_department(session, organization_id).id)
    if assignee_id:
        query = query.where(Demand.assignee_id == get_department(session, assignee_id).id)
    if package_id:
        query = query.join(Dataset, Dataset.id == Demand.package_id).where(
            sa.or_(Dataset.id == package_id, Dataset.name == package_id))
    if overdue is not None:
        late = sa.and_(Demand.status == "assigned", Demand.deadline < utcnow().date())
        query = query.where(late if overdue else sa.not_(late))
    query = query.order_by(Demand.deadline.is_(None), Demand.deadline, Demand.created.desc(), Demand.id)
    return list(session.scalars(query.offset(offset).limit(limit)))


def fulfilled_by(session: Session, dataset_id: str) -> list[Demand]:
    """The demands a dataset fulfilled (shown on its page)."""
    return list(session.scalars(sa.select(Demand).where(Demand.package_id == dataset_id, Demand.status == "fulfilled")
                                .order_by(Demand.answered.desc())))


def webhook_payload(demand: Demand) -> dict[str, Any]:
    """What a webhook says of a demand: ids, title, state and dates."""
    return {"id": demand.id, "title": demand.title, "status": demand.status,
            "organization_id": demand.organization_id, "assignee_id": demand.assignee_id,
            "package_id": demand.package_id, "deadline": demand.deadline.isoformat() if demand.deadline else None}


def _announce(session: Session, demand: Demand, event: str, config: dict[str, Any]) -> None:
    """Write the webhook deliveries (once per URL) to subscribers who see the demand list."""
    def audience(session: Session, user: User | None) -> bool:
        return can_see_demands(session, user, config)

    webhooks.enqueue_catalog_wide(session, event, webhook_payload(demand), audience=audience)
