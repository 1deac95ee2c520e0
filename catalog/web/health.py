"""Catalog health for the county data authority: datasets per department, freshness by department,
overdue share requests and failing sync jobs, with server-drawn bar charts (no scripts, no CDN)."""
from __future__ import annotations

from typing import Any

from flask import render_template
from flask_babel import gettext as _
from flask_login import login_required

from ..auth import rules
from ..db import get_session
from ..departments.service import dataset_counts, departments_of, list_departments
from ..freshness.service import department_report
from ..sharing.service import list_requests
from ..sync import service as sync_service
from .common import actor, bp


def bars(rows: list[tuple[str, int]]) -> list[dict[str, Any]]:
    """Chart rows: label, value and the bar's share of the longest one (percent)."""
    top = max((value for _label, value in rows), default=0) or 1
    return [{"label": label, "value": value, "percent": round(100 * value / top, 1)} for label, value in rows]


def freshness_report(viewer) -> list[dict[str, Any]]:
    """Per-department freshness ranked (catalog.freshness)."""
    rows = department_report(get_session(), actor=viewer, everything=True)
    for row in rows:
        share = row.get("share_on_time")
        row["on_time_percent"] = None if share is None else round(100 * share)
    return rows


@bp.route("/health")
@login_required
def health():
    """The catalog at a glance: all of it for sysadmins, their own departments for department admins."""
    session = get_session()
    viewer = actor()
    admin_of = {d.id for d, role in departments_of(session, viewer) if role == "admin"}
    everything = rules.is_sysadmin(viewer)
    rules.require(everything or bool(admin_of),
                  _("Only the data authority (sysadmins) and department admins see catalog health."))
    departments = [d for d in list_departments(session) if everything or d.id in admin_of]
    counts = dataset_counts(session, [d.id for d in departments], viewer)
    per_department = sorted(((d.title, counts.get(d.id, 0)) for d in departments), key=lambda r: (-r[1], r[0]))
    overdue = list_requests(session, viewer, direction="incoming", organization_id=None, package_id=None,
                            status="pending", overdue=True, offset=0, limit=500)
    overdue_by_department: dict[str, int] = {}
    for request in overdue:
        title = request.dataset.organization.title
        overdue_by_department[title] = overdue_by_department.get(title, 0) + 1
    failures = []
    for job in sync_service.list_jobs(session, viewer):
        last = sync_service.list_runs(session, job, limit=1)
        if last and last[0].status == "failed":
            failures.append({"job": job, "run": last[0]})
    return render_template(
        "health.html", per_department=bars(per_department), overdue=overdue,
        overdue_chart=bars(sorted(overdue_by_department.items(), key=lambda r: (-r[1], r[0]))),
        failures=failures, total=sum(counts.values()), everything=everything,
        freshness=(freshness := [r for r in freshness_report(viewer) if everything or r["id"] in admin_of]),
        freshness_chart=bars([(r["title"], r["on_time_percent"]) for r in freshness or []
                              if r["on_time_percent"] is not None]))
