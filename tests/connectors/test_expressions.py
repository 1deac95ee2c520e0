"""Computed fields: the sandboxed expression language, its domain functions, and what a failure does."""
from __future__ import annotations

import pytest

from connectors import Mapping
from connectors.mapping import MappingConfigError
from connectors.sources import get
from tests.connectors.exports import csv_text
from tests.connectors.helpers import MemoryTarget, sync

HEAD = {"户号": "0000012345678901", "户主姓名": "王明", "户主身份证号": "61092319681012345X",
        "受理日期": "2026年12月4日", "办理期限天数": "3"}

MAPPING = {
    "rename": {"户主姓名": "head_name"},
    "computed": {
        "household_number": "{{ concat('61', pad(户号, 16)) }}",
        "members[0].name": "{{ 户主姓名 }}",          # one column feeds two fields
        "members[0].id_number": "{{ 户主身份证号 }}",
        "members[0].sex": "{{ id_sex(户主身份证号) }}",
        "members[0].birth_date": "{{ id_birth_date(户主身份证号) }}",
        "accepted_on": "{{ 受理日期 }}",
        "deadline": "{{ date_add(受理日期, 办理期限天数) }}",
        "calendar_deadline": "{{ date_add(受理日期, 办理期限天数, working=False) }}",
        "status": "{{ '办结' if 办结日期 else '办理中' }}",
        "division": "{{ concat(substr(乡镇代码, 0, 9), pad(村代码, 3)) }}",
        "phone": "{{ coalesce(手机, 座机) }}",
    },
    "defaults": {"members[0].relation": "02", "channel": "来信"},
    "constants": {"members[0].relation": "01"},
    "dates": ["accepted_on"],
}


def test_computed_fields_build_what_the_export_only_implies():
    record, errors = Mapping.from_config(MAPPING).apply({**HEAD, "乡镇代码": "610923104", "村代码": "7",
                                                         "座机": "0915-1234567"})
    assert errors == []
    assert record == {
        "head_name": "王明", "household_number": "610000012345678901",
        "members": [{"name": "王明", "id_number": "61092319681012345X", "sex": "1", "birth_date": "1968-10-12",
                     "relation": "01"}],  # constants override
        "accepted_on": "2026-12-04",
        "deadline": "2026-12-09",  # Friday + 3 working days: Wednesday
        "calendar_deadline": "2026-12-07", "status": "办理中", "division": "610923104007",
        "phone": "0915-1234567", "channel": "来信"}  # defaults fill what is missing


def test_defaults_fill_only_missing_values_and_an_empty_result_leaves_the_field_out():
    mapping = Mapping.from_config({"rename": {"渠道": "channel"}, "defaults": {"channel": "来信"},
                                   "computed": {"completed": "{{ 办结日期 }}"}})
    assert mapping.apply({"渠道": "网上"})[0] == {"channel": "网上"}
    assert mapping.apply({"渠道": "  "})[0] == {"channel": "来信"}


@pytest.mark.parametrize("expression,message", [
    ("{{ date_add( }}", "computed.deadline: unexpected '}', expected ')'"),
    ("{% if %}", "computed.deadline: "),
    ("", "computed.deadline: '' should be non-empty"),
])
def test_an_expression_that_does_not_compile_is_refused_naming_its_field(expression, message):
    with pytest.raises(MappingConfigError) as refused:
        Mapping.from_config({"computed": {"deadline": expression}})
    assert message in str(refused.value)


@pytest.mark.parametrize("attack", [
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ cycler.__init__.__globals__.os.system('id') }}",
    "{{ date_add.__globals__ }}",
    "{{ self._TemplateReference__context }}",
    "{{ row.update({'x': 1}) }}",
    "{{ 'x' * 100000000 }}",
    "{{ 99 ** 99 ** 99 }}",
    "{% for i in range(10**9) %}{% endfor %}",
])
def test_the_sandbox_refuses_what_an_expression_must_not_reach(attack):
    mapping = Mapping.from_config({"computed": {"v": attack}})
    record, errors = mapping.apply({"a": "1"})
    # nothing escapes: either an error of the field (the row is quarantined) or nothing rendered
    assert record.get("v") in (None, "") or "class" not in str(record.get("v"))
    assert all(e.path == "v" and e.keyword == "expression" for e in errors)
    assert "uid=" not in str(record)


def test_a_failing_expression_quarantines_its_row_with_the_message(tmp_path):
    path = tmp_path / "户.csv"
    path.write_bytes(csv_text(["户号", "户主身份证号"], [["1", "61092319681012345X"], ["2", "123"],
                                                    ["3", "610923196810123426"]]).encode("gb18030"))
    target = MemoryTarget(["k"])
    report = sync(get("csv"), {"path": str(path)}, target, mapping={
        "rename": {"户号": "k"}, "computed": {"sex": "{{ id_sex(户主身份证号) }}"}})
    assert (report.inserted, report.quarantined) == (2, 1)
    assert target.rejected[0].errors == [{"field": "sex", "keyword": "expression",
                                          "message": "'123' is not an 18- or 15-digit citizen ID number"}]
    assert target.records["3"]["sex"] == "2"


def test_a_mapping_without_expressions_keeps_its_compiled_walk():
    mapping = Mapping.from_config({"rename": {"a": "x"}, "dates": ["x"]})
    assert mapping._computed == [] and mapping._tree is not None


# National Day 2026, as the State Council's holiday notice sets it (worked by hand on a wall calendar):
# Thursday 1 October to Wednesday 7 October off; Sunday 20 September and Saturday 10 October worked (调休).
NATIONAL_DAY_OFF = {f"2026-10-0{d}" for d in range(1, 8)}
MAKE_UP_DAYS = {"2026-09-20", "2026-10-10"}


def national_day_calendar(day) -> bool:
    """The county's calendar around National Day 2026, written out as the notice says it."""
    text = day.isoformat()
    return text in MAKE_UP_DAYS or (day.isoweekday() <= 5 and text not in NATIONAL_DAY_OFF)


@pytest.mark.parametrize("accepted, days, plain, with_holidays", [
    # Wednesday 30 September + 1: the holidays are skipped, the first working day is Thursday 8 October
    ("2026-09-30", 1, "2026-10-01", "2026-10-08"),
    # + 3: 8 (Thu), 9 (Fri), then the make-up Saturday 10 October
    ("2026-09-30", 3, "2026-10-05", "2026-10-10"),
    # Friday 18 September + 1: the make-up Sunday 20 September counts
    ("2026-09-18", 1, "2026-09-21", "2026-09-20"),
    # Friday 25 September + 10: 28, 29, 30 Sep, 8, 9, 10 (Sat), 12, 13, 14, 15 Oct
    ("2026/09/25", 10, "2026-10-09", "2026-10-15"),
])
def test_date_add_counts_working_days_in_the_calendar_it_is_given(accepted, days, plain, with_holidays):
    config = {"computed": {"deadline": "{{ date_add(受理日期, 天数, working=True) }}",
                           "calendar_deadline": "{{ date_add(受理日期, 天数, working=False) }}"}}
    row = {"受理日期": accepted, "天数": str(days)}
    weekdays_only, _ = Mapping.from_config(config).apply(row)
    assert weekdays_only["deadline"] == plain
    county, errors = Mapping.from_config(config, working_day=national_day_calendar).apply(row)
    assert errors == [] and county["deadline"] == with_holidays
    # calendar days (working=False) stay calendar days whatever the calendar
    assert county["calendar_deadline"] == weekdays_only["calendar_deadline"]


def test_an_expression_cannot_swap_the_calendar_it_counts_in():
    mapping = Mapping.from_config({"computed": {"deadline": "{{ date_add(d, 1, working_day=pad) }}"}},
                                  working_day=national_day_calendar)
    record, errors = mapping.apply({"d": "2026-09-30"})
    assert "deadline" not in record and [e.keyword for e in errors] == ["expression"]
