"""Ranking actions: performance_report (the quarterly ranking) and performance_report_cases (the cases
behind one of its figures)."""
from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from marshmallow import fields

from ..api.fields import ParamsSchema
from ..api.registry import ActionContext, action
from . import service
from .rules import CRITERIA, GRADES, OUTCOMES, TOWN_CRITERIA

_QUARTER = fields.String(required=True, metadata={"description": "the quarter, e.g. 2026Q4"})
_AS_OF = fields.Date(load_default=None, metadata={"description": "the day the cases are judged on (default: "
                                                                 "today): a deadline after it is still pending"})
_FIGURE = {"type": "object", "description": "in_time, late, pending and rate (0–1, null without cases); "
                                            "satisfaction: satisfied, basically_satisfied, dissatisfied, rated, "
                                            "score (0–100) and rate; cases: the API call listing the cases"}
_ROW = {"type": "object", "properties": {
    "name": {"type": "string"}, "title": {"type": "string"}, "rank": {"type": "integer", "nullable": True},
    "score": {"type": "number", "nullable": True, "description": "0–100, the weighted mean of the criteria "
                                                                  "with cases"},
    "figures": {"type": "object", "additionalProperties": _FIGURE}}}
REPORT_OUT = {"type": "object", "properties": {
    "quarter": {"type": "string"}, "from": {"type": "string", "format": "date"},
    "to": {"type": "string", "format": "date"}, "as_of": {"type": "string", "format": "date"},
    "criteria": {"type": "array", "items": {"type": "string", "enum": list(CRITERIA)}},
    "town_criteria": {"type": "array", "items": {"type": "string", "enum": list(TOWN_CRITERIA)}},
    "weights": {"type": "object"}, "satisfaction_weights": {"type": "object"},
    "departments": {"type": "array", "items": _ROW}, "towns": {"type": "array", "items": _ROW},
    "units_not_in_catalog": {"type": "array", "items": {"type": "string"}},
    "notes": {"type": "array", "items": {"type": "object", "description": "{zh, en}: what the report cannot tell"}}}}
CASES_OUT = {"type": "array", "items": {"type": "object", "properties": {
    "criterion": {"type": "string"}, "ref": {"type": "string"}, "dataset": {"type": "string", "nullable": True},
    "unit": {"type": "string"}, "town": {"type": "string", "nullable": True},
    "due": {"type": "string", "format": "date", "nullable": True},
    "done": {"type": "string", "format": "date", "nullable": True}, "outcome": {"type": "string"}}}}


class ReportParams(ParamsSchema):
    quarter = _QUARTER
    as_of = _AS_OF


class CasesParams(ParamsSchema):
    quarter = _QUARTER
    as_of = _AS_OF
    criterion = fields.String(required=True, metadata={"description": "one of " + ", ".join(CRITERIA)})
    kind = fields.String(required=True, metadata={"description": "department or town"})
    unit = fields.String(required=True, metadata={"description": "the department (id or name) or the town"})
    outcome = fields.String(load_default=None, metadata={
        "description": "only " + " / ".join(OUTCOMES) + " (satisfaction: " + " / ".join(GRADES) + ")"})


def cases_call(report: dict[str, Any], criterion: str, kind: str, unit: str) -> str:
    """The API call that lists the cases behind a figure."""
    query = {"quarter": report["quarter"], "as_of": report["as_of"], "criterion": criterion, "kind": kind,
             "unit": unit}
    return "/api/3/action/performance_report_cases?" + urlencode(query)


def with_case_links(report: dict[str, Any]) -> dict[str, Any]:
    """The report with each figure's ``cases`` call."""
    for kind, rows in (("department", report["departments"]), ("town", report["towns"])):
        for row in rows:
            for criterion, figure in row["figures"].items():
                figure["cases"] = cases_call(report, criterion, kind, row["name"])
    return report


@action("performance_report", params=ReportParams, result=REPORT_OUT, read_only=True)
def performance_report(ctx: ActionContext, data: dict) -> dict:
    """The quarterly ranking (政务数据共享条例 art. 38): every department and town for a quarter, best
    first, on share requests, correction requests, petitions and service cases settled in time,
    freshness and satisfaction, with the weights (settings). For the data authority and the members
    of every department; counts only, no personal data."""
    quarter = service.parse_quarter(data["quarter"])
    report = service.performance_report(ctx.session, ctx.actor, ctx.config, quarter=quarter, as_of=data["as_of"])
    return with_case_links(report)


@action("performance_report_cases", params=CasesParams, result=CASES_OUT, read_only=True)
def performance_report_cases(ctx: ActionContext, data: dict) -> list:
    """The cases behind one figure of the quarterly ranking (their numbers and dates, no personal data):
    the data authority sees every unit's, a department its own, a town government its town's."""
    quarter = service.parse_quarter(data["quarter"])
    return service.report_cases(ctx.session, ctx.actor, ctx.config, quarter=quarter,
                                criterion=data["criterion"], kind=data["kind"], unit=data["unit"],
                                outcome=data["outcome"], as_of=data["as_of"])
