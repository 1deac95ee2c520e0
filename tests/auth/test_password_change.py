"""Who sets an account's password, and with what (catalog.auth.service.change_password).

The rule as the account page states it: the account's owner sets a new password by giving the current one
(a sysadmin too, for their own account); a sysadmin resets anyone else's without it; nobody else, not even
the admin of the owner's department, sets it; the command line (`catalog user password`) resets any. A new
password has at least 8 characters. Every account starts with the password ``correct-horse``.
"""
from __future__ import annotations

import pytest

from catalog.auth.models import User
from catalog.auth.service import authenticate_password, change_password
from catalog.errors import NotAuthorized, ValidationError

START = "correct-horse"


@pytest.fixture
def accounts(make, db):
    owner, colleague, head = make.user("li-ming"), make.user("wang-fang"), make.user("zhao-ke")
    root = make.user("root", sysadmin=True)
    make.department("mzj", members={"admin": head, "editor": colleague, "member": owner})
    return {name: db.get(User, account.id) for name, account in
            (("owner", owner), ("colleague", colleague), ("head", head), ("sysadmin", root))}


def _logs_in(db, name: str, password: str) -> bool:
    return authenticate_password(db, name, password) is not None


def test_the_owner_changes_their_password_with_the_current_one(db, accounts):
    owner = accounts["owner"]
    change_password(db, owner, owner, new_password="new-password-1", current_password=START)
    assert _logs_in(db, "li-ming", "new-password-1") and not _logs_in(db, "li-ming", START)


@pytest.mark.parametrize("current", ["wrong-horse", "", None])
def test_without_the_right_current_password_the_owner_is_refused_naming_it(db, accounts, current):
    owner = accounts["owner"]
    with pytest.raises(ValidationError) as refused:
        change_password(db, owner, owner, new_password="new-password-1", current_password=current)
    assert list(refused.value.errors) == ["current_password"]
    assert _logs_in(db, "li-ming", START)


def test_a_sysadmin_resets_another_account_without_its_password(db, accounts):
    change_password(db, accounts["sysadmin"], accounts["owner"], new_password="reset-by-root")
    assert _logs_in(db, "li-ming", "reset-by-root")


def test_a_sysadmin_changing_their_own_password_gives_the_current_one(db, accounts):
    root = accounts["sysadmin"]
    with pytest.raises(ValidationError) as refused:
        change_password(db, root, root, new_password="new-root-password", current_password="guess")
    assert list(refused.value.errors) == ["current_password"]
    change_password(db, root, root, new_password="new-root-password", current_password=START)
    assert _logs_in(db, "root", "new-root-password")


@pytest.mark.parametrize("who", ["colleague", "head", None])
def test_nobody_else_sets_the_password_not_even_the_departments_admin(db, accounts, who):
    actor = accounts[who] if who else None
    with pytest.raises(NotAuthorized):
        change_password(db, actor, accounts["owner"], new_password="taken-over-1", current_password=START)
    assert _logs_in(db, "li-ming", START)


def test_the_command_line_resets_any_password(db, accounts):
    change_password(db, None, accounts["owner"], new_password="from-the-cli", check_auth=False)
    assert _logs_in(db, "li-ming", "from-the-cli")


@pytest.mark.parametrize("new, accepted", [("1234567", False), ("12345678", True), ("", False)])
def test_a_new_password_has_at_least_eight_characters(db, accounts, new, accepted):
    owner = accounts["owner"]
    if accepted:
        change_password(db, owner, owner, new_password=new, current_password=START)
        assert _logs_in(db, "li-ming", new)
        return
    with pytest.raises(ValidationError) as refused:
        change_password(db, owner, owner, new_password=new, current_password=START)
    assert list(refused.value.errors) == ["password"]
    with pytest.raises(ValidationError):   # a sysadmin's reset too
        change_password(db, accounts["sysadmin"], owner, new_password=new)
    assert _logs_in(db, "li-ming", START)
