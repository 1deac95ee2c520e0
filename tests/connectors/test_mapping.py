"""The declarative mapping: renames, constants, value maps, coercions, member lists, t2s folding."""
from __future__ import annotations

import datetime as dt

import pytest

from connectors.mapping import Mapping, MappingConfigError


def rendered(errors):
    return [f"{e.path}: {e.message}" for e in errors]


@pytest.mark.parametrize("text", ["2026-01-03", "2026/01/03", "2026年01月03日", "2026年1月3日", "2026.1.3",
                                  "20260103", "46025", 46025, 46025.0, "２０２６－０１－０３", " 2026-1-3 ",
                                  dt.date(2026, 1, 3), dt.datetime(2026, 1, 3, 0, 0)])
def test_dates_in_the_formats_exports_use_become_iso_dates(text):
    record, errors = Mapping.from_config({"dates": ["accepted_on"]}).apply({"accepted_on": text})
    assert errors == []
    assert record == {"accepted_on": "2026-01-03"}


@pytest.mark.parametrize("text, expected", [
    ("2026-01-03 09:30:00", "2026-01-03T09:30:00+08:00"),
    ("2026/1/3 9:30", "2026-01-03T09:30:00+08:00"),
    ("2026年01月03日 09时30分", "2026-01-03T09:30:00+08:00"),
    ("2026-01-03T09:30:00Z", "2026-01-03T09:30:00+00:00"),
    ("2026-01-03T09:30:00+0800", "2026-01-03T09:30:00+08:00"),
    ("2026-01-03", "2026-01-03T00:00:00+08:00"),
    (46025.3958333333, "2026-01-03T09:30:00+08:00"),  # an Excel serial with a time of day
    (dt.datetime(2026, 1, 3, 9, 30), "2026-01-03T09:30:00+08:00"),
])
def test_datetimes_become_rfc3339_with_the_configured_zone(text, expected):
    mapping = Mapping.from_config({"datetimes": ["accepted_at"]})
    assert mapping.apply({"accepted_at": text}) == ({"accepted_at": expected}, [])


def test_excel_serial_numbers_count_from_1899_12_30():
    mapping = Mapping.from_config({"dates": ["d"]})
    assert mapping.apply({"d": 1})[0] == {"d": "1900-01-01"}
    assert mapping.apply({"d": 61})[0] == {"d": "1900-03-01"}
    assert mapping.apply({"d": 45658})[0] == {"d": "2025-01-01"}
    assert rendered(mapping.apply({"d": 60})[1]) == [
        "d: 60 is not a date (Excel day 60 is 1900-02-29, which does not exist)"]


def test_a_zone_other_than_china_can_be_configured():
    mapping = Mapping.from_config({"datetimes": ["t"], "timezone": "+00:00"})
    assert mapping.apply({"t": "2026-01-03 09:30"})[0] == {"t": "2026-01-03T09:30:00+00:00"}


@pytest.mark.parametrize("text", ["2026-13-01", "2026-02-30", "2026", "下周一", "03/01/2026", True])
def test_a_bad_date_names_the_field_and_the_rule_and_keeps_the_value(text):
    record, errors = Mapping.from_config({"dates": ["accepted_on"]}).apply({"accepted_on": text, "x": "1"})
    assert rendered(errors) == [f"accepted_on: {text!r} is not a date"]
    assert errors[0].keyword == "date"
    assert record == {"accepted_on": text, "x": "1"}


def test_number_and_boolean_coercion():
    mapping = Mapping.from_config({"integers": ["days"], "numbers": ["area", "rate"],
                                   "booleans": ["a", "b", "c", "d", "e"], "strings": ["code"]})
    record, errors = mapping.apply({"days": "1,234", "area": "3.50", "rate": "２", "a": "是", "b": "否",
                                    "c": "Y", "d": "false", "e": 1, "code": 610923100201.0})
    assert errors == []
    assert record == {"days": 1234, "area": 3.5, "rate": 2, "a": True, "b": False, "c": True, "d": False,
                      "e": True, "code": "610923100201"}
    record, errors = mapping.apply({"days": "12.5", "area": "abc", "a": "也许"})
    assert rendered(errors) == ["days: '12.5' is not an integer", "area: 'abc' is not a number",
                                "a: '也许' is not a yes/no value (是/否, Y/N, true/false)"]
    assert [e.keyword for e in errors] == ["integer", "number", "boolean"]


def test_rename_with_chinese_headers_nested_paths_and_constants():
    mapping = Mapping.from_config({
        "rename": {"办件编号": "case_number", "申请人姓名": "applicant.name", "申请人身份证号": "applicant.id_number"},
        "constants": {"applicant.type": "person", "channel": "online"},
    })
    record, errors = mapping.apply({"办件编号": "NS2026010300001", "申请人姓名": "王建国",
                                    "申请人身份证号": "61092319800501123X", "备注": "unmapped columns are dropped"})
    assert errors == []
    assert record == {"case_number": "NS2026010300001", "channel": "online",
                      "applicant": {"name": "王建国", "id_number": "61092319800501123X", "type": "person"}}


def test_without_rename_columns_are_kept_and_unmapped_keep_overrides():
    assert Mapping().apply({"a": " x ", "b": ""}) == ({"a": "x"}, [])
    mapping = Mapping.from_config({"rename": {"甲": "a"}, "unmapped": "keep"})
    assert mapping.apply({"甲": 1, "b": 2}) == ({"a": 1, "b": 2}, [])


def test_trimming_and_empty_strings_can_be_turned_off():
    assert Mapping().apply({"a": "\ufeff 张三\u3000", "b": "  ", "c": None}) == ({"a": "张三"}, [])
    assert Mapping.from_config({"trim": False, "drop_empty": False}).apply({"a": " x ", "b": ""}) == (
        {"a": " x ", "b": ""}, [])


def test_value_maps_translate_labels_to_codes_and_pass_unknown_values_on():
    mapping = Mapping.from_config({"value_maps": {"sex": {"男": "1", "女": "2"},
                                                  "channel": {"马上办": "immediate", "网上办": "online"}}})
    assert mapping.apply({"sex": "女", "channel": "网上办"}) == ({"sex": "2", "channel": "online"}, [])
    # an unknown label is left for the schema's enum to report
    assert mapping.apply({"sex": "未知"}) == ({"sex": "未知"}, [])
    assert Mapping.from_config({"value_maps": {"n": {"1": "one"}}}).apply({"n": 1}) == ({"n": "one"}, [])


def test_member_lists_split_into_objects_with_their_own_rules():
    mapping = Mapping.from_config({
        "rename": {"家庭成员": "members"},
        "split": {"members": {"fields": ["name", "id_number", "sex", "working_away", "work_place"]}},
        "value_maps": {"members.*.sex": {"男": "1", "女": "2"}},
        "booleans": ["members.*.working_away"],
        "t2s": ["members.*.name"],
    })
    text = "張三,610923198001011234,男,是,浙江省宁波市；李四，610923198203041246，女,否;\r\n王小明,61092320100101125X,男;"
    record, errors = mapping.apply({"家庭成员": text})
    assert errors == []
    assert record["members"] == [
        {"name": "张三", "id_number": "610923198001011234", "sex": "1", "working_away": True,
         "work_place": "浙江省宁波市"},
        {"name": "李四", "id_number": "610923198203041246", "sex": "2", "working_away": False},
        {"name": "王小明", "id_number": "61092320100101125X", "sex": "1"},
    ]


def test_a_member_with_too_many_values_or_a_bad_value_is_named_by_position():
    mapping = Mapping.from_config({"split": {"members": {"fields": ["name", "working_away"],
                                                         "item_separators": ["|"], "field_separators": ["/"]}},
                                   "booleans": ["members.*.working_away"]})
    record, errors = mapping.apply({"members": "甲/是/多余|乙/也许"})
    assert rendered(errors) == [
        "members.0: '甲/是/多余' has 3 values, expected at most 2 (name, working_away)",
        "members.1.working_away: '也许' is not a yes/no value (是/否, Y/N, true/false)"]
    assert [e.keyword for e in errors] == ["split", "boolean"]


def test_traditional_characters_fold_to_simplified_for_named_fields_only():
    mapping = Mapping.from_config({"t2s": ["town", "applicant.name"]})
    record, errors = mapping.apply({"town": "寧陝縣城關鎮", "applicant.name": "x", "content": "後來"})
    assert errors == [] and record == {"town": "宁陕县城关镇", "applicant.name": "x", "content": "後來"}
    record, _ = Mapping.from_config({"rename": {"申请人": "applicant.name"}, "t2s": ["applicant.name"]}).apply(
        {"申请人": "劉國華"})
    assert record == {"applicant": {"name": "刘国华"}}


def test_a_rename_into_a_field_that_holds_a_value_is_an_error():
    mapping = Mapping.from_config({"rename": {"a": "applicant", "b": "applicant.name"}})
    record, errors = mapping.apply({"a": "王", "b": "李"})
    assert rendered(errors) == ["applicant: holds a value, so applicant.name cannot be set"]


def test_a_malformed_configuration_is_refused_with_reasons():
    with pytest.raises(MappingConfigError) as caught:
        Mapping.from_config({"rename": {"a": 1}, "dates": "d", "colour": "red",
                             "split": {"members": {"names": ["x"]}}})
    message = str(caught.value)
    for part in ("rename.a", "dates", "colour", "split.members", "'fields' is a required property"):
        assert part in message
