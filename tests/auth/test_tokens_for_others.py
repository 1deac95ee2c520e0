"""An API token acts as its account, so only the account itself (and the data authority's sysadmins) may make
one. A department admin may see a member's account page, and must still not be able to make a token for
it (that would be taking the account over): refused in the browser and through the API, nothing made.
"""
from __future__ import annotations

import re

import sqlalchemy as sa

from catalog.auth.models import ApiToken

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def post_form(client, url: str, data: dict[str, str]):
    token = CSRF.search(client.get("/user/login").get_data(as_text=True)).group(1)
    return client.post(url, data={**data, "csrf_token": token})


def tokens_of(db, user_id: str) -> int:
    return db.scalar(sa.select(sa.func.count()).select_from(ApiToken).where(ApiToken.user_id == user_id))


def test_a_department_admin_cannot_make_a_token_for_a_member(client, api, make, db):
    admin, editor = make.user("mz-admin"), make.user("mz-editor")
    make.department("minzheng", members={"admin": admin, "editor": editor})
    before = tokens_of(db, editor.id)
    assert post_form(client, "/user/login", {"name": admin.name, "password": "correct-horse"}).status_code == 302
    assert client.get(f"/user/{editor.name}").status_code == 200  # the admin sees the member's page ...
    made = post_form(client, f"/user/{editor.name}/tokens", {"token_name": "接管", "scope": "write"})
    assert made.status_code == 403  # ... but makes no token for it
    refused = api.call("api_token_create", {"user": editor.name, "name": "takeover"}, token=admin.token)
    assert refused.status == 403
    assert tokens_of(db, editor.id) == before
    # the member makes one for itself
    assert api.call("api_token_create", {"user": editor.name, "name": "own"}, token=editor.token).status == 200
    assert tokens_of(db, editor.id) == before + 1
