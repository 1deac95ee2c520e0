"""The stale-write check (optimistic concurrency): a write names the version it was based on, by
``metadata_modified`` or ``revision``; only the stored version itself passes.

The stored version here is 2026-01-03 01:30:00.123456 UTC, which a caller in Ningshan may write as
``…T09:30:00.123456+08:00``: the same instant, so the same version. A timestamp that is older (another
writer came in between) or newer (the caller's clock, or a forged "future" version meant to pass every
check) is refused with a Conflict naming the field.
"""
from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import pytest

from catalog.datasets.service import check_not_stale
from catalog.errors import Conflict, ValidationError

STORED = dt.datetime(2026, 1, 3, 1, 30, 0, 123456, tzinfo=dt.timezone.utc)


def stored_dataset(revision: int = 7):
    return SimpleNamespace(metadata_modified=STORED, revision=revision)


@pytest.mark.parametrize("written", [
    "2026-01-03T01:30:00.123456Z",        # UTC with Z
    "2026-01-03t01:30:00.123456z",        # RFC 3339 allows lower-case t and z
    "2026-01-03T01:30:00.123456+00:00",
    "2026-01-03T09:30:00.123456+08:00",   # Beijing time, the same instant
    "2026-01-02T20:30:00.123456-05:00",
    "2026-01-03T01:30:00.123456",         # no zone: CKAN's own form, taken as UTC
])
def test_the_stored_version_passes_however_its_zone_is_written(written):
    assert check_not_stale(stored_dataset(), metadata_modified=written) is None


@pytest.mark.parametrize("written, why", [
    ("2026-01-03T01:30:00.123455Z", "one microsecond older"),
    ("2026-01-02T01:30:00.123456Z", "a day older"),
    ("2026-01-03T01:30:00.123457Z", "one microsecond newer"),
    ("2026-01-03T01:30:01.123456+00:00", "a second newer"),
    ("2099-12-31T23:59:59.999999Z", "far in the future"),
    ("2026-01-03T01:30:00.123456+08:00", "the UTC wall clock written with +08:00 is 8 hours older"),
    ("2026-01-03T09:30:00.123456Z", "the Beijing wall clock written with Z is 8 hours newer"),
    ("2026-01-03T09:30:00.123456", "the Beijing wall clock without a zone is taken as UTC"),
])
def test_any_other_version_is_a_conflict_on_metadata_modified(written, why):
    with pytest.raises(Conflict) as refused:
        check_not_stale(stored_dataset(), metadata_modified=written)
    assert list(refused.value.errors) == ["metadata_modified"], why
    assert "changed by someone else" in refused.value.errors["metadata_modified"][0]


@pytest.mark.parametrize("written", ["yesterday", "2026-13-03T01:30:00Z", "03/01/2026 01:30"])
def test_a_timestamp_that_is_not_one_is_a_validation_error(written):
    with pytest.raises(ValidationError) as refused:
        check_not_stale(stored_dataset(), metadata_modified=written)
    assert not isinstance(refused.value, Conflict)
    assert list(refused.value.errors) == ["metadata_modified"]
    assert "ISO 8601" in refused.value.errors["metadata_modified"][0]


@pytest.mark.parametrize("written", [None, ""])
def test_no_version_given_means_no_check(written):
    assert check_not_stale(stored_dataset(), metadata_modified=written) is None


def test_revision_must_be_the_stored_one():
    assert check_not_stale(stored_dataset(7), revision=7) is None
    for other in (6, 8, 0):
        with pytest.raises(Conflict) as refused:
            check_not_stale(stored_dataset(7), revision=other)
        assert list(refused.value.errors) == ["revision"]


def test_both_given_both_are_checked():
    assert check_not_stale(stored_dataset(7), revision=7, metadata_modified="2026-01-03T09:30:00.123456+08:00") is None
    with pytest.raises(Conflict):
        check_not_stale(stored_dataset(7), revision=7, metadata_modified="2099-01-01T00:00:00Z")
    with pytest.raises(Conflict):
        check_not_stale(stored_dataset(7), revision=8, metadata_modified="2026-01-03T01:30:00.123456Z")


# --- through the API: the version package_show gave, rewritten in +08:00, passes; the future does not ---

@pytest.fixture
def dataset(api, make, sysadmin):
    editor = make.user("xfj-editor")
    department = make.department("ningshan-xfj", members={"editor": editor})
    made = make.dataset(department["id"], name="petitions-register")
    return {"id": made["id"], "token": editor.token}


def _shown(api, dataset):
    return api.call("package_show", {"id": dataset["id"]}, token=dataset["token"]).result


def test_api_accepts_the_shown_version_written_in_beijing_time(api, dataset):
    shown = _shown(api, dataset)
    instant = dt.datetime.fromisoformat(shown["metadata_modified"]).replace(tzinfo=dt.timezone.utc)
    beijing = instant.astimezone(dt.timezone(dt.timedelta(hours=8))).isoformat(timespec="microseconds")
    assert beijing.endswith("+08:00")
    reply = api.call("package_patch", {"id": dataset["id"], "title": "信访登记（修订）", "metadata_modified": beijing},
                     token=dataset["token"])
    assert reply.status == 200, reply.body
    assert _shown(api, dataset)["title"] == "信访登记（修订）"


def test_api_refuses_a_future_version_and_keeps_the_dataset(api, dataset):
    shown = _shown(api, dataset)
    instant = dt.datetime.fromisoformat(shown["metadata_modified"]).replace(tzinfo=dt.timezone.utc)
    future = (instant + dt.timedelta(days=365)).isoformat().replace("+00:00", "Z")
    reply = api.call("package_patch", {"id": dataset["id"], "title": "伪造的新版本", "metadata_modified": future},
                     token=dataset["token"])
    assert reply.status == 409 and "metadata_modified" in reply.error, reply.body
    assert _shown(api, dataset)["title"] == shown["title"]
