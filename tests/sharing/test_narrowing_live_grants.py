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
