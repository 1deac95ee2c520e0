"""The identifier checkers of schemas/formats.py, against the rules in DOMAIN.md."""
from __future__ import annotations

import datetime as dt

import pytest

from schemas import formats
from schemas.formats import (CHECKERS, check_division_code, check_household_number, check_mobile,
                             check_resident_id, check_uscc, resident_id_check_char, uscc_check_char)
from schemas.registry import SchemaValidator

WEIGHTS_11643 = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
WEIGHTS_32100 = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"


def resident_id(first17: str) -> str:
    return first17 + resident_id_check_char(first17)


def uscc(first17: str) -> str:
    return first17 + uscc_check_char(first17)


# --- the check characters, recomputed independently from DOMAIN.md ---------------------------


@pytest.mark.parametrize("first17", ["61092319900101001", "11010519491231002", "44030420000229123",
                                     "61092320240101999", "51010019800101005"])
def test_resident_id_check_char_follows_gb_11643(first17):
    total = sum(int(d) * w for d, w in zip(first17, WEIGHTS_11643))
    assert resident_id_check_char(first17) == "10X98765432"[total % 11]


def test_resident_id_check_char_covers_x():
    # find a body whose check character is X, the case people get wrong
    with_x = next(b for b in (f"61092319900101{s:03d}" for s in range(1, 1000)) if resident_id_check_char(b) == "X")
    assert check_resident_id(with_x + "X") is None
    assert check_resident_id(with_x + "0") is not None
    assert check_resident_id(with_x + "x") is not None


def test_published_resident_id_example():
    # The example in GB 11643-1999 itself.
    assert check_resident_id("11010519491231002X") is None


@pytest.mark.parametrize("first17", ["91610923MA6YK5GX8", "12610923MB2958410", "11100000000013127",
                                     "91110108551385082", "5261092305123456Y"])
def test_uscc_check_char_follows_gb_32100(first17):
    total = sum(USCC_ALPHABET.index(c) * w for c, w in zip(first17, WEIGHTS_32100))
    assert uscc_check_char(first17) == USCC_ALPHABET[(31 - total % 31) % 31]


def test_real_credit_code_example():
    # 11100000000013127D: a central government body's published code; its check character is D.
    assert uscc_check_char("11100000000013127") == "D"
    assert check_uscc("11100000000013127D") is None


# --- resident ID (GB 11643) -------------------------------------------------------------------


@pytest.mark.parametrize("first17", ["61092319900101001", "61092320000229002", "11010519491231002",
                                     "61092319000101003"])
def test_valid_resident_ids(first17):
    assert check_resident_id(resident_id(first17)) is None


@pytest.mark.parametrize("value", ["", "6109231990010100", "6109231990010100123", "61092319900101001x",
                                   "61092319900101001A", "6109231990010100１X", " 610923199001010010",
                                   "61092319900101001 "])
def test_resident_id_shape(value):
    message = check_resident_id(value)
    assert message and "GB 11643" in message and "17 digits" in message


@pytest.mark.parametrize("birth", ["19990230", "19991301", "19990001", "19990100", "20230229", "19990431"])
def test_resident_id_with_impossible_birth_date(birth):
    message = check_resident_id(resident_id(f"610923{birth}001"))
    assert message and "GB 11643" in message and birth in message and "not a real date" in message


def test_resident_id_birth_date_out_of_range():
    future = (dt.date.today() + dt.timedelta(days=1)).strftime("%Y%m%d")
    for birth in (future, "18991231"):
        message = check_resident_id(resident_id(f"610923{birth}001"))
        assert message and "GB 11643" in message and "out of range" in message


def test_resident_id_wrong_check_digit():
    good = resident_id("61092319900101001")
    wrong = good[:17] + ("0" if good[17] != "0" else "1")
    message = check_resident_id(wrong)
    assert message == f"resident ID check digit should be {good[17]} (GB 11643)"


def test_resident_id_single_digit_typo_is_caught():
    good = resident_id("61092319900101001")
    for position in range(17):
        digit = str((int(good[position]) + 1) % 10)
        typo = good[:position] + digit + good[position + 1:]
        assert check_resident_id(typo) is not None, typo


@pytest.mark.parametrize("value", [None, 610923199001010010, ["61092319900101001X"]])
def test_resident_id_non_strings(value):
    assert "GB 11643" in check_resident_id(value)


# --- unified social credit code (GB 32100) ----------------------------------------------------


@pytest.mark.parametrize("first17", ["91610923MA6YK5GX8", "12610923MB2958410", "11100000000013127",
                                     "Y1610923000000000"])
def test_valid_credit_codes(first17):
    assert check_uscc(uscc(first17)) is None


@pytest.mark.parametrize("letter", ["I", "O", "Z", "S", "V"])
def test_credit_code_forbidden_letters(letter):
    value = uscc("91610923MA6YK5GX8")
    message = check_uscc(value[:10] + letter + value[11:])
    assert message and "GB 32100" in message and "I, O, Z, S, V" in message


@pytest.mark.parametrize("value", ["", "91610923MA6YK5GX", "91610923MA6YK5GX8AB", "91610923ma6yk5gx8a",
                                   "91610923MA6YK5GX8-"])
def test_credit_code_shape(value):
    message = check_uscc(value)
    assert message and "GB 32100" in message and "18 characters" in message


def test_credit_code_wrong_check_character():
    good = uscc("91610923MA6YK5GX8")
    wrong = good[:17] + ("0" if good[17] != "0" else "1")
    assert check_uscc(wrong) == f"unified social credit code check character should be {good[17]} (GB 32100)"


def test_credit_code_check_character_never_forbidden_letter():
    import itertools
    for a, b in itertools.product(USCC_ALPHABET, repeat=2):
        assert uscc_check_char(f"91610923MA6YK5G{a}{b}") in USCC_ALPHABET


# --- division code (GB/T 2260 and the 12-digit statistical code) ------------------------------


@pytest.mark.parametrize("value", ["610923", "610000", "110101", "610923100000", "610923100201",
                                   "610923001001", "610923200001", "610923599999", "610923000000"])
def test_valid_division_codes(value):
    assert check_division_code(value) is None


@pytest.mark.parametrize("value", ["", "61092", "6109231", "61092310000", "6109231000001", "61092a",
                                   "610923-100000", " 610923"])
def test_division_code_shape(value):
    message = check_division_code(value)
    assert message and "GB/T 2260" in message and "6 digits" in message


def test_division_code_needs_a_province():
    message = check_division_code("000923")
    assert message and "province" in message and "GB/T 2260" in message


@pytest.mark.parametrize("town", ["600", "700", "999"])
def test_statistical_code_township_range(town):
    # townships are 001-099 streets, 100-199 towns, 200-399 townships, 400-599 others
    message = check_division_code(f"610923{town}001")
    assert message and town in message and "township" in message


# --- mobile -----------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["13800138000", "19912345678", "15091512345"])
def test_valid_mobiles(value):
    assert check_mobile(value) is None


@pytest.mark.parametrize("value", ["", "12800138000", "1380013800", "138001380000", "0915-6821234",
                                   "+8613800138000", "1380013800a"])
def test_invalid_mobiles(value):
    message = check_mobile(value)
    assert message and "11 digits" in message


# --- household number (statistical division code + group + household) ------------------------


def test_valid_household_number():
    assert check_household_number("610923100201" + "01" + "0001") is None


@pytest.mark.parametrize("value", ["", "61092310020101000", "6109231002010100011", "61092310020101000X"])
def test_household_number_shape(value):
    message = check_household_number(value)
    assert message and "18 digits" in message and "12-digit statistical division code" in message


def test_household_number_checks_its_division_code():
    assert "province" in check_household_number("000923100201010001")
    assert "township" in check_household_number("610923900201010001")


# --- characters that look right but are not -------------------------------------------------


@pytest.mark.parametrize("check, good", [
    (check_resident_id, "11010519491231002X"),
    (check_uscc, "11100000000013127D"),
    (check_division_code, "610923"),
    (check_mobile, "13800138000"),
    (check_household_number, "610923100201010001"),
])
def test_trailing_newline_and_spaces_are_refused(check, good):
    assert check(good) is None
    for bad in (good + "\n", good + " ", " " + good, good + "\r\n"):
        assert check(bad) is not None, repr(bad)


@pytest.mark.parametrize("check, good", [
    (check_resident_id, "11010519491231002X"),
    (check_division_code, "610923"),
    (check_mobile, "13800138000"),
    (check_household_number, "610923100201010001"),
])
def test_full_width_and_other_unicode_digits_are_refused(check, good):
    # Chinese input methods produce full-width digits (０-９); int() would read them silently.
    full_width = good.translate({ord(d): ord(d) - ord("0") + ord("０") for d in "0123456789"})
    arabic_indic = good.translate({ord(d): ord(d) - ord("0") + 0x0660 for d in "0123456789"})
    assert check(full_width) is not None
    assert check(arabic_indic) is not None


# --- through JSON Schema ----------------------------------------------------------------------


def test_every_checker_is_registered():
    assert CHECKERS == {
        "cn-resident-id": check_resident_id,
        "cn-uscc": check_uscc,
        "cn-division-code": check_division_code,
        "cn-mobile": check_mobile,
        "cn-household-number": check_household_number,
    }
    assert formats.CHECKERS is CHECKERS


@pytest.mark.parametrize("fmt, good, bad, rule", [
    ("cn-resident-id", "11010519491231002X", "110105194912310021", "GB 11643"),
    ("cn-uscc", "11100000000013127D", "11100000000013127A", "GB 32100"),
    ("cn-division-code", "610923", "61092", "GB/T 2260"),
    ("cn-mobile", "13800138000", "12800138000", "11 digits"),
    ("cn-household-number", "610923100201010001", "61092310020101000", "18 digits"),
])
def test_formats_in_a_json_schema(fmt, good, bad, rule):
    validator = SchemaValidator({"type": "object", "properties": {"value": {"type": "string", "format": fmt}}})
    assert validator.errors({"value": good}) == []
    assert validator.errors({"value": good + "\n"}) != []
    errors = validator.errors({"value": bad})
    assert [(e.path, e.keyword) for e in errors] == [("value", "format")]
    assert rule in errors[0].message
    # a non-string is reported by "type", not by the format checker
    errors = validator.errors({"value": 12})
    assert [e.keyword for e in errors] == ["type"]


# --- the fast ways of the resident ID check give the slow ways' answers ----------------------------


def test_resident_id_check_char_by_base_13_equals_the_weighted_sum():
    import random

    rng = random.Random(11643)
    bodies = ["0" * 17, "9" * 17] + ["".join(rng.choice("0123456789") for _ in range(17)) for _ in range(20000)]
    for first17 in bodies:
        total = sum(int(d) * w for d, w in zip(first17, WEIGHTS_11643))
        assert resident_id_check_char(first17) == "10X98765432"[total % 11], first17
    # what is not 17 ASCII digits takes the weighted sum as before (int() reads full-width digits)
    assert resident_id_check_char("１２３") == "10X98765432"[(7 + 18 + 30) % 11]
    with pytest.raises(ValueError):
        resident_id_check_char("1234567890123456a")


def test_resident_id_birth_dates_are_checked_as_calendar_dates():
    day, last = dt.date(1899, 12, 25), dt.date.today() + dt.timedelta(days=3)
    texts = [f"{y:04d}{m:02d}{d:02d}" for y in (1900, 1999, 2000, 2023, 2024, 2100) for m in range(0, 14)
             for d in (0, 1, 28, 29, 30, 31, 32)]
    while day <= last:
        texts.append(day.strftime("%Y%m%d"))
        day += dt.timedelta(days=1)
    today = dt.date.today()
    for text in texts:
        try:
            birth = dt.date(int(text[:4]), int(text[4:6]), int(text[6:]))
        except ValueError:
            expected = f"resident ID birth date {text} is not a real date (GB 11643)"
        else:
            expected = (f"resident ID birth date {text} is out of range (GB 11643)"
                        if birth.year < 1900 or birth > today else None)
        assert check_resident_id(resident_id("610923" + text + "123")) == expected, text
