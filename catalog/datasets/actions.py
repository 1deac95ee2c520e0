"""CKAN package, resource and tag actions."""
from __future__ import annotations

import json
from typing import Any

from ..api.registry import ActionContext, action
from ..errors import ValidationError
from ..groups.service import set_dataset_themes
from . import resources as resource_service
from . import service
from .models import Dataset, Resource
from .schemas import (DatasetCreateParams, DatasetDeleteParams, DatasetListParams, DatasetOut,
                      DatasetShowParams,
                      DatasetUpdateParams, ResourceCreateParams, ResourceOut, ResourceReorderParams,
                      ResourceUpdateParams, TagListParams, TagOut)

RESOURCE_FIELDS = ("name", "description", "url", "format", "mimetype", "extras")


def dataset_dicts(ctx: ActionContext, datasets: list[Dataset]) -> list[dict[str, Any]]:
    """Datasets as the API shows them."""
    return DatasetOut(many=True).dump(datasets)


def dataset_dict(ctx: ActionContext, dataset: Dataset) -> dict[str, Any]:
    """One dataset as the API shows it."""
    return DatasetOut().dump(dataset)


def _tags(data: dict[str, Any]) -> list[str] | None:
    if data.get("tags") is None and data.get("tag_string") is None:
        return None
    names: list[str] = []
    for index, tag in enumerate(data.get("tags") or []):
        name = tag.get("name") if isinstance(tag, dict) else tag
        if not isinstance(name, str) or not name.strip():
            raise ValidationError.single(f"tags.{index}.name", "Missing value")
        names.append(name.strip())
    if data.get("tag_string"):
        names.extend(t.strip() for t in data["tag_string"].split(",") if t.strip())
    return names


def _extras(data: dict[str, Any]) -> dict[str, str] | None:
    if data.get("extras") is None:
        return None
    extras: dict[str, str] = {}
    for index, extra in enumerate(data["extras"]):
        key = extra.get("key")
        if not isinstance(key, str) or not key.strip():
            raise ValidationError.single(f"extras.{index}.key", "Missing value")
        if key in service.METADATA_FIELDS or key in ("id", "owner_org", "tags", "resources"):
            raise ValidationError.single(f"extras.{index}.key", f"{key} is a dataset field, not an extra")
        if key in extras:
            raise ValidationError.single(f"extras.{index}.key", f"duplicate extra key {key}")
        value = extra.get("value")
        # Extras are strings, as in CKAN; other JSON values are kept as JSON, not as Python reprs.
        if value is not None and not isinstance(value, str):
            value = json.dumps(value, ensure_ascii=False)
        extras[key] = value
    return extras


def _upload(ctx: ActionContext):
    upload = ctx.files.get("upload")
    return (upload.filename, upload.stream) if upload is not None and upload.filename else None


def _resource_values(values: dict[str, Any]) -> dict[str, Any]:
    return {k: values[k] for k in RESOURCE_FIELDS if k in values}


def _with_prefix(prefix: str, error: ValidationError) -> ValidationError:
    return ValidationError({f"{prefix}.{k}": v for k, v in error.errors.items()})


def _unchanged(resource: Resource, values: dict[str, Any]) -> bool:
    return all(getattr(resource, field) == value or (field == "extras" and not resource.extras and not value)
               for field, value in values.items())


def _sync_resources(ctx: ActionContext, dataset: Dataset, given: list[dict[str, Any]]) -> None:
    """Make the dataset's resources ``given``, in that order: update by id, create new, delete missing."""
    existing = {r.id: r for r in dataset.resources}
    ordered: list[Resource] = []
    for index, values in enumerate(given):
        try:
            resource = existing.get(values.get("id") or "")
            if resource is not None and resource in ordered:
                raise ValidationError.single("id", f"resource {resource.id} is listed twice")
            if resource is None:
                resource = resource_service.create_resource(ctx.session, ctx.actor, dataset,
                                                            values=_resource_values(values))
            elif not _unchanged(resource, _resource_values(values)):
                # An unchanged resource sent back by a show-modify-update client is no change.
                resource_service.update_resource(ctx.session, ctx.actor, resource,
                                                 values=_resource_values(values))
        except ValidationError as error:
            raise _with_prefix(f"resources.{index}", error) from None
        ordered.append(resource)
    # Deleted last: their files are removed at once, so only after every other resource passed.
    for resource in existing.values():
        if resource not in ordered:
            resource_service.delete_resource(ctx.session, ctx.actor, resource,
                                             storage_path=ctx.config.get("STORAGE_PATH", ""))
    for position, resource in enumerate(ordered):
        resource.position = position
    ctx.session.flush()


@action("package_list", params=DatasetListParams, result={"type": "array", "items": {"type": "string"}},
        read_only=True)
def package_list(ctx: ActionContext, data: dict) -> list[str]:
    """Names of the public, published datasets."""
    return service.list_dataset_names(ctx.session, offset=data["offset"], limit=data["limit"])


@action("package_show", params=DatasetShowParams, result=DatasetOut, read_only=True)
def package_show(ctx: ActionContext, data: dict) -> dict:
    """Show a dataset by id or name."""
    return dataset_dict(ctx, service.show_dataset(ctx.session, ctx.actor, data["id"]))


@action("package_create", params=DatasetCreateParams, result=DatasetOut)
def package_create(ctx: ActionContext, data: dict) -> dict:
    """Register a dataset with its core metadata (and optionally its resources)."""
    values = {k: v for k, v in data.items() if k in service.METADATA_FIELDS}
    values["owner_org"] = data.get("owner_org")
    dataset = service.create_dataset(ctx.session, ctx.actor, values=values, tags=_tags(data),
                                     extras=_extras(data))
    for index, resource in enumerate(data.get("resources") or []):
        try:
            resource_service.create_resource(ctx.session, ctx.actor, dataset,
                                             values=_resource_values(resource), record=False)
        except ValidationError as error:
            raise _with_prefix(f"resources.{index}", error) from None
    if data.get("groups"):
        set_dataset_themes(ctx.session, ctx.actor, dataset, data["groups"])
    ctx.session.refresh(dataset, ["resources", "tags"])
    return dataset_dict(ctx, dataset)


def _target(ctx: ActionContext, data: dict) -> Dataset:
    key = data.get("id") or data.get("name")
    if not key:
        raise ValidationError.single("id", "Missing value")
    return service.show_dataset(ctx.session, ctx.actor, key)


@action("package_update", params=DatasetUpdateParams, result=DatasetOut)
def package_update(ctx: ActionContext, data: dict) -> dict:
    """Replace a dataset's metadata: fields not given are cleared; resources are kept unless given.

    As in CKAN, ``state`` and ``private`` keep their stored values when not given, so an update
    never publishes a draft or opens a private dataset by omission.
    """
    dataset = _target(ctx, data)
    values = {field: data.get(field) for field in service.METADATA_FIELDS}
    values["name"] = values["name"] or dataset.name
    for kept in ("state", "private"):
        if values[kept] is None:
            values[kept] = getattr(dataset, kept)
    values["owner_org"] = data.get("owner_org")
    tags = _tags(data)
    service.update_dataset(ctx.session, ctx.actor, dataset, values=values,
                           tags=tags if tags is not None else [], extras=_extras(data) or {},
                           metadata_modified=data.get("metadata_modified"), revision=data.get("revision"),
                           reason=data.get("reason"))
    if data.get("resources") is not None:
        _sync_resources(ctx, dataset, data["resources"])
    if data.get("groups") is not None:  # as CKAN: themes are kept unless groups is given
        set_dataset_themes(ctx.session, ctx.actor, dataset, data["groups"])
    ctx.session.refresh(dataset, ["resources", "tags"])
    return dataset_dict(ctx, dataset)


@action("package_patch", params=DatasetUpdateParams, result=DatasetOut)
def package_patch(ctx: ActionContext, data: dict) -> dict:
    """Change only the given fields of a dataset."""
    dataset = _target(ctx, data)
    service.lock_dataset(ctx.session, dataset)  # the fields not given are kept as they are now, not as read
    values = service.metadata_of(dataset)
    values.update({k: v for k, v in data.items() if k in service.METADATA_FIELDS})
    if data.get("owner_org"):
        values["owner_org"] = data["owner_org"]
    extras = _extras(data)
    service.update_dataset(ctx.session, ctx.actor, dataset, values=values, tags=_tags(data),
                           extras=extras, metadata_modified=data.get("metadata_modified"),
                           revision=data.get("revision"), reason=data.get("reason"))
    if data.get("resources") is not None:
        _sync_resources(ctx, dataset, data["resources"])
    if data.get("groups") is not None:  # as CKAN: themes are kept unless groups is given
        set_dataset_themes(ctx.session, ctx.actor, dataset, data["groups"])
    ctx.session.refresh(dataset, ["resources", "tags"])
    return dataset_dict(ctx, dataset)


@action("package_delete", params=DatasetDeleteParams, result={"type": "object", "nullable": True})
def package_delete(ctx: ActionContext, data: dict) -> None:
    """Delete a dataset (it is kept, marked deleted, for the record)."""
    dataset = service.show_dataset(ctx.session, ctx.actor, data["id"])  # unreadable: the answer for missing
    service.delete_dataset(ctx.session, ctx.actor, dataset, reason=data.get("reason"))
    return None


def _resource(ctx: ActionContext, resource_id: str) -> Resource:
    return resource_service.get_resource(ctx.session, ctx.actor, resource_id)


@action("resource_create", params=ResourceCreateParams, result=ResourceOut)
def resource_create(ctx: ActionContext, data: dict) -> dict:
    """Add a link (``url``) or an uploaded file (``upload``, multipart) to a dataset."""
    dataset = service.show_dataset(ctx.session, ctx.actor, data["package_id"])
    resource = resource_service.create_resource(
        ctx.session, ctx.actor, dataset, values=_resource_values(data), upload=_upload(ctx),
        storage_path=ctx.config.get("STORAGE_PATH", ""), site_url=ctx.config.get("SITE_URL", ""))
    return ResourceOut().dump(resource)


@action("resource_show", params=DatasetShowParams, result=ResourceOut, read_only=True)
def resource_show(ctx: ActionContext, data: dict) -> dict:
    """Show a resource by id."""
    return ResourceOut().dump(_resource(ctx, data["id"]))


@action("resource_update", params=ResourceUpdateParams, result=ResourceOut)
def resource_update(ctx: ActionContext, data: dict) -> dict:
    """Replace a resource's fields (those not given are cleared, the url is required)."""
    resource = _resource(ctx, data["id"])
    values = {field: data.get(field) for field in RESOURCE_FIELDS}
    upload = _upload(ctx)
    if upload is not None or (not values["url"] and resource.url_type == "upload"):
        values.pop("url")
    resource_service.update_resource(
        ctx.session, ctx.actor, resource, values=values, upload=upload,
        storage_path=ctx.config.get("STORAGE_PATH", ""), site_url=ctx.config.get("SITE_URL", ""))
    return ResourceOut().dump(resource)


@action("resource_patch", params=ResourceUpdateParams, result=ResourceOut)
def resource_patch(ctx: ActionContext, data: dict) -> dict:
    """Change only the given fields of a resource."""
    resource = _resource(ctx, data["id"])
    resource_service.update_resource(
        ctx.session, ctx.actor, resource, values=_resource_values(data), upload=_upload(ctx),
        storage_path=ctx.config.get("STORAGE_PATH", ""), site_url=ctx.config.get("SITE_URL", ""))
    return ResourceOut().dump(resource)


@action("resource_delete", params=DatasetShowParams, result={"type": "object", "nullable": True})
def resource_delete(ctx: ActionContext, data: dict) -> None:
    """Delete a resource and its uploaded file."""
    resource_service.delete_resource(ctx.session, ctx.actor, _resource(ctx, data["id"]),
                                     storage_path=ctx.config.get("STORAGE_PATH", ""))
    return None


@action("package_resource_reorder", params=ResourceReorderParams,
        result={"type": "object", "properties": {"id": {"type": "string"},
                                                 "order": {"type": "array", "items": {"type": "string"}}}})
def package_resource_reorder(ctx: ActionContext, data: dict) -> dict:
    """Reorder a dataset's resources: those in ``order`` first, in that order (CKAN's answer: id and order)."""
    dataset = service.show_dataset(ctx.session, ctx.actor, data["id"])
    order = resource_service.reorder_resources(ctx.session, ctx.actor, dataset, order=data["order"])
    return {"id": dataset.id, "order": order}


@action("tag_list", params=TagListParams,
        result={"type": "array", "items": {"oneOf": [{"type": "string"}, {"type": "object"}]}},
        read_only=True)
def tag_list(ctx: ActionContext, data: dict) -> list:
    """Tags used by public datasets, optionally those containing ``query``."""
    tags = service.list_tags(ctx.session, query=data["query"])
    return TagOut(many=True).dump(tags) if data["all_fields"] else [t.name for t in tags]


