"""Key lookups keep every rule while their statements are built once (issue 17, sixth pass).

The token's query and the access log's statements are made once per process (bound parameters); what a
caller or an auditor would notice if something were kept that must not be: a token that goes on working
after it was revoked, expired or its account disabled, or a lookup answered without its entry in the chain
(with its own filters, reader and count) and the checkpoint moved to it.
"""
from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
import sqlalchemy as sa

from catalog.auth.models import ApiToken, User
from catalog.db import get_session, utcnow
from catalog.sharing.access_log import checkpoint_log, verify_chain
from catalog.sharing.models import AccessLogEntry
from tests.schemas.records_samples import households


@pytest.fixture
def table(api, make, sysadmin):
    """A dataset bound to household@1 with 6 records, readable by a member of its department."""
    reader = make.user("mzj-reader")
    department = make.department("ningshan-mzj", members={"editor": reader})
    made = make.dataset(department["id"], name="households", record_schema="household@1")
    created = api.call("datastore_create", {"resource": {"package_id": made["id"]}}, token=sysadmin.token)
    records = list(households(6, seed=23))
    written = api.call("datastore_upsert", {"resource_id": created.result["resource_id"], "records": records},
                       token=sysadmin.token)
    assert written.status == 200, written.body
    return {"resource_id": created.result["resource_id"], "records": records, "reader": reader}


def lookup(api, table, token, **filters):
    return api.call("datastore_search", {"resource_id": table["resource_id"], "filters": filters}, token=token)


def entries(db) -> list[AccessLogEntry]:
    db.expire_all()
    return list(db.scalars(sa.select(AccessLogEntry).order_by(AccessLogEntry.seq)))


def _revoke(api, db, account):
    assert api.call("api_token_revoke", {"token": account.token}, token=account.token).status == 200


def _expire(api, db, account):
    db.execute(sa.update(ApiToken).where(ApiToken.user_id == account.id)
               .values(expires_at=utcnow() - dt.timedelta(seconds=1)))
    db.commit()


def _disable(api, db, account):
    db.execute(sa.update(User).where(User.id == account.id).values(state="deleted"))
    db.commit()


@pytest.mark.parametrize("withdraw, refusal", [(_revoke, "not valid"), (_expire, "expired"), (_disable, "disabled")])
def test_a_token_withdrawn_between_two_lookups_is_refused_at_the_next_and_that_one_is_not_logged(
        api, db, table, withdraw, refusal):
    wanted = table["records"][2]
    token = table["reader"].token
    first = lookup(api, table, token, household_number=wanted["household_number"])
    assert first.result["records"] == [wanted]
    logged = len(entries(db))
    withdraw(api, db, table["reader"])
    again = lookup(api, table, token, household_number=wanted["household_number"])
    assert again.status == 403 and refusal in again.error["message"]
    by_field = lookup(api, table, token, head_id_number=wanted["head_id_number"])
    assert by_field.status == 403
    assert len(entries(db)) == logged


def test_every_lookup_is_in_the_chain_with_its_reader_filters_and_count_and_the_checkpoint_follows(
        app, api, db, table):
    with app.app_context():
        checkpoint_log(get_session(), start=True)
    before = entries(db)
    asked = [{"household_number": table["records"][0]["household_number"]},
             {"head_id_number": table["records"][3]["head_id_number"]},
             {"household_number": "no-such-household"}]
    counts = []
    for filters in asked:
        counts.append(len(lookup(api, table, table["reader"].token, **filters).result["records"]))
    assert counts == [1, 1, 0]
    new = entries(db)[len(before):]
    first = (before[-1].seq if before else 0) + 1
    assert [e.seq for e in new] == list(range(first, first + 3))
    assert [e.params["filters"] for e in new] == asked
    assert [e.record_count for e in new] == counts
    assert {(e.action, e.user_name, e.resource_id) for e in new} == {
        ("datastore_search", "mzj-reader", table["resource_id"])}
    assert [e.prev_hash for e in new[1:]] == [e.hash for e in new[:-1]]
    checkpoint = json.loads(Path(app.config["AUDIT_CHECKPOINT_PATH"]).read_text())
    assert (checkpoint["seq"], checkpoint["mac"]) == (new[-1].seq, new[-1].hash)
    with app.app_context():
        ok, checked, message = verify_chain(get_session())
    assert ok, message
    assert checked == new[-1].seq
