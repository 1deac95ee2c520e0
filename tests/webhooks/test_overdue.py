"""freshness.overdue: sent once when a dataset turns overdue, again only after a new lapse."""
from __future__ import annotations

import pytest

from catalog.db import get_db
from catalog.freshness import clock
from catalog.freshness.service import notify_overdue
from tests.freshness.helpers import add_records, at, changed_at, records_changed_at
from tests.webhooks.receiver import Receiver
from tests.webhooks.test_webhooks import manual_dispatch, send  # noqa: F401  (the autouse fixture)

GRACE = clock.parse_grace("1d")


@pytest.fixture
def receiver():
    server = Receiver().start()
    yield server
    server.stop()


def test_overdue_fires_once_per_lapse(app, api, make, sysadmin, db, receiver):
    consumer = make.user("consumer")
    owner = make.department("gaj")
    make.department("mzj", members={"member": consumer})
    dataset = make.dataset(owner["id"], update_cycle="monthly")
    quiet = make.dataset(owner["id"], update_cycle="irregular")
    changed_at(db, dataset["id"], at(2026, 1, 31))
    changed_at(db, quiet["id"], at(2020, 1, 1))
    for target in (dataset, quiet):
        reply = api.call("webhook_create", {"package_id": target["id"], "url": receiver.url,
                                            "events": ["freshness.overdue"]}, token=consumer.token)
        assert reply.status == 200, reply.body
        if target is dataset:  # one receiver for both; only the first dataset's events may arrive
            receiver.secret = reply.result["secret"]

    def tick(now) -> int:
        with get_db(app).session() as session:
            turned = notify_overdue(session, now, grace=GRACE)
            session.commit()
        send(app)
        return turned

    assert tick(at(2026, 2, 28, 12)) == 0  # due (Jan 31 + 1 month = Feb 28), within the grace day
    assert tick(at(2026, 3, 1, 0)) == 1
    (request,) = receiver.wait(1)
    assert request.verified and request.json["type"] == "freshness.overdue"
    assert request.json["data"] | {"package_name": None} == {
        "package_id": dataset["id"], "package_name": None, "update_cycle": "monthly",
        "last_change": "2026-01-31T00:00:00Z", "due_at": "2026-02-28T00:00:00Z", "overdue_at": "2026-03-01T00:00:00Z"}
    assert tick(at(2026, 3, 2)) == 0 and tick(at(2026, 4, 1)) == 0  # still overdue: not again
    # updated: fresh again; a later lapse fires again
    resource = add_records(api, sysadmin.token, dataset["id"])
    records_changed_at(db, resource, at(2026, 4, 10))
    assert tick(at(2026, 4, 20)) == 0
    assert tick(at(2026, 5, 12)) == 1
    overdue = [r for r in receiver.wait(2) if r.json["type"] == "freshness.overdue"]
    assert overdue[-1].json["data"]["due_at"] == "2026-05-10T00:00:00Z"
    assert {r.json["data"]["package_id"] for r in receiver.received} == {dataset["id"]}
