"""The officer's dashboard (the landing page after login): what waits for me and my departments."""
from __future__ import annotations

from flask import current_app, render_template
from flask_login import login_required

from ..activity.service import list_activities
from ..auth import rules
from ..db import get_session, utcnow
from ..departments.service import departments_of
from ..freshness.service import overdue_datasets
from ..sharing.service import is_overdue, list_requests
from ..sync import quarantine
from ..sync import service as sync_service
from .common import actor, bp
from .datasets import activity_text
from .objections import dashboard_panel as corrections_panel
from .sharing import dashboard_panel as sharing_dashboard_panel, status_label

LIMIT = 20


@bp.route("/dashboard")
@login_required
def dashboard():
    """My pending approvals with their deadlines, my requests, my departments' overdue datasets, failing
    sync jobs, open quarantine rows and recent activity — each linking to the page behind it."""
    session = get_session()
    viewer = actor()
    today = utcnow().date()
    mine = departments_of(session, viewer)
    admin_of = {d.id for d, role in mine if role == "admin"}
    common = dict(organization_id=None, package_id=None, overdue=None, offset=0, limit=LIMIT)
    incoming = list_requests(session, viewer, direction="incoming", status="pending", **common)
    approvals = [{"request": r, "overdue": is_overdue(r, today)} for r in incoming
                 if rules.is_sysadmin(viewer) or r.dataset.owner_org in admin_of]
    outgoing = [{"request": r, "status": status_label(r.status)}
                for r in list_requests(session, viewer, direction="outgoing", status=None, **common)]
    member_ids = {d.id for d, _role in mine}
    overdue = [e for e in overdue_datasets(session, actor=viewer)
               if rules.is_sysadmin(viewer) or e["owner_org"] in member_ids][:LIMIT]
    failing = []
    for job in sync_service.list_jobs(session, viewer):
        last = sync_service.list_runs(session, job, limit=1)
        if last and last[0].status == "failed":
            failing.append({"job": job, "run": last[0]})
    open_rows = quarantine.list_entries(session, viewer, resource_id=None, job_id=None, status="open",
                                        offset=0, limit=101)
    activities = []
    for department, _role in mine[:5]:
        activities += list_activities(session, viewer=viewer, department_id=department.id, limit=10)
    activities = sorted({a.id: a for a in activities}.values(), key=lambda a: a.timestamp, reverse=True)[:10]
    return render_template("dashboard.html", approvals=approvals, outgoing=outgoing, overdue=overdue,
                           failing=failing, open_rows=len(open_rows), departments=mine,
                           corrections=corrections_panel(session, viewer, current_app.config),
                           sharing_panel=sharing_dashboard_panel(session, viewer),
                           activities=[{"when": a.timestamp, "what": activity_text(a), "activity": a}
                                       for a in activities])
