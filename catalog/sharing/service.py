"""Share requests and grants, and the rule that decides who reads which records in clear.

国发〔2016〕51号: unconditional datasets are read by every registered department; conditional ones by
departments holding an active grant; 'none' never leaves the owner department. Sensitive fields are
masked for every reader whose grant does not name them; the owner department sees clear values.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ..activity.service import record_activity
from ..auth import rules
from ..auth.models import User
from ..datasets.models import Dataset
from ..db import utcnow
from ..departments.models import Membership
from ..departments.service import get_department
from ..errors import Conflict, NotAuthorized, NotFound, ValidationError
from .models import Grant, ShareRequest
from .workdays import Calendar

#: the days a provider has to deliver approved data (decree art. 22), when ``SHARE_DELIVERY_DAYS`` is unset
DELIVERY_DAYS = 20


@dataclass(frozen=True)
class RecordAccess:
    """What one actor may read of one dataset's records."""

    allowed: bool
    reason: str = ""
    #: ``None``: clear values (owner, sysadmin); otherwise the sensitive fields granted in clear.
    granted_fields: frozenset[str] | None = None
    departments: tuple[str, ...] = field(default_factory=tuple)
    #: the live grants this access rests on (their first read delivers them)
    grant_ids: tuple[str, ...] = field(default_factory=tuple)


def departments_of_actor(session: Session, actor: User | None) -> list[str]:
    """Ids of the departments the actor belongs to."""
    if actor is None:
        return []
    return list(session.scalars(sa.select(Membership.department_id).where(Membership.user_id == actor.id)))


def reader_departments(session: Session, actor: User | None) -> list[str]:
    """:func:`departments_of_actor` for deciding record access: the memberships an API token loaded with
    its account (``auth.service.authenticate_token``, in the same query) when it did, else asked for. No
    action changes its caller's memberships before deciding record access, so they are current."""
    if actor is not None and "memberships" not in sa.inspect(actor).unloaded:
        return [membership.department_id for membership in actor.memberships]
    return departments_of_actor(session, actor)


def active_grants(session: Session, dataset_id: str, department_ids: list[str]) -> list[Grant]:
    """Grants of the dataset to these departments that are neither revoked, suspended nor expired now.

    Every read path (search, changes, dump, preview, file download, sync pulls) decides through
    :func:`record_access`, so a suspension stops them all at once.
    """
    if not department_ids:
        return []
    now = utcnow()
    return list(session.scalars(sa.select(Grant).where(
        Grant.package_id == dataset_id, Grant.organization_id.in_(department_ids),
        Grant.revoked_at.is_(None), Grant.suspended_at.is_(None),
        sa.or_(Grant.expires_at.is_(None), Grant.expires_at > now))))


def record_access(session: Session, actor: User | None, dataset: Dataset) -> RecordAccess:
    """Decide whether ``actor`` reads the records of ``dataset``, and which sensitive fields in clear."""
    departments = tuple(reader_departments(session, actor))
    if rules.is_sysadmin(actor) or dataset.owner_org in departments:
        return RecordAccess(True, granted_fields=None, departments=departments)
    if actor is None:
        return RecordAccess(False, "Records are shared with departments' accounts only; give an API token")
    if not departments:
        return RecordAccess(False, "Your account belongs to no department, so no data is shared with it")
    if dataset.state != "active" or dataset.private:
        return RecordAccess(False, f"Dataset {dataset.name} is not published to other departments")
    if dataset.share_type == "none":
        return RecordAccess(False, f"Dataset {dataset.name} is not shared (不予共享): "
                                   f"{dataset.share_condition or 'no basis given'}")
    grants = active_grants(session, dataset.id, list(departments))
    granted = frozenset(f for g in grants for f in g.fields)
    if dataset.share_type == "conditional" and not grants:
        return RecordAccess(False, f"Dataset {dataset.name} is shared on conditions (有条件共享); "
                                   "request access with share_request_create")
    return RecordAccess(True, granted_fields=granted, departments=departments,
                        grant_ids=tuple(g.id for g in grants))


def require_record_access(session: Session, actor: User | None, dataset: Dataset) -> RecordAccess:
    """:func:`record_access`, raising :class:`NotAuthorized` with the reason when refused."""
    access = record_access(session, actor, dataset)
    if not access.allowed:
        raise NotAuthorized(access.reason)
    return access


def _deadline(created: dt.date, config: dict[str, Any]) -> dt.date:
    return Calendar.from_config(config).add(created, int(config.get("SHARE_DEADLINE_DAYS", 10)))


def delivery_due(approved: dt.date, config: dict[str, Any]) -> dt.date:
    """The day approved data must have reached the requester: 20 working days after approval (art. 22)."""
    return Calendar.from_config(config).add(approved, int(config.get("SHARE_DELIVERY_DAYS", DELIVERY_DAYS)))


def _required(name: str, value: str | None, message: str) -> str:
    if not value or not value.strip():
        raise ValidationError.single(name, message)
    return value.strip()


def is_overdue(request: ShareRequest, today: dt.date | None = None) -> bool:
    """A pending request past its deadline (escalated to the county data authority)."""
    today = today or utcnow().date()
    return request.status == "pending" and today > request.deadline


def create_request(session: Session, actor: User | None, *, dataset: Dataset, organization_id: str,
                   purpose: str, basis: str, scenario: str, fields: list[str], expires: dt.date | None,
                   config: dict[str, Any]) -> ShareRequest:
    """File a request from ``organization_id`` (the actor's department) for a dataset's records.

    A request states its basis (使用依据), scenario (应用场景), purpose, fields and time limit (decree art. 20).
    """
    department = get_department(session, organization_id)
    role = rules.role_in(session, actor, department.id)
    rules.require(rules.is_sysadmin(actor) or role in rules.EDIT_ROLES,
                  f"Only editors and admins of {department.name} can request data for it")
    if department.id == dataset.owner_org:
        raise ValidationError.single("organization_id", "a department does not need to request its own data")
    if dataset.share_type == "none":
        raise ValidationError.single("package_id", f"Dataset {dataset.name} is not shared (不予共享): "
                                                   f"{dataset.share_condition or ''}".strip())
    purpose = _required("purpose", purpose, "Missing value: say what the data will be used for")
    basis = _required("basis", basis, "Missing value: name the law, rule or duty the use rests on (使用依据)")
    scenario = _required("scenario", scenario, "Missing value: describe where and how the data is used (应用场景)")
    if expires is not None and expires <= utcnow().date():
        raise ValidationError.single("expires", "must be a date in the future")
    pending = session.scalar(sa.select(ShareRequest.id).where(
        ShareRequest.package_id == dataset.id, ShareRequest.organization_id == department.id,
        ShareRequest.status.in_(("pending", "returned"))))
    if pending:  # a returned request is still open: it is completed and resubmitted, not filed again
        raise Conflict.single("package_id", f"{department.name} already has a pending request ({pending})")
    request = ShareRequest(package_id=dataset.id, organization_id=department.id, requester_id=actor.id,
                           purpose=purpose, basis=basis, scenario=scenario, fields=list(dict.fromkeys(fields)),
                           expires=expires,
                           deadline=_deadline(utcnow().date(), config))
    session.add(request)
    session.flush()
    _record(session, actor, request, "new share request")
    return request


def _record(session: Session, actor: User | None, request: ShareRequest, kind: str, **extra: Any) -> None:
    record_activity(session, actor, object_id=request.package_id, department_id=request.dataset.owner_org,
                    activity_type=kind, data={"share_request": {
                        "id": request.id, "organization_id": request.organization_id,
                        "status": request.status, "fields": request.fields, **extra}})


def get_request(session: Session, actor: User | None, request_id: str) -> ShareRequest:
    """A request, visible to both departments' members and sysadmins."""
    request = session.get(ShareRequest, request_id) if request_id else None
    if request is None:
        raise NotFound(f"Share request not found: {request_id}")
    rules.require(rules.can_see_share_request(session, actor, provider_id=request.dataset.owner_org,
                                              requester_id=request.organization_id),
                  "Only the two departments concerned can see this request")
    return request


def get_request_for_authority(session: Session, actor: User | None, request_id: str,
                              config: dict[str, Any]) -> ShareRequest:
    """A request, visible to both departments' members and to the data authority (who decides extensions)."""
    request = session.get(ShareRequest, request_id) if request_id else None
    if request is None:
        raise NotFound(f"Share request not found: {request_id}")
    if not rules.is_authority(session, actor, config.get("AUTHORITY_DEPARTMENT")):
        return get_request(session, actor, request_id)
    return request


def require_decider(session: Session, actor: User | None, request: ShareRequest) -> None:
    """Refuse anyone but the providing department's admins and sysadmins (approve, reject, return, extend)."""
    # The provider's admins decide; the county data authority (sysadmins) may decide in their place.
    rules.require(rules.is_sysadmin(actor) or rules.role_in(session, actor, request.dataset.owner_org) == "admin",
                  "Only the providing department's admins (or the data authority) decide on requests")


def approve_request(session: Session, actor: User | None, request: ShareRequest, *,
                    fields: list[str] | None, expires: dt.date | None,
                    config: dict[str, Any] | None = None) -> Grant:
    """Approve a pending request, granting the chosen fields until ``expires``; the data is due to reach
    the requester within 20 working days (:func:`delivery_due`)."""
    require_decider(session, actor, request)
    rules.require(rules.can_approve_share_request(session, actor, provider_id=request.dataset.owner_org,
                                                  requester_id=request.organization_id),
                  "You are a member of the requesting department: someone outside it must approve the request")
    if request.status != "pending":
        raise Conflict.single("id", f"The request is already {request.status}")
    expires = expires if expires is not None else request.expires
    if expires is not None and expires <= utcnow().date():
        raise ValidationError.single("expires", "must be a date in the future")
    request.status = "approved"
    request.decided_by, request.decided_at = actor.id, utcnow()
    granted = request.fields if fields is None else list(dict.fromkeys(fields))
    grant = Grant(package_id=request.package_id, organization_id=request.organization_id, request_id=request.id,
                  fields=granted, delivery_due=delivery_due(request.decided_at.date(), config or {}),
                  expires_at=dt.datetime.combine(expires + dt.timedelta(days=1), dt.time(), dt.timezone.utc)
                  if expires else None)
    session.add(grant)
    session.flush()
    _record(session, actor, request, "approved share request", grant_id=grant.id,
            expires=expires.isoformat() if expires else None, granted_fields=granted)
    return grant


def reject_request(session: Session, actor: User | None, request: ShareRequest, *, reason: str,
                   cite_condition: bool) -> None:
    """Reject a pending request on its merits; the reason is required and shown to the requester, and may
    cite the dataset's share condition. An incomplete request is not rejected: it is returned
    (``share_request_return``), and a returned request cannot be rejected until it is resubmitted."""
    require_decider(session, actor, request)
    if request.status != "pending":
        raise Conflict.single("id", f"The request is already {request.status}")
    if not reason or not reason.strip():
        raise ValidationError.single("reason", "Missing value: a refusal must state its reasons")
    if cite_condition and not (request.dataset.share_condition or "").strip():
        raise ValidationError.single("cite_condition", f"Dataset {request.dataset.name} states no share condition")
    request.status = "rejected"
    request.reason = reason.strip()
    request.cited_condition = request.dataset.share_condition.strip() if cite_condition else None
    request.decided_by, request.decided_at = actor.id, utcnow()
    _record(session, actor, request, "rejected share request", reason=request.reason,
            cited_condition=request.cited_condition)


def revoke_request(session: Session, actor: User | None, request: ShareRequest, *, reason: str | None) -> None:
    """Revoke an approved request's grant; reads stop at once."""
    require_decider(session, actor, request)
    if request.status != "approved":
        raise Conflict.single("id", f"Only approved requests can be revoked; this one is {request.status}")
    now = utcnow()
    for grant in session.scalars(sa.select(Grant).where(Grant.request_id == request.id, Grant.revoked_at.is_(None))):
        grant.revoked_at = now
    request.status = "revoked"
    request.reason = (reason or "").strip() or request.reason
    _record(session, actor, request, "revoked share request", reason=reason)


def list_requests(session: Session, actor: User | None, *, direction: str, organization_id: str | None,
                  package_id: str | None, status: str | None, overdue: bool | None,
                  offset: int, limit: int) -> list[ShareRequest]:
    """Requests to (``incoming``) or from (``outgoing``) the actor's departments; sysadmins see all."""
    if actor is None:
        raise NotAuthorized("Log in or give an API token")
    query = sa.select(ShareRequest).join(ShareRequest.dataset)
    mine = departments_of_actor(session, actor)
    if organization_id:
        department = get_department(session, organization_id)
        rules.require(rules.is_sysadmin(actor) or department.id in mine,
                      f"You are not a member of {department.name}")
        mine = [department.id]
    if not rules.is_sysadmin(actor) or organization_id:
        column = Dataset.owner_org if direction == "incoming" else ShareRequest.organization_id
        query = query.where(column.in_(mine))
    if package_id:
        query = query.where(sa.or_(Dataset.id == package_id, Dataset.name == package_id))
    if status:
        query = query.where(ShareRequest.status == status)
    if overdue is not None:
        late = sa.and_(ShareRequest.status == "pending", ShareRequest.deadline < utcnow().date())
        query = query.where(late if overdue else sa.not_(late))
    query = query.order_by(ShareRequest.deadline, ShareRequest.created, ShareRequest.id)
    return list(session.scalars(query.offset(offset).limit(limit)))
