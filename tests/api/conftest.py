"""Fixtures shared by the API tests."""
from __future__ import annotations

from types import SimpleNamespace

import pytest


@pytest.fixture
def org(make, sysadmin):
    """A department with an admin, an editor and a plain member, plus an outsider."""
    people = {role: make.user(role) for role in ("orgadmin", "editor", "member", "outsider")}
    dept = make.department("mzj", members={"admin": people["orgadmin"], "editor": people["editor"],
                                           "member": people["member"]})
    return SimpleNamespace(dept=dept, id=dept["id"], sysadmin=sysadmin, admin=people["orgadmin"],
                           editor=people["editor"], member=people["member"],
                           outsider=people["outsider"])
