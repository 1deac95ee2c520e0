"""Chinese-aware text analysis for the full-text index and for user queries.

Index side: ``index_document`` turns a dataset's fields into space-joined token
strings per weighted column (``title`` with pinyin, ``body`` without).
Query side: ``query_terms`` turns a user query into terms that the caller ANDs.

Design rules that keep both sides consistent:

* Both sides run ``normalize`` first (NFKC, traditional -> simplified, lower case).
* Text is split into CJK runs and non-CJK runs.  CJK runs are segmented with a
  private jieba ``Tokenizer`` (index: search mode, query: precise mode).  jieba's
  search mode yields every precise-mode word plus dictionary sub-words, so for
  the same text every query term is an index token.
* Non-CJK runs yield "compound" words such as ``101001/000123``: the compound
  becomes one token with separators mapped to ``_`` (``101001_000123``) and the
  index also gets its parts (``101001``, ``000123``).
* Tokens only contain letters, digits, CJK characters and ``_`` — nothing that
  is special in SQLite FTS5 or PostgreSQL tsquery syntax.  NOTE: FTS5's
  ``unicode61`` tokenizer and PostgreSQL's default parser both split on ``_``;
  use ``tokenize="unicode61 tokenchars '_'"`` (FTS5) or build the tsvector from
  the space-separated tokens as an array (PostgreSQL) to keep them whole.
"""

from __future__ import annotations

import logging
import re
import threading
import unicodedata
from typing import Iterable

import jieba
from opencc import OpenCC
from pypinyin import lazy_pinyin

from ..errors import ValidationError

# CJK ideographs (basic, extension A, compatibility, extensions B-F) and U+3007.
_CJK = "\u3007\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002ffff"
_CJK_RUN = re.compile(f"([{_CJK}]+)")
# A non-CJK word: letters/digits (no CJK, no underscore), optionally joined by
# single separator characters, e.g. "101001/000123", "open-data", "v1.2".
_WORD = rf"[^\W_{_CJK}]+"
_COMPOUND = re.compile(rf"{_WORD}(?:[/\-._:+&@#]{_WORD})*")
_PART = re.compile(_WORD)
# Anything that is not a letter, digit, CJK character or "_" becomes "_".
_UNSAFE = re.compile(r"[^\w]")

# Place names of Ningshan County that jieba's stock dictionary splits badly.
# Adding the name with and without the 镇 suffix makes both query forms match.
DOMAIN_WORDS = (
    "宁陕县", "宁陕", "城关镇", "四亩地镇", "四亩地", "江口回族镇", "江口",
    "广货街镇", "广货街", "龙王镇", "筒车湾镇", "筒车湾", "金川镇", "金川",
    "皇冠镇", "太山庙镇", "太山庙", "梅子镇", "新场镇", "新场", "办件", "工单",
    "低保", "花名册", "不动产",
)

# Function words that are dropped from queries (not from the index) so that a
# query like "宁陕县的户籍" does not require the title to contain "的".
QUERY_STOPWORDS = frozenset("的 了 和 与 及 或 之 在 是 等".split())

# The longest free-text query taken (``q`` of package_search and datastore_search, ``fq``). Each word
# becomes a term of one expression: 100,000 characters made SQLite's FTS5 and LIKE fail (a 500) and
# PostgreSQL spend seconds; nobody types more than a few hundred characters.
MAX_QUERY_CHARS = 1000


def check_query_length(q: str | None, field: str = "q") -> None:
    """Refuse (409, naming ``field``) a query longer than :data:`MAX_QUERY_CHARS`."""
    if q is not None and len(q) > MAX_QUERY_CHARS:
        raise ValidationError.single(field, f"must be at most {MAX_QUERY_CHARS} characters (it has {len(q)})")


# Pinyin n-grams of precise-mode words are indexed up to this many words long
# (plus every suffix of the title, which serves prefix queries).
_MAX_PINYIN_NGRAM = 4

_lock = threading.Lock()
_converter = None
_tokenizer = None


def _opencc():
    """Return the cached OpenCC traditional->simplified converter."""
    global _converter
    if _converter is None:
        with _lock:
            if _converter is None:
                _converter = OpenCC("t2s")
    return _converter


def _jieba():
    """Return the cached, initialised private jieba tokenizer."""
    global _tokenizer
    if _tokenizer is None:
        with _lock:
            if _tokenizer is None:
                jieba.setLogLevel(logging.WARNING)
                tok = jieba.Tokenizer()
                tok.initialize()
                for word in DOMAIN_WORDS:
                    tok.add_word(word, freq=max(tok.suggest_freq(word), 1000))
                _tokenizer = tok
    return _tokenizer


def warm_up() -> None:
    """Load the jieba dictionary and the OpenCC tables ahead of first use."""
    _jieba()
    _opencc().convert("戶籍")


def normalize(text: str) -> str:
    """Return text as NFKC, simplified Chinese, lower case, single-spaced."""
    if not text:
        return ""
    text = unicodedata.normalize("NFKC", str(text))
    # NFKC maps "，" -> "," and "（" -> "(" but keeps "。" and "、": both are
    # punctuation to the tokenizer, so no further mapping is needed.
    if _CJK_RUN.search(text):
        text = _opencc().convert(text)
    return " ".join(text.lower().split())


def _safe(token: str) -> str:
    """Map characters that are special in FTS5/tsquery syntax to '_'."""
    return _UNSAFE.sub("_", token).strip("_")


def _dedupe(items: Iterable[str]) -> list[str]:
    """Return the non-empty items in first-seen order without duplicates."""
    seen: set[str] = set()
    out = []
    for item in items:
        if item and item not in seen:
            seen.add(item)
            out.append(item)
    return out


def _segments(text: str) -> list[tuple[bool, str]]:
    """Split normalized text into (is_cjk, piece) runs."""
    return [(i % 2 == 1, piece) for i, piece in enumerate(_CJK_RUN.split(text)) if piece]


def _compound_tokens(piece: str, with_parts: bool) -> list[str]:
    """Return tokens of a non-CJK piece: each compound whole, optionally its parts."""
    out = []
    for match in _COMPOUND.finditer(piece):
        word = match.group(0)
        out.append(_safe(word))
        if with_parts and not _PART.fullmatch(word):
            out.extend(_PART.findall(word))
    return out


def tokens(text: str) -> list[str]:
    """Return index tokens of text (jieba search mode, codes whole plus parts)."""
    out: list[str] = []
    for is_cjk, piece in _segments(normalize(text)):
        if is_cjk:
            out.extend(_jieba().cut_for_search(piece))
        else:
            out.extend(_compound_tokens(piece, with_parts=True))
    return _dedupe(out)


def _cjk_runs(text: str) -> list[tuple[list[str], list[tuple[str, int, int]], list[tuple[str, int, int]]]]:
    """For each CJK run: (per-char pinyin, search-mode words, precise words) with offsets."""
    runs = []
    for is_cjk, piece in _segments(normalize(text)):
        if not is_cjk:
            continue
        syllables = lazy_pinyin(piece, errors=lambda s: [""] * len(s))
        if len(syllables) != len(piece):  # defensive: keep one syllable per char
            syllables = [(lazy_pinyin(ch) or [""])[0] for ch in piece]
        tok = _jieba()
        runs.append((syllables, list(tok.tokenize(piece, mode="search")), list(tok.tokenize(piece))))
    return runs


def pinyin_tokens(text: str) -> list[str]:
    """Return full-pinyin and initials tokens of the CJK words of a title."""
    spans: list[list[str]] = []  # syllables of each jieba word (search mode)
    precise: list[list[str]] = []  # syllables of each precise-mode word, in order
    for syllables, search_words, precise_words in _cjk_runs(text):
        spans.extend(syllables[start:stop] for _, start, stop in search_words)
        precise.extend(syllables[start:stop] for _, start, stop in precise_words)
    # Word n-grams (bounded) and all suffixes; the first suffix is the whole title.
    n = len(precise)
    for i in range(n):
        for j in range(i + 2, n + 1):
            if j - i <= _MAX_PINYIN_NGRAM or j == n:
                spans.append([s for w in precise[i:j] for s in w])
    if n > 1:
        spans.insert(0, [s for w in precise for s in w])
    out = []
    for sylls in spans:
        full = _safe("".join(sylls))
        initials = _safe("".join(s[:1] for s in sylls))
        out.append(full)
        if len(initials) > 1:
            out.append(initials)
    return _dedupe(out)


def _field_text(value) -> str:
    """Join a field given as a string or a list of strings into one string."""
    if value is None:
        return ""
    if isinstance(value, (list, tuple, set, frozenset)):
        return " , ".join(str(v) for v in value if v)
    return str(value)


def index_document(fields: dict[str, str]) -> dict[str, str]:
    """Return {'title': ..., 'body': ...} space-joined index tokens of a dataset."""
    title = _field_text(fields.get("title"))
    title_tokens = _dedupe(tokens(title) + pinyin_tokens(title))
    body: list[str] = []
    for key in ("notes", "tags", "org", "codes"):
        body.extend(tokens(_field_text(fields.get(key))))
    return {"title": " ".join(title_tokens), "body": " ".join(_dedupe(body))}


def query_terms(q: str) -> list[str]:
    """Return the terms (to be ANDed) that a user query must match."""
    out: list[str] = []
    for is_cjk, piece in _segments(normalize(q or "")):
        if is_cjk:
            out.extend(_jieba().cut(piece))
        else:
            out.extend(_compound_tokens(piece, with_parts=False))
    terms = _dedupe(out)
    kept = [t for t in terms if t not in QUERY_STOPWORDS]
    return kept or terms
