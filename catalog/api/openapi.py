"""Generate the OpenAPI 3 description of the actions from their marshmallow schemas."""
from __future__ import annotations

from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import Flask

from schemas import load_schema

from .registry import ACTIONS

_ERROR = {
    "type": "object",
    "properties": {
        "help": {"type": "string"},
        "success": {"type": "boolean", "enum": [False]},
        "error": {"type": "object", "properties": {"__type": {"type": "string"}},
                  "required": ["__type"], "additionalProperties": True},
    },
    "required": ["success", "error"],
}


def _envelope(result: Any) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {"help": {"type": "string"}, "success": {"type": "boolean", "enum": [True]},
                       "result": result},
        "required": ["help", "success", "result"],
    }


def _result_schema(spec: APISpec, plugin: MarshmallowPlugin, result: Any) -> dict[str, Any]:
    if result is None:
        return {}
    if isinstance(result, dict):
        return result
    if isinstance(result, list):  # [SchemaClass] means a list of that object
        return {"type": "array", "items": _result_schema(spec, plugin, result[0])}
    return plugin.resolver.resolve_schema_dict(result)


def _profile_attributes(self, field, ret=None, **kwargs) -> dict[str, Any]:
    """Describe a field marked ``x-profile`` with its property from the metadata profile."""
    name = field.metadata.get("x-profile")
    if not name:
        return {}
    prop = dict(load_schema("metadata", "dataset", 1)["properties"][name])
    ret.pop("x-profile", None)
    return prop


def _open_result_objects(document: dict[str, Any]) -> None:
    """Let result objects carry fields beyond the documented ones, as CKAN's dicts do (an action adds
    ``package_count``, ``users``, ``packages``...); apispec closes every output schema because output
    schemas keep marshmallow's ``unknown = RAISE``, which only matters when loading."""
    components = document.get("components", {}).get("schemas", {})
    seen: set[str] = set()
    stack: list[Any] = [op["responses"]["200"] for path in document["paths"].values() for op in path.values()]
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            stack.extend(node)
        elif isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
                name = ref.rsplit("/", 1)[-1]
                if name not in seen and name in components:
                    seen.add(name)
                    components[name].pop("additionalProperties", None)
                    stack.append(components[name])
            stack.extend(node.values())


def build_spec(app: Flask) -> dict[str, Any]:
    """The OpenAPI document for every registered action (cached per app)."""
    cached = app.extensions.get("catalog.openapi")
    if cached is not None:
        return cached
    plugin = MarshmallowPlugin()
    spec = APISpec(title=app.config["SITE_TITLE"] + " API", version="3", openapi_version="3.0.3",
                   plugins=[plugin],
                   info={"description": "CKAN-compatible Action API of the government data "
                                        "resource catalog. Every response is an envelope "
                                        "{help, success, result|error}."})
    plugin.converter.add_attribute_function(_profile_attributes)
    spec.components.security_scheme("apiToken", {"type": "apiKey", "in": "header", "name": "Authorization"})
    for name in sorted(ACTIONS):
        action = ACTIONS[name]
        operation: dict[str, Any] = {
            "operationId": name if not action.read_only else f"{name}_post",
            "summary": action.doc.splitlines()[0] if action.doc else name,
            "description": action.doc,
            "security": [{}, {"apiToken": []}],
            "responses": {
                "200": {"description": "success",
                        "content": {"application/json": {"schema": _envelope(
                            _result_schema(spec, plugin, action.result))}}},
                "400": {"description": "bad request", "content": {"application/json": {"schema": _ERROR}}},
                "403": {"description": "not authorized", "content": {"application/json": {"schema": _ERROR}}},
                "404": {"description": "not found", "content": {"application/json": {"schema": _ERROR}}},
                "409": {"description": "validation error", "content": {"application/json": {"schema": _ERROR}}},
                "413": {"description": "request body over the size limit",
                        "content": {"application/json": {"schema": _ERROR}}},
                "429": {"description": "too many requests for this API token or address; wait for "
                                       "Retry-After seconds",
                        "headers": {"Retry-After": {"schema": {"type": "integer", "minimum": 1}}},
                        "content": {"application/json": {"schema": _ERROR}}},
            },
        }
        body_schema = action.params if action.params is not None else {"type": "object"}
        operation["requestBody"] = {"required": False,
                                    "content": {"application/json": {"schema": body_schema}}}
        path = {"post": operation}
        if action.read_only:
            get_op = {k: v for k, v in operation.items() if k != "requestBody"}
            get_op["operationId"] = name
            if action.params is not None:
                get_op["parameters"] = [{"in": "query", "schema": action.params}]
            path["get"] = get_op
        spec.path(path=f"/api/3/action/{name}", operations=path)
    document = spec.to_dict()
    _open_result_objects(document)
    app.extensions["catalog.openapi"] = document
    return document
