"""Deliveries after commit: a background thread without a broker, Celery workers with one (real Redis),
and the pending ones picked up by ``catalog webhooks deliver`` and the scheduler tick.

Committed databases (``tests.sync.helpers.fresh_catalog``: a fresh SQLite file and PostgreSQL database
per module), because the dispatch happens only when a real transaction commits. The broker is Redis
database 13 on 127.0.0.1:6379 (``CATALOG_TEST_WEBHOOK_BROKER_URL`` overrides it), flushed before and after.
"""
from __future__ import annotations

import os
import time

import pytest
import sqlalchemy as sa

from catalog.webhooks.models import WebhookDelivery
from tests.sync.helpers import KINDS, catalog_fixture, running_worker, wait_for
from tests.webhooks.receiver import Receiver

BROKER_URL = os.environ.get("CATALOG_TEST_WEBHOOK_BROKER_URL", "redis://127.0.0.1:6379/13")
FAST = {"CATALOG_WEBHOOK_RETRY_DELAY": "0.05", "CATALOG_WEBHOOK_MAX_ATTEMPTS": "4", "CATALOG_WEBHOOK_TIMEOUT": "5"}


@pytest.fixture(scope="module", params=KINDS)
def plain(request, tmp_path_factory):
    """A committed catalog without a broker: deliveries go to a background thread."""
    yield from catalog_fixture(request, tmp_path_factory, **FAST)


@pytest.fixture
def receiver():
    server = Receiver().start()
    yield server
    server.stop()


class Client:
    """The catalog's API through the Flask test client, as its sysadmin (requests commit for real)."""

    def __init__(self, catalog):
        self.catalog = catalog
        self.client = catalog.app.test_client()

    def call(self, name: str, data: dict) -> dict:
        response = self.client.post(f"/api/3/action/{name}", json=data,
                                    headers={"Authorization": self.catalog.admin_token})
        body = response.get_json()
        assert response.status_code == 200, body
        return body["result"]


def table_with_subscription(catalog, receiver, name: str) -> tuple[Client, str, dict]:
    api = Client(catalog)
    dataset = catalog.dataset(name, record_schema=None)
    resource_id = api.call("datastore_create", {"resource": {"package_id": dataset, "name": "表"},
                                                "fields": [{"id": "id", "type": "text"}, {"id": "v", "type": "int"}],
                                                "primary_key": "id"})["resource_id"]
    subscription = api.call("webhook_create", {"package_id": dataset, "url": receiver.url,
                                               "events": ["records.changed"]})
    receiver.secret = subscription["secret"]
    return api, resource_id, subscription


def deliveries(catalog, subscription_id: str) -> list[WebhookDelivery]:
    with catalog.database.session() as session:
        found = list(session.scalars(sa.select(WebhookDelivery).where(
            WebhookDelivery.subscription_id == subscription_id).order_by(WebhookDelivery.created)))
        session.expunge_all()
        return found


def finished(catalog, subscription_id: str, count: int = 1) -> list[WebhookDelivery]:
    def done():
        found = deliveries(catalog, subscription_id)
        return found if len(found) >= count and all(d.status != "pending" for d in found) else None
    return wait_for(done, timeout=30, interval=0.05, what="the deliveries to finish")


def test_a_committed_change_is_sent_after_commit_by_a_background_thread(plain, receiver):
    api, resource_id, subscription = table_with_subscription(plain, receiver, "thread-sent")
    receiver.statuses = [500]
    api.call("datastore_upsert", {"resource_id": resource_id, "records": [{"id": "a", "v": 1}], "method": "upsert"})
    first, second = receiver.wait(2)
    assert first.answered == 500 and second.answered == 200 and first.verified and second.verified
    assert second.json["data"]["seq_to"] == 1
    (delivery,) = finished(plain, subscription["id"])
    assert delivery.status == "delivered" and delivery.attempts == 2


def test_a_rolled_back_change_sends_nothing(plain, receiver):
    from catalog.auth.models import User
    from catalog.datastore import service as datastore

    _api, resource_id, subscription = table_with_subscription(plain, receiver, "thread-rollback")
    with plain.database.session() as session:
        admin = session.scalar(sa.select(User).where(User.name == "admin"))
        datastore.upsert_records(session, admin, datastore.get_table(session, resource_id), [{"id": "a", "v": 1}])
        session.rollback()
    time.sleep(0.5)
    assert receiver.received == [] and deliveries(plain, subscription["id"]) == []
    with plain.database.session() as session:
        admin = session.scalar(sa.select(User).where(User.name == "admin"))
        datastore.upsert_records(session, admin, datastore.get_table(session, resource_id), [{"id": "b", "v": 1}])
        session.commit()
    (request,) = receiver.wait(1)
    assert request.verified and request.json["data"] | {"cursor": None} == {
        "package_id": request.json["data"]["package_id"], "package_name": "thread-rollback",
        "resource_id": resource_id, "seq_from": 1, "seq_to": 1, "cursor": None}


def test_pending_deliveries_left_behind_are_sent_by_the_cli_and_the_scheduler(plain, receiver):
    plain.app.config["WEBHOOK_DISPATCH"] = "manual"  # as if the process died right after the commit
    try:
        api, resource_id, subscription = table_with_subscription(plain, receiver, "left-pending")
        api.call("datastore_upsert", {"resource_id": resource_id, "records": [{"id": "a", "v": 1}], "method": "upsert"})
        time.sleep(0.3)
        assert receiver.received == [] and [d.status for d in deliveries(plain, subscription["id"])] == ["pending"]
        result = plain.cli("webhooks", "deliver", timeout=60)
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == "Webhook deliveries: 1 delivered"
        assert receiver.wait(1)[0].verified
        # another one, left for the scheduler's tick (which prints nothing when no sync job is due)
        api.call("datastore_upsert", {"resource_id": resource_id, "records": [{"id": "b", "v": 1}], "method": "upsert"})
        result = plain.cli("sync", "scheduler", "--once", timeout=60)
        assert result.returncode == 0, result.stderr
        assert result.stdout == ""
        second = receiver.wait(2)[1]
        assert second.verified and second.json["data"]["seq_from"] == 2
        assert [d.status for d in finished(plain, subscription["id"], 2)] == ["delivered", "delivered"]
        assert plain.cli("webhooks", "deliver", timeout=60).stdout.strip() == "Webhook deliveries: nothing due"
    finally:
        plain.app.config["WEBHOOK_DISPATCH"] = "auto"


# --- on Celery workers ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def broker():
    """Redis database 13, empty before and after; the tests skip when Redis does not answer."""
    import redis

    client = redis.Redis.from_url(BROKER_URL, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError as error:
        client.close()
        pytest.skip(f"Redis is not reachable at {BROKER_URL} ({error}); start redis-server for the worker tests")
    client.flushdb()
    yield BROKER_URL
    client.flushdb()
    client.close()


@pytest.fixture(scope="module", params=KINDS)
def queued(request, tmp_path_factory, broker):
    """A committed catalog whose deliveries go to Celery workers."""
    yield from catalog_fixture(request, tmp_path_factory, CATALOG_BROKER_URL=broker, **FAST)


@pytest.fixture(scope="module")
def worker(queued):
    with running_worker(queued) as process:
        yield process


def test_deliveries_run_on_the_workers_and_retry_there(queued, worker, receiver):
    api, resource_id, subscription = table_with_subscription(queued, receiver, "celery-sent")
    receiver.statuses = [503]
    api.call("datastore_upsert", {"resource_id": resource_id, "records": [{"id": "a", "v": 1}], "method": "upsert"})
    first, second = receiver.wait(2, timeout=45)
    assert (first.answered, second.answered) == (503, 200) and first.verified and second.verified
    assert first.headers["webhook-id"] == second.headers["webhook-id"]
    (delivery,) = finished(queued, subscription["id"])
    assert delivery.status == "delivered" and delivery.attempts == 2
    assert [t["status_code"] for t in delivery.log] == [503, 200]
