"""API token actions and token authentication through the HTTP API."""
from __future__ import annotations

import datetime as dt
import json

import pytest

from catalog.auth.models import ApiToken




@pytest.fixture
def alice(make):
    return make.user("alice")


@pytest.fixture
def bob(make):
    return make.user("bob")


def whoami(api, token) -> tuple[int, dict]:
    """Status and answer of a read with ``token``: 200 while the token works, 403 once it is refused."""
    reply = api.call("api_token_list", {}, token=token)
    return reply.status, reply.body


def new_token(api, owner, *, token=None, **params) -> dict:
    reply = api.call("api_token_create", {"user": owner.name, "name": "sync", **params},
                     token=token or owner.token)
    assert reply.status == 200, reply.body
    return reply.result


# --- api_token_create --------------------------------------------------------------------------

def test_create_for_self_and_use_it_at_once(api, alice):
    created = new_token(api, alice, name="household-sync")
    assert created["token"].startswith("cat_")
    assert created["id"]
    assert created["scope"] == "write"
    assert created["expires_at"] is not None
    shown = api.call("user_show", {"id": "alice"}, token=created["token"]).result
    assert shown["email"] == "alice@example.gov.cn"  # the token acts as alice


def test_default_lifetime_is_a_year(api, alice):
    created = new_token(api, alice)
    expires = dt.datetime.fromisoformat(created["expires_at"]).replace(tzinfo=dt.timezone.utc)
    lifetime = expires - dt.datetime.now(dt.timezone.utc)
    assert dt.timedelta(days=364) < lifetime <= dt.timedelta(days=365)


def test_create_by_user_id(api, alice):
    reply = api.call("api_token_create", {"user": alice.id, "name": "x"}, token=alice.token)
    assert reply.status == 200, reply.body
    created = reply.result
    # the same account as naming alice: the token acts as alice and is listed among her tokens
    shown = api.call("user_show", {"id": "alice"}, token=created["token"]).result
    assert shown["email"] == "alice@example.gov.cn"
    listed = api.call("api_token_list", {"user": "alice"}, token=alice.token).result
    assert {t["id"]: t["name"] for t in listed}[created["id"]] == "x"


def test_token_is_accepted_in_every_header_form(client, api, alice):
    secret = new_token(api, alice)["token"]
    url = "/api/3/action/user_show?id=alice"
    for headers in ({"Authorization": secret}, {"Authorization": f"Bearer {secret}"},
                    {"Authorization": f"bearer  {secret} "}, {"X-CKAN-API-Key": secret}):
        response = client.get(url, headers=headers)
        assert response.status_code == 200, headers
        assert response.get_json()["result"]["email"] == "alice@example.gov.cn", headers


def test_token_in_x_ckan_api_key_header_on_post(client, api, alice):
    secret = new_token(api, alice)["token"]
    response = client.post("/api/3/action/api_token_create", json={"user": "alice", "name": "y"},
                           headers={"X-CKAN-API-Key": secret})
    assert response.status_code == 200
    assert response.get_json()["result"]["token"] != secret


def test_create_for_another_user_is_forbidden(api, alice, bob):
    reply = api.call("api_token_create", {"user": "bob", "name": "steal"}, token=alice.token)
    assert reply.status == 403
    assert reply.error["__type"] == "Authorization Error"
    assert [t["name"] for t in api.call("api_token_list", {"user": "bob"}, token=bob.token).result] == ["test"]


def test_anonymous_cannot_create_tokens(api, alice):
    reply = api.call("api_token_create", {"user": "alice", "name": "steal"})
    assert reply.status == 403


def test_sysadmin_creates_a_token_for_another_user(api, alice, sysadmin):
    created = new_token(api, alice, token=sysadmin.token)
    shown = api.call("user_show", {"id": "alice"}, token=created["token"]).result
    assert shown["email"] == "alice@example.gov.cn"
    # the token acts as alice, not as the sysadmin who made it
    assert api.call("organization_create", {"name": "x-org"}, token=created["token"]).status == 403


def test_create_for_unknown_user(api, sysadmin):
    reply = api.call("api_token_create", {"user": "ghost", "name": "x"}, token=sysadmin.token)
    assert reply.status == 404


@pytest.mark.parametrize("params, field", [
    ({"name": ""}, "name"),
    ({"scope": "admin"}, "scope"),
    ({"expires_in": 0}, "expires_in"),
    ({"expires_in": "soon"}, "expires_in"),
    ({"expires_in": 3651}, "expires_in"),
    ({"expires_in": 1, "unit": 0}, "unit"),
    ({"expires_in": 3650, "unit": 86401}, "expires_in"),
    ({"expires_in": 10 ** 400}, "expires_in"),
    ({"expires_in": 1, "unit": 10 ** 400}, "unit"),
])
def test_create_with_bad_parameters(api, alice, params, field):
    reply = api.call("api_token_create", {"user": "alice", "name": "x", **params}, token=alice.token)
    assert reply.status == 409
    assert field in reply.error


def test_create_without_name(api, alice):
    reply = api.call("api_token_create", {"user": "alice"}, token=alice.token)
    assert reply.status == 409
    assert "name" in reply.error


def test_expires_in_counts_units_of_seconds(api, alice):
    created = new_token(api, alice, expires_in=2, unit=3600)
    expires = dt.datetime.fromisoformat(created["expires_at"]).replace(tzinfo=dt.timezone.utc)
    lifetime = expires - dt.datetime.now(dt.timezone.utc)
    assert dt.timedelta(minutes=119) < lifetime <= dt.timedelta(hours=2)


# --- api_token_list ----------------------------------------------------------------------------

def test_list_shows_metadata_but_no_secrets(api, alice):
    first = new_token(api, alice, name="first")
    second = new_token(api, alice, name="second", scope="read")
    reply = api.call("api_token_list", {"user": "alice"}, token=alice.token, method="GET")
    assert reply.status == 200
    tokens = reply.result
    assert [t["name"] for t in tokens] == ["second", "first", "test"]
    assert {t["id"] for t in tokens} >= {first["id"], second["id"]}
    assert all(t["user_id"] == alice.id for t in tokens)
    assert tokens[0]["scope"] == "read"
    assert set(tokens[0]) == {"id", "name", "user_id", "scope", "created_at", "expires_at", "last_access"}
    text = json.dumps(reply.body)
    for secret in (first["token"], second["token"], alice.token):
        assert secret not in text
    assert "token_hash" not in text


def test_list_defaults_to_the_caller(api, alice, bob):
    mine = api.call("api_token_list", {}, token=alice.token).result
    assert [t["user_id"] for t in mine] == [alice.id]
    by_id = api.call("api_token_list", {"user_id": alice.id}, token=alice.token).result
    assert [t["id"] for t in by_id] == [t["id"] for t in mine]


def test_list_records_last_access(api, alice):
    before = api.call("api_token_list", {"user": "alice"}, token=alice.token).result
    assert before[0]["last_access"] is not None  # this very call used it


def test_list_leaves_out_revoked_tokens(api, alice):
    keep = new_token(api, alice, name="keep")
    drop = new_token(api, alice, name="drop")
    api.call("api_token_revoke", {"jti": drop["id"]}, token=alice.token).result
    names = [t["name"] for t in api.call("api_token_list", {"user": "alice"}, token=alice.token).result]
    assert "drop" not in names
    assert "keep" in names and keep["id"]


def test_list_of_another_user_is_forbidden(api, alice, bob):
    reply = api.call("api_token_list", {"user": "bob"}, token=alice.token)
    assert reply.status == 403
    assert reply.error["__type"] == "Authorization Error"


def test_list_anonymously_is_forbidden(api, alice):
    assert api.call("api_token_list", {"user": "alice"}).status == 403
    assert api.call("api_token_list", {}).status == 403


def test_sysadmin_lists_anyones_tokens(api, alice, sysadmin):
    tokens = api.call("api_token_list", {"user": "alice"}, token=sysadmin.token).result
    assert [t["user_id"] for t in tokens] == [alice.id]


# --- api_token_revoke --------------------------------------------------------------------------

@pytest.mark.parametrize("by", ["jti", "token"])
def test_revoked_token_is_refused_at_once(api, alice, by):
    created = new_token(api, alice)
    secret = created["token"]
    assert whoami(api, secret)[0] == 200
    reply = api.call("api_token_revoke", {by: created["id"] if by == "jti" else secret}, token=alice.token)
    assert reply.status == 200
    assert reply.result is None
    status, body = whoami(api, secret)
    assert status == 403
    assert body["error"]["__type"] == "Authorization Error"
    assert "not valid" in body["error"]["message"]
    assert whoami(api, alice.token)[0] == 200  # her other token still works


def test_revoking_the_token_in_use(api, alice):
    reply = api.call("api_token_revoke", {"token": alice.token}, token=alice.token)
    assert reply.status == 200
    refused = api.call("api_token_list", {}, token=alice.token)
    assert refused.status == 403
    assert "not valid" in refused.error["message"]


def test_revoking_twice_is_harmless(api, db, alice):
    created = new_token(api, alice)
    assert api.call("api_token_revoke", {"jti": created["id"]}, token=alice.token).status == 200
    db.expire_all()
    first = db.get(ApiToken, created["id"]).revoked_at
    assert first is not None
    again = api.call("api_token_revoke", {"jti": created["id"]}, token=alice.token)
    assert again.status == 200, again.body
    # still revoked, at the time of the first revocation; still refused; alice's own token still works
    db.expire_all()
    assert db.get(ApiToken, created["id"]).revoked_at == first
    assert whoami(api, created["token"])[0] == 403
    assert whoami(api, alice.token)[0] == 200
    assert created["id"] not in [t["id"] for t in api.call("api_token_list", {}, token=alice.token).result]


@pytest.mark.parametrize("by", ["jti", "token"])
def test_revoking_someone_elses_token_is_forbidden(api, alice, bob, by):
    created = new_token(api, bob)
    reply = api.call("api_token_revoke", {by: created["id"] if by == "jti" else created["token"]},
                     token=alice.token)
    assert reply.status == 403
    assert reply.error["__type"] == "Authorization Error"
    assert whoami(api, created["token"])[0] == 200


def test_sysadmin_revokes_anyones_token(api, alice, sysadmin):
    created = new_token(api, alice)
    assert api.call("api_token_revoke", {"jti": created["id"]}, token=sysadmin.token).status == 200
    assert whoami(api, created["token"])[0] == 403


def test_revoke_without_token_or_jti(api, alice):
    reply = api.call("api_token_revoke", {}, token=alice.token)
    assert reply.status == 409
    assert "jti" in reply.error


@pytest.mark.parametrize("params", [{"jti": "no-such-id"}, {"jti": "x" * 300}, {"token": "cat_not-a-real-token"}])
def test_revoke_unknown_token(api, alice, params):
    reply = api.call("api_token_revoke", params, token=alice.token)
    assert reply.status == 404
    assert reply.error["__type"] == "Not Found Error"


def test_revoke_anonymously(api, alice):
    created = new_token(api, alice)
    assert api.call("api_token_revoke", {"jti": created["id"]}).status == 403
    assert whoami(api, created["token"])[0] == 200


# --- expiry ------------------------------------------------------------------------------------

def test_expired_token_is_refused(api, alice, db):
    from catalog.auth.models import ApiToken

    created = new_token(api, alice, expires_in=1, unit=1)
    assert whoami(api, created["token"])[0] == 200
    token = db.get(ApiToken, created["id"])
    token.expires_at = dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=1)
    db.commit()
    status, body = whoami(api, created["token"])
    assert status == 403
    assert body["error"]["__type"] == "Authorization Error"
    assert "expired" in body["error"]["message"]
    assert whoami(api, alice.token)[0] == 200


def test_expires_in_seconds_sets_a_short_lifetime(api, alice):
    created = new_token(api, alice, expires_in=90, unit=1)
    expires = dt.datetime.fromisoformat(created["expires_at"]).replace(tzinfo=dt.timezone.utc)
    assert dt.timedelta(seconds=85) < expires - dt.datetime.now(dt.timezone.utc) <= dt.timedelta(seconds=90)


def test_token_of_a_disabled_account_is_refused(api, alice, db):
    from catalog.auth.models import User

    db.get(User, alice.id).state = "disabled"
    db.commit()
    reply = api.call("organization_list", {}, token=alice.token)
    assert reply.status == 403
    assert "disabled" in reply.error["message"]


# --- scopes and unknown tokens -----------------------------------------------------------------

@pytest.fixture
def reader(make):
    return make.user("reader", scope="read")


@pytest.mark.parametrize("method", ["GET", "POST"])
@pytest.mark.parametrize("action, data", [
    ("organization_list", {}), ("user_show", {"id": "reader"}), ("api_token_list", {}),
    ("package_list", {}), ("status_show", {}),
])
def test_read_token_calls_read_actions(api, reader, method, action, data):
    reply = api.call(action, data, token=reader.token, method=method)
    assert reply.status == 200, reply.body


def test_read_token_acts_as_its_user(api, reader):
    assert api.call("user_show", {"id": "reader"}, token=reader.token).result["email"] == \
        "reader@example.gov.cn"


@pytest.mark.parametrize("action, data", [
    ("api_token_create", {"user": "reader", "name": "escalate"}),
    ("api_token_revoke", {"jti": "x"}),
    ("organization_create", {"name": "x-org"}),
])
def test_read_token_cannot_call_write_actions(api, reader, action, data):
    reply = api.call(action, data, token=reader.token)
    assert reply.status == 403
    assert reply.error["__type"] == "Authorization Error"
    assert "read-only" in reply.error["message"]


def test_read_token_of_a_sysadmin_cannot_write(api, make):
    root = make.user("root-reader", sysadmin=True, scope="read")
    reply = api.call("organization_create", {"name": "x-org"}, token=root.token)
    assert reply.status == 403
    assert "read-only" in reply.error["message"]
    assert "x-org" not in api.call("organization_list").result


def test_read_scope_created_through_the_api(api, alice):
    created = new_token(api, alice, scope="read")
    assert created["scope"] == "read"
    assert api.call("user_show", {"id": "alice"}, token=created["token"]).status == 200
    reply = api.call("api_token_create", {"user": "alice", "name": "x"}, token=created["token"])
    assert reply.status == 403
    assert "read-only" in reply.error["message"]


@pytest.mark.parametrize("secret", ["cat_unknown", "garbage", "Bearer cat_unknown"])
@pytest.mark.parametrize("method", ["GET", "POST"])
def test_unknown_token_is_refused_not_anonymous(api, secret, method):
    reply = api.call("organization_list", {}, token=secret, method=method)
    assert reply.status == 403
    assert reply.error["__type"] == "Authorization Error"
    assert "not valid" in reply.error["message"]


def test_unknown_x_ckan_api_key_is_refused(client):
    response = client.get("/api/3/action/organization_list", headers={"X-CKAN-API-Key": "cat_unknown"})
    assert response.status_code == 403


def test_blank_authorization_header_is_anonymous(client):
    response = client.get("/api/3/action/organization_list", headers={"Authorization": "  "})
    assert response.status_code == 200
