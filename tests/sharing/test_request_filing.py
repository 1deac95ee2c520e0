"""Filing a share request (decree 809 art. 20): it records who filed it, states its time limit as a day still
to come, and a request that leaves out its purpose, basis (使用依据) or scenario (应用场景) is refused with a
message telling the officer what is missing."""
from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from catalog.activity.models import Activity
from tests.sharing.cast import BASIS, SCENARIO


def _file(api, cast, role="consumer_editor", **values):
    return api.call("share_request_create", {"package_id": cast.dataset["id"], "organization_id": "ningshan-mzj",
                                             "purpose": "核实低保对象户籍", "basis": BASIS, "scenario": SCENARIO,
                                             **values}, token=cast.tokens[role])


def test_the_request_and_the_datasets_activity_name_the_officer_who_filed_it(api, db, share_cast):
    made = _file(api, share_cast, "consumer_admin")
    assert made.status == 200, made.body
    officer = share_cast.people["consumer_admin"].id
    assert made.result["requester_id"] == officer
    shown = api.call("share_request_show", {"id": made.result["id"]}, token=share_cast.tokens["provider_admin"])
    assert shown.result["requester_id"] == officer
    [filed] = db.scalars(sa.select(Activity).where(Activity.activity_type == "new share request"))
    assert filed.user_id == officer
    assert filed.data["share_request"]["id"] == made.result["id"]


def test_a_time_limit_must_end_after_today(api, share_cast):
    today = dt.datetime.now(dt.timezone.utc).date()
    ending_today = _file(api, share_cast, expires=today.isoformat())
    assert ending_today.status == 409 and "expires" in ending_today.error, ending_today.body
    ending_tomorrow = _file(api, share_cast, expires=(today + dt.timedelta(days=1)).isoformat())
    assert ending_tomorrow.status == 200, ending_tomorrow.body
    assert ending_tomorrow.result["expires"] == (today + dt.timedelta(days=1)).isoformat()


@pytest.mark.parametrize("field, says", [("purpose", "used for"), ("basis", "使用依据"), ("scenario", "应用场景")])
def test_a_request_without_a_purpose_basis_or_scenario_says_what_is_missing(api, share_cast, field, says):
    reply = _file(api, share_cast, **{field: "   "})
    assert reply.status == 409, reply.body
    [message] = reply.error[field]
    assert "Missing value" in message and says in message, message
