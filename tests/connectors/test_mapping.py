"""The declarative mapping: renames, constants, value maps, coercions, member lists, t2s folding."""
from __future__ import annotations

import copy
import datetime as dt
import decimal
import json
import random

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


# --- the compiled mapping gives what the step-by-step mapping gave ---------------------------------
# (Mapping.apply walks its steps as one tree, splits at single-character separators with str.split,
# memoises t2s and dates, and apply_json skips jsonable() when it can tell the record is JSON already.)


def reference_apply(mapping, row):
    """Mapping.apply as it was written before it was compiled: every step walks the record for its path."""
    from connectors import coerce
    from connectors.mapping import _ABSENT, _positions, _set
    from schemas.registry import FieldError

    def clean(value):
        if isinstance(value, str) and mapping.trim:
            value = value.strip().strip("\ufeff\u200b").strip()
        if mapping.drop_empty and (value is None or value == ""):
            return _ABSENT
        return value

    errors, record = [], {}
    for column, value in row.items():
        value = clean(value)
        if value is _ABSENT:
            continue
        target = mapping.rename.get(column)
        if target is not None:
            _set(record, target, value, errors)
        elif mapping.unmapped == "keep":
            record[column] = value
    for path, rule in mapping.split.items():
        for holder, key in _positions(record, path):
            if isinstance(holder[key], str):
                items = []
                for chunk in rule.items.split(holder[key]):
                    if not chunk.strip():
                        continue
                    values = [clean(v) for v in rule.parts.split(chunk)]
                    if len(values) > len(rule.fields):
                        errors.append(FieldError(f"{path}.{len(items)}", "split",
                                                 f"{chunk.strip()!r} has {len(values)} values, expected at most "
                                                 f"{len(rule.fields)} ({', '.join(rule.fields)})"))
                    items.append({n: v for n, v in zip(rule.fields, values) if v is not _ABSENT})
                holder[key] = items
    for path, value in mapping.constants.items():
        _set(record, path, copy.deepcopy(value), errors)
    failed = set()
    for path, keyword, function in mapping.steps:
        for holder, key, concrete in _positions(record, path, with_path=True):
            if concrete in failed:
                continue
            try:
                holder[key] = function(holder[key])
            except coerce.CoercionError as exc:
                failed.add(concrete)
                errors.append(FieldError(concrete, keyword, str(exc)))
    return record, errors


def assert_same_as_reference(mapping, rows):
    from connectors.base import jsonable

    for row in rows:
        expected, expected_errors = reference_apply(mapping, copy.deepcopy(row))
        record, errors = mapping.apply(copy.deepcopy(row))
        assert (record, errors) == (expected, expected_errors), row
        record, errors = mapping.apply_json(copy.deepcopy(row))
        assert (record, errors) == (jsonable(expected), expected_errors), row
        assert json.loads(json.dumps(record)) == record  # JSON types only


def export_rows(n, seed):
    from tests.connectors.exports import HEADER, bad_rows, household_export

    rows, _records = household_export(n, seed)
    rows += [row for row, _field, _keyword in bad_rows(seed)]
    return [dict(zip(HEADER, row)) for row in rows]


def messy(rows, rng):
    """The export rows with what hand-edited exports carry: stray spaces and BOMs, full-width separators,
    blank and extra member fields, impossible dates and yes/no words, numbers and dates as objects."""
    out = []
    for row in rows:
        row = dict(row)
        for _ in range(rng.randint(0, 4)):
            column = rng.choice(sorted(row))
            value = row[column]
            choice = rng.randrange(12)
            if choice == 0:
                row[column] = f"\ufeff {value}\u3000"
            elif choice == 1:
                row[column] = ""
            elif choice == 2 and isinstance(value, str):
                row[column] = value.replace(",", "，").replace(";", "；")
            elif choice == 3 and isinstance(value, str):
                row[column] = value + ",多余,再多"
            elif choice == 4:
                row[column] = rng.choice(["2026-13-01", "下周一", "2026/2/30 25:00", "46025", "20260103"])
            elif choice == 5 and isinstance(value, str):
                row[column] = value.replace("是", "也许").replace("否", "n")
            elif choice == 6:
                row[column] = rng.choice([46025, 46025.5, dt.date(2026, 1, 3), dt.datetime(2026, 1, 3, 9, 30),
                                          decimal.Decimal("12.50"), True, None, float("nan")])
            elif choice == 7 and isinstance(value, str):
                row[column] = value.replace(";", ";;\r\n ;")
            elif choice == 8 and isinstance(value, str):
                row[column] = value.replace("男", "未知")
            elif choice == 9:
                row[column] = "  "
        out.append(row)
    return out


def test_compiled_mapping_maps_the_household_export_as_before():
    from tests.connectors.exports import HOUSEHOLD_MAPPING

    mapping = Mapping.from_config(HOUSEHOLD_MAPPING)
    assert mapping._tree is not None  # compiled: one walk for all steps
    rows = export_rows(150, 5)
    assert_same_as_reference(mapping, rows)
    rng = random.Random(11)
    mutated = messy(rows, rng) + messy(rows, rng)
    assert sum(bool(reference_apply(mapping, copy.deepcopy(r))[1]) for r in mutated) > 15  # bad rows too
    assert_same_as_reference(mapping, mutated)


def test_errors_keep_the_order_of_the_steps_then_of_the_fields():
    mapping = Mapping.from_config({
        "split": {"members": {"fields": ["name", "n", "working_away", "day"]}},
        "booleans": ["members.*.working_away", "ok"], "integers": ["members.*.n"], "dates": ["members.*.day", "d"],
        "datetimes": ["t"]})
    row = {"members": "甲,x,也许,2026-13-01;乙,2,是,someday;丙,y,maybe,2026-01-03", "ok": "?", "d": "bad",
           "t": "2026-01-03 25:00"}
    record, errors = mapping.apply(row)
    assert [(e.path, e.keyword) for e in errors] == [  # integers, booleans, dates, date-times
        ("members.0.n", "integer"), ("members.2.n", "integer"),
        ("members.0.working_away", "boolean"), ("members.2.working_away", "boolean"), ("ok", "boolean"),
        ("members.0.day", "date"), ("members.1.day", "date"), ("d", "date"), ("t", "date-time")]
    assert (record, errors) == reference_apply(mapping, row)


@pytest.mark.parametrize("config, rows", [
    # a step on a field and on a field inside it: the steps run one after the other, as written
    ({"split": {"m": {"fields": ["a", "b"]}}, "value_maps": {"m.*.a": {"男": "1"}, "m": {"x": "y"}},
      "t2s": ["m"], "strings": ["m.*.b"]}, [{"m": "男,2;女,3"}, {"m": "x"}, {"m": ["男"]}]),
    # several steps on one field: a failed one stops the later ones
    ({"integers": ["n"], "dates": ["n"], "strings": ["n"]}, [{"n": "12"}, {"n": "x"}, {"n": 46025}]),
    ({"strings": ["n"], "integers": ["n"], "numbers": ["n"]}, [{"n": "1e400"}, {"n": 3.0}, {"n": "1,5"}]),
    # nested objects, lists of lists, a path into a value that is not an object or list
    ({"rename": {"甲": "a.b", "乙": "a.c", "丙": "a"}, "unmapped": "keep", "booleans": ["a.b", "x.*.*"],
      "dates": ["a.c.d"], "constants": {"k.l": [1, {"m": (2, 3)}]}},
     [{"甲": "是", "乙": "2026-01-03", "x": [["y", "n"], "是", [1, "?"]]}, {"丙": "王", "甲": "否"},
      {1: "one", "x": {"0": ["y"]}, "甲": dt.date(2026, 1, 3)}]),
    # separators of more than one character (the regular expression splits), and single ones
    ({"split": {"m": {"fields": ["a", "b"], "item_separators": ["||", "|"], "field_separators": ["::", "/"]}},
      "booleans": ["m.*.b"]}, [{"m": "甲::是||乙/否|丙::也许:: x"}, {"m": "|||"}, {"m": 12}]),
    ({"split": {"m": {"fields": ["a"], "item_separators": ["\n"], "field_separators": ["\t", " "]}}},
     [{"m": "a b\nc\td\n\n"}]),
    # no trimming, empty strings kept, value maps whose values are objects (jsonable copies them)
    ({"trim": False, "drop_empty": False, "value_maps": {"v": {"a": [1, 2], "b": {"c": dt.date(2026, 1, 1)}}}},
     [{"v": "a", "w": " x "}, {"v": "b", "w": None}, {"v": " a"}]),
    # t2s of long and short text, and of what is not text
    ({"t2s": ["t", "n"]}, [{"t": "寧陝縣城關鎮" * 20, "n": 12}, {"t": "後來"}]),
])
def test_compiled_mapping_matches_the_step_by_step_mapping(config, rows):
    mapping = Mapping.from_config(config)
    assert_same_as_reference(mapping, rows)


def test_steps_on_a_field_and_inside_it_fall_back_to_one_step_at_a_time():
    mapping = Mapping.from_config({"t2s": ["m"], "value_maps": {"m.*.a": {"男": "1"}}})
    assert mapping._tree is None
    assert Mapping.from_config({"t2s": ["m.*.b"], "value_maps": {"m.*.a": {"男": "1"}}})._tree is not None


def test_records_from_apply_json_share_nothing_with_the_mapping():
    mapping = Mapping.from_config({"value_maps": {"v": {"a": [1, 2]}}, "constants": {"c": {"d": [1]}}})
    first, _ = mapping.apply_json({"v": "a"})
    first["v"].append(3)
    first["c"]["d"].append(2)
    assert mapping.apply_json({"v": "a"})[0] == {"v": [1, 2], "c": {"d": [1]}}


def test_apply_json_turns_dates_and_decimals_into_json_as_the_engine_did():
    mapping = Mapping.from_config({"rename": {"日期": "day", "金额": "amount", "时间": "at"}, "dates": ["day"]})
    row = {"日期": dt.datetime(2026, 1, 3, 9, 30), "金额": decimal.Decimal("12.50"),
           "时间": dt.datetime(2026, 1, 3, 9, 30)}
    assert mapping.apply_json(row) == ({"day": "2026-01-03", "amount": 12.5, "at": "2026-01-03T09:30:00"}, [])
