"""Catalog health for the county data authority: datasets per department, freshness by department,
overdue share requests and failing sync jobs, with server-drawn bar charts (no scripts, no CDN). Every
number links to the list behind it (/health/datasets for the freshness figures)."""
from __future__ import annotations

from typing import Any

from flask import abort, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required

from ..auth import rules
from ..db import get_session
from ..departments.service import departments_of, list_departments
from ..freshness import clock
from ..freshness.service import department_report, readable_freshness
from ..sharing.service import list_requests
from ..sync import service as sync_service
from . import metadata
from .common import actor, bp

STATUSES = (clock.FRESH, clock.DUE, clock.OVERDUE)


def bars(rows: list[tuple]) -> list[dict[str, Any]]:
    """Chart rows from ``(label, value[, url])``: label, value, the bar's share of the longest one (percent)
    and the link to the list behind the value."""
    top = max((row[1] for row in rows), default=0) or 1
    return [{"label": row[0], "value": row[1], "percent": round(100 * row[1] / top, 1),
             "url": row[2] if len(row) > 2 else None} for row in rows]


def status_label(status: str) -> str:
    """A freshness status in the page language."""
    return {clock.FRESH: _("Up to date"), clock.DUE: _("Update due"), clock.OVERDUE: _("Update overdue")}.get(
        status, status)


def _health_departments(session, viewer) -> tuple[list, bool, set[str]]:
    """The departments whose health ``viewer`` sees: all for sysadmins, those they administer otherwise."""
    admin_of = {d.id for d, role in departments_of(session, viewer) if role == "admin"}
    everything = rules.is_sysadmin(viewer)
    rules.require(everything or bool(admin_of),
                  _("Only the data authority (sysadmins) and department admins see catalog health."))
    return [d for d in list_departments(session) if everything or d.id in admin_of], everything, admin_of


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
    departments, everything, admin_of = _health_departments(session, viewer)
    freshness = [r for r in freshness_report(viewer) if everything or r["id"] in admin_of]
    counts = {r["id"]: r["total"] for r in freshness}  # published datasets: the same as the list behind them
    per_department = sorted(((d.title, counts.get(d.id, 0), url_for("web.health_datasets", organization=d.name))
                             for d in departments), key=lambda r: (-r[1], r[0]))
    overdue = list_requests(session, viewer, direction="incoming", organization_id=None, package_id=None,
                            status="pending", overdue=True, offset=0, limit=500)
    overdue_by_department: dict[str, int] = {}
    for request in overdue:
        title = request.dataset.organization.title
        overdue_by_department[title] = overdue_by_department.get(title, 0) + 1
    late_url = url_for("web.health") + "#late-h"
    failures = []
    for job in sync_service.list_jobs(session, viewer):
        last = sync_service.list_runs(session, job, limit=1)
        if last and last[0].status == "failed":
            failures.append({"job": job, "run": last[0]})
    return render_template(
        "health.html", per_department=bars(per_department), overdue=overdue,
        overdue_chart=bars(sorted(((t, n, late_url) for t, n in overdue_by_department.items()),
                                  key=lambda r: (-r[1], r[0]))),
        failures=failures, total=sum(counts.values()), everything=everything, freshness=freshness,
        freshness_chart=bars([(r["title"], r["on_time_percent"],
                               url_for("web.health_datasets", organization=r["name"]))
                              for r in freshness if r["on_time_percent"] is not None]))


@bp.route("/health/datasets")
@login_required
def health_datasets():
    """The datasets behind a health figure: one department's published datasets, of one freshness status."""
    session = get_session()
    departments, _everything, _admin_of = _health_departments(session, actor())
    department = next((d for d in departments if d.name == request.args.get("organization")), None)
    if department is None:
        abort(404)
    status = request.args.get("status") or ""
    if status and status not in STATUSES:
        abort(404)
    entries = [e for e in readable_freshness(session, None, owner_org=department.id, everything=True)
               if not status or e["status"] == status]
    rows = [{**e, "status_label": status_label(e["status"]),
             "cycle": metadata.choice_label("update_cycle", e["update_cycle"]) if e["update_cycle"] else "—"}
            for e in entries]
    return render_template("health_datasets.html", department=department, status=status, rows=rows,
                           statuses=[(s, status_label(s)) for s in STATUSES])
