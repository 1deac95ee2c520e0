"""Record and read the activity stream."""
from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ..auth import rules
from ..auth.models import User
from .models import Activity

MAX_LIMIT = 100


def changes_between(before: dict[str, Any], after: dict[str, Any]) -> list[dict[str, Any]]:
    """The fields whose values differ between two dumps, as ``{field, old, new}`` entries."""
    changed = []
    for key in sorted(set(before) | set(after)):
        if key in ("metadata_modified", "revision", "modified", "last_modified"):
            continue
        if before.get(key) != after.get(key):
            changed.append({"field": key, "old": before.get(key), "new": after.get(key)})
    return changed


def record_activity(session: Session, actor: User | None, *, object_id: str, activity_type: str,
                    department_id: str | None, data: dict[str, Any]) -> Activity:
    """Append one activity; it is committed with the change it describes."""
    activity = Activity(user_id=actor.id if actor else None, object_id=object_id,
                        activity_type=activity_type, department_id=department_id, data=data)
    session.add(activity)
    return activity


def list_activities(session: Session, *, viewer: User | None, object_id: str | None = None,
                    department_id: str | None = None, offset: int = 0,
                    limit: int = 31) -> list[Activity]:
    """Activities of one object, or of a department and its datasets, newest first, as ``viewer`` may see them.

    An activity about a share request (which department asked, for which fields, why it was refused or
    revoked) is shown only where the request itself is (:func:`catalog.auth.rules.can_see_share_request`):
    to the two departments' members and to sysadmins.
    """
    query = sa.select(Activity)
    if not rules.is_sysadmin(viewer):
        mine = rules.member_departments(viewer)
        requester = Activity.data[("share_request", "organization_id")].as_string()
        query = query.where(sa.or_(requester.is_(None), Activity.department_id.in_(mine), requester.in_(mine)))
    if object_id is not None:
        query = query.where(Activity.object_id == object_id)
    if department_id is not None:
        query = query.where(sa.or_(Activity.department_id == department_id,
                                   Activity.object_id == department_id))
    query = query.order_by(Activity.timestamp.desc(), Activity.id).offset(offset)
    return list(session.scalars(query.limit(min(limit, MAX_LIMIT))))
