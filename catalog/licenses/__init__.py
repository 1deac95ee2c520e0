"""The licences datasets may carry (CKAN's ``license_list``), as shipped data in licenses.json."""
from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

DATA = Path(__file__).resolve().parent / "licenses.json"


@lru_cache(maxsize=1)
def licenses() -> dict[str, dict[str, Any]]:
    """Licence id -> its record, in the order of the data file."""
    with open(DATA, encoding="utf-8") as f:
        return {row["id"]: row for row in json.load(f)["licenses"]}


def is_open(record: dict[str, Any]) -> bool:
    """Open as CKAN says it: approved by the Open Definition or the Open Source Definition."""
    return "approved" in (record["od_conformance"], record["osd_conformance"])


def license_dict(record: dict[str, Any], lang: str = "zh") -> dict[str, Any]:
    """A licence as ``license_list`` shows it, its title in ``lang``."""
    result = {k: v for k, v in record.items() if k != "title"}
    result["title"] = record["title"].get(lang) or record["title"]["en"]
    result["is_okd_compliant"] = record["od_conformance"] == "approved"
    result["is_osi_compliant"] = record["osd_conformance"] == "approved"
    return result


def license_fields(license_id: str | None, lang: str = "zh") -> dict[str, Any]:
    """``isopen``, ``license_title`` and (when the licence has one) ``license_url`` of a dataset.

    As CKAN: an unknown licence id is its own title and is not open; a licence without a URL gives none.
    """
    record = licenses().get(license_id or "")
    if record is None:
        return {"isopen": False, "license_title": license_id}
    fields: dict[str, Any] = {"isopen": is_open(record),
                              "license_title": record["title"].get(lang) or record["title"]["en"]}
    if record["url"]:
        fields["license_url"] = record["url"]
    return fields
