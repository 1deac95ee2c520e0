"""Which grants make a narrowing need a reason (decree 809 art. 29): the live grants on *this* dataset.

A grant revoked by the provider no longer gives access, so making the dataset private afterwards needs no
reason and tells the former grantee nothing. A live grant on another dataset of the same provider does not
concern this one: its grantee is not told, and no reason is asked.
"""
from __future__ import annotations

import sqlalchemy as sa

from catalog.sharing.models import ShareNotice
from tests.sharing.cast import approve, file_request


def _narrowing_notices(db) -> int:
    return db.scalar(sa.select(sa.func.count()).select_from(ShareNotice).where(ShareNotice.kind == "sharing.narrowed"))


def test_a_revoked_grant_does_not_make_a_narrowing_need_a_reason(api, db, share_cast):
    made = file_request(api, share_cast)
    approve(api, share_cast, made["id"])
    revoked = api.call("share_request_revoke", {"id": made["id"]}, token=share_cast.tokens["provider_admin"])
    assert revoked.status == 200, revoked.body
    private = api.call("package_patch", {"id": share_cast.dataset["id"], "private": True},
                       token=share_cast.tokens["provider_editor"])
    assert private.status == 200, private.body
    assert _narrowing_notices(db) == 0


def test_a_grant_on_another_dataset_does_not_make_this_ones_narrowing_need_a_reason(api, db, make, share_cast):
    approve(api, share_cast, file_request(api, share_cast)["id"])     # a live grant on the households
    other = make.dataset(share_cast.provider["id"], name="vehicles", share_type="conditional",
                         share_condition="仅限民政、人社部门核实救助对象使用")
    private = api.call("package_patch", {"id": other["id"], "private": True}, token=share_cast.tokens["provider_editor"])
    assert private.status == 200, private.body
    assert _narrowing_notices(db) == 0


def test_a_grant_with_a_time_limit_not_yet_reached_is_live(api, db, share_cast):
    """A request granted until 2027-12-31 (the requester's time limit: access ends at 2028-01-01 00:00)
    still gives access today."""
    grant = approve(api, share_cast, file_request(api, share_cast, expires="2027-12-31")["id"])
    assert grant["expires_at"] is not None and grant["expires_at"].startswith("2028-01-01")
    silent = api.call("package_patch", {"id": share_cast.dataset["id"], "private": True},
                      token=share_cast.tokens["provider_editor"])
    assert silent.status == 409 and "reason" in silent.error, silent.body
    done = api.call("package_patch", {"id": share_cast.dataset["id"], "private": True, "reason": "数据整改期间暂停公开"},
                    token=share_cast.tokens["provider_editor"])
    assert done.status == 200, done.body
    [notice] = db.scalars(sa.select(ShareNotice).where(ShareNotice.kind == "sharing.narrowed")).all()
    assert notice.data["new_values"]["private"] is True    # the grantee reads what the dataset became


def test_a_dataset_already_not_shared_is_not_narrowed_again_by_an_unrelated_edit(api, db, share_cast):
    """Once sharing stopped (不予共享, with its reason, the grantee told once), editing the title narrows
    nothing more: no reason is asked and no second notice is sent."""
    approve(api, share_cast, file_request(api, share_cast)["id"])
    token = share_cast.tokens["provider_editor"]
    stopped = api.call("package_patch", {"id": share_cast.dataset["id"], "share_type": "none",
                                         "share_condition": "依据《个人信息保护法》第十三条不予共享",
                                         "reason": "户籍数据改由省级平台提供"}, token=token)
    assert stopped.status == 200, stopped.body
    [notice] = db.scalars(sa.select(ShareNotice).where(ShareNotice.kind == "sharing.narrowed")).all()
    assert notice.data["new_values"]["share_type"] == "none"
    retitled = api.call("package_patch", {"id": share_cast.dataset["id"], "title": "宁陕县户籍人口（停止共享）"},
                        token=token)
    assert retitled.status == 200, retitled.body
    assert _narrowing_notices(db) == 1
