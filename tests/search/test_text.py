"""Tests for catalog.search.text (normalisation, tokens, pinyin, index/query agreement)."""

import re

from opencc import OpenCC

from catalog.search import text
from tests.search.corpus import TOWNS, generate

UNSAFE = re.compile(r"[\"':()*^\-&|!<>/\\\s]")


def _title_index(title):
    return set(text.index_document({"title": title})["title"].split())


def test_tokens_contain_words_of_compound_title():
    toks = text.tokens("户籍人口信息表")
    assert "户籍" in toks and "人口" in toks and "信息" in toks


def test_tokens_search_mode_adds_longer_and_shorter_words():
    toks = text.tokens("宁陕县户籍人口信息表")
    assert {"宁陕", "宁陕县", "户籍", "人口"} <= set(toks)
    assert "户" not in toks and "籍" not in toks  # no invented single characters


def test_normalize_traditional_to_simplified():
    assert text.normalize("戶籍") == "户籍"
    assert text.normalize("機動車登記資訊") == "机动车登记资讯"


def test_normalize_fullwidth_case_and_whitespace():
    assert text.normalize("ＡＢＣ１２３") == "abc123"
    assert text.normalize("  GIS\u3000数据\n\tAPI  ") == "gis 数据 api"
    assert text.normalize("") == ""


def test_tokens_drop_punctuation_and_whitespace():
    toks = text.tokens("户籍、人口。（测试）！ ，  ")
    assert toks == ["户籍", "人口", "测试"]
    assert text.tokens(" ，。！？ ") == []


def test_ascii_words_are_whole_lower_case_tokens():
    toks = text.tokens("提供GIS服务和API接口, open-data")
    assert {"gis", "api", "open_data", "open", "data"} <= set(toks)


def test_resource_code_token_and_parts():
    toks = text.tokens("资源代码 101001/000123")
    assert {"101001_000123", "101001", "000123"} <= set(toks)
    assert text.query_terms("101001/000123") == ["101001_000123"]
    assert text.query_terms("101001") == ["101001"]
    assert text.query_terms("610923") == ["610923"]


def test_tokens_never_contain_fts_special_characters():
    sample = 'a"b c:d (e) f* g^h i-j k&l m|n o!p <q> r/s 户籍:人口 "信息"'
    for token in text.tokens(sample) + text.query_terms(sample):
        assert token and not UNSAFE.search(token), token


def test_pinyin_tokens_full_and_initials():
    py = text.pinyin_tokens("户籍人口信息表")
    assert {"huji", "hj", "renkou", "rk"} <= set(py)
    assert "hujirenkouxinxibiao" in py and "hjrkxxb" in py
    assert "hujirenkou" in py  # word n-grams
    assert all(re.fullmatch(r"[a-z]+", p) for p in py)


def test_pinyin_ignores_non_cjk_part():
    py = text.pinyin_tokens("12345热线工单")
    assert "rexian" in py and "gongdan" in py
    assert not any(ch.isdigit() for p in py for ch in p)
    assert text.pinyin_tokens("GIS API") == []


def test_index_document_title_has_pinyin_body_not():
    doc = text.index_document({
        "title": "宁陕县户籍人口信息表",
        "notes": "包括姓名、性别等户籍信息，提供API接口。",
        "tags": ["户籍", "open-data"],
        "codes": "101001/000123",
        "org": "ningshan-gaj 公安局",
    })
    title, body = doc["title"].split(), doc["body"].split()
    assert {"户籍", "人口", "huji", "hj"} <= set(title)
    assert {"姓名", "api", "open_data", "101001_000123", "101001", "000123", "公安局"} <= set(body)
    assert "huji" not in body and "xingming" not in body
    assert len(title) == len(set(title)) and len(body) == len(set(body))


def test_index_document_missing_fields():
    assert text.index_document({}) == {"title": "", "body": ""}


def test_query_terms_empty_and_punctuation():
    assert text.query_terms("") == []
    assert text.query_terms("   ") == []
    assert text.query_terms("，。！?") == []
    assert text.query_terms(None) == []


def test_query_terms_ascii_and_pinyin():
    assert text.query_terms("huji") == ["huji"]
    assert text.query_terms("HJ") == ["hj"]
    assert set(text.query_terms("huji")) <= _title_index("宁陕县户籍人口信息表")
    assert set(text.query_terms("hjrk")) <= _title_index("宁陕县户籍人口信息表")


def test_query_terms_drop_function_words():
    assert text.query_terms("宁陕县的户籍") == ["宁陕县", "户籍"]


def test_traditional_query_matches_simplified_title():
    terms = text.query_terms("戶籍人口")
    assert terms == ["户籍", "人口"]  # converted to simplified, then cut into the title's own words
    assert set(terms) <= _title_index("宁陕县户籍人口信息表")


def test_query_equal_to_title_matches_its_index():
    for dataset in generate(200):
        terms = text.query_terms(dataset["title"])
        assert terms and set(terms) <= _title_index(dataset["title"]), dataset["title"]


def test_query_of_title_words_matches_its_index():
    # Any run of whole words of a title (e.g. "户籍人口" in a longer title) matches.
    for dataset in generate(200, seed=3):
        words = list(text._jieba().cut(text.normalize(dataset["title"])))
        index = _title_index(dataset["title"])
        for i in range(len(words)):
            for j in range(i + 1, min(len(words), i + 4) + 1):
                query = "".join(words[i:j])
                assert set(text.query_terms(query)) <= index, (dataset["title"], query)


def test_town_names_match_with_and_without_suffix():
    s2t = OpenCC("s2t")
    for town, _ in TOWNS:
        index = _title_index(f"2021年{town}低保对象名单")
        for query in (town, town.removesuffix("镇"), s2t.convert(town)):
            assert set(text.query_terms(query)) <= index, query


def test_warm_up_is_idempotent():
    text.warm_up()
    text.warm_up()
    # after warming up twice the dictionary and converters still answer exactly as before
    assert text.tokens("户籍") == ["户籍"]
    assert text.query_terms("戶籍人口") == ["户籍", "人口"]
    assert text.pinyin_tokens("户籍") == ["huji", "hj"]
