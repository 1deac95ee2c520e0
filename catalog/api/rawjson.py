"""JSON text written into a response as it is: records the database already holds as JSON.

The change feed of a reader who sees every field (nothing masked, nothing flagged) sends each record's
stored JSON text instead of decoding it into Python and encoding it again: those two passes were most of a
feed page's time (docs/PERFORMANCE.md, "DataStore reads", fourth pass).
"""
from __future__ import annotations

import json
import re
import secrets
from typing import Any

from flask.json.provider import DefaultJSONProvider


class RawJSON:
    """One JSON value, already encoded (``text`` must be valid JSON: it is not checked)."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RawJSON) and other.text == self.text

    def __repr__(self) -> str:
        return f"RawJSON({self.text[:60]!r})"

    def value(self) -> Any:
        """The value decoded (for Python callers that read an answer without encoding it)."""
        return json.loads(self.text)


def object_with(text: str, extra: dict[str, Any]) -> RawJSON:
    """The JSON object ``text`` with the members of ``extra`` added at its end (a member of the same name
    in ``text`` comes first, so JSON readers take the added one, as ``{**record, **extra}`` does)."""
    body = text.rstrip()
    if not body.endswith("}"):
        raise ValueError("not a JSON object")
    members = ", ".join(f"{json.dumps(name)}: {json.dumps(value, ensure_ascii=False)}"
                        for name, value in extra.items())
    inner = body[:-1].rstrip()
    return RawJSON(f"{inner}{', ' if not inner.endswith('{') else ''}{members}}}")


class CatalogJSONProvider(DefaultJSONProvider):
    """Flask's JSON with :class:`RawJSON` values written as their text (each stands in the encoder's output
    as a placeholder string holding a fresh random mark, then replaced)."""

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        fragments: list[str] = []
        mark = secrets.token_hex(8)
        default = kwargs.pop("default", None) or self.default

        def encode(value: Any) -> Any:
            if isinstance(value, RawJSON):
                fragments.append(value.text)
                return f"\x00{mark}:{len(fragments) - 1}\x00"
            return default(value)

        text = super().dumps(obj, default=encode, **kwargs)
        if not fragments:
            return text
        placeholder = re.compile(r'"\\u0000' + mark + r':(\d+)\\u0000"')
        return placeholder.sub(lambda found: fragments[int(found.group(1))], text)
