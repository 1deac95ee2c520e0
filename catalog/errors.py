"""Domain errors raised by the services. Only ``catalog.api`` knows their HTTP status codes."""
from __future__ import annotations


class CatalogError(Exception):
    """Base class of every error a user is meant to read."""

    def __init__(self, message: str = ""):
        super().__init__(message)
        self.message = message


class NotFound(CatalogError):
    """The object asked for does not exist, or the actor may not know that it exists."""


class NotAuthorized(CatalogError):
    """The actor is not allowed to do this."""


class ValidationError(CatalogError):
    """Input broke one or more rules; ``errors`` maps a field path to its messages."""

    def __init__(self, errors: dict[str, list[str]] | str, message: str = "Validation error"):
        if isinstance(errors, str):
            errors = {"message": [errors]}
        super().__init__(message)
        self.errors = errors

    @classmethod
    def single(cls, field: str, message: str) -> "ValidationError":
        """A validation error about one field."""
        return cls({field: [message]})


class Conflict(ValidationError):
    """The write is based on a stale version of the object, or clashes with another one."""


class BadRequest(CatalogError):
    """The request itself is malformed (not JSON, unknown action, too deep, too large)."""
