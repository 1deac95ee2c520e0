"""The themes: GB/T 21063.4's theme class (the 2xx items of schemas/labels/classification.json)."""
from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import schemas

CLASSIFICATION = Path(schemas.__file__).resolve().parent / "labels" / "classification.json"
#: The class of GB/T 21063.4 whose items are themes (主题信息资源类).
THEME_CLASS = "2"


@lru_cache(maxsize=1)
def themes() -> dict[str, dict[str, str]]:
    """Theme code -> ``{"zh": …, "en": …}``, in code order, read from the shipped classification table."""
    with open(CLASSIFICATION, encoding="utf-8") as f:
        items = json.load(f)["items"]
    return {code: items[code] for code in sorted(items) if code.startswith(THEME_CLASS)}


def theme_title(code: str, lang: str = "zh") -> str:
    """A theme's name in ``lang`` (``zh`` or ``en``), Chinese when that language has none."""
    names = themes()[code]
    return names.get(lang) or names["zh"]
