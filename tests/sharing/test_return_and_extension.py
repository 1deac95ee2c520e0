"""Answering on time (decree 809 arts. 20–22): basis and scenario, the 补正 return that stops the clock,
the resubmission that restarts it, and one extension the data authority decides.

Calendar worked by hand (National Day 2026 as configured here: holidays Thu 10-01 .. Wed 10-07,
make-up working days Sun 09-20 and Sat 10-10):

         September 2026                 October 2026
    Mo Tu We Th Fr Sa Su          Mo Tu We Th Fr Sa Su
    14 15 16 17 18 19 [20]                  (1)(2)(3)(4)
    21 22 23 24 25 26 27           (5)(6)(7) 8  9 [10] 11
    28 29 30                       12 13 14 15 16  17 18
                                   19 20 21 22 23  24 25
                                   26 27 28 29 30
- filed Mon 09-21: 22 23 24 25 28 29 30 | holidays | 8 9 10 → due Sat 10-10 (the make-up day);
- returned Wed 09-23 (2 working days used, 8 left), resubmitted Fri 10-09: the clock stood still on
  24 25 28 29 30 8 9 (7 working days) → due 10-10 + 7 = 10 12 13 14 15 16 19 20 → Tue 10-20,
  the same as 8 working days counted from 10-09: 10 12 13 14 15 16 19 20;
- then an extension of 5 approved: 21 22 23 26 27 → Tue 10-27.
"""
from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from catalog.activity.models import Activity
from catalog.sharing.models import ShareNotice, ShareRequest
from catalog.sharing.workdays import Calendar, parse_holidays
from catalog.sharing.workflow import deadline_after_pause
from catalog.webhooks.models import WebhookDelivery
from tests.conftest import dataset_values
from tests.sharing.cast import BASIS, SCENARIO, backdate, file_request, utc

D = dt.date.fromisoformat
NATIONAL_DAY = Calendar(parse_holidays("2026-10-01,2026-10-02,2026-10-03,2026-10-04,2026-10-05,2026-10-06,2026-10-07"),
                        parse_holidays("2026-09-20,2026-10-10"))


# --- the clock, by hand ----------------------------------------------------------------------------


def test_the_worked_example_over_national_day():
    filed_due = NATIONAL_DAY.add(D("2026-09-21"), 10)
    assert filed_due == D("2026-10-10")
    assert deadline_after_pause(filed_due, D("2026-09-23"), D("2026-10-09"), NATIONAL_DAY) == (D("2026-10-20"), 7)
    assert NATIONAL_DAY.add(D("2026-10-20"), 5) == D("2026-10-27")


@pytest.mark.parametrize("returned, resubmitted, deadline, paused", [
    ("2026-09-23", "2026-09-23", "2026-10-10", 0),   # sent back and completed the same day: nothing stood still
    ("2026-09-30", "2026-10-05", "2026-10-10", 0),   # away only over the holiday: no working day lost
    ("2026-09-30", "2026-10-08", "2026-10-12", 1),   # the first day after the holiday counts as one
    ("2026-10-09", "2026-10-10", "2026-10-12", 1),   # the make-up Saturday is a working day
    ("2026-10-09", "2026-10-11", "2026-10-12", 1),   # ... the Sunday after it is not
])
def test_only_working_days_after_the_return_up_to_the_resubmission_stand_still(returned, resubmitted, deadline,
                                                                               paused):
    assert deadline_after_pause(D("2026-10-10"), D(returned), D(resubmitted), NATIONAL_DAY) == (D(deadline), paused)


def test_working_days_between_counts_after_the_start_up_to_and_including_the_end():
    assert NATIONAL_DAY.between(D("2026-09-25"), D("2026-09-28")) == 1   # Fri → Mon: the Monday
    assert NATIONAL_DAY.between(D("2026-09-28"), D("2026-09-28")) == 0
    assert NATIONAL_DAY.between(D("2026-09-28"), D("2026-09-25")) == 0   # backwards: none
    assert NATIONAL_DAY.between(D("2026-09-19"), D("2026-09-21")) == 2   # make-up Sunday 09-20 and Monday


# --- basis and scenario ----------------------------------------------------------------------------


@pytest.mark.parametrize("field", ["basis", "scenario"])
@pytest.mark.parametrize("value", ["", "   "])
def test_a_new_request_must_state_its_basis_and_scenario(api, share_cast, field, value):
    data = {"package_id": share_cast.dataset["id"], "organization_id": "ningshan-mzj", "purpose": "核实",
            "basis": BASIS, "scenario": SCENARIO, field: value}
    reply = api.call("share_request_create", data, token=share_cast.tokens["consumer_editor"])
    assert reply.status == 409 and list(reply.error) == ["__type", field], reply.body


def test_basis_and_scenario_are_kept_trimmed_and_shown_to_the_provider(api, share_cast):
    made = file_request(api, share_cast, basis=f"  {BASIS} ", scenario=f"{SCENARIO}\n")
    shown = api.call("share_request_show", {"id": made["id"]}, token=share_cast.tokens["provider_member"]).result
    assert (shown["basis"], shown["scenario"]) == (BASIS, SCENARIO)


# --- return (补正) -----------------------------------------------------------------------------------


def _return(api, cast, request_id, missing=None, role="provider_admin"):
    return api.call("share_request_return", {"id": request_id, "missing": missing or {
        "basis": "请写明法律法规的具体条款", "fields": "说明为何需要明文身份证号"}}, token=cast.tokens[role])


def test_a_returned_request_lists_what_is_missing_stops_its_clock_and_tells_the_requester(api, db, share_cast):
    made = file_request(api, share_cast)
    reply = _return(api, share_cast, made["id"])
    assert reply.status == 200, reply.body
    result = reply.result
    assert result["status"] == "returned" and result["clock_stopped"] is True
    assert result["missing"] == {"basis": "请写明法律法规的具体条款", "fields": "说明为何需要明文身份证号"}
    assert result["deadline"] == made["deadline"] and result["decided_at"] is None
    # the requester sees it in its dashboard notices; the provider does not notify itself
    notices = db.scalars(sa.select(ShareNotice).where(ShareNotice.request_id == made["id"])).all()
    assert [(n.organization_id, n.kind) for n in notices] == [(share_cast.consumer["id"], "request.returned")]
    [activity] = db.scalars(sa.select(Activity).where(Activity.activity_type == "returned share request")).all()
    assert activity.data["share_request"]["missing"]["basis"] == "请写明法律法规的具体条款"
    assert activity.user_id == share_cast.people["provider_admin"].id   # the dataset's activity says who returned it
    # a returned request is not overdue, whatever its stored deadline says
    backdate(db, ShareRequest, made["id"], deadline=dt.date(2026, 1, 5))
    shown = api.call("share_request_show", {"id": made["id"]}, token=share_cast.tokens["provider_admin"]).result
    assert shown["overdue"] is False
    late = api.call("share_request_list", {"overdue": True}, token=share_cast.tokens["provider_admin"]).result
    assert late == []


@pytest.mark.parametrize("missing, message", [
    ({}, "Missing value"),
    ({"colour": "x"}, "unknown part 'colour'"),
    ({"basis": "  "}, "say what is missing in basis"),
])
def test_a_return_without_a_usable_list_is_refused_naming_missing(api, share_cast, missing, message):
    made = file_request(api, share_cast)
    reply = api.call("share_request_return", {"id": made["id"], "missing": missing},
                     token=share_cast.tokens["provider_admin"])
    assert reply.status == 409 and "missing" in reply.error and message in str(reply.error["missing"]), reply.body


def test_a_return_whose_list_is_not_text_names_the_part(api, share_cast):
    made = file_request(api, share_cast)
    reply = api.call("share_request_return", {"id": made["id"], "missing": {"basis": 3}},
                     token=share_cast.tokens["provider_admin"])
    assert reply.status == 409 and "missing.basis.value" in reply.error, reply.body


def test_a_request_is_returned_once_everything_missing_is_listed_at_once(api, share_cast):
    made = file_request(api, share_cast)
    assert _return(api, share_cast, made["id"]).status == 200
    again = _return(api, share_cast, made["id"])
    assert again.status == 409 and "Only pending" in again.error["id"][0]
    api.call("share_request_resubmit", {"id": made["id"], "basis": "《社会救助暂行办法》第十一条第二款"},
             token=share_cast.tokens["consumer_editor"])
    third = _return(api, share_cast, made["id"])
    assert third.status == 409 and "listed all at once" in third.error["id"][0]


@pytest.mark.parametrize("status_after", ["approved", "rejected"])
def test_only_pending_requests_are_returned(api, share_cast, status_after):
    made = file_request(api, share_cast)
    if status_after == "approved":
        api.call("share_request_approve", {"id": made["id"]}, token=share_cast.tokens["provider_admin"])
    else:
        api.call("share_request_reject", {"id": made["id"], "reason": "不符合共享条件"},
                 token=share_cast.tokens["provider_admin"])
    reply = _return(api, share_cast, made["id"])
    assert reply.status == 409 and status_after in reply.error["id"][0]


def test_a_returned_request_cannot_be_rejected_or_approved_until_resubmitted(api, share_cast):
    made = file_request(api, share_cast)
    _return(api, share_cast, made["id"])
    token = share_cast.tokens["provider_admin"]
    rejected = api.call("share_request_reject", {"id": made["id"], "reason": "材料不全"}, token=token)
    assert rejected.status == 409 and "returned" in rejected.error["id"][0]
    approved = api.call("share_request_approve", {"id": made["id"]}, token=token)
    assert approved.status == 409 and "returned" in approved.error["id"][0]


def test_a_refusal_may_cite_the_share_condition(api, db, share_cast):
    made = file_request(api, share_cast)
    reply = api.call("share_request_reject", {"id": made["id"], "reason": "申请用途不在共享条件之内",
                                              "cite_condition": True}, token=share_cast.tokens["provider_admin"])
    assert reply.status == 200, reply.body
    assert reply.result["cited_condition"] == "仅限民政、人社部门核实救助对象使用"
    # the provider's activity keeps which condition the refusal cited, as it read then
    [activity] = db.scalars(sa.select(Activity).where(Activity.activity_type == "rejected share request")).all()
    assert activity.data["share_request"]["cited_condition"] == "仅限民政、人社部门核实救助对象使用"
    plain = file_request(api, share_cast)
    reply = api.call("share_request_reject", {"id": plain["id"], "reason": "重复申请"},
                     token=share_cast.tokens["provider_admin"])
    assert reply.result["cited_condition"] is None


@pytest.mark.parametrize("share_type, condition", [("conditional", " "), ("unconditional", None)])
def test_citing_a_condition_the_dataset_does_not_state_is_refused(api, make, share_cast, share_type, condition):
    open_data = make.dataset(share_cast.provider["id"], name="roads", share_type=share_type, share_condition=condition)
    made = api.call("share_request_create", {"package_id": open_data["id"], "organization_id": "ningshan-mzj",
                                             "purpose": "核实", "basis": BASIS, "scenario": SCENARIO},
                    token=share_cast.tokens["consumer_editor"])
    reply = api.call("share_request_reject", {"id": made.result["id"], "reason": "x", "cite_condition": True},
                     token=share_cast.tokens["provider_admin"])
    assert reply.status == 409 and "cite_condition" in reply.error, reply.body


# --- resubmission ------------------------------------------------------------------------------------


def test_a_resubmission_restarts_the_clock_with_the_days_it_was_away_added(api, app, db, share_cast, monkeypatch):
    """Returned 9 calendar days ago with a holiday week configured in between: only the working days count."""
    today = dt.datetime.now(dt.timezone.utc).date()
    returned_on = today - dt.timedelta(days=9)
    holiday = [returned_on + dt.timedelta(days=n) for n in range(1, 6)]  # five days right after the return
    monkeypatch.setitem(app.config, "HOLIDAYS", ",".join(d.isoformat() for d in holiday))
    made = file_request(api, share_cast)
    _return(api, share_cast, made["id"])
    backdate(db, ShareRequest, made["id"], returned_at=utc(returned_on), deadline=D("2026-12-31"))
    reply = api.call("share_request_resubmit", {"id": made["id"], "basis": " 《社会救助暂行办法》第十一条第二款 "},
                     token=share_cast.tokens["consumer_editor"])
    assert reply.status == 200, reply.body
    # counted by hand: the days after the return up to today that are neither weekend nor the holiday
    away = [returned_on + dt.timedelta(days=n) for n in range(1, 10)]
    stood_still = [d for d in away if d.isoweekday() < 6 and d not in holiday]
    expected = D("2026-12-31")
    for _ in stood_still:
        expected += dt.timedelta(days=1)
        while expected.isoweekday() > 5 or expected in holiday:
            expected += dt.timedelta(days=1)
    result = reply.result
    assert result["paused_days"] == len(stood_still)
    assert result["deadline"] == expected.isoformat()
    assert result["status"] == "pending" and result["clock_stopped"] is False
    assert result["basis"] == "《社会救助暂行办法》第十一条第二款" and result["scenario"] == SCENARIO
    assert result["resubmitted_at"] is not None and result["missing"] is not None  # the list stays on record
    notices = db.scalars(sa.select(ShareNotice).where(ShareNotice.kind == "request.resubmitted")).all()
    assert [n.organization_id for n in notices] == [share_cast.provider["id"]]
    # the provider is told how long the clock stood still, and the activity says who resubmitted
    assert notices[0].data["paused_days"] == len(stood_still)
    [activity] = db.scalars(sa.select(Activity).where(Activity.activity_type == "resubmitted share request"))
    assert activity.user_id == share_cast.people["consumer_editor"].id


def test_a_resubmission_can_change_fields_and_time_limit_and_refuses_blanks(api, share_cast):
    made = file_request(api, share_cast)
    _return(api, share_cast, made["id"])
    token = share_cast.tokens["consumer_editor"]
    for field in ("basis", "scenario", "purpose"):
        blank = api.call("share_request_resubmit", {"id": made["id"], field: " "}, token=token)
        assert blank.status == 409 and field in blank.error, blank.body
    past = api.call("share_request_resubmit", {"id": made["id"], "expires": "2020-01-01"}, token=token)
    assert past.status == 409 and "expires" in past.error
    today = dt.datetime.now(dt.timezone.utc).date().isoformat()   # a time limit ending today is not in the future
    ending = api.call("share_request_resubmit", {"id": made["id"], "expires": today}, token=token)
    assert ending.status == 409 and "expires" in ending.error, ending.body
    later = (dt.date.today() + dt.timedelta(days=90)).isoformat()
    reply = api.call("share_request_resubmit", {"id": made["id"], "fields": ["head_id_number", "head_id_number"],
                                                "expires": later}, token=token)
    assert reply.status == 200 and reply.result["fields"] == ["head_id_number"] and reply.result["expires"] == later


def test_a_request_filed_before_basis_existed_must_state_it_when_resubmitted(api, db, share_cast):
    made = file_request(api, share_cast)
    _return(api, share_cast, made["id"])
    backdate(db, ShareRequest, made["id"], basis="", scenario="")   # as migration 0015 leaves older rows
    token = share_cast.tokens["consumer_editor"]
    reply = api.call("share_request_resubmit", {"id": made["id"], "basis": BASIS}, token=token)
    assert reply.status == 409 and "scenario" in reply.error
    reply = api.call("share_request_resubmit", {"id": made["id"], "scenario": SCENARIO}, token=token)
    assert reply.status == 409 and "basis" in reply.error
    assert api.call("share_request_resubmit", {"id": made["id"], "basis": BASIS, "scenario": SCENARIO},
                    token=token).status == 200


def test_only_returned_requests_are_resubmitted(api, share_cast):
    made = file_request(api, share_cast)
    reply = api.call("share_request_resubmit", {"id": made["id"]}, token=share_cast.tokens["consumer_editor"])
    assert reply.status == 409 and "pending" in reply.error["id"][0]


# --- extension ---------------------------------------------------------------------------------------


def _extend(api, cast, request_id, days=5, reason="需会同户籍窗口逐户核对", role="provider_admin"):
    return api.call("share_request_extend", {"id": request_id, "days": days, "reason": reason},
                    token=cast.tokens[role])


def _decide(api, cast, request_id, decision, reason=None, role="authority_editor"):
    data = {"id": request_id, "decision": decision}
    if reason is not None:
        data["reason"] = reason
    return api.call("share_request_extension_decide", data, token=cast.tokens[role])


def test_an_approved_extension_moves_the_deadline_and_both_sides_are_told(api, app, db, share_cast, monkeypatch):
    made = file_request(api, share_cast)
    backdate(db, ShareRequest, made["id"], deadline=D("2026-12-31"))   # Thu; Fri 01-01 is a holiday here
    monkeypatch.setitem(app.config, "HOLIDAYS", "2027-01-01")
    asked = _extend(api, share_cast, made["id"], days=3)
    assert asked.status == 200, asked.body
    assert (asked.result["extension_status"], asked.result["extension_days"], asked.result["deadline"]) == \
        ("requested", 3, "2026-12-31")
    decided = _decide(api, share_cast, made["id"], "approve", reason="同意，元旦后三个工作日内答复")
    assert decided.status == 200, decided.body
    # Mon 01-04, Tue 01-05, Wed 01-06 (Fri 01-01 holiday, then the weekend)
    assert decided.result["deadline"] == "2027-01-06" and decided.result["extension_status"] == "approved"
    assert decided.result["extension_decided_at"] is not None
    kinds = [(n.organization_id, n.kind) for n in db.scalars(sa.select(ShareNotice).order_by(ShareNotice.created))]
    assert (share_cast.consumer["id"], "request.extension_requested") in kinds
    assert (share_cast.consumer["id"], "request.extension_decided") in kinds
    assert (share_cast.provider["id"], "request.extension_decided") in kinds
    # what the requester reads: approved, for 3 days, the new deadline, the authority's note; and who decided it
    [notice] = db.scalars(sa.select(ShareNotice).where(ShareNotice.kind == "request.extension_decided",
                                                       ShareNotice.organization_id == share_cast.consumer["id"]))
    assert {k: notice.data.get(k) for k in ("extension_status", "extension_days", "deadline", "extension_note")} == \
        {"extension_status": "approved", "extension_days": 3, "deadline": "2027-01-06",
         "extension_note": "同意，元旦后三个工作日内答复"}
    [activity] = db.scalars(sa.select(Activity).where(Activity.activity_type == "decided share request extension"))
    assert activity.user_id == share_cast.people["authority_editor"].id


def test_asking_for_one_working_day_tells_the_requester_the_days_the_reason_and_who_asked(api, app, db, share_cast,
                                                                                          monkeypatch):
    """The shortest extension is one working day; the requesting department is told how many and why, and the
    dataset's activity says which provider officer asked."""
    made = file_request(api, share_cast)
    backdate(db, ShareRequest, made["id"], deadline=D("2026-12-31"))   # Thu; Fri 01-01 is a holiday here
    monkeypatch.setitem(app.config, "HOLIDAYS", "2027-01-01")
    asked = _extend(api, share_cast, made["id"], days=1, reason="  需会同户籍窗口逐户核对 ")
    assert asked.status == 200, asked.body
    assert (asked.result["extension_status"], asked.result["extension_days"]) == ("requested", 1)
    [notice] = db.scalars(sa.select(ShareNotice).where(ShareNotice.kind == "request.extension_requested"))
    assert notice.organization_id == share_cast.consumer["id"]
    assert {k: notice.data.get(k) for k in ("extension_days", "extension_reason")} == \
        {"extension_days": 1, "extension_reason": "需会同户籍窗口逐户核对"}
    [activity] = db.scalars(sa.select(Activity).where(Activity.activity_type == "asked to extend share request"))
    assert activity.user_id == share_cast.people["provider_admin"].id
    assert activity.data["share_request"]["extension_days"] == 1
    decided = _decide(api, share_cast, made["id"], "approve")
    assert decided.status == 200 and decided.result["deadline"] == "2027-01-04", decided.body   # Mon after the holiday


def test_a_refused_extension_keeps_the_deadline_and_states_its_reason(api, db, share_cast):
    made = file_request(api, share_cast)
    _extend(api, share_cast, made["id"])
    silent = _decide(api, share_cast, made["id"], "refuse")
    assert silent.status == 409 and "reason" in silent.error
    refused = _decide(api, share_cast, made["id"], "refuse", reason="数据已在平台上，无需延长")
    assert refused.status == 200, refused.body
    assert refused.result["deadline"] == made["deadline"] and refused.result["extension_status"] == "refused"
    assert refused.result["extension_note"] == "数据已在平台上，无需延长"
    again = _decide(api, share_cast, made["id"], "approve")
    assert again.status == 409 and "No extension" in again.error["id"][0]


@pytest.mark.parametrize("days", [0, 11, -1])
def test_an_extension_is_one_to_ten_working_days(api, share_cast, days):
    made = file_request(api, share_cast)
    reply = _extend(api, share_cast, made["id"], days=days)
    assert reply.status == 409 and "from 1 to 10" in reply.error["days"][0], reply.body


def test_the_limit_of_an_extension_is_a_setting(api, app, share_cast, monkeypatch):
    monkeypatch.setitem(app.config, "SHARE_EXTENSION_MAX_DAYS", 5)
    made = file_request(api, share_cast)
    assert _extend(api, share_cast, made["id"], days=6).status == 409
    assert _extend(api, share_cast, made["id"], days=5).status == 200


def test_an_extension_needs_a_reason_is_asked_once_and_before_the_deadline(api, db, share_cast):
    made = file_request(api, share_cast)
    blank = _extend(api, share_cast, made["id"], reason="  ")
    assert blank.status == 409 and "reason" in blank.error
    assert _extend(api, share_cast, made["id"]).status == 200
    twice = _extend(api, share_cast, made["id"])
    assert twice.status == 409 and "extended once" in twice.error["id"][0]
    late = file_request(api, share_cast, package_id=_other_dataset(api, share_cast))
    today = dt.datetime.now(dt.timezone.utc).date()
    backdate(db, ShareRequest, late["id"], deadline=today)
    assert _extend(api, share_cast, late["id"]).status == 200          # on the deadline day itself: still in time
    later = file_request(api, share_cast, package_id=_other_dataset(api, share_cast, "roads-2"))
    backdate(db, ShareRequest, later["id"], deadline=today - dt.timedelta(days=1))
    past = _extend(api, share_cast, later["id"])
    assert past.status == 409 and "has passed" in past.error["id"][0]


def _other_dataset(api, cast, name="roads"):
    made = api.call("package_create", {**_values(cast, name)}, token=cast.tokens["sysadmin"])
    assert made.status == 200, made.body
    return made.result["id"]


def _values(cast, name):
    values = dataset_values(cast.provider["id"], 900 + len(name))
    values["name"] = name
    return values


def test_an_extension_is_asked_only_for_a_pending_request(api, share_cast):
    made = file_request(api, share_cast)
    api.call("share_request_approve", {"id": made["id"]}, token=share_cast.tokens["provider_admin"])
    reply = _extend(api, share_cast, made["id"])
    assert reply.status == 409 and "approved" in reply.error["id"][0]


def test_an_extension_of_a_request_answered_meanwhile_is_not_decided(api, share_cast):
    made = file_request(api, share_cast)
    _extend(api, share_cast, made["id"])
    api.call("share_request_approve", {"id": made["id"]}, token=share_cast.tokens["provider_admin"])
    reply = _decide(api, share_cast, made["id"], "approve")
    assert reply.status == 409 and "already approved" in reply.error["id"][0]


def test_an_extension_asked_and_then_returned_is_still_decided(api, share_cast):
    made = file_request(api, share_cast)
    _extend(api, share_cast, made["id"])
    _return(api, share_cast, made["id"])
    assert _decide(api, share_cast, made["id"], "approve").status == 200


# --- webhooks: each state change, only to the two departments ----------------------------------------


def _subscribe(api, cast, role):
    reply = api.call("webhook_create", {"package_id": cast.dataset["name"], "url": f"http://127.0.0.1:9/{role}",
                                        "events": ["request.returned", "request.resubmitted",
                                                   "request.extension_requested", "request.extension_decided"]},
                     token=cast.tokens[role])
    assert reply.status == 200, reply.body
    return reply.result["id"]


def test_request_events_reach_only_the_two_departments_subscribers(api, db, share_cast):
    subscribers = {role: _subscribe(api, share_cast, role) for role in
                   ("consumer_member", "provider_member", "outsider_editor", "authority_member")}
    made = file_request(api, share_cast)
    _extend(api, share_cast, made["id"])
    _return(api, share_cast, made["id"])
    api.call("share_request_resubmit", {"id": made["id"]}, token=share_cast.tokens["consumer_editor"])
    _decide(api, share_cast, made["id"], "approve")
    events = {}
    for delivery in db.scalars(sa.select(WebhookDelivery)):
        events.setdefault(delivery.subscription_id, []).append(delivery.event)
    expected = ["request.extension_requested", "request.returned", "request.resubmitted", "request.extension_decided"]
    assert sorted(events[subscribers["consumer_member"]]) == sorted(expected)
    assert sorted(events[subscribers["provider_member"]]) == sorted(expected)
    assert subscribers["outsider_editor"] not in events and subscribers["authority_member"] not in events
    returned = db.scalar(sa.select(WebhookDelivery).where(WebhookDelivery.event == "request.returned").limit(1))
    assert returned.payload["missing"]["basis"] == "请写明法律法规的具体条款"
    assert returned.payload["request_id"] == made["id"] and returned.payload["status"] == "returned"


def test_a_sysadmin_decides_an_extension_even_as_a_member_of_the_provider(api, share_cast):
    """Sysadmins always may (the authority's officers may not decide for their own department)."""
    joined = api.call("organization_member_create", {"id": "ningshan-gaj", "username": share_cast.sysadmin.name,
                                                     "role": "admin"}, token=share_cast.tokens["sysadmin"])
    assert joined.status == 200, joined.body
    made = file_request(api, share_cast)
    assert _extend(api, share_cast, made["id"]).status == 200
    decided = _decide(api, share_cast, made["id"], "approve", role="sysadmin")
    assert decided.status == 200, decided.body
    assert decided.result["extension_status"] == "approved"
