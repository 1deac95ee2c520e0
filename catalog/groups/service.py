"""Themes (CKAN groups): list them, show one with its datasets, file a dataset under themes.

The themes are fixed by GB/T 21063.4 (shipped data), so there is no group to create or edit; what changes
is which datasets are filed under which theme. Whoever edits a dataset (its department's editors and
admins, sysadmins) files it, as CKAN lets a dataset's editors set its ``groups``.
"""
from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ..activity.service import record_activity
from ..auth import rules
from ..auth.models import User
from ..datasets.models import Dataset
from ..datasets.service import metadata_of, touch
from ..errors import NotFound, ValidationError
from ..search.index import index_dataset
from ..webhooks.service import metadata_changed as announce_metadata_changed
from .models import DatasetGroup
from .themes import theme_title, themes

SORTS = ("name", "title", "package_count")


def get_theme(id_or_name: str) -> str:
    """The theme code named by ``id_or_name`` (its code is both), or :class:`NotFound`."""
    if id_or_name not in themes():
        raise NotFound(f"Group not found: {id_or_name}")
    return id_or_name


def theme_counts(session: Session, actor: User | None, codes: list[str] | None = None) -> dict[str, int]:
    """How many datasets the actor can see under each theme."""
    table = Dataset.__table__
    query = sa.select(DatasetGroup.group_name, sa.func.count()).join(
        table, table.c.id == DatasetGroup.dataset_id).where(
        rules.readable_datasets_clause(session, actor, table)).group_by(DatasetGroup.group_name)
    if codes is not None:
        query = query.where(DatasetGroup.group_name.in_(codes))
    return dict(session.execute(query).all())


def list_themes(session: Session, actor: User | None, *, q: str | None = None, sort: str = "title asc",
                offset: int = 0, limit: int | None = None, names: list[str] | None = None,
                lang: str = "zh") -> list[str]:
    """Theme codes filtered by a substring of code or name (either language) and by codes, sorted, paged."""
    codes = list(themes())
    if names is not None:
        codes = [c for c in codes if c in names]
    if q:
        needle = q.lower()
        codes = [c for c in codes if needle in c or any(needle in n.lower() for n in themes()[c].values())]
    field, _, direction = sort.strip().partition(" ")
    direction = direction.strip().lower()
    if field not in SORTS:
        raise ValidationError.single("sort", "can sort by " + ", ".join(SORTS) + " only")
    if direction not in ("", "asc", "desc"):
        raise ValidationError.single("sort", "direction must be asc or desc")
    counts = theme_counts(session, actor, codes) if field == "package_count" else {}
    key = {"name": lambda c: c, "title": lambda c: theme_title(c, lang),
           "package_count": lambda c: counts.get(c, 0)}[field]
    codes.sort(key=key, reverse=direction == "desc")  # stable: ties stay in code order either way
    end = None if limit is None else offset + limit
    return codes[offset:end]


def theme_datasets(session: Session, actor: User | None, code: str, *, offset: int = 0,
                   limit: int = 1000) -> list[Dataset]:
    """The datasets under a theme that the actor can see, the last changed first."""
    table = Dataset.__table__
    return list(session.scalars(sa.select(Dataset).join(
        DatasetGroup, DatasetGroup.dataset_id == Dataset.id).where(
        DatasetGroup.group_name == code, rules.readable_datasets_clause(session, actor, table)).order_by(
        Dataset.metadata_modified.desc(), Dataset.id).offset(offset).limit(limit)))


def themes_of(session: Session, dataset_ids: list[str]) -> dict[str, list[str]]:
    """Dataset id -> the theme codes it is filed under, in code order."""
    found: dict[str, list[str]] = {}
    if not dataset_ids:
        return found
    rows = session.execute(sa.select(DatasetGroup.dataset_id, DatasetGroup.group_name).where(
        DatasetGroup.dataset_id.in_(dataset_ids)).order_by(DatasetGroup.group_name))
    for dataset_id, code in rows:
        found.setdefault(dataset_id, []).append(code)
    return found


def _require_editor(session: Session, actor: User | None, dataset: Dataset) -> None:
    rules.require(rules.can_edit_datasets_of(session, actor, dataset.owner_org),
                  "Only the dataset's department editors and admins can file it under themes")


def set_dataset_themes(session: Session, actor: User | None, dataset: Dataset,
                       groups: list[Any]) -> bool:
    """File the dataset under exactly these themes (``[{"name": …}]``, ``[{"id": …}]`` or codes); True if changed.

    Unlike CKAN, which skips a group it cannot find, an unknown theme is a 409 naming it: the list is fixed.
    """
    _require_editor(session, actor, dataset)
    wanted: list[str] = []
    for index, group in enumerate(groups):
        code = (group.get("name") or group.get("id")) if isinstance(group, dict) else group
        if not isinstance(code, str) or not code:
            raise ValidationError.single(f"groups.{index}.name", "Missing value")
        if code not in themes():
            raise ValidationError.single(f"groups.{index}.name",
                                         f"{code} is not a theme: themes are the GB/T 21063.4 theme items "
                                         "(group_list)")
        if code not in wanted:
            wanted.append(code)
    current = {row.group_name: row for row in session.scalars(
        sa.select(DatasetGroup).where(DatasetGroup.dataset_id == dataset.id))}
    if set(current) == set(wanted):
        return False
    for code, row in current.items():
        if code not in wanted:
            session.delete(row)
    for code in wanted:
        if code not in current:
            session.add(DatasetGroup(dataset_id=dataset.id, group_name=code))
    _refiled(session, actor, dataset, sorted(current), sorted(wanted))
    return True


def _refiled(session: Session, actor: User | None, dataset: Dataset, old: list[str], new: list[str]) -> None:
    """A dataset's themes changed: it is modified now (harvesters see it), re-indexed, the activity names
    the change, and the webhooks announce it, as for any other change of its metadata."""
    touch(dataset)
    session.flush()
    index_dataset(session, dataset)
    record_activity(session, actor, object_id=dataset.id, department_id=dataset.owner_org,
                    activity_type="changed package",
                    data={"package": metadata_of(dataset), "changes": [{"field": "groups", "old": old, "new": new}]})
    announce_metadata_changed(session, dataset)


def file_dataset(session: Session, actor: User | None, dataset: Dataset, code: str) -> None:
    """Put the dataset under one more theme (``member_create``); already there is no change."""
    _require_editor(session, actor, dataset)
    code = get_theme(code)
    if session.get(DatasetGroup, (dataset.id, code)) is None:
        old = themes_of(session, [dataset.id]).get(dataset.id, [])
        session.add(DatasetGroup(dataset_id=dataset.id, group_name=code))
        _refiled(session, actor, dataset, old, sorted(old + [code]))


def unfile_dataset(session: Session, actor: User | None, dataset: Dataset, code: str) -> None:
    """Take the dataset out of a theme (``member_delete``); not there is :class:`NotFound`."""
    _require_editor(session, actor, dataset)
    row = session.get(DatasetGroup, (dataset.id, get_theme(code)))
    if row is None:
        raise NotFound(f"Dataset {dataset.name} is not in group {code}")
    old = themes_of(session, [dataset.id]).get(dataset.id, [])
    session.delete(row)
    _refiled(session, actor, dataset, old, [c for c in old if c != code])
