"""The account, share-request and connection rules of catalog.auth.rules, and the password and sealing
keys of catalog.auth.passwords, each denied and allowed for every kind of caller.

Cast: civil affairs (mzj: admin, editor, member and a deleted account), human resources (rsj: admin and
member), an account with no department, a sysadmin and anonymous callers.
"""
from __future__ import annotations

from types import SimpleNamespace

import pytest
import sqlalchemy as sa
from cryptography.fernet import InvalidToken

from catalog.auth import rules
from catalog.auth.models import User
from catalog.auth.passwords import derived_key, hash_password, password_matches, sealing_key
from catalog.auth.service import authenticate_password, list_users
from catalog.errors import NotAuthorized

PEOPLE = ("mzj_admin", "mzj_editor", "mzj_member", "mzj_gone", "rsj_admin", "rsj_member", "loner")


@pytest.fixture
def cast(make, db):
    accounts = {name: make.user(name.replace("_", "-")) for name in PEOPLE}
    root = make.user("root", sysadmin=True)
    mzj = make.department("mzj", members={"admin": accounts["mzj_admin"], "editor": accounts["mzj_editor"],
                                          "member": accounts["mzj_member"], "member2": accounts["mzj_gone"]})
    rsj = make.department("rsj", members={"admin": accounts["rsj_admin"], "member": accounts["rsj_member"]})
    actors = {name: db.get(User, account.id) for name, account in accounts.items()}
    actors["sysadmin"] = db.get(User, root.id)
    actors["anonymous"] = None
    actors["mzj_gone"].state = "deleted"
    actors["mzj_member"].fullname = "Wang_Li 王丽"
    db.commit()
    return {"actors": actors, "mzj": mzj["id"], "rsj": rsj["id"]}


def _names(users) -> set[str]:
    return {u.name for u in users}


# --- seeing and listing accounts ------------------------------------------------------------------------

@pytest.mark.parametrize("viewer, target, allowed", [
    ("mzj_member", "mzj_member", True),      # oneself
    ("sysadmin", "loner", True),
    ("mzj_admin", "mzj_member", True),       # an admin sees the members of the departments they run
    ("mzj_admin", "rsj_member", False),
    ("rsj_admin", "mzj_member", False),
    ("mzj_editor", "mzj_member", False),     # editors and members do not see each other's accounts
    ("mzj_member", "mzj_admin", False),
    ("loner", "mzj_member", False),
    ("anonymous", "mzj_member", False),
])
def test_can_see_user(db, cast, viewer, target, allowed):
    actors = cast["actors"]
    assert rules.can_see_user(db, actors[viewer], actors[target]) is allowed


@pytest.mark.parametrize("viewer, allowed", [
    ("sysadmin", True), ("mzj_admin", True), ("rsj_admin", True), ("mzj_editor", False),
    ("mzj_member", False), ("loner", False), ("anonymous", False),
])
def test_can_list_users(db, cast, viewer, allowed):
    assert rules.can_list_users(db, cast["actors"][viewer]) is allowed


@pytest.mark.parametrize("viewer, visible", [
    ("mzj_admin", {"mzj-admin", "mzj-editor", "mzj-member"}),   # not the deleted account
    ("rsj_admin", {"rsj-admin", "rsj-member"}),
])
def test_a_department_admin_lists_their_members_only(db, cast, viewer, visible):
    assert _names(list_users(db, cast["actors"][viewer])) == visible


def test_a_sysadmin_lists_every_active_account(db, cast):
    listed = _names(list_users(db, cast["actors"]["sysadmin"]))
    assert {"mzj-admin", "rsj-member", "loner", "root"} <= listed
    assert "mzj-gone" not in listed


@pytest.mark.parametrize("viewer", ["mzj_editor", "mzj_member", "loner", "anonymous"])
def test_others_are_refused_a_list_with_a_reason(db, cast, viewer):
    with pytest.raises(NotAuthorized) as refused:
        list_users(db, cast["actors"][viewer])
    assert "department admins" in refused.value.message


@pytest.mark.parametrize("q, found", [
    ("wang_li", {"mzj-member"}),            # full name, any case
    ("王丽", {"mzj-member"}),
    ("MZJ-MEM", {"mzj-member"}),             # account name (not in the full name), any case
    ("user mzj-ed", {"mzj-editor"}),         # full name only
    ("_", {"mzj-member"}),                   # "_" is a character to find, not a LIKE wildcard
    ("%", set()),
    ("rsj", set()),                          # outside the admin's department
])
def test_searching_the_list(db, cast, q, found):
    assert _names(list_users(db, cast["actors"]["mzj_admin"], q=q)) == found


def test_the_list_is_ordered_by_name_by_default_and_pages(db, cast):
    admin = cast["actors"]["mzj_admin"]
    names = [u.name for u in list_users(db, admin)]
    assert names == ["mzj-admin", "mzj-editor", "mzj-member"]
    assert [u.name for u in list_users(db, admin, order_by="no-such-column")] == names
    assert [u.name for u in list_users(db, admin, offset=1, limit=1)] == ["mzj-editor"]
    by_creation = [u.name for u in list_users(db, admin, order_by="created")]
    assert sorted(by_creation) == names


def test_a_page_holds_a_hundred_accounts_by_default(db, cast):
    db.add_all([User(name=f"clerk-{n:03d}", fullname=f"Clerk {n}") for n in range(105)])
    db.commit()
    listed = list_users(db, cast["actors"]["sysadmin"])
    assert len(listed) == 100
    assert listed[0].name == "clerk-000"


def test_a_deleted_account_cannot_log_in(db, cast):
    gone = cast["actors"]["mzj_gone"]
    assert authenticate_password(db, "mzj-gone", "correct-horse") is None
    gone.state = "active"
    db.commit()
    assert authenticate_password(db, "mzj-gone", "correct-horse").name == "mzj-gone"
    assert authenticate_password(db, "mzj-gone", "wrong-horse") is None


def test_member_departments(db, cast):
    actors = cast["actors"]
    assert set(db.scalars(rules.member_departments(actors["mzj_editor"]))) == {cast["mzj"]}
    assert set(db.scalars(rules.member_departments(actors["rsj_member"]))) == {cast["rsj"]}
    assert list(db.scalars(rules.member_departments(actors["loner"]))) == []
    assert list(db.scalars(rules.member_departments(None))) == []


# --- share requests: who decides and who sees ------------------------------------------------------------

@pytest.mark.parametrize("actor, allowed", [
    ("mzj_admin", True), ("sysadmin", True), ("mzj_editor", False), ("mzj_member", False),
    ("rsj_admin", False),                   # the requesting department's own admin
    ("rsj_member", False), ("loner", False), ("anonymous", False),
])
def test_can_approve_share_request(db, cast, actor, allowed):
    assert rules.can_approve_share_request(db, cast["actors"][actor], provider_id=cast["mzj"],
                                           requester_id=cast["rsj"]) is allowed


def test_an_admin_of_both_departments_cannot_approve_their_own_request(db, cast, make):
    both = cast["actors"]["mzj_admin"]
    requester = make.department("mzj-town-office", members={"admin": SimpleNamespace(id=both.id)})
    assert rules.can_approve_share_request(db, both, provider_id=cast["mzj"], requester_id=requester["id"]) is False


@pytest.mark.parametrize("actor, allowed", [
    ("mzj_member", True), ("rsj_member", True), ("sysadmin", True), ("loner", False), ("anonymous", False),
])
def test_can_see_share_request(db, cast, actor, allowed):
    assert rules.can_see_share_request(db, cast["actors"][actor], provider_id=cast["mzj"],
                                       requester_id=cast["rsj"]) is allowed


# --- connections (数据源) ------------------------------------------------------------------------------------

@pytest.mark.parametrize("actor, allowed", [("sysadmin", True), ("mzj_admin", False), ("anonymous", False)])
def test_can_manage_connections(cast, actor, allowed):
    assert rules.can_manage_connections(cast["actors"][actor]) is allowed


def test_can_use_connection():
    shared = SimpleNamespace(organizations=["dept-a", "dept-b"])
    assert rules.can_use_connection(shared, "dept-a") is True
    assert rules.can_use_connection(shared, "dept-c") is False
    assert rules.can_use_connection(SimpleNamespace(organizations=None), "dept-a") is False


@pytest.mark.parametrize("actor, organizations, allowed", [
    ("sysadmin", [], True), ("mzj_member", ["mzj"], True), ("mzj_member", ["rsj", "mzj"], True),
    ("mzj_member", ["rsj"], False), ("mzj_member", None, False), ("loner", ["mzj", "rsj"], False),
    ("anonymous", ["mzj"], False),
])
def test_can_see_connection(db, cast, actor, organizations, allowed):
    ids = None if organizations is None else [cast[name] for name in organizations]
    assert rules.can_see_connection(db, cast["actors"][actor], SimpleNamespace(organizations=ids)) is allowed


# --- passwords and sealed secrets ------------------------------------------------------------------------------

@pytest.mark.real_hashing
def test_passwords_are_stored_as_salted_scrypt_hashes():
    first, second = hash_password("correct-horse"), hash_password("correct-horse")
    assert first.startswith("scrypt:") and first != second
    assert "correct-horse" not in first
    assert password_matches(first, "correct-horse") and not password_matches(first, "correct-horsf")
    assert password_matches(None, "correct-horse") is False and password_matches("", "") is False


def test_a_sealed_secret_opens_only_with_the_same_key_and_purpose():
    sealed = sealing_key("county-secret", "sync-credentials").encrypt(b"db-password")
    assert sealing_key("county-secret", "sync-credentials").decrypt(sealed) == b"db-password"
    for secret_key, purpose in (("county-secret", "webhooks"), ("other-secret", "sync-credentials")):
        with pytest.raises(InvalidToken):
            sealing_key(secret_key, purpose).decrypt(sealed)


def test_derived_keys_differ_per_purpose_and_secret():
    keys = {derived_key(s, p) for s in ("a", "b") for p in ("audit", "sealing")}
    assert len(keys) == 4 and all(len(k) == 32 for k in keys)
