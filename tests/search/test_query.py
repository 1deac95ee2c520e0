"""Tests for catalog.search.query (fq and sort parsing) and the test corpus."""

import re

import pytest

from catalog.search.query import Clause, QuerySyntaxError, parse_fq, parse_fq_list, parse_sort
from tests.search.corpus import generate

FIELDS = {"tags", "organization", "res_format", "name", "license_id", "groups"}
SORTS = {
    "title_string": "title",
    "metadata_modified": "modified",
    "name": "name",
    "score": "score",
}
CODE = re.compile(r"^[1-9][0-9]{2}([0-9]{3}[0-9]*)?/[0-9]{6}$")


def test_simple_clause():
    assert parse_fq("tags:GIS", FIELDS) == [Clause("tags", ("GIS",), False)]


def test_empty_fq():
    assert parse_fq("", FIELDS) == []
    assert parse_fq("   ", FIELDS) == []
    assert parse_fq(None, FIELDS) == []


def test_quoted_and_chinese_values():
    assert parse_fq('organization:民政局 tags:"户籍 管理"', FIELDS) == [
        Clause("organization", ("民政局",), False),
        Clause("tags", ("户籍 管理",), False),
    ]
    assert parse_fq(r'tags:"say \"hi\""', FIELDS) == [Clause("tags", ('say "hi"',), False)]


def test_implicit_and_explicit_and():
    expected = [Clause("tags", ("a",), False), Clause("res_format", ("CSV",), False)]
    assert parse_fq("tags:a res_format:CSV", FIELDS) == expected
    assert parse_fq("tags:a AND res_format:CSV", FIELDS) == expected
    assert parse_fq("tags:a && res_format:CSV", FIELDS) == expected
    assert parse_fq("+tags:a +res_format:CSV", FIELDS) == expected


def test_negation():
    assert parse_fq("-tags:a", FIELDS) == [Clause("tags", ("a",), True)]
    assert parse_fq("NOT organization:公安局", FIELDS) == [Clause("organization", ("公安局",), True)]
    assert parse_fq('tags:x AND -res_format:"PDF"', FIELDS)[1] == Clause("res_format", ("PDF",), True)


def test_or_groups():
    assert parse_fq('tags:("户籍 管理" OR 人口 OR 人口)', FIELDS) == [
        Clause("tags", ("户籍 管理", "人口"), False)
    ]
    assert parse_fq("-res_format:( CSV OR XLSX )", FIELDS) == [
        Clause("res_format", ("CSV", "XLSX"), True)
    ]


def test_escaped_characters_in_unquoted_values():
    assert parse_fq(r"name:a\:b\ c\(d\)", FIELDS) == [Clause("name", ("a:b c(d)",), False)]
    assert parse_fq("name:2020-01-01T00:00:00Z", FIELDS)[0].values == ("2020-01-01T00:00:00Z",)


def test_unknown_field_is_rejected_with_allowed_list():
    with pytest.raises(QuerySyntaxError) as info:
        parse_fq("owner_org:x", FIELDS)
    message = str(info.value)
    assert "owner_org" in message and "tags" in message and "organization" in message
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize(
    "fq, problem, position",
    [
        ('tags:"abc', "unbalanced quote", 5),
        ("tags:(a OR b", "unbalanced '('", 5),
        ("tags:a)", "unexpected ')'", 6),
        ("tags:", "missing value", 5),
        ("tags: x", "missing value", 5),
        ("户籍", "without a field", 0),
        ("tags:a bare", "without a field", 7),
        ("-", "lone '-'", 0),
        ("- tags:a", "lone '-'", 0),
        ("NOT", "NOT without a clause", 0),
        ("tags:a OR tags:b", "OR between clauses", 7),
        ("tags:(a b)", "expected OR", 8),
        ("tags:(a AND b)", "only OR", 8),
        ("tags:()", "empty parentheses", 6),
        ("tags:(a OR)", "missing value after OR", 10),
        ("tags:(a OR (b))", "nested", 11),
        ("(tags:a)", "parentheses", 0),
        ("tags:[1 TO 5]", "range", 5),
        ("{!tag=t}tags:a", "local parameters", 0),
        ('tags:""', "empty quoted value", 5),
        ('tags:"a"b', "unexpected", 8),
        ("tags:a\\", "dangling backslash", 6),
        ("AND tags:a", "AND without a preceding clause", 0),
        ("tags:a AND", "AND without a following clause", 7),
        ("--tags:a", "repeated operator", 1),
    ],
)
def test_malformed_fq(fq, problem, position):
    with pytest.raises(QuerySyntaxError) as info:
        parse_fq(fq, FIELDS)
    assert problem in str(info.value)
    assert f"position {position}" in str(info.value)
    assert info.value.position == position
    assert len(str(info.value)) < 200


def test_error_message_is_short_for_long_input():
    with pytest.raises(QuerySyntaxError) as info:
        parse_fq("x" * 5000, FIELDS)
    assert len(str(info.value)) < 200


def test_parse_fq_list():
    clauses = parse_fq_list(["tags:a", "-organization:b", ""], FIELDS)
    assert clauses == [Clause("tags", ("a",), False), Clause("organization", ("b",), True)]
    assert parse_fq_list([], FIELDS) == []
    with pytest.raises(QuerySyntaxError, match="fq item 1"):
        parse_fq_list(["tags:a", "bogus:b"], FIELDS)


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
