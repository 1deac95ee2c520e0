"""Sysadmins review every department's submissions (auth.rules ``can_review_dataset``: "sysadmins review
all"), also when they belong to the submitting department themselves: the rule that keeps an authority member
from reviewing their own department's dataset is for the data authority's officers, not for sysadmins."""
from __future__ import annotations


def test_a_sysadmin_who_belongs_to_the_department_still_reviews_its_submission(api, people, submitted):
    joined = api.call("organization_member_create", {"id": "ningshan-mzj", "username": people["sysadmin"].name,
                                                      "role": "editor"}, token=people["mz-admin"].token)
    assert joined.status == 200, joined.body
    approved = api.call("package_review", {"id": submitted["package_id"], "decision": "approve", "reason": "要素齐全"},
                        token=people["sysadmin"].token)
    assert approved.status == 200, approved.body
    assert (approved.result["status"], approved.result["reviewer_id"]) == ("approved", people["sysadmin"].id)
