"""User account actions through the HTTP API: user_create, user_show, user_list."""
from __future__ import annotations

import pytest




NEW_USER = {"name": "li-ming", "password": "s3cret-pass", "email": "li.ming@ningshan.gov.cn",
            "fullname": "李明", "about": "县民政局数据管理员"}


# --- user_create -------------------------------------------------------------------------------

def test_sysadmin_creates_a_user(api, sysadmin):
    reply = api.call("user_create", NEW_USER, token=sysadmin.token)
    assert reply.status == 200
    user = reply.result
    assert user["name"] == "li-ming"
    assert user["fullname"] == "李明"
    assert user["display_name"] == "李明"
    assert user["email"] == "li.ming@ningshan.gov.cn"
    assert user["sysadmin"] is False
    assert user["state"] == "active"
    assert user["id"] and user["created"]
    assert not {"password", "password_hash"} & set(user)
    assert "s3cret-pass" not in str(reply.body)
    assert api.call("user_show", {"id": "li-ming"}, token=sysadmin.token).result["id"] == user["id"]


def test_created_password_is_stored_hashed_and_matches(api, sysadmin, db):
    from catalog.auth.service import authenticate_password

    api.call("user_create", NEW_USER, token=sysadmin.token).result
    user = authenticate_password(db, "li-ming", "s3cret-pass")
    assert user is not None and user.password_hash != "s3cret-pass"
    assert authenticate_password(db, "li-ming", "wrong-password") is None


def test_sysadmin_creates_a_sysadmin(api, sysadmin):
    reply = api.call("user_create", {**NEW_USER, "sysadmin": True}, token=sysadmin.token)
    assert reply.status == 200
    assert reply.result["sysadmin"] is True


def test_non_sysadmin_cannot_create_users(api, make, sysadmin):
    someone = make.user("someone")
    reply = api.call("user_create", NEW_USER, token=someone.token)
    assert reply.status == 403
    assert reply.error["__type"] == "Authorization Error"
    assert api.call("user_show", {"id": "li-ming"}, token=sysadmin.token).status == 404


def test_department_admin_cannot_create_users(api, make):
    admin = make.user("dept-admin")
    make.department("mzj", members={"admin": admin})
    assert api.call("user_create", NEW_USER, token=admin.token).status == 403


def test_anonymous_cannot_create_users(api, sysadmin):
    reply = api.call("user_create", NEW_USER)
    assert reply.status == 403
    assert api.call("user_show", {"id": "li-ming"}, token=sysadmin.token).status == 404


@pytest.mark.parametrize("token_of", ["anonymous", "user"])
def test_non_sysadmin_cannot_create_a_sysadmin(api, make, sysadmin, token_of):
    token = make.user("someone").token if token_of == "user" else None
    reply = api.call("user_create", {**NEW_USER, "sysadmin": True}, token=token)
    assert reply.status == 403
    assert "sysadmin" in reply.error["message"]
    assert api.call("user_show", {"id": "li-ming"}, token=sysadmin.token).status == 404


@pytest.mark.parametrize("password", ["", "short", "1234567"])
def test_short_password(api, sysadmin, password):
    reply = api.call("user_create", {**NEW_USER, "password": password}, token=sysadmin.token)
    assert reply.status == 409
    assert reply.error["__type"] == "Validation Error"
    assert "8" in reply.error["password"][0]
    assert api.call("user_show", {"id": "li-ming"}, token=sysadmin.token).status == 404


def test_password_of_exactly_the_minimum_length(api, sysadmin):
    assert api.call("user_create", {**NEW_USER, "password": "12345678"}, token=sysadmin.token).status == 200


def test_duplicate_name(api, make, sysadmin):
    make.user("li-ming")
    reply = api.call("user_create", NEW_USER, token=sysadmin.token)
    assert reply.status == 409
    assert "li-ming" in reply.error["name"][0]


def test_duplicate_name_and_short_password_both_reported(api, make, sysadmin):
    make.user("li-ming")
    reply = api.call("user_create", {**NEW_USER, "password": "x"}, token=sysadmin.token)
    assert reply.status == 409
    assert {"name", "password"} <= set(reply.error)


@pytest.mark.parametrize("field, value", [
    ("name", "Li Ming"), ("name", "l"), ("name", "李明"), ("email", "not-an-email"), ("fullname", "x" * 201),
])
def test_bad_fields(api, sysadmin, field, value):
    reply = api.call("user_create", {**NEW_USER, field: value}, token=sysadmin.token)
    assert reply.status == 409
    assert field in reply.error


@pytest.mark.parametrize("missing", ["name", "password"])
def test_missing_required_field(api, sysadmin, missing):
    data = {k: v for k, v in NEW_USER.items() if k != missing}
    reply = api.call("user_create", data, token=sysadmin.token)
    assert reply.status == 409
    assert missing in reply.error


def test_user_create_needs_post(api, sysadmin):
    reply = api.call("user_create", NEW_USER, token=sysadmin.token, method="GET")
    assert reply.status == 405


# --- user_show ---------------------------------------------------------------------------------

def test_show_by_name_and_by_id(api, make):
    user = make.user("wang-fang")
    by_name = api.call("user_show", {"id": "wang-fang"}, token=user.token, method="GET").result
    by_id = api.call("user_show", {"id": user.id}, token=user.token).result
    assert by_name["id"] == by_id["id"] == user.id
    assert by_name["fullname"] == "User wang-fang"
    assert "password_hash" not in by_name


def test_show_email_to_self_and_sysadmins_only(api, make, sysadmin):
    user = make.user("wang-fang")
    other = make.user("zhao-lei")
    assert api.call("user_show", {"id": "wang-fang"}, token=user.token).result["email"] == \
        "wang-fang@example.gov.cn"
    assert api.call("user_show", {"id": "wang-fang"}, token=sysadmin.token).result["email"] == \
        "wang-fang@example.gov.cn"
    for token in (other.token, None):
        refused = api.call("user_show", {"id": "wang-fang"}, token=token)
        assert refused.status == 403
        assert "wang-fang@" not in str(refused.body)


def test_show_email_hidden_from_admin_of_the_users_department(api, make):
    admin = make.user("dept-admin")
    user = make.user("wang-fang")
    make.department("mzj", members={"admin": admin, "member": user})
    assert "email" not in api.call("user_show", {"id": "wang-fang"}, token=admin.token).result


def test_show_unknown_user(api, make, sysadmin):
    reply = api.call("user_show", {"id": "ghost"}, token=sysadmin.token, method="GET")
    assert reply.status == 404
    assert reply.error["__type"] == "Not Found Error"
    assert "ghost" in reply.error["message"]
    # to anyone else a missing account looks like one they may not see: no list of names by guessing
    make.user("wang-fang")
    someone = make.user("someone")
    for token in (someone.token, None):
        missing = api.call("user_show", {"id": "ghost"}, token=token)
        hidden = api.call("user_show", {"id": "wang-fang"}, token=token)
        assert missing.status == hidden.status == 403
        assert missing.error["message"].replace("ghost", "X") == hidden.error["message"].replace("wang-fang", "X")


def test_show_needs_id(api):
    reply = api.call("user_show", {})
    assert reply.status == 409
    assert "id" in reply.error


def test_show_disabled_user_is_not_found(api, make, db, sysadmin):
    from catalog.auth.models import User

    user = make.user("wang-fang")
    db.get(User, user.id).state = "deleted"
    db.commit()
    assert api.call("user_show", {"id": "wang-fang"}, token=sysadmin.token).status == 404


# --- user_list ---------------------------------------------------------------------------------

def test_list_all_users_by_name(api, make, sysadmin):
    for name in ("zhao-lei", "an-qi", "wang-fang"):
        make.user(name)
    reply = api.call("user_list", token=sysadmin.token, method="GET")
    assert reply.status == 200
    assert [u["name"] for u in reply.result] == ["admin", "an-qi", "wang-fang", "zhao-lei"]


def test_list_q_filters_on_name_and_fullname(api, make, sysadmin):
    make.user("wang-fang")
    make.user("wang_lei")
    make.user("zhao-lei")
    api.call("user_create", {**NEW_USER, "name": "lm", "fullname": "Wangjia Village clerk"},
             token=sysadmin.token).result
    def names(q, **kwargs):
        return [u["name"] for u in api.call("user_list", {"q": q}, token=sysadmin.token, **kwargs).result]

    assert names("WANG") == ["lm", "wang-fang", "wang_lei"]
    assert names("lei", method="GET") == ["wang_lei", "zhao-lei"]
    assert names("_") == ["wang_lei"]
    assert names("nobody") == []


def test_list_limit_offset_and_order(api, make, sysadmin):
    for name in ("c-user", "a-user", "b-user"):
        make.user(name)
    page = api.call("user_list", {"limit": 2, "offset": 1}, token=sysadmin.token).result
    assert [u["name"] for u in page] == ["admin", "b-user"]
    by_created = api.call("user_list", {"order_by": "created"}, token=sysadmin.token).result
    assert [u["name"] for u in by_created] == ["admin", "c-user", "a-user", "b-user"]
    bad = api.call("user_list", {"order_by": "email"}, token=sysadmin.token)
    assert bad.status == 409
    assert "order_by" in bad.error


def test_list_hides_emails_of_others(api, make, sysadmin):
    me = make.user("wang-fang")
    member = make.user("zhao-lei")
    make.department("mzj", members={"admin": me, "member": member})
    mine = {u["name"]: u for u in api.call("user_list", token=me.token).result}
    assert set(mine) == {"wang-fang", "zhao-lei"}  # a department admin lists its members, not everyone
    assert mine["wang-fang"]["email"] == "wang-fang@example.gov.cn"
    assert "email" not in mine["zhao-lei"]
    everyone = api.call("user_list", token=sysadmin.token).result
    assert all(u["email"].endswith("@example.gov.cn") for u in everyone)
    assert all("password_hash" not in u for u in everyone)
