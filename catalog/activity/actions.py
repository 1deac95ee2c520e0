"""CKAN activity stream actions."""
from __future__ import annotations

from ..api.registry import ActionContext, action
from ..auth import rules
from ..datasets.models import Dataset
from ..datasets.schemas import ActivityListParams, ActivityOut
from ..datasets.service import show_dataset
from ..departments.service import get_department
from .service import list_activities


@action("package_activity_list", params=ActivityListParams, result=[ActivityOut], read_only=True)
def package_activity_list(ctx: ActionContext, data: dict) -> list:
    """A dataset's activity, newest first."""
    dataset = show_dataset(ctx.session, ctx.actor, data["id"])
    return ActivityOut(many=True).dump(list_activities(
        ctx.session, viewer=ctx.actor, object_id=dataset.id, offset=data["offset"], limit=data["limit"]))


@action("organization_activity_list", params=ActivityListParams, result=[ActivityOut], read_only=True)
def organization_activity_list(ctx: ActionContext, data: dict) -> list:
    """A department's activity and its datasets' activity, newest first.

    Activities of datasets the caller cannot read, and membership changes (to non-members), are left out.
    """
    department = get_department(ctx.session, data["id"])
    activities = list_activities(ctx.session, viewer=ctx.actor, department_id=department.id,
                                 offset=data["offset"], limit=data["limit"])
    see_members = rules.can_see_members(ctx.session, ctx.actor, department.id)
    visible = []
    for activity in activities:
        if "member" in (activity.data or {}) and not see_members:
            continue  # who belongs to a department is for its members to see
        if activity.object_id != department.id:
            dataset = ctx.session.get(Dataset, activity.object_id)
            if dataset is None or not rules.can_read_dataset(
                    ctx.session, ctx.actor, owner_org=dataset.owner_org, private=dataset.private,
                    state=dataset.state if dataset.state != "deleted" else "active"):
                continue
        visible.append(activity)
    return ActivityOut(many=True).dump(visible)
