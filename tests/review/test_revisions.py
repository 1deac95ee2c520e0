"""Revisions: a core metadata edit of a published dataset waits for the data authority while the published
version stays as it was; non-core edits take effect at once; stale writes and stale approvals are refused."""
from __future__ import annotations


def _patch(api, people, who: str, dataset_id: str, **fields):
    return api.call("package_patch", {"id": dataset_id, **fields}, token=people[who].token)


def test_a_core_edit_becomes_a_pending_revision_and_the_published_version_stays(api, people, published):
    edited = _patch(api, people, "mz-editor", published["id"], title="宁陕县特困供养人员名册（2027 版）",
                    update_cycle="quarterly", tags=["民政", "救助"])
    assert edited.status == 200, edited.body
    # what the caller gets back, and everyone reads, is the published version (with the non-core tag added)
    for who in (None, people["wj-editor"].token):
        shown = api.call("package_show", {"id": published["id"]}, token=who).result
        assert (shown["title"], shown["update_cycle"]) == ("宁陕县特困供养人员名册", "monthly")
        assert sorted(t["name"] for t in shown["tags"]) == ["救助", "民政"]
    revisions = api.call("package_revision_list", {"id": published["id"]}, token=people["mz-member"].token).result
    assert [(r["kind"], r["status"]) for r in revisions] == [("revision", "submitted")]
    shown = api.call("package_revision_show", {"id": revisions[0]["id"]}, token=people["sj-editor"].token).result
    assert shown["changes"] == [
        {"field": "title", "old": "宁陕县特困供养人员名册", "new": "宁陕县特困供养人员名册（2027 版）",
         "current": "宁陕县特困供养人员名册"},
        {"field": "update_cycle", "old": "monthly", "new": "quarterly", "current": "monthly"}]
    approved = api.call("package_review", {"id": published["id"], "decision": "approve"},
                        token=people["sj-admin"].token)
    assert approved.status == 200, approved.body
    after = api.call("package_show", {"id": published["id"]}).result
    assert (after["title"], after["update_cycle"]) == ("宁陕县特困供养人员名册（2027 版）", "quarterly")


def test_a_returned_revision_leaves_the_published_version(api, people, published):
    _patch(api, people, "mz-editor", published["id"], share_type="unconditional", share_condition=None)
    returned = api.call("package_review", {"id": published["id"], "decision": "return",
                                           "field_reasons": {"share_type": "含身份证号，不能无条件共享"}},
                        token=people["sj-admin"].token)
    assert returned.status == 200 and returned.result["kind"] == "revision"
    shown = api.call("package_show", {"id": published["id"]}).result
    assert (shown["share_type"], shown["state"]) == ("conditional", "active")
    assert shown["share_condition"] == "仅限民政、人社部门核实救助对象使用"


def test_a_second_edit_supersedes_the_waiting_revision_and_its_review_id_is_refused(api, people, published):
    _patch(api, people, "mz-editor", published["id"], title="第一稿")
    first = api.call("package_revision_list", {"id": published["id"]}, token=people["mz-editor"].token).result[0]
    _patch(api, people, "mz-admin", published["id"], title="第二稿")
    listed = api.call("package_revision_list", {"id": published["id"]}, token=people["mz-editor"].token).result
    assert [(r["number"], r["status"]) for r in listed] == [(2, "submitted"), (1, "superseded")]
    late = api.call("package_review", {"id": published["id"], "decision": "approve", "review_id": first["id"]},
                    token=people["sj-admin"].token)
    assert late.status == 409 and "superseded" in late.error["review_id"][0]
    assert api.call("package_show", {"id": published["id"]}).result["title"] == "宁陕县特困供养人员名册"


def test_a_stale_edit_is_refused_before_it_becomes_a_revision(api, people, published):
    read = api.call("package_show", {"id": published["id"]}, token=people["mz-editor"].token).result
    assert _patch(api, people, "mz-admin", published["id"], title="科长的改动").status == 200
    stale = _patch(api, people, "mz-editor", published["id"], title="科员的改动",
                   metadata_modified=read["metadata_modified"])
    assert stale.status == 409 and "metadata_modified" in stale.error
    listed = api.call("package_revision_list", {"id": published["id"]}, token=people["mz-editor"].token).result
    assert [r["changes"][0]["new"] for r in listed] == ["科长的改动"]


def test_approving_a_revision_whose_published_value_moved_is_refused(api, people, published):
    _patch(api, people, "mz-editor", published["id"], title="部门提出的名称")
    # the authority itself corrects the published title meanwhile (its own edits take effect at once)
    assert _patch(api, people, "sysadmin", published["id"], title="数据局更正的名称").status == 200
    stale = api.call("package_review", {"id": published["id"], "decision": "approve"},
                     token=people["sj-admin"].token)
    assert stale.status == 409 and "title" in stale.error
    assert api.call("package_show", {"id": published["id"]}).result["title"] == "数据局更正的名称"


def test_the_reviewer_who_read_an_old_version_is_refused(api, people, published):
    read = api.call("package_show", {"id": published["id"]}, token=people["sj-admin"].token).result
    _patch(api, people, "mz-editor", published["id"], title="新名称")
    stale = api.call("package_review", {"id": published["id"], "decision": "approve",
                                        "metadata_modified": read["metadata_modified"]},
                     token=people["sj-admin"].token)
    assert stale.status == 409 and "metadata_modified" in stale.error


def test_revisions_are_hidden_from_outsiders(api, people, published):
    _patch(api, people, "mz-editor", published["id"], title="尚未审核的名称")
    for who in (None, people["wj-editor"].token, people["wj-admin"].token, people["sj-member"].token):
        assert api.call("package_revision_list", {"id": published["id"]}, token=who).status == 404
    revision = api.call("package_revision_list", {"id": published["id"]}, token=people["mz-member"].token).result[0]
    for who in (None, people["wj-editor"].token):
        assert api.call("package_revision_show", {"id": revision["id"]}, token=who).status == 404
        assert api.call("package_review_list", {"package_id": published["id"]}, token=who).result == []


def test_a_withdrawn_dataset_is_submitted_whole_and_its_waiting_revision_lapses(api, people, published):
    _patch(api, people, "mz-editor", published["id"], title="撤回前提出的名称")
    assert _patch(api, people, "mz-editor", published["id"], state="draft").status == 200
    assert api.call("package_show", {"id": published["id"]}).status == 404
    submitted = api.call("package_submit", {"id": published["id"]}, token=people["mz-admin"].token)
    assert submitted.status == 200 and submitted.result["kind"] == "publication"
    listed = api.call("package_review_list", {"package_id": published["id"]}, token=people["mz-admin"].token).result
    assert sorted((r["kind"], r["status"]) for r in listed) == [("publication", "submitted"), ("revision", "superseded")]


def test_a_revision_that_stops_sharing_tells_the_grantees_only_when_approved(api, db, people, published):
    asked = api.call("share_request_create", {"package_id": published["id"], "organization_id": "ningshan-wjj",
                                              "purpose": "核实特困人员就医减免", "basis": "《社会救助暂行办法》",
                                              "scenario": "医院结算时核验"}, token=people["wj-editor"].token)
    assert asked.status == 200, asked.body
    assert api.call("share_request_approve", {"id": asked.result["id"]}, token=people["mz-admin"].token).status == 200
    proposed = _patch(api, people, "mz-editor", published["id"], share_type="none",
                      share_condition="依据《个人信息保护法》第十三条不予共享")
    assert proposed.status == 200, proposed.body
    # nothing is announced while the authority has not decided: the grant stands, no notice, no activity value
    for who in (None, people["wj-editor"].token):
        activity = api.call("package_activity_list", {"id": published["id"]}, token=who, method="GET")
        assert "narrowed sharing" not in str(activity.body) and "依据《个人信息保护法》" not in str(activity.body)
    bare = api.call("package_review", {"id": published["id"], "decision": "approve"}, token=people["sj-admin"].token)
    assert bare.status == 409 and "reason" in bare.error
    approved = api.call("package_review", {"id": published["id"], "decision": "approve",
                                           "reason": "涉及个人敏感信息，同意停止共享"}, token=people["sj-admin"].token)
    assert approved.status == 200, approved.body
    activity = api.call("package_activity_list", {"id": published["id"]}, token=people["mz-member"].token,
                        method="GET").result
    assert "narrowed sharing" in [a["activity_type"] for a in activity]
    assert api.call("package_show", {"id": published["id"]}).result["share_type"] == "none"
