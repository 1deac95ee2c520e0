"""Filing, accepting and settling correction requests: who may do what, the corrections linked, the
10-working-day deadline (worked by hand over the National Day holiday) and the overdue list."""
from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from catalog.objections.models import Objection
from catalog.objections.service import deadline_after
from catalog.webhooks.models import WebhookDelivery
from tests.objections.test_flags import file


def _id(reply) -> str:
    assert reply.status == 200, reply.body
    return reply.result["id"]


# --- filing ------------------------------------------------------------------------------------------


def test_a_user_department_files_and_both_sides_see_the_deadline(api, county):
    made = file(api, county, keys=[{"code": "s2"}], evidence_url="https://example.gov.cn/licence/s2.pdf")
    result = made.result
    assert result["keys"] == ["s2"] and result["fields"] == ["name"] and result["status"] == "open"
    assert result["provider_name"] == "ningshan-gaj" and result["organization_name"] == "ningshan-mzj"
    assert result["overdue"] is False and result["settled_in_time"] is None
    created = dt.date.fromisoformat(result["created"][:10])
    deadline = dt.date.fromisoformat(result["deadline"])
    # 10 working days without holidays: two weeks from a weekday, Friday week from a weekend
    assert deadline.weekday() < 5 and 12 <= (deadline - created).days <= 14
    for who in ("gaj_member", "mzj_member", "sjj_editor", "sysadmin"):
        assert api.call("objection_show", {"id": result["id"]}, token=getattr(county, who).token).status == 200, who
    assert [o["id"] for o in api.call("objection_list", {"direction": "incoming"},
                                      token=county.gaj_member.token).result] == [result["id"]]
    assert api.call("objection_list", {"direction": "outgoing"}, token=county.gaj_member.token).result == []
    assert [o["id"] for o in api.call("objection_list", {}, token=county.sjj_editor.token).result] == [result["id"]]


@pytest.mark.parametrize("who, status", [("mzj_member", 403), ("gaj_editor", 403), ("nobody", 403), (None, 403)])
def test_filing_is_for_editors_and_admins_of_the_department_named(api, county, who, status):
    token = getattr(county, who).token if who else None
    values = {"package_id": county.shops["id"], "organization_id": county.mzj["id"], "resource_id": county.shops_rid,
              "fields": ["name"], "reason": "店名错误", "keys": ["s1"]}
    assert api.call("objection_create", values, token=token).status == status


def test_the_provider_does_not_object_to_its_own_data(api, county):
    reply = file(api, county, who="gaj_editor", organization_id=county.gaj["id"], keys=["s1"])
    assert reply.status == 409 and "organization_id" in reply.error


def test_a_department_without_a_grant_cannot_object_to_conditional_data(api, county):
    reply = file(api, county, who="town_editor", organization_id=county.town["id"], package_id=county.people["id"],
                 resource_id=county.people_rid, filters={"town": "城关镇"})
    assert reply.status == 403


@pytest.mark.parametrize("change, field", [
    ({"keys": ["s9"]}, "keys"),
    ({"filters": {"town": "无此镇"}}, "filters"),
    ({"filters": {"nope": "x"}}, "filters"),
    ({"fields": []}, "fields"),
    ({"fields": ["price"]}, "fields"),
    ({"reason": " "}, "reason"),
    ({"keys": ["s1"], "filters": {"town": "城关镇"}}, "filters"),
    ({"evidence_url": "javascript:alert(1)"}, "evidence_url"),
    ({}, "keys"),
])
def test_bad_input_is_refused_naming_the_field(api, county, change, field):
    reply = file(api, county, **change)
    assert reply.status == 409, reply.body
    assert field in reply.error, reply.error


def test_a_masked_key_cannot_be_named_nor_a_masked_field_filtered(api, county):
    base = {"package_id": county.people["id"], "resource_id": county.people_rid, "fields": ["allowance"]}
    # naming clear resident ids would tell which exist: an oracle for a reader who sees them masked
    assert file(api, county, keys=["610923199001011234"], **base).status == 403
    assert file(api, county, keys=["610923000000000000"], **base).status == 403
    assert file(api, county, filters={"id_number": "610923199001011234"}, **base).status == 403
    assert file(api, county, filters={"town": "城关镇"}, **base).status == 200


# --- answering -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["mzj_editor", "gaj_member", "sjj_editor", "town_editor"])
def test_only_the_providers_editors_accept_and_resolve(api, county, who):
    objection = _id(file(api, county, keys=["s1"]))
    token = getattr(county, who).token
    expected = 404 if who == "town_editor" else 403
    assert api.call("objection_accept", {"id": objection}, token=token).status == expected
    assert api.call("objection_resolve", {"id": objection, "outcome": "rejected", "note": "无依据"},
                    token=token).status == expected


def test_resolved_as_corrected_links_the_record_changes_made_after_filing(api, db, county):
    objection = _id(file(api, county, keys=["s1", "s2"]))
    editor = county.gaj_editor.token
    before = api.call("objection_resolve", {"id": objection, "outcome": "corrected", "note": "已更正",
                                            "changes": ["s1"]}, token=editor)
    assert before.status == 409 and "changes.0" in before.error, "s1 was not changed since filing"
    fixed = api.call("datastore_upsert", {"resource_id": county.shops_rid, "records": [
        {"code": "s1", "name": "东河便民商店", "town": "城关镇"}, {"code": "s2", "name": "西街大药房", "town": "城关镇"}]},
        token=editor)
    assert fixed.status == 200
    feed = api.call("datastore_changes", {"resource_id": county.shops_rid}, token=editor).result["changes"]
    seqs = {e["_key"]: e["_seq"] for e in feed}
    missing = api.call("objection_resolve", {"id": objection, "outcome": "corrected", "note": "已更正"}, token=editor)
    assert missing.status == 409 and "changes" in missing.error
    done = api.call("objection_resolve", {"id": objection, "outcome": "corrected", "note": "已按执照更正",
                                          "changes": [seqs["s1"], "s2"]}, token=editor)
    assert done.status == 200, done.body
    assert done.result["corrections"] == [
        {"resource_id": county.shops_rid, "key": "s1", "seq": seqs["s1"]},
        {"resource_id": county.shops_rid, "key": "s2", "seq": seqs["s2"]}]
    assert done.result["status"] == "resolved" and done.result["settled_in_time"] is True
    again = api.call("objection_resolve", {"id": objection, "outcome": "rejected", "note": "x"}, token=editor)
    assert again.status == 409
    assert api.call("objection_accept", {"id": objection}, token=editor).status == 409


def test_only_corrected_links_changes_and_every_outcome_needs_a_note(api, county):
    objection = _id(file(api, county, keys=["s1"]))
    editor = county.gaj_admin.token
    assert "note" in api.call("objection_resolve", {"id": objection, "outcome": "rejected"}, token=editor).error
    assert "outcome" in api.call("objection_resolve", {"id": objection, "outcome": "done", "note": "x"},
                                 token=editor).error
    linked = api.call("objection_resolve", {"id": objection, "outcome": "rejected", "note": "x", "changes": [1]},
                      token=editor)
    assert linked.status == 409 and "changes" in linked.error


# --- deadlines -------------------------------------------------------------------------------------------

#: a configured National Day week: 1–8 October 2026 off; Sunday 27 September and Saturday 10 October made
#: working days (调休)
NATIONAL_DAY = {"HOLIDAYS": ",".join(f"2026-10-0{d}" for d in range(1, 9)), "WORKDAYS": "2026-09-27,2026-10-10"}


@pytest.mark.parametrize("filed, due", [
    # Thu 24 Sep: Fri 25 (1), Sun 27 (2), Mon 28–Wed 30 (3–5), Fri 9 Oct (6), Sat 10 (7), Mon 12–Wed 14 (8–10)
    (dt.date(2026, 9, 24), dt.date(2026, 10, 14)),
    # Wed 30 Sep: Fri 9 Oct (1), Sat 10 (2), Mon 12–Fri 16 (3–7), Mon 19–Wed 21 (8–10)
    (dt.date(2026, 9, 30), dt.date(2026, 10, 21)),
    # an ordinary fortnight: Mon 2 Nov → Mon 16 Nov
    (dt.date(2026, 11, 2), dt.date(2026, 11, 16)),
])
def test_the_deadline_counts_ten_working_days_over_holidays(filed, due):
    assert deadline_after(filed, {**NATIONAL_DAY, "OBJECTION_DAYS": 10}) == due


def test_the_setting_changes_the_number_of_days():
    assert deadline_after(dt.date(2026, 9, 24), {**NATIONAL_DAY, "OBJECTION_DAYS": 5}) == dt.date(2026, 9, 30)


def test_an_unsettled_objection_past_its_deadline_is_listed_overdue_and_settled_late(api, db, county):
    late, on_time = _id(file(api, county, keys=["s1"])), _id(file(api, county, keys=["s2"]))
    db.execute(sa.update(Objection).where(Objection.id == late).values(deadline=dt.date.today() - dt.timedelta(days=1)))
    db.commit()
    overdue = api.call("objection_list", {"overdue": True}, token=county.gaj_member.token).result
    assert [o["id"] for o in overdue] == [late] and overdue[0]["overdue"] is True
    assert [o["id"] for o in api.call("objection_list", {"overdue": False}, token=county.mzj_member.token).result] \
        == [on_time]
    settled = api.call("objection_resolve", {"id": late, "outcome": "confirmed_correct", "note": "无误"},
                       token=county.gaj_editor.token).result
    assert settled["overdue"] is False and settled["settled_in_time"] is False


def test_listing_needs_an_account(api, county):
    objection = _id(file(api, county, keys=["s1"]))
    assert api.call("objection_show", {"id": objection}).status == 404
    assert api.call("objection_show", {"id": objection}, token=county.nobody.token).status == 404
    assert api.call("objection_list", {}).status == 403
    assert api.call("objection_list", {}, token=county.nobody.token).result == []


# --- webhooks --------------------------------------------------------------------------------------------


def test_objection_events_reach_only_the_two_departments(api, db, county):
    subscriptions = {}
    for who in ("mzj_member", "town_editor", "gaj_member"):
        reply = api.call("webhook_create", {"package_id": "shops", "url": f"http://127.0.0.1:9/{who}",
                                            "events": ["objection.created", "objection.accepted",
                                                       "objection.resolved"]},
                         token=getattr(county, who).token)
        assert reply.status == 200, reply.body
        subscriptions[reply.result["id"]] = who
    objection = _id(file(api, county, keys=["s1"]))
    api.call("objection_accept", {"id": objection}, token=county.gaj_editor.token)
    api.call("objection_resolve", {"id": objection, "outcome": "rejected", "note": "依据不足"},
             token=county.gaj_editor.token)
    db.expire_all()
    sent = sorted((subscriptions[d.subscription_id], d.event) for d in db.scalars(sa.select(WebhookDelivery)))
    assert sent == [("gaj_member", "objection.accepted"), ("gaj_member", "objection.created"),
                    ("gaj_member", "objection.resolved"), ("mzj_member", "objection.accepted"),
                    ("mzj_member", "objection.created"), ("mzj_member", "objection.resolved")]
    payload = db.scalars(sa.select(WebhookDelivery.payload)).first()
    assert payload["id"] == objection and "reason" not in payload and "note" not in payload


def test_clear_keys_are_shown_only_to_those_who_read_them_in_clear(api, db, county):
    from catalog.sharing.models import Grant

    db.execute(sa.update(Grant).where(Grant.organization_id == county.mzj["id"]).values(fields=["id_number"]))
    db.commit()
    made = file(api, county, package_id=county.people["id"], resource_id=county.people_rid,
                keys=["610923199001011234"], fields=["allowance"])
    assert made.status == 200, made.body
    seen = {who: api.call("objection_show", {"id": made.result["id"]}, token=getattr(county, who).token).result["keys"]
            for who in ("mzj_member", "gaj_member", "sysadmin", "sjj_editor")}
    assert seen == {"mzj_member": ["610923199001011234"], "gaj_member": ["610923199001011234"],
                    "sysadmin": ["610923199001011234"], "sjj_editor": ["610923********1234"]}
    listed = api.call("objection_list", {}, token=county.sjj_editor.token).result
    assert listed[0]["keys"] == ["610923********1234"]
