"""CKAN's license_list."""
from __future__ import annotations

from ..api.fields import ParamsSchema, request_lang
from ..api.registry import ActionContext, action
from . import license_dict, licenses

LICENSE_RESULT = {"type": "array", "items": {"type": "object", "properties": {
    "id": {"type": "string"}, "title": {"type": "string"}, "url": {"type": "string"},
    "od_conformance": {"type": "string"}, "osd_conformance": {"type": "string"}, "status": {"type": "string"},
    "is_okd_compliant": {"type": "boolean"}, "is_osi_compliant": {"type": "boolean"}}}}


@action("license_list", params=ParamsSchema, result=LICENSE_RESULT, read_only=True)
def license_list(ctx: ActionContext, data: dict) -> list:
    """The licences a dataset's ``license_id`` may name, titles in the caller's language."""
    lang = request_lang()
    return [license_dict(record, lang) for record in licenses().values()]
