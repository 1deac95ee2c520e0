"""Parse CKAN/Solr ``fq`` filter queries and ``sort`` strings into a small, safe AST.

Supported ``fq`` subset (clauses are ANDed)::

    field:value   field:"quoted value"   field:(a OR "b c")   field:esc\\:aped
    -field:value  NOT field:value        +field:value         a:x AND b:y

Everything else (OR between clauses, ranges, nested groups, local params,
bare words) is rejected with ``QuerySyntaxError`` naming the problem and its
0-based character position.  Values are returned verbatim (unescaped, not
normalized); ``*`` and ``?`` are literal characters, not wildcards.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable, Optional

_FIELD = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*")
_SPECIAL = '()"'


class QuerySyntaxError(ValueError):
    """Invalid fq or sort parameter; ``position`` is a 0-based index or None."""

    def __init__(self, message: str, position: Optional[int] = None):
        super().__init__(message)
        self.position = position


@dataclass(frozen=True)
class Clause:
    """One filter: ``field`` equals any of ``values``; ``negate`` inverts it."""

    field: str
    values: tuple[str, ...]
    negate: bool = False


def _show(text: str, limit: int = 30) -> str:
    """Quote a fragment of user input for an error message, truncated."""
    if len(text) > limit:
        text = text[:limit] + "..."
    return "'" + text + "'"


class _FqParser:
    """Recursive-descent parser over one fq string."""

    def __init__(self, text: str, allowed: Iterable[str]):
        self.text = text
        self.pos = 0
        self.allowed = set(allowed)

    # -- helpers ---------------------------------------------------------
    def error(self, message: str, position: Optional[int] = None) -> QuerySyntaxError:
        """Build an error located at position (default: current position)."""
        at = self.pos if position is None else position
        return QuerySyntaxError(f"invalid fq at position {at}: {message}", at)

    def peek(self) -> str:
        """Return the current character or '' at the end."""
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def at_boundary(self, index: int) -> bool:
        """True if index is the end of input or a whitespace character."""
        return index >= len(self.text) or self.text[index].isspace()

    def skip_ws(self) -> None:
        """Advance over whitespace."""
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1

    def keyword(self, *words: str) -> str:
        """Return the operator keyword at the current position, if any."""
        for word in words:
            end = self.pos + len(word)
            if self.text.startswith(word, self.pos) and (
                self.at_boundary(end) or self.text[end] in "()" or word in ("&&", "||")
            ):
                return word
        return ""

    # -- grammar ---------------------------------------------------------
    def parse(self) -> list[Clause]:
        """fq := clause ((ws | AND) clause)*"""
        clauses: list[Clause] = []
        while True:
            self.skip_ws()
            if self.pos >= len(self.text):
                return clauses
            op = self.keyword("AND", "&&", "OR", "||")
            if op in ("OR", "||"):
                raise self.error("OR between clauses is not supported (use field:(a OR b))")
            if op:
                if not clauses:
                    raise self.error(f"{op} without a preceding clause")
                start = self.pos
                self.pos += len(op)
                self.skip_ws()
                if self.pos >= len(self.text):
                    raise self.error(f"{op} without a following clause", start)
            clauses.append(self.clause())

    def clause(self) -> Clause:
        """clause := [- | + | NOT] field ':' value"""
        negate = False
        start = self.pos
        if self.peek() in "-+":
            negate = self.peek() == "-"
            self.pos += 1
            if self.at_boundary(self.pos):
                raise self.error(f"lone '{self.text[start]}' without a clause", start)
        elif self.keyword("NOT"):
            negate = True
            self.pos += 3
            self.skip_ws()
            if self.pos >= len(self.text):
                raise self.error("NOT without a clause", start)
        if self.peek() in "-+" or self.keyword("NOT", "AND", "OR"):
            raise self.error("repeated operator")
        ch = self.peek()
        if ch == "(":
            raise self.error("grouping clauses in parentheses is not supported")
        if ch == ")":
            raise self.error("unbalanced ')'")
        if ch == "{":
            raise self.error("local parameters {!...} are not supported")
        if ch == '"':
            raise self.error("quoted value without a field (use field:\"value\")")
        match = _FIELD.match(self.text, self.pos)
        if not match or not self.text.startswith(":", match.end()):
            end = self.pos
            while not self.at_boundary(end):
                end += 1
            word = self.text[self.pos:end]
            raise self.error(f"bare word {_show(word)} without a field (use field:value)")
        field = match.group(0)
        if field not in self.allowed:
            allowed = ", ".join(sorted(self.allowed)) or "(none)"
            raise self.error(f"unknown field {_show(field)}; allowed fields: {allowed}")
        self.pos = match.end() + 1
        values = self.value(field)
        return Clause(field, values, negate)

    def value(self, field: str) -> tuple[str, ...]:
        """value := quoted | '(' item (OR item)* ')' | bare"""
        ch = self.peek()
        if ch == "" or ch.isspace():
            raise self.error(f"missing value after '{field}:'")
        if ch in "[{":
            raise self.error("range queries are not supported")
        if ch == "(":
            return self.group()
        value = self.quoted() if ch == '"' else self.bare(in_group=False)
        if not self.at_boundary(self.pos):
            raise self.error(f"unexpected {_show(self.peek())} after value")
        return (value,)

    def group(self) -> tuple[str, ...]:
        """Parse '(' item (OR item)* ')' where item is quoted or bare."""
        opened = self.pos
        self.pos += 1
        values: list[str] = []
        want_value = True
        while True:
            self.skip_ws()
            ch = self.peek()
            if ch == "":
                raise self.error("unbalanced '(' (never closed)", opened)
            if ch == ")":
                if want_value:
                    raise self.error("missing value after OR" if values else "empty parentheses")
                self.pos += 1
                if not self.at_boundary(self.pos):
                    raise self.error(f"unexpected {_show(self.peek())} after ')'")
                return tuple(dict.fromkeys(values))
            if want_value:
                if ch == "(":
                    raise self.error("nested parentheses are not supported")
                if self.keyword("OR", "AND", "NOT"):
                    raise self.error("missing value before operator")
                values.append(self.quoted() if ch == '"' else self.bare(in_group=True))
                want_value = False
            elif self.keyword("OR", "||"):
                self.pos += len(self.keyword("OR", "||"))
                want_value = True
            elif self.keyword("AND", "&&", "NOT"):
                raise self.error("only OR is supported inside field:(...)")
            else:
                raise self.error("expected OR or ')' between values")

    def quoted(self) -> str:
        """Parse a double-quoted string with backslash escapes."""
        opened = self.pos
        self.pos += 1
        out = []
        while self.pos < len(self.text):
            ch = self.text[self.pos]
            if ch == "\\" and self.pos + 1 < len(self.text):
                out.append(self.text[self.pos + 1])
                self.pos += 2
                continue
            if ch == '"':
                self.pos += 1
                value = "".join(out)
                if not value.strip():
                    raise self.error("empty quoted value", opened)
                return value
            out.append(ch)
            self.pos += 1
        raise self.error("unbalanced quote (never closed)", opened)

    def bare(self, in_group: bool) -> str:
        """Parse an unquoted value up to whitespace (or ')' inside a group)."""
        out = []
        while self.pos < len(self.text):
            ch = self.text[self.pos]
            if ch.isspace() or (in_group and ch == ")"):
                break
            if ch == "\\":
                if self.pos + 1 >= len(self.text):
                    raise self.error("dangling backslash")
                out.append(self.text[self.pos + 1])
                self.pos += 2
                continue
            if ch in _SPECIAL:
                raise self.error(f"unexpected {_show(ch)} in value (quote or escape it)")
            out.append(ch)
            self.pos += 1
        return "".join(out)


def parse_fq(fq: str, allowed: set[str]) -> list[Clause]:
    """Parse one fq string into ANDed clauses over the allowed field names."""
    if fq is None:
        return []
    if not isinstance(fq, str):
        raise QuerySyntaxError("invalid fq: expected a string")
    return _FqParser(fq, allowed).parse()


def parse_fq_list(items: Iterable[str], allowed: set[str]) -> list[Clause]:
    """Parse several fq strings (e.g. CKAN's fq_list) into one list of clauses."""
    if items is None:
        return []
    if isinstance(items, str):
        items = [items]
    items = list(items)
    clauses: list[Clause] = []
    for index, item in enumerate(items):
        try:
            clauses.extend(parse_fq(item, allowed))
        except QuerySyntaxError as exc:
            if len(items) == 1:
                raise
            raise QuerySyntaxError(f"fq item {index}: {exc}", exc.position) from None
    return clauses


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
