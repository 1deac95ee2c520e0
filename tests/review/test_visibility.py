"""Read paths: a submitted or returned dataset is seen like a draft (its department and the data authority),
never by the public or another department; a pending revision's values appear nowhere but in the
revision itself (package_show, package_search, package_list, activity, DCAT)."""
from __future__ import annotations

import pytest

from tests.conftest import dataset_values
from tests.review.conftest import token

OUTSIDERS = ("anonymous", "wj-editor", "wj-admin", "sj-member")


def _found(api, people, who: str, q: str) -> list[str]:
    reply = api.call("package_search", {"q": q, "include_drafts": True, "include_private": True},
                     token=token(people, who), method="GET")
    assert reply.status == 200, reply.body
    return [d["name"] for d in reply.result["results"]]


def _turtle(client, people, who: str, path: str = "/catalog.ttl"):
    headers = {"Authorization": token(people, who)} if who != "anonymous" else {}
    return client.get(path, headers=headers)


@pytest.mark.parametrize("step", ["submitted", "returned"])
def test_a_dataset_under_review_is_seen_by_its_department_and_the_authority_only(api, client, people,
                                                                                   submitted, step):
    dataset_id = submitted["package_id"]
    if step == "returned":
        assert api.call("package_review", {"id": dataset_id, "decision": "return", "reason": "补充摘要"},
                        token=people["sj-admin"].token).status == 200
    for who in OUTSIDERS:
        assert api.call("package_show", {"id": dataset_id}, token=token(people, who)).status == 404, who
        assert "mz-dibao" not in _found(api, people, who, "低保"), who
        assert api.call("package_activity_list", {"id": dataset_id}, token=token(people, who),
                        method="GET").status == 404, who
        org = api.call("organization_activity_list", {"id": "ningshan-mzj"}, token=token(people, who), method="GET")
        assert "mz-dibao" not in str(org.body), who
        assert "低保对象" not in _turtle(client, people, who).get_data(as_text=True), who
        assert _turtle(client, people, who, f"/dataset/{dataset_id}.ttl").status_code == 404, who
    assert "mz-dibao" not in api.call("package_list", method="GET").result
    for who in ("mz-member", "mz-editor", "sj-editor", "sj-admin", "sysadmin"):
        shown = api.call("package_show", {"id": dataset_id}, token=token(people, who))
        assert shown.status == 200 and shown.result["state"] == "draft", who


def test_the_authority_does_not_read_drafts_nobody_submitted(api, people, draft):
    assert api.call("package_show", {"id": draft["id"]}, token=people["sj-admin"].token).status == 404
    assert api.call("package_review_list", {}, token=people["sj-admin"].token).result == []


def test_a_pending_revision_leaks_nowhere(api, client, people, published):
    assert api.call("package_patch", {"id": published["id"], "title": "秘密改名草稿", "notes": "尚未审核的摘要"},
                    token=people["mz-editor"].token).status == 200
    for who in OUTSIDERS + ("mz-member",):
        shown = api.call("package_show", {"id": published["id"]}, token=token(people, who)).result
        assert "秘密改名草稿" not in str(shown) and "尚未审核" not in str(shown), who
        assert _found(api, people, who, "秘密改名草稿") == [], who
        assert "秘密改名草稿" not in _turtle(client, people, who).get_data(as_text=True), who
        activity = api.call("package_activity_list", {"id": published["id"]}, token=token(people, who),
                            method="GET")
        org = api.call("organization_activity_list", {"id": "ningshan-mzj"}, token=token(people, who), method="GET")
        assert "秘密改名草稿" not in str(activity.body) + str(org.body), who
    assert "秘密改名草稿" not in _turtle(client, people, "anonymous", f"/dataset/{published['id']}.ttl") \
        .get_data(as_text=True)


# Every other read action that lists or shows datasets (CKAN's and ours), called by an outsider.
READS = [("package_list", {}), ("current_package_list_with_resources", {}), ("package_autocomplete", {"q": "低保"}),
         ("package_autocomplete", {"q": "秘密"}), ("tag_show", {"id": "民政", "include_datasets": True}),
         ("tag_list", {}), ("resource_search", {"query": "name:秘密"}),
         ("organization_show", {"id": "ningshan-mzj", "include_datasets": True}),
         ("organization_activity_list", {"id": "ningshan-mzj"}), ("catalog_export", {"format": "ttl"}),
         ("freshness_report", {}), ("package_search", {"q": "秘密改名草稿 OR 低保对象", "include_drafts": True})]


@pytest.mark.parametrize("who", OUTSIDERS)
def test_no_other_read_action_shows_a_draft_under_review_or_a_pending_revision(api, people, submitted, published,
                                                                                who):
    assert api.call("package_patch", {"id": published["id"], "title": "秘密改名草稿"},
                    token=people["mz-editor"].token).status == 200
    for name, params in READS:
        reply = api.call(name, params, token=token(people, who), method="GET")
        assert reply.status == 200, (name, reply.body)
        text = str(reply.body)
        assert "秘密改名草稿" not in text and "mz-dibao" not in text and "低保对象名册" not in text, (name, text[:300])


def test_a_dataset_deleted_while_under_review_is_not_read_by_the_authority(api, people, submitted):
    """The department deletes a dataset it had submitted: the data authority's officers no longer read it."""
    dataset_id = submitted["package_id"]
    assert api.call("package_show", {"id": dataset_id}, token=people["sj-editor"].token).status == 200
    deleted = api.call("package_delete", {"id": dataset_id}, token=people["mz-admin"].token)
    assert deleted.status == 200, deleted.body
    assert api.call("package_show", {"id": dataset_id}, token=people["sj-editor"].token).status == 404


def test_the_authority_reads_only_the_drafts_under_review_not_the_departments_other_drafts(api, people, submitted):
    """One dataset of civil affairs is under review; its other draft, never submitted, stays the department's."""
    values = dataset_values("ningshan-mzj", 502)
    values.update(name="mz-gaoling", title="宁陕县高龄津贴名册")
    other = api.call("package_create", values, token=people["mz-editor"].token)
    assert other.status == 200 and other.result["state"] == "draft", other.body
    assert api.call("package_show", {"id": submitted["package_id"]}, token=people["sj-editor"].token).status == 200
    assert api.call("package_show", {"id": other.result["id"]}, token=people["sj-editor"].token).status == 404


def test_the_authority_no_longer_reads_a_dataset_it_approved_once_the_department_makes_it_private(api, people,
                                                                                                  submitted):
    """Approving the publication ends the review: when civil affairs later keeps the dataset to itself
    (private), the data authority's officers read it no more than any other department's."""
    dataset_id = submitted["package_id"]
    approved = api.call("package_review", {"id": dataset_id, "decision": "approve"}, token=people["sj-admin"].token)
    assert approved.status == 200, approved.body
    assert api.call("package_show", {"id": dataset_id}, token=people["sj-editor"].token).status == 200
    hidden = api.call("package_patch", {"id": dataset_id, "private": True}, token=people["mz-editor"].token)
    assert hidden.status == 200 and hidden.result["private"] is True, hidden.body
    assert api.call("package_show", {"id": dataset_id}, token=people["mz-member"].token).status == 200
    for who in ("sj-member", "sj-editor", "sj-admin", "wj-editor"):
        assert api.call("package_show", {"id": dataset_id}, token=people[who].token).status == 404, who
