"""Every API token expires: a new token lives more than 0 and at most 3,650 days (docs/SECURITY.md, "API tokens").

A token that never expires is a key that outlives the person and the job it was made for. The lifetime of a
token made without one (``CATALOG_TOKEN_DEFAULT_DAYS``, the CLI's and the API's default) is checked when the
app starts: 0 used to make tokens with no expiry at all, accepted for ever. And the service refuses a
lifetime of 0, a negative one or one above 10 years from any caller.
"""
from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from catalog import create_app
from catalog.auth.models import ApiToken, User
from catalog.auth.service import create_token
from catalog.errors import ValidationError


@pytest.mark.parametrize("days", [0, -1, 3651])
def test_an_app_whose_default_token_lifetime_is_out_of_range_does_not_start(tmp_path, days):
    with pytest.raises(ValueError, match="CATALOG_TOKEN_DEFAULT_DAYS.*1 to 3650"):
        create_app({"TESTING": True, "DATABASE_URL": f"sqlite:///{tmp_path / 'c.db'}",
                    "INSTANCE_PATH": str(tmp_path / "instance"), "SECRET_KEY": "t", "TOKEN_DEFAULT_DAYS": days})


@pytest.mark.parametrize("days", [1, 3650])
def test_the_bounds_of_the_default_token_lifetime_start(tmp_path, days):
    app = create_app({"TESTING": True, "DATABASE_URL": f"sqlite:///{tmp_path / 'c.db'}",
                      "INSTANCE_PATH": str(tmp_path / "instance"), "SECRET_KEY": "t", "TOKEN_DEFAULT_DAYS": days})
    assert app.config["TOKEN_DEFAULT_DAYS"] == days


@pytest.mark.parametrize("days", [0, -3, 3650.5])
def test_a_token_without_a_real_lifetime_is_refused_and_not_made(db, make, days):
    owner = make.user("sync-owner")
    before = db.scalar(sa.select(sa.func.count()).select_from(ApiToken))
    with pytest.raises(ValidationError) as refused:
        create_token(db, None, user=db.get(User, owner.id), name="for ever", expires_in_days=days, check_auth=False)
    assert "expires_in" in refused.value.errors
    db.flush()
    assert db.scalar(sa.select(sa.func.count()).select_from(ApiToken)) == before


def test_a_token_of_the_longest_lifetime_ends_ten_years_on(db, make):
    owner = make.user("sync-owner")
    token, _secret = create_token(db, None, user=db.get(User, owner.id), name="long", expires_in_days=3650,
                                  check_auth=False)
    made = dt.datetime.now(dt.timezone.utc)
    assert token.expires_at is not None
    assert abs((token.expires_at - made) - dt.timedelta(days=3650)) < dt.timedelta(minutes=1)
