"""Secrets in sync job definitions, sealed at rest.

A job's ``source_config`` and push ``target`` hold credentials: ``token``, ``password``, ``api_key``…
values, and passwords inside URLs (``postgresql://reader:pw@host/db``). They are stored sealed —
``{"$sealed": "<Fernet token>"}`` in place of the value, under a key derived from ``SECRET_KEY`` — and
unsealed only to validate a change or to run the job. Values stored before sealing existed stay
readable as they are and are sealed on the job's next update.
"""
from __future__ import annotations

import re
from typing import Any

from cryptography.fernet import Fernet, InvalidToken

from ..auth.passwords import sealing_key
from ..errors import ValidationError

#: keys whose values are credentials (the API shows them as ***)
SECRET_KEY_NAMES = re.compile(r"(token|password|secret|api_?key|authorization)", re.IGNORECASE)
#: a URL with a password: scheme://user:password@host (group 1: everything before the password)
URL_PASSWORD = re.compile(r"(://[^:/@]+:)[^@]+@")
SEALED = "$sealed"


def _fernet(secret_key: str) -> Fernet:
    return sealing_key(secret_key, "sync")


def is_sealed(value: Any) -> bool:
    """Whether ``value`` is a sealed secret."""
    return isinstance(value, dict) and set(value) == {SEALED}


def seal(config: Any, secret_key: str) -> Any:
    """``config`` with every credential value sealed (see the module docstring)."""
    fernet = _fernet(secret_key)

    def walk(value: Any, name: str = "") -> Any:
        if is_sealed(value):
            return value
        if isinstance(value, dict):
            return {k: walk(v, str(k)) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v, name) for v in value]
        if isinstance(value, str) and value and (SECRET_KEY_NAMES.search(name) or URL_PASSWORD.search(value)):
            return {SEALED: fernet.encrypt(value.encode()).decode()}
        return value

    return walk(config)


def unseal(config: Any, secret_key: str, field: str = "source_config") -> Any:
    """``config`` (the job's ``field``) with its sealed values in clear; a value sealed under another
    ``SECRET_KEY`` is a :class:`ValidationError` naming the field to set again."""
    fernet = _fernet(secret_key)

    def walk(value: Any, path: str) -> Any:
        if is_sealed(value):
            try:
                return fernet.decrypt(str(value[SEALED]).encode()).decode()
            except (InvalidToken, ValueError):
                raise ValidationError.single(path, "this stored credential cannot be decrypted: SECRET_KEY "
                                                   "changed since it was saved; set it again (connection_update "
                                                   "or catalog connection add for a connection, sync_job_update "
                                                   "or catalog sync add for a job)") from None
        if isinstance(value, dict):
            return {k: walk(v, f"{path}.{k}") for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v, f"{path}.{i}") for i, v in enumerate(value)]
        return value

    return walk(config, field)
