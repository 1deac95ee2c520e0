"""The quarterly ranking page (/report/quarterly): every department and town ranked, with server-drawn
bar charts (no scripts, no CDN), the weights, the .xlsx download, and every figure linked to the page
listing the cases behind it (/report/quarterly/cases)."""
from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Response, abort, current_app, render_template, request, url_for
from flask_babel import get_locale, gettext as _
from flask_login import login_required

from ..db import get_session, utcnow
from ..errors import ValidationError
from ..reports import service, xlsx
from ..reports.rules import CRITERIA, GRADES, OUTCOMES, Quarter
from .common import actor, bp


def criterion_labels() -> dict[str, str]:
    """The criteria in the page language."""
    return {"share_requests": _("Share requests answered in time"),
            "objections": _("Correction requests settled in time"),
            "freshness": _("Datasets updated on time"), "petitions": _("Petitions settled in time"),
            "service_cases": _("Service cases completed within the promised days"),
            "satisfaction": _("Satisfaction (score)")}


def outcome_labels() -> dict[str, str]:
    """Case outcomes and satisfaction grades in the page language."""
    return {"in_time": _("In time"), "late": _("Late"), "pending": _("Not yet due"),
            "satisfied": _("Satisfied"), "basically_satisfied": _("Basically satisfied"),
            "dissatisfied": _("Dissatisfied")}


def _current_quarter() -> Quarter:
    today = utcnow().date()
    return Quarter(today.year, (today.month - 1) // 3 + 1)


def _asked() -> tuple[Quarter, dt.date | None, list[str]]:
    """The quarter and day asked for in the query string; what was wrong with them."""
    problems = []
    quarter = _current_quarter()
    if request.args.get("quarter"):
        try:
            quarter = Quarter.parse(request.args["quarter"])
        except ValueError:
            problems.append(_("%(value)s is not a quarter: write it as 2026Q4.", value=request.args["quarter"]))
    as_of = None
    if request.args.get("as_of"):
        try:
            as_of = dt.date.fromisoformat(request.args["as_of"])
        except ValueError:
            problems.append(_("%(value)s is not a date (YYYY-MM-DD).", value=request.args["as_of"]))
    return quarter, as_of, problems


def _percent(figure: dict[str, Any]) -> float | None:
    return None if figure["rate"] is None else round(100 * figure["rate"], 1)


def _chart(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Bars of the overall scores (0–100), best first, each linking to the unit's row."""
    return [{"label": r["title"], "value": r["score"], "percent": r["score"], "anchor": f"u-{i}"}
            for i, r in enumerate(rows) if r["score"] is not None]


@bp.route("/report/quarterly")
@login_required
def quarterly_report():
    """The ranking of the quarter asked for (default: the current one)."""
    quarter, as_of, problems = _asked()
    session = get_session()
    report = service.performance_report(session, actor(), current_app.config, quarter=quarter, as_of=as_of)
    notes = [note["zh" if str(get_locale()).startswith("zh") else "en"] for note in report["notes"]]
    return render_template("reports/quarterly.html", report=report, problems=problems, notes=notes,
                           labels=criterion_labels(), outcomes=outcome_labels(), percent=_percent,
                           department_chart=_chart(report["departments"]), town_chart=_chart(report["towns"]),
                           previous=_shift(quarter, -1), following=_shift(quarter, 1))


def _shift(quarter: Quarter, by: int) -> str:
    index = quarter.year * 4 + quarter.number - 1 + by
    return str(Quarter(index // 4, index % 4 + 1))


@bp.route("/report/quarterly.xlsx")
@login_required
def quarterly_report_xlsx():
    """The same ranking as an .xlsx workbook for the joint meeting (联席会议)."""
    quarter, as_of, problems = _asked()
    if problems:
        abort(400)
    report = service.performance_report(get_session(), actor(), current_app.config, quarter=quarter, as_of=as_of)
    body = xlsx.workbook(report, site_url=request.host_url)
    return Response(body, mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                    headers={"Content-Disposition": f'attachment; filename="ranking-{quarter}.xlsx"'})


@bp.route("/report/quarterly/cases")
@login_required
def quarterly_report_cases():
    """The cases behind one figure of the ranking (numbers and dates only)."""
    quarter, as_of, problems = _asked()
    criterion, kind = request.args.get("criterion", ""), request.args.get("kind", "")
    unit, outcome = request.args.get("unit", ""), request.args.get("outcome") or None
    if problems or criterion not in CRITERIA or kind not in service.KINDS:
        abort(404)
    try:
        cases = service.report_cases(get_session(), actor(), current_app.config, quarter=quarter,
                                     criterion=criterion, kind=kind, unit=unit, outcome=outcome, as_of=as_of)
    except ValidationError:
        abort(404)
    choices = GRADES if criterion == "satisfaction" else OUTCOMES
    back = url_for("web.quarterly_report", quarter=str(quarter), as_of=as_of.isoformat() if as_of else None)
    return render_template("reports/cases.html", cases=cases, quarter=quarter, criterion=criterion, kind=kind,
                           unit=unit, outcome=outcome, choices=choices, labels=criterion_labels(),
                           outcomes=outcome_labels(), back=back, as_of=as_of)
