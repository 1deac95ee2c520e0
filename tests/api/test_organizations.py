"""Organization (department), member and organization activity actions through the HTTP API."""
from __future__ import annotations

import pytest

from schemas.formats import uscc_check_char

# Ningshan County civil affairs bureau style codes: 17 characters, then the GB 32100 check character.
CODE_BODY = "11610923MB0123456"
VALID_CODE = CODE_BODY + uscc_check_char(CODE_BODY)
OTHER_BODY = "11610923MB0654321"
OTHER_CODE = OTHER_BODY + uscc_check_char(OTHER_BODY)




def wrong_check(body: str) -> tuple[str, str]:
    """A code with a wrong check character, and the character that was expected."""
    expected = uscc_check_char(body)
    wrong = "0" if expected != "0" else "1"
    return body + wrong, expected


@pytest.fixture
def staff(make):
    """A department with one admin, one editor and one member, plus an outsider."""
    admin, editor, member, outsider = (make.user(n) for n in ("bob-admin", "eve-editor", "meg-member", "otto"))
    dept = make.department("mzj", title="县民政局", members={"admin": admin, "editor": editor, "member": member})
    return {"dept": dept, "admin": admin, "editor": editor, "member": member, "outsider": outsider}


# --- organization_list -------------------------------------------------------------------------

def test_list_returns_names_sorted_by_title_by_default(api, make):
    make.department("b-dept", title="Beta")
    make.department("a-dept", title="Gamma")
    make.department("c-dept", title="Alpha")
    reply = api.call("organization_list", method="GET")
    assert reply.status == 200
    assert reply.result == ["c-dept", "b-dept", "a-dept"]


@pytest.mark.parametrize("sort, expected", [
    ("name asc", ["a-dept", "b-dept", "c-dept"]),
    ("name desc", ["c-dept", "b-dept", "a-dept"]),
    ("title asc", ["c-dept", "b-dept", "a-dept"]),
    ("title desc", ["a-dept", "b-dept", "c-dept"]),
    ("name", ["a-dept", "b-dept", "c-dept"]),
])
def test_list_sort(api, make, sort, expected):
    make.department("b-dept", title="Beta")
    make.department("a-dept", title="Gamma")
    make.department("c-dept", title="Alpha")
    assert api.call("organization_list", {"sort": sort}).result == expected


@pytest.mark.parametrize("sort", ["popularity", "name sideways", "title asc extra", "package_count desc"])
def test_list_bad_sort_is_a_validation_error_on_sort(api, make, sort):
    make.department("a-dept")
    reply = api.call("organization_list", {"sort": sort}, method="GET")
    assert reply.status == 409
    assert reply.error["__type"] == "Validation Error"
    assert "sort" in reply.error


def test_list_limit_and_offset(api, make):
    for name in ("d1", "d2", "d3", "d4"):
        make.department(name)
    assert api.call("organization_list", {"sort": "name asc", "limit": 2}).result == ["d1", "d2"]
    assert api.call("organization_list", {"sort": "name asc", "limit": 2, "offset": 2},
                    method="GET").result == ["d3", "d4"]
    assert api.call("organization_list", {"sort": "name asc", "offset": 4}).result == []


def test_list_bad_limit_names_limit(api):
    reply = api.call("organization_list", {"limit": -1})
    assert reply.status == 409
    assert "limit" in reply.error


def test_list_q_filters_on_name_and_title(api, make):
    make.department("mzj", title="县民政局")
    make.department("rsj", title="县人社局")
    make.department("mz-archive", title="档案馆")
    assert api.call("organization_list", {"q": "MZ", "sort": "name asc"}).result == ["mz-archive", "mzj"]
    assert api.call("organization_list", {"q": "人社"}, method="GET").result == ["rsj"]
    assert api.call("organization_list", {"q": "nothing-like-it"}).result == []


def test_list_q_treats_like_wildcards_literally(api, make):
    make.department("mzj")
    make.department("rs_j")
    assert api.call("organization_list", {"q": "_"}).result == ["rs_j"]
    assert api.call("organization_list", {"q": "%"}).result == []


def test_list_organizations_filter_is_applied_before_paging(api, make):
    for name in ("d1", "d2", "d3"):
        make.department(name)
    reply = api.call("organization_list", {"organizations": ["d3"], "sort": "name asc", "limit": 1})
    assert reply.result == ["d3"]
    by_json = api.call("organization_list", {"organizations": '["d2", "d1"]', "sort": "name desc"},
                       method="GET")
    assert by_json.result == ["d2", "d1"]


def test_list_all_fields_counts_only_datasets_the_caller_may_see(api, make, staff, sysadmin, db):
    from catalog.datasets.models import Dataset

    dept = staff["dept"]
    make.dataset(dept["id"])                                  # public, active
    make.dataset(dept["id"], private=True)                    # private
    make.dataset(dept["id"], state="draft")                   # draft
    gone = make.dataset(dept["id"])                           # deleted below
    db.get(Dataset, gone["id"]).state = "deleted"
    db.commit()
    make.department("empty")

    def counts(token=None):
        reply = api.call("organization_list", {"all_fields": True}, token=token)
        assert reply.status == 200
        return {org["name"]: org["package_count"] for org in reply.result}

    assert counts() == {"mzj": 1, "empty": 0}
    assert counts(staff["outsider"].token) == {"mzj": 1, "empty": 0}
    assert counts(staff["member"].token) == {"mzj": 3, "empty": 0}
    assert counts(staff["editor"].token) == {"mzj": 3, "empty": 0}
    assert counts(sysadmin.token) == {"mzj": 3, "empty": 0}


def test_list_all_fields_gives_organization_dicts(api, make):
    make.department("mzj", title="县民政局", code=VALID_CODE, description="民政")
    reply = api.call("organization_list", {"all_fields": "true"}, method="GET")
    [org] = reply.result
    assert org["name"] == "mzj"
    assert org["title"] == "县民政局"
    assert org["display_name"] == "县民政局"
    assert org["code"] == VALID_CODE
    assert org["description"] == "民政"
    assert org["is_organization"] is True
    assert org["type"] == "organization"
    assert org["state"] == "active"
    assert org["package_count"] == 0
    assert org["id"]


# --- organization_show -------------------------------------------------------------------------

def test_show_by_id_and_by_name(api, staff):
    dept = staff["dept"]
    by_name = api.call("organization_show", {"id": "mzj"}, method="GET")
    by_id = api.call("organization_show", {"id": dept["id"]})
    assert by_name.status == by_id.status == 200
    assert by_name.result["id"] == by_id.result["id"] == dept["id"]
    assert by_id.result["title"] == "县民政局"


def test_show_unknown_is_not_found(api):
    reply = api.call("organization_show", {"id": "no-such-org"})
    assert reply.status == 404
    assert reply.error["__type"] == "Not Found Error"
    assert "no-such-org" in reply.error["message"]


def test_show_without_id_names_id(api):
    reply = api.call("organization_show", {})
    assert reply.status == 409
    assert "id" in reply.error


def test_show_users_only_to_members_and_sysadmins(api, staff, sysadmin):
    expected = {(staff["admin"].name, "admin"), (staff["editor"].name, "editor"),
                (staff["member"].name, "member")}
    for token in (staff["member"].token, staff["admin"].token, sysadmin.token):
        result = api.call("organization_show", {"id": "mzj"}, token=token).result
        assert {(u["name"], u["capacity"]) for u in result["users"]} == expected
    for token in (None, staff["outsider"].token):
        result = api.call("organization_show", {"id": "mzj"}, token=token).result
        assert result["users"] == []  # the key CKAN gives, but no one in it
    no_users = api.call("organization_show", {"id": "mzj", "include_users": False}, token=sysadmin.token)
    assert "users" not in no_users.result


def test_show_include_datasets_shows_private_ones_only_to_members(api, make, staff):
    dept = staff["dept"]
    public = make.dataset(dept["id"])
    private = make.dataset(dept["id"], private=True)

    def names(token):
        reply = api.call("organization_show", {"id": "mzj", "include_datasets": "true"}, token=token,
                         method="GET")
        assert reply.status == 200
        return {p["name"] for p in reply.result["packages"]}

    assert names(None) == {public["name"]}
    assert names(staff["outsider"].token) == {public["name"]}
    assert names(staff["member"].token) == {public["name"], private["name"]}
    result = api.call("organization_show", {"id": "mzj"}, token=staff["member"].token).result
    assert "packages" not in result
    assert result["package_count"] == 2


# --- organization_create -----------------------------------------------------------------------

def test_create_by_sysadmin(api, sysadmin):
    reply = api.call("organization_create", {"name": "rsj", "title": "县人社局", "description": "人社",
                                             "code": VALID_CODE}, token=sysadmin.token)
    assert reply.status == 200
    org = reply.result
    assert (org["name"], org["title"], org["description"], org["code"]) == ("rsj", "县人社局", "人社", VALID_CODE)
    assert org["package_count"] == 0
    shown = api.call("organization_show", {"id": org["id"]}).result
    assert shown["name"] == "rsj"
    assert "rsj" in api.call("organization_list").result


def test_create_title_defaults_to_name(api, sysadmin):
    org = api.call("organization_create", {"name": "rsj"}, token=sysadmin.token).result
    assert org["title"] == "rsj"
    assert org["code"] is None


@pytest.mark.parametrize("who", ["editor", "admin", "member", "outsider"])
def test_create_by_non_sysadmin_is_forbidden(api, staff, who):
    reply = api.call("organization_create", {"name": "rsj"}, token=staff[who].token)
    assert reply.status == 403
    assert reply.error["__type"] == "Authorization Error"
    assert "rsj" not in api.call("organization_list").result


def test_create_anonymously_is_forbidden(api):
    reply = api.call("organization_create", {"name": "rsj"})
    assert reply.status == 403
    assert reply.error["__type"] == "Authorization Error"


def test_create_duplicate_name(api, make, sysadmin):
    make.department("mzj")
    reply = api.call("organization_create", {"name": "mzj"}, token=sysadmin.token)
    assert reply.status == 409
    assert reply.error["__type"] == "Validation Error"
    assert "mzj" in reply.error["name"][0]


@pytest.mark.parametrize("name", ["Mzj", "a", "民政局", "has space", "x" * 101, ""])
def test_create_bad_name(api, sysadmin, name):
    reply = api.call("organization_create", {"name": name}, token=sysadmin.token)
    assert reply.status == 409
    assert "name" in reply.error


def test_create_without_name(api, sysadmin):
    reply = api.call("organization_create", {"title": "无名"}, token=sysadmin.token)
    assert reply.status == 409
    assert "name" in reply.error


def test_create_with_wrong_check_character(api, sysadmin):
    code, expected = wrong_check(CODE_BODY)
    reply = api.call("organization_create", {"name": "rsj", "code": code}, token=sysadmin.token)
    assert reply.status == 409
    [message] = reply.error["code"]
    assert "GB 32100" in message
    assert f"should be {expected}" in message


@pytest.mark.parametrize("code", ["1161092", "11610923MB012345I7", "11610923mb01234567"])
def test_create_with_malformed_code(api, sysadmin, code):
    reply = api.call("organization_create", {"name": "rsj", "code": code}, token=sysadmin.token)
    assert reply.status == 409
    assert "GB 32100" in reply.error["code"][0]


def test_create_with_code_of_another_organization(api, make, sysadmin):
    make.department("mzj", code=VALID_CODE)
    reply = api.call("organization_create", {"name": "rsj", "code": VALID_CODE}, token=sysadmin.token)
    assert reply.status == 409
    assert "code" in reply.error


def test_create_reports_every_bad_field(api, sysadmin):
    code, _ = wrong_check(CODE_BODY)
    reply = api.call("organization_create", {"name": "Bad Name", "code": code, "title": "x" * 201},
                     token=sysadmin.token)
    assert reply.status == 409
    assert {"name", "code", "title"} <= set(reply.error)


# --- organization_update / organization_patch --------------------------------------------------

@pytest.fixture
def described(api, staff, sysadmin):
    """The staff's department with a description, a code and an image."""
    reply = api.call("organization_patch", {"id": "mzj", "description": "负责社会救助", "code": VALID_CODE,
                                            "image_url": "http://x/logo.png"}, token=sysadmin.token)
    assert reply.status == 200, reply.body
    return staff


def test_update_replaces_all_fields(api, described):
    reply = api.call("organization_update", {"id": "mzj", "title": "宁陕县民政局"},
                     token=described["admin"].token)
    assert reply.status == 200
    org = reply.result
    assert org["title"] == "宁陕县民政局"
    assert org["name"] == "mzj"
    assert org["description"] is None
    assert org["code"] is None
    assert org["image_url"] is None
    shown = api.call("organization_show", {"id": "mzj"}).result
    assert shown["description"] is None and shown["title"] == "宁陕县民政局"


def test_update_keeps_title_when_not_given(api, described):
    org = api.call("organization_update", {"id": "mzj", "description": "新"},
                   token=described["admin"].token).result
    assert org["title"] == "县民政局"
    assert org["description"] == "新"


def test_update_can_rename(api, described, sysadmin):
    org = api.call("organization_update", {"id": described["dept"]["id"], "name": "mzj-new", "title": "t"},
                   token=sysadmin.token).result
    assert org["name"] == "mzj-new"
    assert api.call("organization_show", {"id": "mzj"}).status == 404
    assert api.call("organization_show", {"id": "mzj-new"}).status == 200


def test_update_to_a_name_in_use(api, make, described):
    make.department("rsj")
    reply = api.call("organization_update", {"id": "mzj", "name": "rsj"}, token=described["admin"].token)
    assert reply.status == 409
    assert "name" in reply.error


def test_update_keeping_its_own_code_is_fine(api, described):
    reply = api.call("organization_update", {"id": "mzj", "title": "t", "code": VALID_CODE},
                     token=described["admin"].token)
    assert reply.status == 200
    assert reply.result["code"] == VALID_CODE


def test_update_with_bad_code(api, described):
    code, expected = wrong_check(OTHER_BODY)
    reply = api.call("organization_update", {"id": "mzj", "code": code}, token=described["admin"].token)
    assert reply.status == 409
    assert expected in reply.error["code"][0]


@pytest.mark.parametrize("action", ["organization_update", "organization_patch"])
@pytest.mark.parametrize("who", ["editor", "member", "outsider"])
def test_update_and_patch_need_department_admin(api, described, action, who):
    reply = api.call(action, {"id": "mzj", "title": "hacked"}, token=described[who].token)
    assert reply.status == 403
    assert reply.error["__type"] == "Authorization Error"
    assert api.call("organization_show", {"id": "mzj"}).result["title"] == "县民政局"


@pytest.mark.parametrize("action", ["organization_update", "organization_patch"])
def test_update_and_patch_anonymously(api, described, action):
    assert api.call(action, {"id": "mzj", "title": "hacked"}).status == 403


@pytest.mark.parametrize("action", ["organization_update", "organization_patch"])
def test_update_and_patch_unknown_organization(api, sysadmin, action):
    reply = api.call(action, {"id": "nope", "title": "x"}, token=sysadmin.token)
    assert reply.status == 404


def test_admin_of_another_department_cannot_edit(api, make, described):
    other_admin = make.user("other-admin")
    make.department("rsj", members={"admin": other_admin})
    assert api.call("organization_patch", {"id": "mzj", "title": "x"}, token=other_admin.token).status == 403


def test_patch_changes_only_given_fields(api, described):
    reply = api.call("organization_patch", {"id": "mzj", "description": "只改描述"},
                     token=described["admin"].token)
    assert reply.status == 200
    org = reply.result
    assert org["description"] == "只改描述"
    assert org["title"] == "县民政局"
    assert org["code"] == VALID_CODE
    assert org["image_url"] == "http://x/logo.png"
    assert org["name"] == "mzj"


def test_patch_can_clear_a_field_and_change_code(api, described, sysadmin):
    org = api.call("organization_patch", {"id": "mzj", "image_url": None, "code": OTHER_CODE},
                   token=sysadmin.token).result
    assert org["image_url"] is None
    assert org["code"] == OTHER_CODE
    assert org["description"] == "负责社会救助"


def test_patch_with_bad_name(api, described):
    reply = api.call("organization_patch", {"id": "mzj", "name": "Not Valid"}, token=described["admin"].token)
    assert reply.status == 409
    assert "name" in reply.error


# --- organization_delete -----------------------------------------------------------------------

@pytest.mark.parametrize("who", ["admin", "editor", "member", "outsider"])
def test_delete_is_for_sysadmins_only(api, staff, who):
    reply = api.call("organization_delete", {"id": "mzj"}, token=staff[who].token)
    assert reply.status == 403
    assert api.call("organization_show", {"id": "mzj"}).status == 200


def test_delete_anonymously(api, staff):
    assert api.call("organization_delete", {"id": "mzj"}).status == 403


def test_delete_unknown(api, sysadmin):
    assert api.call("organization_delete", {"id": "nope"}, token=sysadmin.token).status == 404


def test_delete_refused_while_it_has_datasets_then_allowed(api, make, staff, sysadmin):
    dept = staff["dept"]
    first = make.dataset(dept["id"])
    second = make.dataset(dept["id"], private=True)

    refused = api.call("organization_delete", {"id": "mzj"}, token=sysadmin.token)
    assert refused.status == 409
    assert refused.error["__type"] == "Validation Error"
    assert "2 dataset" in refused.error["id"][0]
    assert api.call("organization_show", {"id": "mzj"}).status == 200

    for dataset in (first, second):
        assert api.call("package_delete", {"id": dataset["id"]}, token=sysadmin.token).status == 200

    deleted = api.call("organization_delete", {"id": "mzj"}, token=sysadmin.token)
    assert deleted.status == 200
    assert deleted.result is None
    assert "mzj" not in api.call("organization_list").result
    assert "mzj" not in [o["name"] for o in api.call("organization_list", {"all_fields": True}).result]
    gone = api.call("organization_show", {"id": dept["id"]})
    assert gone.status == 404
    assert gone.error["__type"] == "Not Found Error"
    assert api.call("organization_delete", {"id": "mzj"}, token=sysadmin.token).status == 404


# --- organization_member_create / organization_member_delete -----------------------------------

def _members(api, token, **filters):
    reply = api.call("member_list", {"id": "mzj", "object_type": "user", **filters}, token=token)
    assert reply.status == 200, reply.body
    return {tuple(row) for row in reply.result}


def test_department_admin_adds_a_member(api, make, staff):
    newcomer = make.user("newcomer")
    reply = api.call("organization_member_create", {"id": "mzj", "username": "newcomer", "role": "editor"},
                     token=staff["admin"].token)
    assert reply.status == 200
    assert reply.result["name"] == "newcomer"
    assert reply.result["capacity"] == "editor"
    assert (newcomer.id, "user", "editor") in _members(api, staff["admin"].token)
    # the new editor can now edit the department's datasets: see the private count
    assert api.call("organization_show", {"id": "mzj"}, token=newcomer.token).result["users"]


def test_sysadmin_adds_a_member_by_user_id(api, make, staff, sysadmin):
    newcomer = make.user("newcomer")
    reply = api.call("organization_member_create", {"id": staff["dept"]["id"], "username": newcomer.id,
                                                    "role": "member"}, token=sysadmin.token)
    assert reply.status == 200
    assert (newcomer.id, "user", "member") in _members(api, sysadmin.token)


@pytest.mark.parametrize("who", ["editor", "member", "outsider"])
def test_non_admins_cannot_add_members(api, make, staff, who):
    make.user("newcomer")
    reply = api.call("organization_member_create", {"id": "mzj", "username": "newcomer", "role": "admin"},
                     token=staff[who].token)
    assert reply.status == 403
    assert reply.error["__type"] == "Authorization Error"
    assert "newcomer" not in {row[0] for row in _members(api, staff["admin"].token)}


def test_anonymous_cannot_add_members(api, make, staff):
    make.user("newcomer")
    reply = api.call("organization_member_create", {"id": "mzj", "username": "newcomer", "role": "member"})
    assert reply.status == 403


def test_admin_of_another_department_cannot_add_members(api, make, staff):
    other_admin = make.user("other-admin")
    make.department("rsj", members={"admin": other_admin})
    reply = api.call("organization_member_create", {"id": "mzj", "username": "other-admin", "role": "admin"},
                     token=other_admin.token)
    assert reply.status == 403


def test_add_unknown_user(api, staff):
    reply = api.call("organization_member_create", {"id": "mzj", "username": "ghost", "role": "member"},
                     token=staff["admin"].token)
    assert reply.status == 404
    assert "ghost" in reply.error["message"]


def test_add_to_unknown_organization(api, staff, sysadmin):
    reply = api.call("organization_member_create", {"id": "nope", "username": "otto", "role": "member"},
                     token=sysadmin.token)
    assert reply.status == 404


@pytest.mark.parametrize("role", ["owner", "Admin", "", None])
def test_add_with_bad_role(api, staff, role):
    reply = api.call("organization_member_create", {"id": "mzj", "username": "otto", "role": role},
                     token=staff["admin"].token)
    assert reply.status == 409
    assert "role" in reply.error


def test_missing_username(api, staff):
    reply = api.call("organization_member_create", {"id": "mzj", "role": "member"}, token=staff["admin"].token)
    assert reply.status == 409
    assert "username" in reply.error


def test_changing_a_role(api, staff):
    member = staff["member"]
    reply = api.call("organization_member_create", {"id": "mzj", "username": member.name, "role": "editor"},
                     token=staff["admin"].token)
    assert reply.status == 200
    assert reply.result["capacity"] == "editor"
    rows = [row for row in _members(api, staff["admin"].token) if row[0] == member.id]
    assert rows == [(member.id, "user", "editor")]
    # the promotion takes effect: the former member may now edit datasets
    from tests.conftest import dataset_values
    created = api.call("package_create", dataset_values(staff["dept"]["id"], 77), token=member.token)
    assert created.status == 200, created.body


def test_demoted_admin_loses_admin_rights(api, staff, sysadmin):
    admin = staff["admin"]
    api.call("organization_member_create", {"id": "mzj", "username": admin.name, "role": "member"},
             token=sysadmin.token).result
    reply = api.call("organization_patch", {"id": "mzj", "title": "x"}, token=admin.token)
    assert reply.status == 403


def test_department_admin_removes_a_member(api, staff):
    member = staff["member"]
    reply = api.call("organization_member_delete", {"id": "mzj", "username": member.name},
                     token=staff["admin"].token)
    assert reply.status == 200
    assert reply.result is None
    assert member.id not in {row[0] for row in _members(api, staff["admin"].token)}
    # the removed member no longer sees the member list
    assert api.call("member_list", {"id": "mzj"}, token=member.token).status == 403


@pytest.mark.parametrize("who", ["editor", "member", "outsider"])
def test_non_admins_cannot_remove_members(api, staff, who):
    reply = api.call("organization_member_delete", {"id": "mzj", "username": staff["editor"].name},
                     token=staff[who].token)
    assert reply.status == 403
    assert staff["editor"].id in {row[0] for row in _members(api, staff["admin"].token)}


def test_remove_non_member_and_unknown_user(api, staff):
    not_member = api.call("organization_member_delete", {"id": "mzj", "username": "otto"},
                          token=staff["admin"].token)
    assert not_member.status == 404
    unknown = api.call("organization_member_delete", {"id": "mzj", "username": "ghost"},
                       token=staff["admin"].token)
    assert unknown.status == 404


# --- member_list -------------------------------------------------------------------------------

def test_member_list_triples(api, staff):
    reply = api.call("member_list", {"id": "mzj"}, token=staff["member"].token, method="GET")
    assert reply.status == 200
    assert all(len(row) == 3 for row in reply.result)
    assert {tuple(row) for row in reply.result} == {
        (staff["admin"].id, "user", "admin"), (staff["editor"].id, "user", "editor"),
        (staff["member"].id, "user", "member")}


def test_member_list_capacity_filter(api, staff, sysadmin):
    assert _members(api, sysadmin.token, capacity="editor") == {(staff["editor"].id, "user", "editor")}
    assert _members(api, sysadmin.token, capacity="admin") == {(staff["admin"].id, "user", "admin")}
    bad = api.call("member_list", {"id": "mzj", "capacity": "owner"}, token=sysadmin.token)
    assert bad.status == 409
    assert "capacity" in bad.error


def test_member_list_packages(api, make, staff):
    dept = staff["dept"]
    public = make.dataset(dept["id"])
    private = make.dataset(dept["id"], private=True)
    reply = api.call("member_list", {"id": "mzj", "object_type": "package"}, token=staff["member"].token)
    assert reply.status == 200
    assert {tuple(row) for row in reply.result} == {(public["id"], "package", "organization"),
                                                   (private["id"], "package", "organization")}
    everything = api.call("member_list", {"id": "mzj"}, token=staff["member"].token).result
    assert {row[1] for row in everything} == {"user", "package"}
    bad = api.call("member_list", {"id": "mzj", "object_type": "group"}, token=staff["member"].token)
    assert bad.status == 409
    assert "object_type" in bad.error


@pytest.mark.parametrize("object_type", [None, "user", "package"])
def test_member_list_is_hidden_from_outsiders(api, make, staff, object_type):
    make.dataset(staff["dept"]["id"])
    data = {"id": "mzj"} if object_type is None else {"id": "mzj", "object_type": object_type}
    for token in (staff["outsider"].token, None):
        reply = api.call("member_list", data, token=token)
        assert reply.status == 403
        assert reply.error["__type"] == "Authorization Error"


def test_member_list_unknown_organization(api, sysadmin):
    assert api.call("member_list", {"id": "nope"}, token=sysadmin.token).status == 404


# --- organization_activity_list ----------------------------------------------------------------

def test_activity_shows_creation_changes_and_members_newest_first(api, make, sysadmin):
    made = api.call("organization_create", {"name": "rsj", "title": "人社"}, token=sysadmin.token).result
    worker = make.user("worker")
    api.call("organization_patch", {"id": "rsj", "description": "就业"}, token=sysadmin.token).result
    api.call("organization_member_create", {"id": "rsj", "username": "worker", "role": "editor"},
             token=sysadmin.token).result
    api.call("organization_member_create", {"id": "rsj", "username": "worker", "role": "admin"},
             token=sysadmin.token).result
    api.call("organization_member_delete", {"id": "rsj", "username": "worker"}, token=sysadmin.token).result

    reply = api.call("organization_activity_list", {"id": "rsj"}, method="GET", token=sysadmin.token)
    assert reply.status == 200
    activities = reply.result
    assert [a["activity_type"] for a in activities] == [
        "changed organization", "changed organization", "changed organization",
        "changed organization", "new organization"]
    assert all(a["object_id"] == made["id"] for a in activities)
    assert all(a["user_id"] == sysadmin.id for a in activities)
    assert [a["data"]["member"] for a in activities[:3]] == [
        {"user": worker.name, "old_role": "admin", "role": None},
        {"user": worker.name, "old_role": "editor", "role": "admin"},
        {"user": worker.name, "old_role": None, "role": "editor"}]
    assert activities[3]["data"]["changes"] == [{"field": "description", "old": None, "new": "就业"}]
    assert activities[4]["data"]["organization"]["name"] == "rsj"
    timestamps = [a["timestamp"] for a in activities]
    assert timestamps == sorted(timestamps, reverse=True)


def test_activity_skips_unchanged_updates_and_pages(api, sysadmin):
    api.call("organization_create", {"name": "rsj", "title": "人社"}, token=sysadmin.token).result
    api.call("organization_patch", {"id": "rsj", "title": "人社"}, token=sysadmin.token).result
    api.call("organization_patch", {"id": "rsj", "title": "人社局"}, token=sysadmin.token).result
    activities = api.call("organization_activity_list", {"id": "rsj"}).result
    assert [a["activity_type"] for a in activities] == ["changed organization", "new organization"]
    page = api.call("organization_activity_list", {"id": "rsj", "limit": 1, "offset": 1}).result
    assert [a["activity_type"] for a in page] == ["new organization"]


def test_activity_of_unknown_organization(api):
    assert api.call("organization_activity_list", {"id": "nope"}).status == 404


def test_membership_changes_in_the_activity_stream_are_for_members_only(api, make, sysadmin):
    officer = make.user("member-officer")
    dept = make.department("ningshan-activity", members={"member": officer})
    api.call("organization_member_create", {"id": dept["id"], "username": make.user("newcomer").name,
                                            "role": "editor"}, token=sysadmin.token)
    def member_entries(token=None):
        reply = api.call("organization_activity_list", {"id": dept["id"]}, token=token)
        return [a for a in reply.result if "member" in a["data"]]
    assert any(a["data"]["member"]["user"] == "newcomer" for a in member_entries(officer.token))
    assert member_entries() == []
    assert member_entries(make.user("stranger").token) == []
