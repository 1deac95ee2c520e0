"""An account the data authority creates is an ordinary officer's: it gets a sysadmin's powers only when
asked for in so many words (the API's and the CLI's ``sysadmin``), never by default, whichever way it is
made. The web form has no such field: what it makes must not be able to make accounts itself.
"""
from __future__ import annotations

import re

import sqlalchemy as sa

from catalog.auth.models import User

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def post_form(client, url: str, data: dict[str, str]):
    token = CSRF.search(client.get("/user/login").get_data(as_text=True)).group(1)
    return client.post(url, data={**data, "csrf_token": token})


def test_an_account_made_on_the_web_form_is_an_ordinary_officer(client, sysadmin, db):
    assert post_form(client, "/user/login", {"name": sysadmin.name, "password": "correct-horse"}).status_code == 302
    created = post_form(client, "/user/new", {"name": "li_si", "fullname": "李四", "email": "",
                                              "password": "first-password", "password_confirm": "first-password"})
    assert created.status_code == 302
    account = db.scalar(sa.select(User).where(User.name == "li_si"))
    assert account is not None and account.sysadmin is False
    # the new officer, logged in, cannot do what only the data authority may
    client.post("/user/logout", data={"csrf_token": CSRF.search(client.get("/dashboard").get_data(as_text=True))
                                      .group(1)})
    assert post_form(client, "/user/login", {"name": "li_si", "password": "first-password"}).status_code == 302
    assert client.get("/user/new").status_code == 403
    refused = post_form(client, "/user/new", {"name": "wang_wu", "password": "first-password",
                                              "password_confirm": "first-password"})
    assert refused.status_code == 403
    assert db.scalar(sa.select(User.id).where(User.name == "wang_wu")) is None


def test_an_account_made_through_the_api_without_sysadmin_is_not_one(api, sysadmin):
    made = api.call("user_create", {"name": "zhao_liu", "password": "first-password"}, token=sysadmin.token)
    assert made.status == 200 and made.result["sysadmin"] is False
    shown = api.call("user_show", {"id": "zhao_liu"}, token=sysadmin.token, method="GET")
    assert shown.result["sysadmin"] is False
