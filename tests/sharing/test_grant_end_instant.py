"""A grant with a time limit ends at midnight UTC after its last day: at that instant, not a moment later.

A request granted "until 2027-12-31" gives access through that day; at 2028-01-01 00:00:00 UTC the
grant has ended, for reading records (decree 809 art. 20: the time limit of use) and for deciding
whether a narrowing of the dataset still concerns the grantee (art. 29). The clock of the two rule
modules is set to the instant itself and to one microsecond before it.
"""
from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from catalog.sharing.models import ShareNotice
from tests.sharing.cast import approve, file_request

END = dt.datetime(2028, 1, 1, tzinfo=dt.timezone.utc)   # the end of 2027-12-31, the last day granted
JUST_BEFORE = END - dt.timedelta(microseconds=1)


def _granted_until_new_year(api, cast) -> dict:
    grant = approve(api, cast, file_request(api, cast, expires="2027-12-31")["id"])
    assert grant["expires_at"].startswith("2028-01-01T00:00:00")
    return grant


def _read(api, cast):
    return api.call("datastore_search", {"resource_id": cast.resource_id, "limit": 1},
                    token=cast.tokens["consumer_member"])


@pytest.mark.parametrize("now, reads", [(JUST_BEFORE, True), (END, False)])
def test_the_grantee_reads_until_the_instant_the_grant_ends(api, share_cast, monkeypatch, now, reads):
    _granted_until_new_year(api, share_cast)
    monkeypatch.setattr("catalog.sharing.service.utcnow", lambda: now)
    reply = _read(api, share_cast)
    assert (reply.status == 200) is reads, reply.body
    if not reads:
        assert reply.status == 403 and "request access" in reply.error["message"]


@pytest.mark.parametrize("now, concerned", [(JUST_BEFORE, True), (END, False)])
def test_a_grant_that_has_ended_does_not_make_a_narrowing_need_a_reason(api, db, share_cast, monkeypatch, now,
                                                                        concerned):
    _granted_until_new_year(api, share_cast)
    monkeypatch.setattr("catalog.sharing.narrowing.utcnow", lambda: now)
    private = api.call("package_patch", {"id": share_cast.dataset["id"], "private": True},
                       token=share_cast.tokens["provider_editor"])
    assert (private.status == 409) is concerned, private.body
    notices = db.scalar(sa.select(sa.func.count()).select_from(ShareNotice)
                        .where(ShareNotice.kind == "sharing.narrowed"))
    assert notices == 0   # refused (no reason given), or nobody to tell


@pytest.mark.parametrize("now, status", [(JUST_BEFORE, "active"), (END, "expired")])
def test_the_grant_is_shown_expired_from_the_instant_it_ends(api, share_cast, monkeypatch, now, status):
    grant = _granted_until_new_year(api, share_cast)
    monkeypatch.setattr("catalog.sharing.grants.utcnow", lambda: now)
    shown = api.call("share_grant_show", {"id": grant["id"]}, token=share_cast.tokens["consumer_member"])
    assert shown.status == 200, shown.body
    assert shown.result["status"] == status
