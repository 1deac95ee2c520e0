"""The day a grantee must have recorded the destruction of the data (decree 809 art. 27): working days after
the grant's last day, as many as the setting ``SHARE_DESTRUCTION_DAYS`` says, on the configured calendar;
late only from the day after.

Worked by hand, with 3 days configured and the National Day holidays 2025-10-01..03:
- expired at midnight UTC starting Sat 2025-09-27: last day Fri 09-26 → Mon 29, Tue 30, (holidays, weekend)
  Mon 10-06 → due 2025-10-06 (the default 10 days would give 2025-10-15);
- revoked on Tue 2025-09-30: last day 09-30 → Mon 10-06, Tue 07, Wed 08 → due 2025-10-08.
"""
from __future__ import annotations

import datetime as dt

from catalog.sharing.models import Grant
from tests.sharing.cast import BASIS, SCENARIO, approve, backdate, file_request

UTC = dt.timezone.utc


def test_the_destruction_day_follows_the_configured_number_of_working_days(api, app, db, share_cast, monkeypatch):
    monkeypatch.setitem(app.config, "SHARE_DESTRUCTION_DAYS", 3)
    monkeypatch.setitem(app.config, "HOLIDAYS", "2025-10-01,2025-10-02,2025-10-03")
    expired = approve(api, share_cast, file_request(api, share_cast)["id"])
    asked = api.call("share_request_create", {"package_id": share_cast.dataset["id"], "organization_id": "ningshan-jyj",
                                              "purpose": "核实学生家庭户籍", "basis": BASIS, "scenario": SCENARIO},
                     token=share_cast.tokens["outsider_editor"])
    assert asked.status == 200, asked.body
    revoked = approve(api, share_cast, asked.result["id"])
    backdate(db, Grant, expired["id"], expires_at=dt.datetime(2025, 9, 27, tzinfo=UTC))
    backdate(db, Grant, revoked["id"], revoked_at=dt.datetime(2025, 9, 30, 15, 0, tzinfo=UTC))

    shown = api.call("share_grant_show", {"id": expired["id"]}, token=share_cast.tokens["consumer_member"]).result
    assert (shown["status"], shown["destruction_due"], shown["destruction_overdue"]) == ("expired", "2025-10-06", True)
    shown = api.call("share_grant_show", {"id": revoked["id"]}, token=share_cast.tokens["outsider_admin"]).result
    assert (shown["status"], shown["destruction_due"], shown["destruction_overdue"]) == ("revoked", "2025-10-08", True)
    listed = api.call("share_grant_list", {"destruction_overdue": True}, token=share_cast.tokens["authority_editor"])
    assert sorted((g["id"], g["destruction_due"]) for g in listed.result) == sorted(
        [(expired["id"], "2025-10-06"), (revoked["id"], "2025-10-08")])


def test_a_grant_is_not_late_for_destruction_on_its_destruction_day_but_from_the_day_after(
        api, app, db, share_cast, monkeypatch):
    today = dt.datetime.now(UTC).date()
    yesterday = today - dt.timedelta(days=1)
    # one working day to record the destruction; today and yesterday are working days whatever the weekday
    monkeypatch.setitem(app.config, "SHARE_DESTRUCTION_DAYS", 1)
    monkeypatch.setitem(app.config, "HOLIDAYS", "")
    monkeypatch.setitem(app.config, "WORKDAYS", f"{yesterday.isoformat()},{today.isoformat()}")
    grant = approve(api, share_cast, file_request(api, share_cast)["id"])

    def shown():
        reply = api.call("share_grant_show", {"id": grant["id"]}, token=share_cast.tokens["provider_admin"]).result
        return reply["destruction_due"], reply["destruction_overdue"]

    def late():
        reply = api.call("share_grant_list", {"destruction_overdue": True}, token=share_cast.tokens["provider_admin"])
        return [g["id"] for g in reply.result]

    # access ended at midnight UTC this morning: the last day was yesterday, the record is due today
    backdate(db, Grant, grant["id"], expires_at=dt.datetime.combine(today, dt.time(), UTC))
    assert shown() == (today.isoformat(), False)
    assert late() == []
    # a day earlier: due yesterday, late today
    backdate(db, Grant, grant["id"], expires_at=dt.datetime.combine(yesterday, dt.time(), UTC))
    assert shown() == (yesterday.isoformat(), True)
    assert late() == [grant["id"]]
