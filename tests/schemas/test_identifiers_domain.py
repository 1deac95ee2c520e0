"""Identifiers checked against published examples and a check-digit computation written here, from the
standards' tables in DOMAIN.md — never with the project's own check-digit functions, so that a wrong
algorithm in ``schemas/formats.py`` cannot make its own tests pass.

Worked by hand (GB 11643's own sample, 11010519491231002X):
  digits   1  1  0  1  0  5  1  9  4  9  1  2  3  1  0  0  2
  weights  7  9 10  5  8  4  2  1  6  3  7  9 10  5  8  4  2
  products 7  9  0  5  0 20  2  9 24 27  7 18 30  5  0  0  4  -> sum 167, 167 mod 11 = 2 -> "10X98765432"[2] = X
"""
from __future__ import annotations

import datetime as dt
import time
from zoneinfo import ZoneInfo

import pytest

from schemas.formats import check_date_time, check_division_code, check_mobile, check_resident_id, check_uscc

# GB 11643-1999 weights and check table, as published (DOMAIN.md).
GB11643_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
GB11643_CHECK = ("1", "0", "X", "9", "8", "7", "6", "5", "4", "3", "2")

# GB 32100-2015: the 31 characters (no I, O, Z, S, V) with their values, and the weights.
GB32100_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
GB32100_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def independent_resident_check(first17: str) -> str:
    """The check character by the published weighted sum (independent of schemas.formats)."""
    total = 0
    for digit, weight in zip(first17, GB11643_WEIGHTS, strict=True):
        total += int(digit) * weight
    return GB11643_CHECK[total % 11]


def independent_uscc_check(first17: str) -> str:
    """The GB 32100 check character: (31 - sum mod 31) mod 31, read back through the table."""
    total = 0
    for char, weight in zip(first17, GB32100_WEIGHTS, strict=True):
        total += GB32100_CHARS.index(char) * weight
    return GB32100_CHARS[(31 - total % 31) % 31]


# Published resident ID examples: GB 11643-1999's own sample (check X), and two computed by hand above the
# tests that use them (one ending in a digit, one whose sum mod 11 is 0).
PUBLISHED_RESIDENT_IDS = ["11010519491231002X", "610923198001010010", "510100198001010051"]

# Unified social credit codes printed on published business licences and in GB 32100 guides.
PUBLISHED_USCC = ["91350100M000100Y43", "91110108551385082Q", "91440300708461136T", "9144030071526726XG"]


def test_the_independent_computation_reproduces_the_published_examples():
    # The hand-worked sum in the module docstring and the standards' samples agree with the helper.
    assert independent_resident_check("11010519491231002") == "X"
    assert independent_resident_check("44052418800101001") == "4"
    for code in PUBLISHED_USCC:
        assert independent_uscc_check(code[:17]) == code[17], code


@pytest.mark.parametrize("value", PUBLISHED_RESIDENT_IDS)
def test_published_resident_ids_are_accepted(value):
    assert check_resident_id(value) is None


@pytest.mark.parametrize("value", PUBLISHED_RESIDENT_IDS)
@pytest.mark.parametrize("wrong", list("0123456789X"))
def test_every_other_check_character_is_refused_naming_the_right_one(value, wrong):
    if wrong == value[17]:
        pytest.skip("this is the right check character")
    message = check_resident_id(value[:17] + wrong)
    assert message is not None and "check digit" in message and "GB 11643" in message
    assert f"should be {value[17]}" in message


@pytest.mark.parametrize("first17", [
    "61092319800101001",  # Ningshan County, born 1980-01-01, sequence 001 (male)
    "61092319850615002",  # born 1985-06-15, sequence 002 (female)
    "61092320000229004",  # born on a leap day
    "51010019800101005",  # Chengdu, check character 1
    "61092319700515003",  # check character 2 (sum mod 11 = 10)
    "43010219681112004",
])
def test_resident_ids_whose_check_is_a_digit_are_refused_with_an_x(first17):
    """The X bug: an ID ending in X must be as wrong as any other wrong character."""
    right = independent_resident_check(first17)
    assert right != "X"
    assert check_resident_id(first17 + right) is None
    refused = check_resident_id(first17 + "X")
    assert refused is not None and f"should be {right}" in refused


@pytest.mark.parametrize("first17", [f"6109231990010100{n}" for n in range(10)])
def test_every_sequence_digit_gets_the_independently_computed_check(first17):
    right = independent_resident_check(first17)
    assert check_resident_id(first17 + right) is None
    for wrong in "0123456789X":
        if wrong != right:
            assert check_resident_id(first17 + wrong) is not None, first17 + wrong


def test_the_guangdong_sample_has_a_right_check_digit_but_a_birth_year_before_1900():
    # 440524188001010014, the other textbook sample: check digit 4 is right, but born in 1880
    assert independent_resident_check("44052418800101001") == "4"
    refused = check_resident_id("440524188001010014")
    assert refused is not None and "out of range" in refused


def test_a_lower_case_x_is_not_the_check_character():
    assert check_resident_id("11010519491231002x") is not None


@pytest.mark.parametrize("value", PUBLISHED_USCC)
def test_published_credit_codes_are_accepted(value):
    assert check_uscc(value) is None


@pytest.mark.parametrize("value", PUBLISHED_USCC)
def test_published_credit_codes_with_any_other_check_character_are_refused(value):
    for wrong in GB32100_CHARS:
        if wrong != value[17]:
            refused = check_uscc(value[:17] + wrong)
            assert refused is not None and f"should be {value[17]}" in refused, value[:17] + wrong


def test_a_credit_code_whose_check_value_is_zero():
    # sum mod 31 == 0 must give "0", not an index of 31 (the outer "mod 31" of the formula)
    first17 = next(f"9161092300000{n:04d}" for n in range(10000)
                   if independent_uscc_check(f"9161092300000{n:04d}") == "0")
    assert check_uscc(first17 + "0") is None
    assert check_uscc(first17 + "Y") is not None


@pytest.mark.parametrize("value, ok", [
    ("13012345678", True), ("19912345678", True), ("13900000000", True),
    ("12012345678", False), ("10012345678", False), ("1391234567", False), ("139123456789", False),
    ("23912345678", False), ("+8613912345678", False),
])
def test_mobile_numbers(value, ok):
    assert (check_mobile(value) is None) is ok


# --- RFC 3339 date-times (record timestamps such as updated_at) ------------------------------------

@pytest.mark.parametrize("value", [
    "2026-01-03T09:30:00+08:00", "2026-01-03T01:30:00Z", "2026-01-03T01:30:00.5z", "2026-01-03T23:59:59-23:59",
    "2026-01-03T00:00:00+23:00", "2024-02-29T12:00:00+08:59", "2026-01-03t09:30:00+08:00",
])
def test_rfc_3339_date_times_are_accepted(value):
    assert check_date_time(value) is None


@pytest.mark.parametrize("value, words", [
    ("2026-01-03T09:60:00+08:00", "not a real"),         # minute 60
    ("2026-01-03T09:30:60+08:00", "not a real"),         # second 60
    ("2026-01-03T24:00:00+08:00", "not a real"),
    ("2026-02-29T09:30:00+08:00", "not a real"),         # 2026 is not a leap year
    ("2026-01-03T09:30:00+24:00", "offset"),
    ("2026-01-03T09:30:00+08:60", "offset"),
    ("2026-01-03T09:30:00", "time zone"),
    ("2026-01-03 09:30:00+08:00", "time zone"),
])
def test_impossible_date_times_are_refused_naming_the_rule(value, words):
    message = check_date_time(value)
    assert message is not None and words in message and "RFC 3339" in message


@pytest.mark.parametrize("value", [None, 20260103, ["2026-01-03T09:30:00+08:00"]])
def test_a_date_time_that_is_not_text_is_refused(value):
    assert "RFC 3339" in check_date_time(value)


def test_a_township_code_out_of_range_is_named():
    assert "township code 700 " in check_division_code("610923700000")


def _id_born(day) -> str:
    """A resident ID of Xi'an's Ningshan county born on ``day``, its check character computed here."""
    first17 = f"610923{day:%Y%m%d}001"
    return first17 + independent_resident_check(first17)


# UTC-12 and UTC+14 are the extreme offsets: at any moment at least one of them is on another calendar
# day than UTC (UTC-12 before noon UTC, UTC+14 from 10:00 UTC), so the "is this birth date in the future?"
# check is exercised where the local day and the UTC day differ, whatever time the test runs.
@pytest.mark.parametrize("zone", ["Etc/GMT+12", "Etc/GMT-14", "UTC", "Asia/Shanghai"])
def test_a_birth_date_is_in_the_future_by_the_servers_local_calendar(zone, monkeypatch):
    monkeypatch.setenv("TZ", zone)
    time.tzset()
    try:
        local_today = dt.datetime.now(ZoneInfo(zone)).date()
        assert check_resident_id(_id_born(local_today)) is None, "born today (local) is a real birth date"
        assert check_resident_id(_id_born(local_today - dt.timedelta(days=1))) is None
        for ahead in (1, 2):
            message = check_resident_id(_id_born(local_today + dt.timedelta(days=ahead)))
            assert message and "out of range" in message, f"born {ahead} day(s) after today in {zone}"
    finally:
        monkeypatch.undo()
        time.tzset()
