"""The action registry: every CKAN action is a function registered here with its parameters."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from marshmallow import Schema
from sqlalchemy.orm import Session

from ..auth.models import ApiToken, User


@dataclass
class ActionContext:
    """What an action knows of its caller: the session, the actor and how they authenticated."""

    session: Session
    actor: User | None
    token: ApiToken | None = None
    config: dict[str, Any] = field(default_factory=dict)
    files: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Action:
    """A registered action: ``func(ctx, data)`` with its parameter and result schemas."""

    name: str
    func: Callable[[ActionContext, dict[str, Any]], Any]
    params: type[Schema] | None
    result: Any  # a Schema class, a schema instance, or an OpenAPI dict, for the docs
    read_only: bool
    doc: str


ACTIONS: dict[str, Action] = {}


def action(name: str, *, params: type[Schema] | None = None, result: Any = None,
           read_only: bool = False):
    """Register ``func`` as the action ``name``; read-only actions also answer GET."""
    def register(func):
        if name in ACTIONS:
            raise RuntimeError(f"action {name} registered twice")
        ACTIONS[name] = Action(name=name, func=func, params=params, result=result,
                               read_only=read_only, doc=(func.__doc__ or "").strip())
        return func
    return register
