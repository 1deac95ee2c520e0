"""JSON text written into answers as it is (catalog/api/rawjson.py): what a client parses must be the value."""
from __future__ import annotations

import json

import pytest

from catalog.api.rawjson import RawJSON, object_with


@pytest.mark.parametrize("text, extra, expected", [
    ('{"a": 1}', {"_seq": 2}, {"a": 1, "_seq": 2}),
    ("{}", {"_seq": 2, "_key": "k"}, {"_seq": 2, "_key": "k"}),
    ('{"_seq": 1, "名": "值 \\"引号\\""}  ', {"_seq": 7}, {"_seq": 7, "名": '值 "引号"'}),
])
def test_members_added_to_stored_json_read_back_as_the_record_with_them(text, extra, expected):
    assert json.loads(object_with(text, extra).text) == expected


def test_not_an_object_is_refused():
    with pytest.raises(ValueError):
        object_with("[1, 2]", {"_seq": 1})


def test_an_answer_holding_json_text_parses_to_the_values_and_plain_strings_stay_strings(app):
    answer = {"records": [RawJSON('{"a": [1, 2.5]}'), RawJSON("null"), "\x00plain\x00", {"b": RawJSON('"x"')}]}
    text = app.json.dumps(answer)
    assert json.loads(text) == {"records": [{"a": [1, 2.5]}, None, "\x00plain\x00", {"b": "x"}]}
    assert app.json.dumps({"n": 1}) == '{"n": 1}'
