"""Telling the departments concerned by a share request or grant: one activity, a notice on each
department's dashboard and a webhook event, all written in the transaction of the change.

Who hears of it: the providing and the requesting (or grantee) department, and sysadmins; never a third
department. The activity carries the ``share_request.organization_id`` that
:func:`catalog.activity.service.list_activities` filters on, the webhook event goes only to subscribers
who belong to one of the two departments (:func:`departments_audience`).
"""
from __future__ import annotations

from typing import Any, Iterable

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ..activity.service import record_activity
from ..auth.models import User
from ..datasets.models import Dataset
from ..departments.models import Membership
from ..webhooks.service import Audience, enqueue
from .models import ShareNotice


def departments_audience(department_ids: Iterable[str]) -> Audience:
    """Webhook receivers allowed to hear of it: sysadmins and members of these departments."""
    allowed = frozenset(department_ids)

    def audience(session: Session, user: User | None) -> bool:
        if user is None:
            return False
        if user.sysadmin:
            return True
        return session.scalar(sa.select(sa.exists().where(
            Membership.user_id == user.id, Membership.department_id.in_(allowed)))) is True

    return audience


def announce(session: Session, actor: User | None, *, dataset: Dataset, event: str, activity_type: str,
             organization_id: str, notify: Iterable[str], data: dict[str, Any],
             request_id: str | None = None, grant_id: str | None = None) -> None:
    """Record ``activity_type``, leave a notice for each department in ``notify`` and send ``event``.

    ``organization_id`` is the requesting (grantee) department: with the provider, the only ones who
    see the activity and receive the event.
    """
    record_activity(session, actor, object_id=dataset.id, department_id=dataset.owner_org,
                    activity_type=activity_type,
                    data={"share_request": {"id": request_id, "organization_id": organization_id,
                                            "grant_id": grant_id, **data}})
    for department_id in dict.fromkeys(notify):
        session.add(ShareNotice(organization_id=department_id, package_id=dataset.id, kind=event,
                                request_id=request_id, grant_id=grant_id, data=data))
    payload = {"package_id": dataset.id, "package_name": dataset.name, "provider_id": dataset.owner_org,
               "organization_id": organization_id, "request_id": request_id, "grant_id": grant_id, **data}
    enqueue(session, dataset, event, payload, audience=departments_audience({dataset.owner_org, organization_id}))
    session.flush()


def list_notices(session: Session, department_ids: Iterable[str], *, limit: int = 20) -> list[ShareNotice]:
    """The newest notices to these departments."""
    ids = list(department_ids)
    if not ids:
        return []
    return list(session.scalars(sa.select(ShareNotice).where(ShareNotice.organization_id.in_(ids))
                                .order_by(ShareNotice.created.desc(), ShareNotice.id).limit(limit)))
