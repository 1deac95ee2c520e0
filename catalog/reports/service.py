"""The quarterly ranking of departments and towns (county report; 政务数据共享条例 art. 38).

Each criterion is computed from the catalog's own cases (see :mod:`catalog.reports.rules` for what
counts as in time):

* ``share_requests`` — share requests to the department's datasets due in the quarter (catalog/sharing;
  the stored deadline: 10 working days, extensions and 补正 pauses included);
* ``objections`` — correction requests to the department's data due in the quarter (catalog/objections);
* ``freshness`` — the share of the department's datasets not overdue against their update cycle, **as
  of the report day** (catalog/freshness keeps no history of past quarters);
* ``petitions`` — petition records (schema ``petition``) due in the quarter, by ``responsible_unit``
  (a department's title) and by the town their ``place`` names; deadline per the 信访工作条例;
* ``service_cases`` — service records (schema ``service``) due in the quarter by ``department``: due
  ``promised_days`` working days (the configured calendar) after the day of ``accepted_at``;
* ``satisfaction`` — petition and service records settled in the quarter with a rating, scored with
  ``REPORT_SATISFACTION_WEIGHTS``.

The report carries counts and identifiers of cases only: no names, ID numbers or texts of the records.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Iterator

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ..auth import rules as auth
from ..auth.models import User
from ..datasets.models import Dataset, Resource
from ..datastore.models import DatastoreTable, Record
from ..db import utcnow
from ..departments.models import Department
from ..departments.service import departments_of
from ..errors import ValidationError
from ..freshness import clock
from ..freshness.service import grace_setting, readable_freshness
from ..objections.models import Objection
from ..sharing.models import ShareRequest
from ..sharing.workdays import add_working_days, parse_holidays
from . import rules
from .rules import CRITERIA, GRADES, TOWN_CRITERIA, Quarter

UTC8 = dt.timezone(dt.timedelta(hours=8))
KINDS = ("department", "town")
#: share request states that were answered (decided)
DECIDED = ("approved", "rejected", "revoked")


@dataclass
class Case:
    """One case behind a figure: what it is, whose, when it was due and settled, and how it fared."""

    criterion: str
    ref: str                       # request or objection id, case or petition number, dataset name
    dataset: str | None            # the dataset it belongs to (name)
    department: str | None         # the responsible department's id (None: no catalog department)
    unit: str                      # the responsible unit as the record or catalog names it
    town: str | None
    due: dt.date | None
    done: dt.date | None
    outcome: str                   # in_time / late / pending, or the satisfaction grade
    grade: str | None = None

    def out(self) -> dict[str, Any]:
        """The case as the API and the pages show it (no personal data: none is held here)."""
        return {"criterion": self.criterion, "ref": self.ref, "dataset": self.dataset, "unit": self.unit,
                "town": self.town, "due": self.due.isoformat() if self.due else None,
                "done": self.done.isoformat() if self.done else None, "outcome": self.outcome}


# --- settings and permissions -------------------------------------------------------------------------


def settings(config: dict[str, Any]) -> tuple[dict[str, float], dict[str, float]]:
    """The criterion weights and the satisfaction grade scores; a bad setting is a 409 naming it."""
    try:
        weights = rules.parse_weights(config.get("REPORT_WEIGHTS", ""), CRITERIA, "REPORT_WEIGHTS")
        grades = rules.parse_weights(config.get("REPORT_SATISFACTION_WEIGHTS", ""), GRADES,
                                     "REPORT_SATISFACTION_WEIGHTS")
    except ValueError as error:
        raise ValidationError.single("settings", str(error)) from None
    if not any(grades.values()):
        raise ValidationError.single("settings", "REPORT_SATISFACTION_WEIGHTS: at least one grade must score")
    return weights, grades


def is_authority(session: Session, actor: User | None, config: dict[str, Any]) -> bool:
    """The county data authority (sysadmins, CATALOG_AUTHORITY_DEPARTMENT's editors): everything."""
    return auth.is_authority(session, actor, config.get("AUTHORITY_DEPARTMENT"))


def may_see_report(session: Session, actor: User | None, config: dict[str, Any]) -> bool:
    """The ranking is for the authority and every department's members (its figures are counts only)."""
    return is_authority(session, actor, config) or (actor is not None and bool(departments_of(session, actor)))


def may_see_cases(session: Session, actor: User | None, config: dict[str, Any], kind: str, unit: str) -> bool:
    """The cases behind a figure: the authority's for every unit; a department's members see their own
    department's, and a town government's members (its title names the town) their town's."""
    if is_authority(session, actor, config):
        return True
    if actor is None:
        return False
    for department, _role in departments_of(session, actor):
        if kind == "department" and unit in (department.id, department.name):
            return True
        if kind == "town" and unit and unit in (department.title or ""):
            return True
    return False


def require_report(session: Session, actor: User | None, config: dict[str, Any]) -> None:
    """403 unless the actor may see the ranking."""
    auth.require(may_see_report(session, actor, config),
                 "The quarterly ranking is for the data authority and the departments' members")


# --- the cases ----------------------------------------------------------------------------------------


def _local_date(value: Any) -> dt.date | None:
    """The Beijing-time day of an ISO date or date-time (a record's text), or of a stored UTC moment."""
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value.astimezone(UTC8).date() if value.tzinfo else value.date()
    if isinstance(value, dt.date):
        return value
    text = str(value)
    try:
        if len(text) <= 10:
            return dt.date.fromisoformat(text)
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None  # a record the schema let through with an odd value: left out, not a crash
    return moment.astimezone(UTC8).date() if moment.tzinfo else moment.date()


def _department_lookup(departments: list[Department]) -> dict[str, Department]:
    lookup: dict[str, Department] = {}
    for department in departments:
        for label in (department.name, department.title):
            if label:
                lookup[label.strip()] = department
    return lookup


def _records(session: Session, schema: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """(dataset name, record) of every live record of the tables bound to the record schema ``schema``."""
    query = (sa.select(Dataset.name, Record.data)
             .join(DatastoreTable, DatastoreTable.resource_id == Record.resource_id)
             .join(Resource, Resource.id == Record.resource_id).join(Dataset, Dataset.id == Resource.package_id)
             .where(Record.deleted.is_(False), Dataset.state != "deleted",
                    sa.or_(DatastoreTable.record_schema == schema, DatastoreTable.record_schema.like(f"{schema}@%")))
             .order_by(Dataset.name, Record.key))
    for name, data in session.execute(query):
        if isinstance(data, dict):
            yield name, data


def _share_request_cases(session: Session, quarter: Quarter, as_of: dt.date) -> Iterator[Case]:
    query = (sa.select(ShareRequest, Dataset.name, Dataset.owner_org, Department.title)
             .join(Dataset, Dataset.id == ShareRequest.package_id)
             .join(Department, Department.id == Dataset.owner_org)
             .where(ShareRequest.deadline.between(quarter.first_day, quarter.last_day))
             .order_by(ShareRequest.deadline, ShareRequest.id))
    for request, dataset, owner, title in session.execute(query):
        done = request.decided_at.date() if request.decided_at and request.status in DECIDED else None
        yield Case("share_requests", request.id, dataset, owner, title, None, request.deadline, done,
                   rules.outcome(request.deadline, done, as_of, stopped=request.status == "returned"))


def _objection_cases(session: Session, quarter: Quarter, as_of: dt.date) -> Iterator[Case]:
    query = (sa.select(Objection, Dataset.name, Department.title)
             .join(Dataset, Dataset.id == Objection.package_id)
             .join(Department, Department.id == Objection.provider_id)
             .where(Objection.deadline.between(quarter.first_day, quarter.last_day))
             .order_by(Objection.deadline, Objection.id))
    for objection, dataset, title in session.execute(query):
        done = objection.resolved.date() if objection.resolved else None
        yield Case("objections", objection.id, dataset, objection.provider_id, title, None, objection.deadline,
                   done, rules.outcome(objection.deadline, done, as_of))


def _freshness_cases(session: Session, config: dict[str, Any], titles: dict[str, str]) -> Iterator[Case]:
    now = utcnow()
    for entry in readable_freshness(session, None, now, grace=grace_setting(config), everything=True):
        outcome = "late" if entry["status"] == clock.OVERDUE else "in_time"
        due = _local_date(entry["due_at"]) if entry.get("due_at") else None
        yield Case("freshness", entry["name"], entry["name"], entry["owner_org"],
                   titles.get(entry["owner_org"], ""), None, due, None, outcome)


def _petition_cases(session: Session, quarter: Quarter, as_of: dt.date,
                    departments: dict[str, Department]) -> Iterator[Case]:
    for dataset, record in _records(session, "petition"):
        accepted = _local_date(record.get("accepted_on"))
        status = record.get("status")
        if accepted is None or status == "not_accepted":
            continue  # never accepted: the 60 days never started
        unit = str(record.get("responsible_unit") or "").strip()
        department = departments.get(unit)
        town = rules.town_of(record.get("place"))
        answered = status in ("replied", "completed")
        done = _local_date(record.get("completed_on")) if answered else None
        deadline = rules.petition_deadline(accepted, _local_date(record.get("extended_deadline")))
        number = str(record.get("petition_number") or "")
        if deadline in quarter:
            yield Case("petitions", number, dataset, department.id if department else None, unit, town, deadline,
                       done, rules.outcome(deadline, done, as_of))
        grade = rules.GRADE_OF.get(record.get("satisfaction"))
        if grade and done in quarter and done <= as_of:
            yield Case("satisfaction", number, dataset, department.id if department else None, unit, town,
                       None, done, grade, grade)


def _service_cases(session: Session, quarter: Quarter, as_of: dt.date, departments: dict[str, Department],
                   config: dict[str, Any]) -> Iterator[Case]:
    holidays, workdays = parse_holidays(config.get("HOLIDAYS")), parse_holidays(config.get("WORKDAYS"))
    for dataset, record in _records(session, "service"):
        accepted = _local_date(record.get("accepted_at"))
        status = record.get("status")
        if accepted is None or status in ("rejected", "returned"):
            continue  # not accepted or sent back: no promise to keep
        try:
            days = int(record.get("promised_days"))
        except (TypeError, ValueError):
            continue
        unit = str(record.get("department") or "").strip()
        department = departments.get(unit)
        due = add_working_days(accepted, days, holidays, workdays)
        done = _local_date(record.get("completed_at")) if status == "completed" else None
        number = str(record.get("case_number") or "")
        if due in quarter:
            yield Case("service_cases", number, dataset, department.id if department else None, unit, None, due,
                       done, rules.outcome(due, done, as_of))
        grade = rules.GRADE_OF.get(record.get("satisfaction"))
        if grade and done in quarter and done <= as_of:
            yield Case("satisfaction", number, dataset, department.id if department else None, unit, None,
                       None, done, grade, grade)


def cases(session: Session, config: dict[str, Any], quarter: Quarter, as_of: dt.date) -> list[Case]:
    """Every case of every criterion for the quarter."""
    departments = list(session.scalars(sa.select(Department).where(Department.state != "deleted")))
    lookup = _department_lookup(departments)
    found = [*_share_request_cases(session, quarter, as_of), *_objection_cases(session, quarter, as_of),
             *_freshness_cases(session, config, {d.id: d.title for d in departments}),
             *_petition_cases(session, quarter, as_of, lookup),
             *_service_cases(session, quarter, as_of, lookup, config)]
    return found


# --- the report ---------------------------------------------------------------------------------------


def _figures(unit_cases: list[Case], criteria: tuple[str, ...], grade_weights: dict[str, float]
             ) -> dict[str, dict[str, Any]]:
    figures: dict[str, dict[str, Any]] = {}
    top = max(grade_weights.values())
    for criterion in criteria:
        mine = [c for c in unit_cases if c.criterion == criterion]
        if criterion == "satisfaction":
            tally = {g: sum(c.grade == g for c in mine) for g in GRADES}
            score = rules.satisfaction_score(tally, grade_weights)
            figures[criterion] = {**tally, "rated": sum(tally.values()),
                                  "score": None if score is None else round(score, 2),
                                  "rate": None if score is None else score / top}
        else:
            tally = {o: sum(c.outcome == o for c in mine) for o in rules.OUTCOMES}
            figures[criterion] = {**tally, "rate": rules.rate(tally)}
    return figures


def _row(name: str, title: str, unit_cases: list[Case], criteria: tuple[str, ...], weights: dict[str, float],
         grade_weights: dict[str, float]) -> dict[str, Any]:
    figures = _figures(unit_cases, criteria, grade_weights)
    score = rules.overall({c: f["rate"] for c, f in figures.items()}, weights)
    return {"name": name, "title": title, "score": score, "rank": None, "figures": figures}


def parse_quarter(value: Any) -> Quarter:
    """The quarter asked for; a 409 naming ``quarter`` otherwise."""
    try:
        return Quarter.parse(value)
    except ValueError as error:
        raise ValidationError.single("quarter", str(error)) from None


def performance_report(session: Session, actor: User | None, config: dict[str, Any], *, quarter: Quarter,
                       as_of: dt.date | None = None, check: bool = True) -> dict[str, Any]:
    """The ranking of every department and every town for ``quarter`` as of ``as_of`` (default: today),
    best first, with each criterion's counts and rate, the weights and what each rank rests on.
    ``check=False`` is for the command line, run by the operator."""
    if check:
        require_report(session, actor, config)
    weights, grade_weights = settings(config)
    as_of = as_of or utcnow().date()
    found = cases(session, config, quarter, as_of)
    departments = list(session.scalars(sa.select(Department).where(Department.state != "deleted")
                                       .order_by(Department.name)))
    by_department: dict[str, list[Case]] = {}
    by_town: dict[str, list[Case]] = {}
    for case in found:
        if case.department:
            by_department.setdefault(case.department, []).append(case)
        if case.town and case.criterion in TOWN_CRITERIA:
            by_town.setdefault(case.town, []).append(case)
    towns = _towns(session) | set(by_town)
    department_rows = rules.assign_ranks([
        {**_row(d.name, d.title, by_department.get(d.id, []), CRITERIA, weights, grade_weights), "id": d.id}
        for d in departments])
    town_rows = rules.assign_ranks([_row(town, town, by_town.get(town, []), TOWN_CRITERIA, weights, grade_weights)
                                    for town in sorted(towns)])
    unmatched = sorted({c.unit for c in found if c.department is None and c.unit
                        and c.criterion in ("petitions", "service_cases", "satisfaction")})
    return {"quarter": str(quarter), "from": quarter.first_day.isoformat(), "to": quarter.last_day.isoformat(),
            "as_of": as_of.isoformat(), "criteria": list(CRITERIA), "town_criteria": list(TOWN_CRITERIA),
            "weights": weights, "satisfaction_weights": grade_weights,
            "departments": department_rows, "towns": town_rows, "units_not_in_catalog": unmatched,
            "notes": NOTES}


#: what the report cannot tell, said with it (Chinese for the joint meeting, English for the API's readers)
NOTES = [
    {"zh": "信访：“收到信访事项之日起 15 日内决定是否受理”一项未纳入排名——信访记录标准（petition@1）没有收到日期；"
           "按期办结按《信访工作条例》计：受理之日起 60 日（自然日），延期不超过 30 日",
     "en": "petitions: the decision on acceptance within 15 days of receipt is not ranked: the petition record schema "
           "(petition@1) holds no date of receipt; settlement is: 60 calendar days from acceptance, at most 30 more "
           "when extended"},
    {"zh": "目录更新：为报告当日各数据资源的更新状态（不保存以往季度的历史）",
     "en": "freshness: the datasets' state on the report day (no history of past quarters is kept)"},
    {"zh": "乡镇：按信访件和满意度排名（记录中写明地点的指标）；办件记录（service@1）不含乡镇",
     "en": "towns: ranked on petitions and satisfaction, the criteria whose records name a place; service records "
           "(service@1) name no town"},
]


def _towns(session: Session) -> set[str]:
    """The towns the household register names (schema ``household``, field ``town``), read in the database
    (the register may hold hundreds of thousands of households)."""
    town = Record.data["town"].as_string()
    query = (sa.select(town).distinct()
             .join(DatastoreTable, DatastoreTable.resource_id == Record.resource_id)
             .join(Resource, Resource.id == Record.resource_id).join(Dataset, Dataset.id == Resource.package_id)
             .where(Record.deleted.is_(False), town.is_not(None), Dataset.state != "deleted",
                    sa.or_(DatastoreTable.record_schema == "household",
                           DatastoreTable.record_schema.like("household@%"))))
    return {str(name).strip() for name in session.scalars(query) if name and str(name).strip()}


def report_cases(session: Session, actor: User | None, config: dict[str, Any], *, quarter: Quarter,
                 criterion: str, kind: str, unit: str, outcome: str | None = None,
                 as_of: dt.date | None = None) -> list[dict[str, Any]]:
    """The cases behind one figure: ``criterion`` of the department (id or name) or town ``unit``, of
    one ``outcome`` (in_time, late, pending, or a satisfaction grade) or all."""
    require_report(session, actor, config)
    errors: dict[str, list[str]] = {}
    if criterion not in CRITERIA:
        errors["criterion"] = ["must be one of: " + ", ".join(CRITERIA)]
    if kind not in KINDS:
        errors["kind"] = ["must be one of: " + ", ".join(KINDS)]
    elif kind == "town" and criterion not in TOWN_CRITERIA and "criterion" not in errors:
        errors["criterion"] = ["towns are ranked on " + ", ".join(TOWN_CRITERIA) + " only"]
    allowed = GRADES if criterion == "satisfaction" else rules.OUTCOMES
    if outcome is not None and outcome not in allowed:
        errors["outcome"] = ["must be one of: " + ", ".join(allowed)]
    if errors:
        raise ValidationError(errors)
    department = None
    if kind == "department":
        department = session.scalar(sa.select(Department).where(
            sa.or_(Department.id == unit, Department.name == unit), Department.state != "deleted"))
        if department is None:
            raise ValidationError.single("unit", f"no department {unit!r}")
    auth.require(may_see_cases(session, actor, config, kind, department.name if department else unit),
                 "Only the data authority and the unit's own department see the cases behind its figures")
    settings(config)
    found = cases(session, config, quarter, as_of or utcnow().date())
    chosen = [c for c in found if c.criterion == criterion
              and (c.department == department.id if department else c.town == unit)
              and (outcome is None or c.outcome == outcome)]
    return [c.out() for c in chosen]
