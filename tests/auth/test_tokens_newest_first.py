"""An officer's API tokens are listed newest first (the token made last is the one to check first) through
``api_token_list``, whatever order their ids happen to fall in.

The tokens' creation times are set by hand, in the reverse of their ids' order, so that a list in id order
cannot pass for one in creation order.
"""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from catalog.auth.models import ApiToken


def test_tokens_are_listed_newest_first(api, db, make):
    owner = make.user("sync-owner")
    for label in ("petitions-sync", "households-sync", "services-sync"):
        assert api.call("api_token_create", {"user": owner.name, "name": label}, token=owner.token).status == 200
    tokens = sorted(db.scalars(sa.select(ApiToken).where(ApiToken.user_id == owner.id)), key=lambda t: t.id)
    start = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.timezone.utc)
    for minutes, token in enumerate(tokens):     # the highest id made last
        token.created = start + dt.timedelta(minutes=minutes)
    db.commit()
    listed = api.call("api_token_list", {"user": owner.name}, token=owner.token)
    assert listed.status == 200, listed.body
    assert [t["id"] for t in listed.result] == [t.id for t in reversed(tokens)]
