"""Webhook subscriptions and deliveries: signing, the thin body, retries, 410, the log, the outbox.

These tests leave deliveries pending (``WEBHOOK_DISPATCH=manual``) and send them from the test's own
thread, as ``catalog webhooks deliver`` does, to a real HTTP receiver on 127.0.0.1 that verifies the
signature independently. ``test_dispatch.py`` covers the after-commit thread and the Celery workers.
"""
from __future__ import annotations

from types import SimpleNamespace

import pytest
import sqlalchemy as sa

from catalog.db import get_db
from catalog.webhooks import signing
from catalog.webhooks.delivery import Settings, drain, due_deliveries
from catalog.webhooks.models import WebhookDelivery, WebhookSubscription
from tests.webhooks.receiver import Receiver, verify

FIELDS = [{"id": "id", "type": "text"}, {"id": "v", "type": "int"}]


@pytest.fixture(autouse=True)
def manual_dispatch(app, monkeypatch):
    """Deliveries wait in the outbox until the test sends them; retries after 10 ms, at most 3 tries."""
    for name, value in {"WEBHOOK_DISPATCH": "manual", "WEBHOOK_RETRY_DELAY": 0.01, "WEBHOOK_MAX_ATTEMPTS": 3,
                        "WEBHOOK_TIMEOUT": 5}.items():
        monkeypatch.setitem(app.config, name, value)


@pytest.fixture
def receiver():
    server = Receiver().start()
    yield server
    server.stop()


@pytest.fixture
def setup(api, make, sysadmin):
    """The 公安局 (editor) with a public dataset and its DataStore table; a consumer from the 民政局."""
    editor, consumer, outsider = make.user("editor"), make.user("consumer"), make.user("outsider")
    owner = make.department("gaj", members={"editor": editor})
    make.department("mzj", members={"member": consumer})
    dataset = make.dataset(owner["id"], share_type="unconditional", share_condition=None)
    created = api.call("datastore_create", {"resource": {"package_id": dataset["id"], "name": "人口"},
                                            "fields": FIELDS, "primary_key": "id"}, token=editor.token)
    assert created.status == 200, created.body
    return SimpleNamespace(dataset=dataset, resource_id=created.result["resource_id"], editor=editor,
                           consumer=consumer, outsider=outsider, sysadmin=sysadmin, owner=owner)


def subscribe(api, setup, receiver, *, token=None, events=None) -> dict:
    data = {"package_id": setup.dataset["name"], "url": receiver.url}
    if events is not None:
        data["events"] = events
    reply = api.call("webhook_create", data, token=token or setup.consumer.token)
    assert reply.status == 200, reply.body
    receiver.secret = reply.result["secret"]
    return reply.result


def upsert(api, setup, records) -> None:
    reply = api.call("datastore_upsert", {"resource_id": setup.resource_id, "records": records, "method": "upsert"},
                     token=setup.editor.token)
    assert reply.status == 200, reply.body


def send(app) -> dict[str, str]:
    """Send every due delivery from this thread, retrying quickly; their final statuses."""
    return drain(get_db(app), due_deliveries(get_db(app)), Settings.from_config(app.config))


def test_a_records_change_is_delivered_signed_with_a_thin_body(app, api, setup, receiver):
    subscription = subscribe(api, setup, receiver)
    assert subscription["events"] == ["records.changed", "metadata.changed", "freshness.overdue"]
    upsert(api, setup, [{"id": "a", "v": 1}, {"id": "b", "v": 2}])
    assert receiver.received == []  # nothing is sent inside the request
    assert list(send(app).values()) == ["delivered"]
    (request,) = receiver.wait(1)
    assert request.verified, request.headers
    assert request.headers["webhook-id"].startswith("msg_") and request.headers["content-type"] == "application/json"
    body = request.json
    assert body["type"] == "records.changed" and body["timestamp"].endswith("Z")
    data = body["data"]
    assert data == {"package_id": setup.dataset["id"], "package_name": setup.dataset["name"],
                    "resource_id": setup.resource_id, "seq_from": 1, "seq_to": 2, "cursor": data["cursor"]}
    # the records themselves are pulled through the audited API, from the cursor sent
    changes = api.call("datastore_changes", {"resource_id": setup.resource_id, "cursor": data["cursor"]},
                       token=setup.consumer.token).result
    assert [c["_seq"] for c in changes["changes"]] == [1, 2]
    # another secret, or a changed body, does not verify
    assert not verify(signing.new_secret(), request.headers, request.body)
    assert not verify(receiver.secret, request.headers, request.body.replace(b'"seq_to":2', b'"seq_to":9'))


def test_the_secret_is_shown_once_and_stored_encrypted(app, api, setup, receiver, db):
    created = subscribe(api, setup, receiver)
    assert created["secret"].startswith("whsec_") and len(signing.secret_bytes(created["secret"])) == 32
    shown = api.call("webhook_show", {"id": created["id"]}, token=setup.consumer.token).result
    listed = api.call("webhook_list", token=setup.consumer.token).result
    assert "secret" not in shown and [s["id"] for s in listed] == [created["id"]]
    assert all("secret" not in s for s in listed)
    stored = db.get(WebhookSubscription, created["id"]).secret_encrypted
    assert created["secret"] not in stored
    assert signing.decrypt_secret(stored, app.config["SECRET_KEY"]) == created["secret"]
    with pytest.raises(signing.SecretUnavailable, match="SECRET_KEY changed"):
        signing.decrypt_secret(stored, "another key")


def test_a_failing_receiver_is_retried_with_backoff_until_it_answers(app, api, setup, receiver, db):
    subscription = subscribe(api, setup, receiver)
    receiver.statuses = [500, 503]
    upsert(api, setup, [{"id": "a", "v": 1}])
    assert list(send(app).values()) == ["delivered"]
    first, second, third = receiver.wait(3)
    assert [r.answered for r in (first, second, third)] == [500, 503, 200]
    assert all(r.verified for r in (first, second, third))
    assert len({r.headers["webhook-id"] for r in (first, second, third)}) == 1  # the same message, retried
    log = api.call("webhook_delivery_list", {"id": subscription["id"]}, token=setup.consumer.token).result
    (delivery,) = log
    assert delivery["status"] == "delivered" and delivery["attempts"] == 3 and delivery["last_status_code"] == 200
    assert [t["status_code"] for t in delivery["log"]] == [500, 503, 200]
    assert delivery["log"][0]["error"].startswith("HTTP 500")
    assert delivery["event"] == "records.changed" and delivery["finished"] is not None


def test_exponential_backoff_is_capped():
    settings = Settings(retry_delay=5, retry_max_delay=60)
    assert [settings.backoff(n) for n in range(1, 7)] == [5, 10, 20, 40, 60, 60]


def test_a_delivery_fails_after_the_configured_number_of_tries(app, api, setup, receiver):
    subscription = subscribe(api, setup, receiver)
    receiver.statuses = [500, 500, 500, 500]
    upsert(api, setup, [{"id": "a", "v": 1}])
    assert list(send(app).values()) == ["failed"]
    assert len(receiver.wait(3)) == 3
    (delivery,) = api.call("webhook_delivery_list", {"id": subscription["id"], "status": "failed"},
                           token=setup.consumer.token).result
    assert delivery["attempts"] == 3
    # the subscription stays active: only 410 disables it
    assert api.call("webhook_show", {"id": subscription["id"]}, token=setup.consumer.token).result["active"] is True


def test_an_unreachable_receiver_is_logged_and_retried(app, api, setup, receiver):
    subscription = subscribe(api, setup, receiver)
    receiver.stop()
    upsert(api, setup, [{"id": "a", "v": 1}])
    assert list(send(app).values()) == ["failed"]
    (delivery,) = api.call("webhook_delivery_list", {"id": subscription["id"]}, token=setup.consumer.token).result
    assert delivery["attempts"] == 3 and delivery["last_status_code"] is None
    assert "ConnectionError" in delivery["last_error"]


def test_410_gone_disables_the_subscription(app, api, setup, receiver, db):
    subscription = subscribe(api, setup, receiver)
    receiver.statuses = [410]
    upsert(api, setup, [{"id": "a", "v": 1}])
    reply = api.call("package_patch", {"id": setup.dataset["id"], "notes": "更新说明"}, token=setup.editor.token)
    assert reply.status == 200, reply.body
    statuses = send(app)
    assert sorted(statuses.values()) == ["cancelled", "failed"]
    assert len(receiver.wait(1)) == 1  # the second delivery was never sent
    shown = api.call("webhook_show", {"id": subscription["id"]}, token=setup.consumer.token).result
    assert shown["active"] is False and "410" in shown["disabled_reason"]
    upsert(api, setup, [{"id": "b", "v": 2}])
    assert due_deliveries(get_db(app)) == []  # a disabled subscription gets no new deliveries
    log = api.call("webhook_delivery_list", {"id": subscription["id"]}, token=setup.consumer.token).result
    assert sorted(d["status"] for d in log) == ["cancelled", "failed"]


def test_a_rolled_back_change_notifies_nobody(app, api, setup, receiver, db):
    from catalog.auth.models import User
    from catalog.datastore import service as datastore

    subscribe(api, setup, receiver)
    session = get_db(app).session()
    try:
        editor = session.get(User, setup.editor.id)
        datastore.upsert_records(session, editor, datastore.get_table(session, setup.resource_id), [{"id": "a", "v": 1}])
        assert session.scalar(sa.select(sa.func.count()).select_from(WebhookDelivery)) == 1
        session.rollback()
    finally:
        session.close()
    assert db.scalar(sa.select(sa.func.count()).select_from(WebhookDelivery)) == 0
    assert send(app) == {}
    # an API call that fails after writing is rolled back with its delivery
    reply = api.call("datastore_upsert", {"resource_id": setup.resource_id, "method": "insert",
                                          "records": [{"id": "z", "v": 1}, {"id": "z", "v": 2}]},
                     token=setup.editor.token)
    assert reply.status == 409
    assert send(app) == {} and receiver.received == []


def test_changes_waiting_to_be_sent_are_merged_into_one_delivery(app, api, setup, receiver):
    subscribe(api, setup, receiver)
    upsert(api, setup, [{"id": "a", "v": 1}])
    upsert(api, setup, [{"id": "b", "v": 1}, {"id": "c", "v": 1}])
    upsert(api, setup, [{"id": "a", "v": 1}])  # unchanged: no change, nothing to announce
    assert len(send(app)) == 1
    (request,) = receiver.wait(1)
    assert (request.json["data"]["seq_from"], request.json["data"]["seq_to"]) == (1, 3)
    api.call("datastore_delete", {"resource_id": setup.resource_id, "filters": {"id": "b"}}, token=setup.editor.token)
    send(app)
    assert receiver.wait(2)[1].json["data"] | {"cursor": None} == {
        "package_id": setup.dataset["id"], "package_name": setup.dataset["name"], "resource_id": setup.resource_id,
        "seq_from": 4, "seq_to": 4, "cursor": None}


def test_subscriptions_receive_only_their_events(app, api, setup, receiver):
    subscribe(api, setup, receiver, events=["metadata.changed"])
    upsert(api, setup, [{"id": "a", "v": 1}])
    assert send(app) == {}
    reply = api.call("package_patch", {"id": setup.dataset["id"], "title": "宁陕县人口信息"}, token=setup.editor.token)
    assert reply.status == 200, reply.body
    send(app)
    (request,) = receiver.wait(1)
    assert request.verified and request.json["type"] == "metadata.changed"
    assert request.json["data"]["package_id"] == setup.dataset["id"] and request.json["data"]["state"] == "active"
    api.call("package_delete", {"id": setup.dataset["id"]}, token=setup.editor.token)
    send(app)
    assert receiver.wait(2)[1].json["data"]["state"] == "deleted"


def test_a_subscriber_who_may_no_longer_read_the_dataset_gets_nothing(app, api, setup, receiver):
    subscribe(api, setup, receiver)
    reply = api.call("package_patch", {"id": setup.dataset["id"], "private": True}, token=setup.editor.token)
    assert reply.status == 200, reply.body
    upsert(api, setup, [{"id": "a", "v": 1}])
    assert send(app) == {}


def test_who_may_subscribe_and_see_subscriptions(app, api, setup, receiver, make):
    data = {"package_id": setup.dataset["id"], "url": receiver.url}
    assert api.call("webhook_create", data).status == 403  # anonymous
    private = make.dataset(setup.owner["id"], private=True)
    assert api.call("webhook_create", {**data, "package_id": private["id"]}, token=setup.consumer.token).status == 404
    assert api.call("webhook_create", {**data, "package_id": "nothing"}, token=setup.consumer.token).status == 404
    mine = subscribe(api, setup, receiver)
    # the subscriber, the dataset's editors and sysadmins see it; others do not learn it exists
    for account in (setup.consumer, setup.editor, setup.sysadmin):
        assert api.call("webhook_show", {"id": mine["id"]}, token=account.token).status == 200
        assert mine["id"] in [s["id"] for s in api.call("webhook_list", token=account.token).result]
    assert api.call("webhook_show", {"id": mine["id"]}, token=setup.outsider.token).status == 404
    assert api.call("webhook_list", token=setup.outsider.token).result == []
    assert api.call("webhook_delivery_list", {"id": mine["id"]}, token=setup.outsider.token).status == 404
    assert api.call("webhook_delete", {"id": mine["id"]}, token=setup.outsider.token).status == 404
    assert api.call("webhook_delete", {"id": mine["id"]}, token=setup.consumer.token).status == 200
    assert api.call("webhook_show", {"id": mine["id"]}, token=setup.consumer.token).status == 404


@pytest.mark.parametrize("data, field", [
    ({"url": ""}, "url"), ({"url": "ftp://example.gov.cn/x"}, "url"), ({"url": "not a url"}, "url"),
    ({"url": "http://host:99999/"}, "url"), ({"url": "http://[::1/x"}, "url"), ({"url": "http://" + "a" * 2000 + ".cn/"}, "url"),
    ({"events": ["records.deleted"]}, "events"), ({"events": []}, "events"), ({"events": "{oops"}, "events"),
    ({"package_id": None}, "package_id"),
])
def test_bad_subscriptions_are_refused_with_the_field(api, setup, receiver, data, field):
    reply = api.call("webhook_create", {"package_id": setup.dataset["id"], "url": receiver.url, **data},
                     token=setup.consumer.token)
    assert reply.status == 409 and field in reply.error, reply.body


def test_a_read_only_token_cannot_subscribe(api, setup, receiver, make):
    reader = make.user("reader", scope="read")
    reply = api.call("webhook_create", {"package_id": setup.dataset["id"], "url": receiver.url}, token=reader.token)
    assert reply.status == 403


def test_a_delivery_whose_secret_cannot_be_decrypted_fails_saying_why(app, api, setup, receiver, monkeypatch):
    subscription = subscribe(api, setup, receiver)
    upsert(api, setup, [{"id": "a", "v": 1}])
    monkeypatch.setitem(app.config, "SECRET_KEY", "rotated")
    assert list(send(app).values()) == ["failed"]
    (delivery,) = api.call("webhook_delivery_list", {"id": subscription["id"]}, token=setup.consumer.token).result
    assert "SECRET_KEY changed" in delivery["last_error"] and receiver.received == []


def test_a_resource_added_or_removed_is_a_metadata_change(app, api, setup, receiver):
    subscribe(api, setup, receiver, events=["metadata.changed"])
    added = api.call("resource_create", {"package_id": setup.dataset["id"], "name": "人口统计表",
                                         "url": "https://data.example.gov.cn/people.csv"}, token=setup.editor.token)
    assert added.status == 200, added.body
    api.call("resource_delete", {"id": added.result["id"]}, token=setup.editor.token)
    send(app)
    requests = receiver.wait(1)
    assert requests and all(r.verified and r.json["type"] == "metadata.changed" for r in requests)
    assert requests[0].json["data"]["package_id"] == setup.dataset["id"]
