"""Standard Webhooks signing (https://www.standardwebhooks.com) and the secret's storage.

A secret is ``whsec_`` + base64 of 32 random bytes; the signature of a message is
``v1,`` + base64(HMAC-SHA256(secret bytes, "<webhook-id>.<webhook-timestamp>.<body>")).
Secrets are kept encrypted (Fernet) under a key derived from the app's ``SECRET_KEY``: changing
``SECRET_KEY`` makes existing subscriptions unable to sign (their deliveries fail saying so).
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from cryptography.fernet import Fernet, InvalidToken

from ..auth.passwords import sealing_key

PREFIX = "whsec_"


def new_secret() -> str:
    """A new signing secret in the ``whsec_<base64>`` form."""
    return PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def secret_bytes(secret: str) -> bytes:
    """The HMAC key of a ``whsec_`` secret."""
    return base64.b64decode(secret.removeprefix(PREFIX))


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` header value for one message."""
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_bytes(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def _fernet(secret_key: str) -> Fernet:
    return sealing_key(secret_key, "webhooks")


def encrypt_secret(secret: str, secret_key: str) -> str:
    """The secret as stored: encrypted with a key derived from ``SECRET_KEY``."""
    return _fernet(secret_key).encrypt(secret.encode()).decode()


class SecretUnavailable(Exception):
    """The stored secret cannot be decrypted (SECRET_KEY changed since the subscription was made)."""


def decrypt_secret(stored: str, secret_key: str) -> str:
    """The secret of a subscription, or :class:`SecretUnavailable`."""
    try:
        return _fernet(secret_key).decrypt(stored.encode()).decode()
    except (InvalidToken, ValueError):
        raise SecretUnavailable("the subscription's secret cannot be decrypted: SECRET_KEY changed since it "
                                "was created; delete the subscription and create it again") from None
