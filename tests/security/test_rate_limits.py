"""Rate limits on the Action API: per token (by digest) when one is presented, else per address."""
from __future__ import annotations

import hashlib
import os
import time

import pytest

from catalog.auth.passwords import token_digest
from catalog.cli import run_migrations

REDIS_URL = os.environ.get("CATALOG_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def call(client, *, token=None, address="192.0.2.10", header="Authorization",
         path="/api/3/action/status_show"):
    headers = {header: token} if token else {}
    return client.get(path, headers=headers, environ_base={"REMOTE_ADDR": address})


@pytest.fixture
def limits(app, monkeypatch):
    """Small budgets on the shared test app (the limit is read from the config on every request)."""
    monkeypatch.setitem(app.config, "RATELIMIT_API", "3 per minute")
    monkeypatch.setitem(app.config, "RATELIMIT_API_ANONYMOUS", "4 per minute")


def assert_rate_limited(response):
    assert response.status_code == 429
    assert 1 <= int(response.headers["Retry-After"]) <= 60
    body = response.get_json()
    assert body["success"] is False
    assert body["error"]["__type"] == "Rate Limit Error"
    assert "retry after" in body["error"]["message"]
    assert body["help"].endswith("help_show?name=status_show")


def test_the_call_after_the_budget_is_refused_with_retry_after(client, make, limits, address):
    alice = make.user("alice")
    for _ in range(3):
        assert call(client, token=alice.token, address=address).status_code == 200
    assert_rate_limited(call(client, token=alice.token, address=address))


def test_a_refused_token_is_served_again_once_its_window_has_passed(client, make, app, monkeypatch, address):
    # In-process counters (no Redis) reset when read after their window, with no sweeping thread.
    monkeypatch.setitem(app.config, "RATELIMIT_API", "2 per 3 seconds")  # the window opens with the first call
    alice = make.user("alice")
    assert [call(client, token=alice.token, address=address).status_code for _ in range(3)] == [200, 200, 429]
    time.sleep(3.05)
    assert call(client, token=alice.token, address=address).status_code == 200


def test_anonymous_callers_are_limited_per_address(client, limits, address):
    for _ in range(4):
        assert call(client, address=address).status_code == 200
    refused = call(client, address=address)
    assert_rate_limited(refused)
    assert "your address" in refused.get_json()["error"]["message"]
    assert call(client, address=address + "0").status_code == 200  # another address, another budget


def test_different_tokens_have_separate_budgets(client, make, limits, address):
    alice, bob = make.user("alice"), make.user("bob")
    for _ in range(3):
        assert call(client, token=alice.token, address=address).status_code == 200
    assert call(client, token=alice.token, address=address).status_code == 429
    assert call(client, token=bob.token, address=address).status_code == 200
    assert call(client, address=address).status_code == 200  # nor does the address's anonymous budget suffer


def test_the_same_token_from_another_address_shares_its_budget(client, make, limits, address):
    alice = make.user("alice")
    for n in range(3):
        assert call(client, token=alice.token, address=f"203.0.113.{n + 1}").status_code == 200
    assert call(client, token=alice.token, address="203.0.113.99").status_code == 429


def test_every_header_form_of_a_token_spends_the_same_budget(client, make, limits, address):
    alice = make.user("alice")
    assert call(client, token=alice.token, address=address).status_code == 200
    assert call(client, token=f"Bearer {alice.token}", address=address).status_code == 200
    assert call(client, token=alice.token, header="X-CKAN-API-Key", address=address).status_code == 200
    assert call(client, token=f"bearer  {alice.token} ", address=address).status_code == 429


def test_every_action_and_method_spends_one_budget(client, make, limits, address):
    alice = make.user("alice")
    assert call(client, token=alice.token, address=address).status_code == 200
    assert call(client, token=alice.token, address=address,
                path="/api/action/package_list").status_code == 200
    assert client.post("/api/3/action/user_show", json={"id": "alice"},
                       headers={"Authorization": alice.token},
                       environ_base={"REMOTE_ADDR": address}).status_code == 200
    assert call(client, token=alice.token, address=address, path="/api/3/openapi.json").status_code == 429


def test_pages_outside_the_api_are_not_limited(client, limits, address):
    for _ in range(6):
        assert client.get("/", environ_base={"REMOTE_ADDR": address}).status_code == 200


def test_limits_can_be_switched_off(standalone_app, address):
    app = standalone_app(RATELIMIT_ENABLED=False, RATELIMIT_API_ANONYMOUS="1 per minute")
    client = app.test_client()
    assert all(call(client, address=address).status_code == 200 for _ in range(3))


def test_forwarded_address_is_ignored_unless_a_proxy_is_configured(standalone_app):
    client = standalone_app(RATELIMIT_API_ANONYMOUS="1 per minute").test_client()
    assert client.get("/api/3", headers={"X-Forwarded-For": "10.0.0.1"}).status_code == 200
    # A client cannot buy a fresh budget by inventing X-Forwarded-For.
    assert client.get("/api/3", headers={"X-Forwarded-For": "10.0.0.2"}).status_code == 429


def test_behind_a_configured_proxy_each_forwarded_address_has_its_budget(standalone_app):
    client = standalone_app(RATELIMIT_API_ANONYMOUS="1 per minute", PROXY_COUNT=1).test_client()
    assert client.get("/api/3", headers={"X-Forwarded-For": "10.0.0.1"}).status_code == 200
    assert client.get("/api/3", headers={"X-Forwarded-For": "10.0.0.1"}).status_code == 429
    assert client.get("/api/3", headers={"X-Forwarded-For": "10.0.0.2"}).status_code == 200


@pytest.fixture
def redis_client():
    """The local Redis server, or a skip saying how to start it."""
    redis = pytest.importorskip("redis")
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1)
    try:
        client.ping()
    except redis.exceptions.ConnectionError:
        pytest.skip(f"Redis is not running at {REDIS_URL}: start it (redis-server --daemonize yes "
                    "--port 6379) to test rate-limit counters shared through Redis")
    yield client
    client.close()


def test_counters_live_in_redis_under_the_token_digest(standalone_app, redis_client, address):
    secret = "cat_" + hashlib.sha256(address.encode()).hexdigest()  # made up: counted before it is checked
    digest = token_digest(secret)
    pattern = f"LIMITS:LIMITER/catalog/*{digest}*"
    app = standalone_app(REDIS_URL=REDIS_URL, RATELIMIT_API="2 per minute")
    run_migrations(app)
    try:
        client = app.test_client()
        for _ in range(2):
            assert call(client, token=secret, address=address).status_code == 403  # unknown token
        keys = [key.decode() for key in redis_client.keys(pattern)]
        assert len(keys) == 1
        assert secret not in keys[0]
        assert int(redis_client.get(keys[0])) == 2
        assert 0 < redis_client.ttl(keys[0]) <= 60
        # A second worker (another app on the same Redis) sees the spent budget.
        other = standalone_app(REDIS_URL=REDIS_URL, RATELIMIT_API="2 per minute").test_client()
        assert_rate_limited(call(other, token=secret, address="192.0.2.200"))
    finally:
        for key in redis_client.keys(pattern):
            redis_client.delete(key)


def test_a_limit_that_does_not_parse_stops_the_start(standalone_app):
    with pytest.raises(ValueError, match="CATALOG_RATELIMIT_API is not a rate limit"):
        standalone_app(RATELIMIT_API="600 per minit")
