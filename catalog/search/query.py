"""Parse CKAN/Solr query syntax (package_search's ``q`` and ``fq``) and ``sort`` into a small AST.

The grammar (Lark, LALR) covers what CKAN clients send to Solr's standard query parser::

    户籍 人口            words: every one is required (CKAN's default operator is AND)
    "户籍 人口"          a phrase
    title:户籍           a field; name:ns-*  a prefix; tags:*  the field is set
    metadata_modified:[2026-01-01T00:00:00Z TO *]   ranges, [inclusive] and {exclusive}
    a AND b, a OR b, NOT a, -a, +a, &&, ||, ( ... ), field:(a OR b), *:*

Precedence: NOT / - / + bind tightest, then AND (written or implied), then OR. A negated
clause anywhere means "the datasets that do not match it" (Solr's pure negative sub-queries
match nothing; ours do what they say). Boosts (^), fuzzy and proximity (~), regular
expressions and local parameters ({!...}) are refused by name, with the position.
Values are returned unescaped and otherwise verbatim; the meaning of each field is applied
by :mod:`catalog.search.conditions`.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable, Optional, Union

from lark import Lark, Token, Transformer, Tree
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken, VisitError


class QuerySyntaxError(ValueError):
    """Invalid q, fq or sort parameter; ``position`` is a 0-based index or None."""

    def __init__(self, message: str, position: Optional[int] = None):
        super().__init__(message)
        self.position = position


@dataclass(frozen=True)
class Term:
    """A word (or phrase) to find in ``field`` (None: the default text fields)."""

    field: Optional[str]
    text: str
    position: int
    phrase: bool = False
    prefix: bool = False


@dataclass(frozen=True)
class Range:
    """``field`` between ``low`` and ``high`` (None: open end), each end inclusive or not."""

    field: str
    low: Optional[str]
    high: Optional[str]
    include_low: bool
    include_high: bool
    position: int


@dataclass(frozen=True)
class Exists:
    """``field:*``: datasets where the field has a value."""

    field: str
    position: int


@dataclass(frozen=True)
class MatchAll:
    """``*:*`` (or a lone ``*``): every dataset."""


@dataclass(frozen=True)
class And:
    items: tuple["Node", ...]


@dataclass(frozen=True)
class Or:
    items: tuple["Node", ...]


@dataclass(frozen=True)
class Not:
    item: "Node"


Node = Union[Term, Range, Exists, MatchAll, And, Or, Not]

# Characters that end a word unless escaped with a backslash (Lucene's special characters,
# less the ones allowed inside a word: - + ! & | * ? / :).
_GRAMMAR = r"""
    ?start: or_expr
    ?or_expr: and_expr (_OR and_expr)*
    ?and_expr: unary (_AND? unary)*
    ?unary: _NOT unary      -> negate
          | MINUS unary     -> negate
          | _PLUS unary
          | atom
    ?atom: _LPAR or_expr _RPAR
         | FIELD _COLON value -> field
         | MATCH_ALL          -> match_all
         | TERM               -> term
         | PHRASE             -> phrase
    ?value: TERM              -> term
          | PHRASE            -> phrase
          | _LPAR or_expr _RPAR
          | RANGE_OPEN RANGE_VALUE _TO RANGE_VALUE RANGE_CLOSE -> range

    MATCH_ALL.5: "*:*"
    _AND.4: /(AND|&&)(?=[\s()]|$)/
    _OR.4: /(OR|\|\|)(?=[\s()]|$)/
    _NOT.4: /NOT(?=[\s(]|$)/
    _TO.4: /TO(?=\s|$)/
    MINUS.3: /-(?=\S)/
    _PLUS.3: /\+(?=\S)/
    FIELD.3: /[A-Za-z_][A-Za-z0-9_.]*(?=:)/
    _COLON: /:(?=\S)/
    TERM: /(?!(AND|OR|NOT|&&|\|\|)(?=[\s()]|$))(\\.|[^\s()"\[\]{}\\^~:+\-])(\\.|[^\s()"\[\]{}\\^~])*/
    PHRASE: /"(\\.|[^"\\])*"/
    RANGE_OPEN: /[\[{]/
    RANGE_CLOSE: /[\]}]/
    RANGE_VALUE: /(\\.|[^\s\[\]{}"\\])+/ | /"(\\.|[^"\\])*"/
    _LPAR: "("
    _RPAR: ")"
    %ignore /\s+/
"""

_KEYWORD = re.compile(r"(AND|OR|NOT|&&|\|\|)(?=[\s()]|$)")
_PARSER = Lark(_GRAMMAR, parser="lalr", lexer="contextual", maybe_placeholders=False)

_OPERATORS = {"_AND": "AND", "_OR": "OR", "_NOT": "NOT", "MINUS": "-", "_PLUS": "+", "_TO": "TO",
              "_COLON": ":"}


def _show(text: str, limit: int = 30) -> str:
    """Quote a fragment of user input for an error message, truncated."""
    if len(text) > limit:
        text = text[:limit] + "..."
    return "'" + text + "'"


def _unescape(text: str) -> str:
    """Drop the backslash of each escaped character."""
    out, i = [], 0
    while i < len(text):
        if text[i] == "\\" and i + 1 < len(text):
            i += 1
        out.append(text[i])
        i += 1
    return "".join(out)


def _unquote(token: str) -> str:
    return _unescape(token[1:-1])


def _with_field(node: Node, field: str, position: int) -> Node:
    """Apply ``field:`` to the default-field leaves of ``node`` (``field:(a OR b)``)."""
    if isinstance(node, Term) and node.field is None:
        return Term(field, node.text, node.position, node.phrase, node.prefix)
    if isinstance(node, MatchAll):
        return Exists(field, position)
    if isinstance(node, (And, Or)):
        return type(node)(tuple(_with_field(item, field, position) for item in node.items))
    if isinstance(node, Not):
        return Not(_with_field(node.item, field, position))
    return node


class _ToTree(Transformer):
    """Turn Lark's parse tree into the AST, checking field names and wildcards."""

    def __init__(self, fields: set[str], text: str):
        super().__init__()
        self.fields = fields
        self.text = text

    def or_expr(self, items):
        return Or(tuple(items))

    def and_expr(self, items):
        return And(tuple(items))

    def negate(self, items):
        return Not(items[-1])

    def match_all(self, _items):
        return MatchAll()

    def term(self, items):
        token: Token = items[0]
        raw = str(token)
        if token.start_pos and self.text[token.start_pos - 1] in '")':
            raise QuerySyntaxError(f"unexpected {_show(raw)} right after {_show(self.text[token.start_pos - 1])} "
                                   f"at position {token.start_pos} (a space between clauses?)", token.start_pos)
        if raw == "*":
            return MatchAll()
        unescaped_stars = [i for i, ch in enumerate(raw) if ch in "*?" and (i == 0 or raw[i - 1] != "\\")]
        prefix = False
        for i in unescaped_stars:
            if raw[i] == "?":
                raise QuerySyntaxError(
                    f"the wildcard '?' at position {token.start_pos + i} is not supported "
                    f"(escape it as \\?)", token.start_pos + i)
            if i != len(raw) - 1:
                raise QuerySyntaxError(
                    f"a wildcard '*' at position {token.start_pos + i} is only supported at the end "
                    f"of a word (prefix*)", token.start_pos + i)
            prefix = True
        text = _unescape(raw[:-1] if prefix else raw)
        return Term(None, text, token.start_pos, prefix=prefix)

    def phrase(self, items):
        token: Token = items[0]
        before = self.text[token.start_pos - 1] if token.start_pos else " "
        if not (before.isspace() or before in "(:+-"):
            raise QuerySyntaxError(f"unexpected quote right after {_show(before)} at position {token.start_pos} "
                                   f"(a space between clauses?)", token.start_pos)
        text = _unquote(str(token))
        if not text.strip():
            raise QuerySyntaxError(f"empty quoted value at position {token.start_pos}", token.start_pos)
        return Term(None, text, token.start_pos, phrase=True)

    def range(self, items):
        opener, low, high, closer = items
        ends = []
        for token in (low, high):
            raw = str(token)
            ends.append(None if raw == "*" else _unquote(raw) if raw.startswith('"') else _unescape(raw))
        return Range("", ends[0], ends[1], str(opener) == "[", str(closer) == "]", opener.start_pos)

    def field(self, items):
        name, value = items
        field = str(name)
        known = field in self.fields or (field.startswith("extras_") and len(field) > 7
                                          and "extras_*" in self.fields)
        if not known:
            raise QuerySyntaxError(
                f"unknown field {_show(field)} at position {name.start_pos}; fields: "
                + ", ".join(sorted(self.fields)), name.start_pos)
        if isinstance(value, Range):
            return Range(field, value.low, value.high, value.include_low, value.include_high, name.start_pos)
        return _with_field(value, field, name.start_pos)


def _check_parentheses(text: str) -> None:
    """Name the first unbalanced parenthesis (outside quotes) with its position."""
    opened: list[int] = []
    i, quoted = 0, False
    while i < len(text):
        ch = text[i]
        if ch == "\\":
            i += 2
            continue
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch == "(":
            opened.append(i)
        elif not quoted and ch == ")":
            if not opened:
                raise QuerySyntaxError(f"unbalanced ')' at position {i}", i)
            opened.pop()
        i += 1
    if opened:
        raise QuerySyntaxError(f"unbalanced '(' at position {opened[-1]} (never closed)", opened[-1])


def _problem_at(text: str, at: int) -> Optional[str]:
    """What is wrong with the character at ``at``, when it says so by itself."""
    ch, rest = text[at], text[at:]
    if rest.startswith("{!"):
        return "local parameters {!...} are not supported"
    if ch == '"':
        return "unbalanced quote (never closed)"
    if ch == "^":
        return "boosts (^) are not supported"
    if ch == "~":
        return "fuzzy and proximity searches (~) are not supported"
    if ch == ":":
        return "missing value after ':'" if at and not text[at - 1].isspace() else "unexpected ':'"
    if ch in "-+" and (at + 1 >= len(text) or text[at + 1].isspace()):
        return f"lone '{ch}' without a clause"
    if ch == "\\":
        return "dangling backslash"
    if ch in "[]{}":
        return f"unexpected {_show(ch)} (ranges are written field:[a TO b])"
    match = _KEYWORD.match(text, at)
    if match:
        return f"operator {_show(match.group(1))} without a clause before it"
    return None


def _describe(error: UnexpectedInput, text: str) -> QuerySyntaxError:
    """A short message naming what is wrong at which position."""
    if isinstance(error, UnexpectedCharacters):
        at = error.pos_in_stream
    elif isinstance(error, UnexpectedToken) and error.token.type != "$END":
        at = error.token.start_pos
    else:
        at = None
    if at is not None and at < len(text):
        problem = _problem_at(text, at)
        if problem is None:
            word = text[at:].split()[0] if text[at:].split() else text[at]
            problem = f"unexpected {_show(word)}"
        return QuerySyntaxError(f"{problem} at position {at}", at)
    # The query ended too early: name the operator (or range) left dangling.
    last = None
    for tok in _PARSER.lex(text):
        last = tok
    if last is not None and last.type in _OPERATORS:
        name = _OPERATORS[last.type]
        return QuerySyntaxError(f"dangling operator {_show(name)} at position {last.start_pos}: "
                                f"nothing follows it", last.start_pos)
    return QuerySyntaxError(f"the query ends too early at position {len(text)} (unfinished range?)",
                            len(text))


#: How deeply clauses may nest (parentheses, NOT, -): deeper trees would exhaust Python's stack.
MAX_DEPTH = 32


def _check_depth(tree: Tree) -> None:
    """Refuse a tree nested deeper than :data:`MAX_DEPTH`, without recursing into it."""
    stack = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            at = next((t.start_pos for t in node.scan_values(lambda v: isinstance(v, Token))), 0)
            raise QuerySyntaxError(f"clauses nested more than {MAX_DEPTH} deep at position {at}", at)
        stack.extend((child, depth + 1) for child in node.children if isinstance(child, Tree))


def parse_query(text: str, fields: Iterable[str]) -> Optional[Node]:
    """Parse a q or fq string into a tree over the known ``fields``; None when it is blank."""
    if text is None or not str(text).strip():
        return None
    if not isinstance(text, str):
        raise QuerySyntaxError("expected a string")
    _check_parentheses(text)
    try:
        tree = _PARSER.parse(text)
    except (UnexpectedCharacters, UnexpectedToken, UnexpectedEOF) as error:
        raise _describe(error, text) from None
    _check_depth(tree)
    try:
        return _ToTree(set(fields), text).transform(tree)
    except VisitError as error:
        if isinstance(error.orig_exc, QuerySyntaxError):
            raise error.orig_exc from None
        raise


def parse_sort(sort: str, allowed: dict[str, str]) -> list[tuple[str, bool]]:
    """Parse 'field [asc|desc], ...' into [(internal_key, descending)]."""
    if sort is None or not sort.strip():
        return []
    result: list[tuple[str, bool]] = []
    seen: set[str] = set()
    for index, part in enumerate(sort.split(",")):
        words = part.split()
        if not words:
            raise QuerySyntaxError(f"invalid sort: empty sort clause (item {index})")
        if len(words) > 2:
            raise QuerySyntaxError(
                f"invalid sort: {_show(part.strip())}; expected 'field asc' or 'field desc'"
            )
        field = words[0]
        if field not in allowed:
            names = ", ".join(sorted(allowed)) or "(none)"
            raise QuerySyntaxError(f"invalid sort: unknown field {_show(field)}; allowed: {names}")
        direction = words[1].lower() if len(words) == 2 else "asc"
        if direction not in ("asc", "desc"):
            raise QuerySyntaxError(
                f"invalid sort: unknown direction {_show(words[1])} for {_show(field)}; use asc or desc"
            )
        if field not in seen:  # a repeated field cannot change the order
            seen.add(field)
            result.append((allowed[field], direction == "desc"))
    return result
