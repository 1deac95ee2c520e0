"""An API token that expires at an instant is refused from that instant on, not a moment later.

A token created for a 30-day sync job (or one whose owner set it to end at midnight) must stop working
when its time is up: at that instant a request with it is refused, one microsecond before it is served.
The clock of the rule module is set to the instant itself and to one microsecond before it.
"""
from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from catalog.auth.models import ApiToken

END = dt.datetime(2027, 1, 1, tzinfo=dt.timezone.utc)
JUST_BEFORE = END - dt.timedelta(microseconds=1)


@pytest.mark.parametrize("now, served", [(JUST_BEFORE, True), (END, False)])
def test_a_token_is_refused_from_the_instant_it_expires(api, db, make, monkeypatch, now, served):
    owner = make.user("sync-owner")
    db.execute(sa.update(ApiToken).where(ApiToken.user_id == owner.id).values(expires_at=END))
    db.commit()
    monkeypatch.setattr("catalog.auth.service.utcnow", lambda: now)
    reply = api.call("api_token_list", {}, token=owner.token)
    if served:
        assert reply.status == 200, reply.body
    else:
        assert reply.status == 403 and "expired" in reply.error["message"], reply.body
