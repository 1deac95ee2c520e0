"""Tests for catalog.search.query (the q/fq grammar and sort parsing) and the test corpus."""

import datetime as dt
import re

import pytest

from catalog.search.conditions import parse_date
from catalog.search.query import (And, Exists, MatchAll, Not, Or, QuerySyntaxError, Range, Term, parse_query,
                                  parse_sort)
from tests.search.corpus import generate

FIELDS = {"tags", "organization", "res_format", "name", "license_id", "groups", "metadata_modified"}
SORTS = {
    "title_string": "title",
    "metadata_modified": "modified",
    "name": "name",
    "score": "score",
}
CODE = re.compile(r"^[1-9][0-9]{2}([0-9]{3}[0-9]*)?/[0-9]{6}$")


def test_words_fields_and_operators_make_a_tree():
    assert parse_query("户籍 人口", FIELDS) == And((Term(None, "户籍", 0), Term(None, "人口", 3)))
    assert parse_query("tags:GIS", FIELDS) == Term("tags", "GIS", 5)
    assert parse_query('tags:"户籍 管理"', FIELDS) == Term("tags", "户籍 管理", 5, phrase=True)
    assert parse_query(r'tags:"say \"hi\""', FIELDS) == Term("tags", 'say "hi"', 5, phrase=True)
    assert parse_query("name:ns-*", FIELDS) == Term("name", "ns-", 5, prefix=True)
    assert parse_query("-tags:a", FIELDS) == Not(Term("tags", "a", 6))
    assert parse_query("NOT organization:公安局", FIELDS) == Not(Term("organization", "公安局", 17))
    assert parse_query("a OR b c", FIELDS) == Or((Term(None, "a", 0), And((Term(None, "b", 5), Term(None, "c", 7)))))
    assert parse_query("+a && b || c", FIELDS) == Or((And((Term(None, "a", 1), Term(None, "b", 6))), Term(None, "c", 11)))
    assert parse_query("tags:(a OR 人口)", FIELDS) == Or((Term("tags", "a", 6), Term("tags", "人口", 11)))
    assert parse_query("*:*", FIELDS) == MatchAll() and parse_query("*", FIELDS) == MatchAll()
    assert parse_query("tags:*", FIELDS) == Exists("tags", 0)


def test_blank_query_is_none():
    assert parse_query("", FIELDS) is None and parse_query("   ", FIELDS) is None and parse_query(None, FIELDS) is None


def test_ranges_keep_their_ends_and_open_ends():
    assert parse_query("metadata_modified:[2026-01-01T00:00:00Z TO *]", FIELDS) == Range(
        "metadata_modified", "2026-01-01T00:00:00Z", None, True, True, 0)
    assert parse_query("metadata_modified:{NOW-1DAY TO NOW]", FIELDS) == Range(
        "metadata_modified", "NOW-1DAY", "NOW", False, True, 0)


def test_hyphens_slashes_and_colons_inside_words_are_literal():
    assert parse_query("ns-dibao", FIELDS) == Term(None, "ns-dibao", 0)
    assert parse_query("101001/000123", FIELDS) == Term(None, "101001/000123", 0)
    assert parse_query("时间:2024", FIELDS) == Term(None, "时间:2024", 0)
    assert parse_query(r"name:a\:b\ c\(d\)", FIELDS) == Term("name", "a:b c(d)", 5)
    assert parse_query("name:2020-01-01T00:00:00Z", FIELDS) == Term("name", "2020-01-01T00:00:00Z", 5)
    assert parse_query("ANDROID ORBIT", FIELDS) == And((Term(None, "ANDROID", 0), Term(None, "ORBIT", 8)))


def test_unknown_field_is_named_with_the_fields_there_are():
    with pytest.raises(QuerySyntaxError) as info:
        parse_query("owner:x", FIELDS)
    message = str(info.value)
    assert "unknown field 'owner'" in message and "tags" in message and "organization" in message
    assert info.value.position == 0 and isinstance(info.value, ValueError)
    assert parse_query("extras_source:x", FIELDS | {"extras_*"}) == Term("extras_source", "x", 14)


@pytest.mark.parametrize(
    "q, problem, position",
    [
        ('tags:"abc', "unbalanced quote", 5),
        ("tags:(a OR b", "unbalanced '('", 5),
        ("(a OR (b)", "unbalanced '('", 0),
        ("tags:a)", "unbalanced ')'", 6),
        ("tags:", "missing value after ':'", 4),
        ("tags: x", "missing value after ':'", 4),
        ("-", "lone '-'", 0),
        ("- tags:a", "lone '-'", 0),
        ("a - b", "lone '-'", 2),
        ("NOT", "dangling operator 'NOT'", 0),
        ("a AND", "dangling operator 'AND'", 2),
        ("a OR", "dangling operator 'OR'", 2),
        ("AND tags:a", "operator 'AND' without a clause before it", 0),
        ("a OR OR b", "operator 'OR' without a clause before it", 5),
        ("a^2", "boosts (^) are not supported", 1),
        ('"a b"~2', "proximity", 5),
        ("{!tag=t}tags:a", "local parameters", 0),
        ('tags:""', "empty quoted value", 5),
        ("tags:a\\", "dangling backslash", 6),
        ("hu*ji", "only supported at the end of a word", 2),
        ("hu?", "wildcard '?'", 2),
        ('name:"a"*', "unexpected '*' right after", 8),
        ("(a)b", "unexpected 'b' right after", 3),
        ('tags:"a"b', "unexpected 'b' right after", 8),
        ('a"b c"', "unexpected quote right after 'a'", 1),
        ("[a TO b]", "unexpected '['", 0),
        ("metadata_modified:[2026-01-01 TO", "dangling operator 'TO'", 30),
        ("(" * 40 + "a" + ")" * 40 + " " + "NOT " * 40 + "a", "nested more than 32 deep", 81 + 1 + 4 * 40),
    ],
)
def test_malformed_query_names_the_problem_and_its_position(q, problem, position):
    with pytest.raises(QuerySyntaxError) as info:
        parse_query(q, FIELDS)
    assert problem in str(info.value)
    assert f"position {position}" in str(info.value)
    assert info.value.position == position
    assert len(str(info.value)) < 300


def test_error_message_is_short_for_long_input():
    with pytest.raises(QuerySyntaxError) as info:
        parse_query("x" * 900 + ":" + "y", FIELDS)
    assert len(str(info.value)) < 300


def test_parse_sort():
    assert parse_sort("title_string asc, metadata_modified DESC", SORTS) == [
        ("title", False),
        ("modified", True),
    ]
    assert parse_sort("score desc,name", SORTS) == [("score", True), ("name", False)]
    assert parse_sort("name", SORTS) == [("name", False)]
    assert parse_sort("", SORTS) == [] and parse_sort(None, SORTS) == []


def test_score_only_when_allowed():
    with pytest.raises(QuerySyntaxError, match="score"):
        parse_sort("score desc", {"name": "name"})


@pytest.mark.parametrize(
    "sort, problem",
    [
        ("foo asc", "unknown field 'foo'"),
        ("name up", "unknown direction 'up'"),
        ("name asc,", "empty sort clause"),
        ("name asc desc", "expected 'field asc'"),
    ],
)
def test_malformed_sort(sort, problem):
    with pytest.raises(QuerySyntaxError) as info:
        parse_sort(sort, SORTS)
    assert problem in str(info.value)


def test_corpus_is_distinct_and_valid():
    datasets = generate(200)
    assert len(datasets) == 200
    for key in ("name", "title", "resource_code"):
        assert len({d[key] for d in datasets}) == 200, key
    for d in datasets:
        assert re.fullmatch(r"[a-z0-9_-]+", d["name"])
        assert CODE.match(d["resource_code"]), d["resource_code"]
        assert d["resource_code"].split("/")[0] == d["category"]
        assert 1 <= len(d["tags"]) <= 4 and 1 <= len(d["items"]) <= 6
        assert all(i["type"] in "CNYDTLMGBIF" and len(i["type"]) == 1 for i in d["items"])
        assert d["share_type"] == "unconditional" or d["share_condition"]
        assert d["open_type"] == "unconditional" or d["open_condition"]


def test_corpus_is_deterministic():
    assert generate(50, seed=7) == generate(50, seed=7)
    assert generate(50, seed=7) != generate(50, seed=8)


NOW = dt.datetime(2026, 3, 31, 15, 20, 5, tzinfo=dt.timezone.utc)


@pytest.mark.parametrize("value, expected", [
    ("NOW", dt.datetime(2026, 3, 31, 15, 20, 5)),
    ("NOW/DAY", dt.datetime(2026, 3, 31)),
    ("NOW-1DAY/DAY", dt.datetime(2026, 3, 30)),
    ("NOW-1MONTH", dt.datetime(2026, 2, 28, 15, 20, 5)),  # no 31 February: the month's last day
    ("NOW+2HOURS", dt.datetime(2026, 3, 31, 17, 20, 5)),
    ("NOW/YEAR", dt.datetime(2026, 1, 1)),
    ("NOW-7DAYS/MONTH", dt.datetime(2026, 3, 1)),
    ("2026-01-01T00:00:00Z", dt.datetime(2026, 1, 1)),
    ("2026-01-01T08:00:00+08:00", dt.datetime(2026, 1, 1)),  # Beijing time
    ("2026-01-01", dt.datetime(2026, 1, 1)),
    ("2026-01-01T00:00:00Z+1DAY", dt.datetime(2026, 1, 2)),
])
def test_solr_dates_and_date_math(value, expected):
    assert parse_date(value, NOW) == expected.replace(tzinfo=dt.timezone.utc)


@pytest.mark.parametrize("value, problem", [
    ("yesterday", "is not a date"), ("2026-02-30", "not a valid date"), ("NOW-1FORTNIGHT", "unknown date unit"),
    ("2026/01/01", "is not a date"),
])
def test_bad_dates_are_named(value, problem):
    with pytest.raises(QuerySyntaxError, match=problem):
        parse_date(value, NOW)
