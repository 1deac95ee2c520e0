"""Unit tests of the authorization rules in catalog.auth.rules, each with allowed and denied cases."""
from __future__ import annotations

import itertools

import pytest
import sqlalchemy as sa

from catalog.auth import rules
from catalog.auth.models import ApiToken, User
from catalog.departments.models import Department
from catalog.departments.service import set_member
from catalog.errors import NotAuthorized

ACTORS = ("anonymous", "outsider", "member", "editor", "admin", "sysadmin")
STATES = ("draft", "active", "deleted")




@pytest.fixture
def world(make, db):
    """A department with an admin, an editor and a member; an outsider who is admin elsewhere."""
    accounts = {role: make.user(f"{role}-user") for role in ("admin", "editor", "member", "outsider")}
    root = make.user("root", sysadmin=True)
    home = make.department("mzj", members={r: accounts[r] for r in ("admin", "editor", "member")})
    other = make.department("rsj", members={"admin": accounts["outsider"]})
    actors = {name: db.get(User, account.id) for name, account in accounts.items()}
    actors["sysadmin"] = db.get(User, root.id)
    actors["anonymous"] = None
    return {"home": home["id"], "other": other["id"], "actors": actors}


# --- require and is_sysadmin -------------------------------------------------------------------

def test_require_passes_when_allowed():
    assert rules.require(True, "never shown") is None


def test_require_raises_with_the_message_when_denied():
    with pytest.raises(NotAuthorized) as raised:
        rules.require(False, "Only sysadmins can do that")
    assert raised.value.message == "Only sysadmins can do that"


@pytest.mark.parametrize("actor, expected", [
    ("sysadmin", True), ("admin", False), ("member", False), ("anonymous", False)])
def test_is_sysadmin(world, actor, expected):
    assert rules.is_sysadmin(world["actors"][actor]) is expected


# --- role_in -----------------------------------------------------------------------------------

@pytest.mark.parametrize("actor, expected", [
    ("admin", "admin"), ("editor", "editor"), ("member", "member"),
    ("outsider", None), ("anonymous", None), ("sysadmin", None)])
def test_role_in(db, world, actor, expected):
    assert rules.role_in(db, world["actors"][actor], world["home"]) == expected


def test_role_in_is_per_department(db, world):
    assert rules.role_in(db, world["actors"]["outsider"], world["other"]) == "admin"
    assert rules.role_in(db, world["actors"]["admin"], world["other"]) is None


def test_role_in_unknown_department(db, world):
    assert rules.role_in(db, world["actors"]["admin"], "no-such-department") is None


# --- department rules --------------------------------------------------------------------------

@pytest.mark.parametrize("rule", [rules.can_create_department, rules.can_delete_department,
                                  rules.can_create_user])
@pytest.mark.parametrize("actor", ACTORS)
def test_sysadmin_only_rules(world, rule, actor):
    assert rule(world["actors"][actor]) is (actor == "sysadmin")


@pytest.mark.parametrize("rule", [rules.can_update_department, rules.can_manage_members])
@pytest.mark.parametrize("actor", ACTORS)
def test_department_admin_rules(db, world, rule, actor):
    assert rule(db, world["actors"][actor], world["home"]) is (actor in ("admin", "sysadmin"))


def test_department_admin_rules_do_not_reach_other_departments(db, world):
    outsider = world["actors"]["outsider"]
    assert rules.can_update_department(db, outsider, world["other"]) is True
    assert rules.can_manage_members(db, outsider, world["other"]) is True
    assert rules.can_update_department(db, world["actors"]["admin"], world["other"]) is False
    assert rules.can_manage_members(db, world["actors"]["admin"], world["other"]) is False


@pytest.mark.parametrize("actor", ACTORS)
def test_can_see_members(db, world, actor):
    expected = actor in ("member", "editor", "admin", "sysadmin")
    assert rules.can_see_members(db, world["actors"][actor], world["home"]) is expected


@pytest.mark.parametrize("actor", ACTORS)
def test_can_edit_datasets_of(db, world, actor):
    expected = actor in ("editor", "admin", "sysadmin")
    assert rules.can_edit_datasets_of(db, world["actors"][actor], world["home"]) is expected


def test_role_change_takes_effect_in_the_rules(db, world):
    from catalog.departments.models import Membership

    member = world["actors"]["member"]
    assert rules.can_edit_datasets_of(db, member, world["home"]) is False
    membership = db.scalar(sa.select(Membership).where(Membership.user_id == member.id))
    membership.role = "editor"
    db.flush()
    assert rules.can_edit_datasets_of(db, member, world["home"]) is True
    assert rules.can_manage_members(db, member, world["home"]) is False


# --- reading datasets --------------------------------------------------------------------------

def expected_read(actor: str, private: bool, state: str) -> bool:
    """The documented rule, written out as a table."""
    if state == "active" and not private:
        return True
    if actor == "sysadmin":
        return True
    if state == "deleted":
        return actor in ("editor", "admin")
    return actor in ("member", "editor", "admin")


@pytest.mark.parametrize("actor, private, state",
                         list(itertools.product(ACTORS, (False, True), STATES)))
def test_can_read_dataset(db, world, actor, private, state):
    allowed = rules.can_read_dataset(db, world["actors"][actor], owner_org=world["home"],
                                     private=private, state=state)
    assert allowed is expected_read(actor, private, state)


def test_can_read_dataset_of_another_department(db, world):
    member = world["actors"]["member"]
    assert rules.can_read_dataset(db, member, owner_org=world["other"], private=True, state="active") is False
    assert rules.can_read_dataset(db, member, owner_org=world["other"], private=False, state="active") is True


@pytest.fixture
def every_kind_of_dataset(make, db, world):
    """One dataset of the home department per (private, state), plus a private one elsewhere."""
    from catalog.datasets.models import Dataset

    made = {}
    for private, state in itertools.product((False, True), STATES):
        dataset = make.dataset(world["home"], private=private,
                               state="active" if state == "deleted" else state)
        made[(private, state)] = dataset["id"]
    for dataset_id in (made[(False, "deleted")], made[(True, "deleted")]):
        db.get(Dataset, dataset_id).state = "deleted"
    db.commit()
    elsewhere = make.dataset(world["other"], private=True)
    return {"home": made, "elsewhere": elsewhere["id"]}


@pytest.mark.parametrize("actor", ACTORS)
def test_readable_datasets_clause_agrees_with_can_read_dataset(db, world, every_kind_of_dataset, actor):
    """For every (private, state): listed by the SQL clause exactly when can_read_dataset allows it,
    except that deleted datasets are never listed (documented: lists leave them out for everyone)."""
    from catalog.datasets.models import Dataset

    user = world["actors"][actor]
    table = Dataset.__table__
    listed = set(db.scalars(sa.select(table.c.id).where(rules.readable_datasets_clause(db, user, table))))
    for (private, state), dataset_id in every_kind_of_dataset["home"].items():
        dataset = db.get(Dataset, dataset_id)
        assert (dataset.private, dataset.state) == (private, state)
        readable = rules.can_read_dataset(db, user, owner_org=dataset.owner_org, private=dataset.private,
                                          state=dataset.state)
        assert readable is expected_read(actor, private, state)
        assert (dataset_id in listed) is (readable and state != "deleted"), (actor, private, state)
    # a private dataset of another department: listed only for the sysadmin and that department's admin
    assert (every_kind_of_dataset["elsewhere"] in listed) is (actor in ("sysadmin", "outsider"))


# --- accounts and tokens -----------------------------------------------------------------------

@pytest.mark.parametrize("rule", [rules.can_see_private_user_fields, rules.can_manage_tokens])
@pytest.mark.parametrize("actor, expected", [
    ("member", True),          # the user themself
    ("sysadmin", True),
    ("admin", False),          # not even the admin of the user's department
    ("outsider", False),
    ("anonymous", False),
])
def test_private_user_fields_and_tokens(world, rule, actor, expected):
    assert rule(world["actors"][actor], world["actors"]["member"]) is expected


@pytest.mark.parametrize("scope, read_only, expected", [
    (None, True, True), (None, False, True),        # no token: a web session, or anonymous
    ("write", True, True), ("write", False, True),
    ("read", True, True), ("read", False, False),
])
def test_can_use_token_for(scope, read_only, expected):
    token = None if scope is None else ApiToken(scope=scope)
    assert rules.can_use_token_for(token, read_only=read_only) is expected


# --- accounts and share requests (issue 12, finding 10) ---------------------------------------

@pytest.mark.parametrize("viewer, target, expected", [
    ("anonymous", "member", False), ("outsider", "member", False), ("editor", "member", False),
    ("member", "member", True), ("admin", "member", True), ("admin", "editor", True),
    ("admin", "outsider", False), ("outsider", "admin", False), ("sysadmin", "outsider", True)])
def test_can_see_user_and_its_sql_twin_agree(db, world, viewer, target, expected):
    actor, user = world["actors"][viewer], world["actors"][target]
    assert rules.can_see_user(db, actor, user) is expected
    if rules.can_list_users(db, actor):
        listed = set(db.scalars(sa.select(User.id).where(rules.visible_users_clause(actor, User.__table__))))
        assert (user.id in listed) is expected


@pytest.mark.parametrize("actor, expected", [
    ("anonymous", False), ("member", False), ("editor", False), ("admin", True), ("outsider", True),
    ("sysadmin", True)])
def test_can_list_users(db, world, actor, expected):
    # the outsider is admin of rsj: it lists rsj's members (and no one of mzj, see above)
    assert rules.can_list_users(db, world["actors"][actor]) is expected


@pytest.mark.parametrize("actor, expected", [
    ("admin", True), ("sysadmin", True), ("editor", False), ("member", False), ("outsider", False),
    ("anonymous", False)])
def test_can_approve_share_request_from_another_department(db, world, actor, expected):
    assert rules.can_approve_share_request(db, world["actors"][actor], provider_id=world["home"],
                                           requester_id=world["other"]) is expected


def test_a_provider_admin_who_belongs_to_the_requester_cannot_approve(db, world, make):
    # the outsider is admin of rsj; made admin of mzj too, it may approve rsj's requests no more
    admin = world["actors"]["outsider"]
    root = world["actors"]["sysadmin"]
    set_member(db, root, db.get(Department, world["home"]), admin, "admin")
    db.flush()
    assert rules.can_approve_share_request(db, admin, provider_id=world["home"], requester_id=world["other"]) is False
    assert rules.can_approve_share_request(db, root, provider_id=world["home"], requester_id=world["other"]) is True
