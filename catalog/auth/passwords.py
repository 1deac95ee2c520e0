"""Password hashing (scrypt through Werkzeug), API token secrets, and the keys that seal stored secrets."""
from __future__ import annotations

import base64
import hashlib
import secrets

from cryptography.fernet import Fernet
from werkzeug.security import check_password_hash, generate_password_hash

TOKEN_PREFIX = "cat_"
MIN_PASSWORD_LENGTH = 8


def hash_password(password: str) -> str:
    """A salted scrypt hash of ``password``."""
    return generate_password_hash(password, method="scrypt")


def password_matches(password_hash: str | None, password: str) -> bool:
    """Whether ``password`` matches the stored hash (``False`` when there is none)."""
    return bool(password_hash) and check_password_hash(password_hash, password)


def new_token_secret() -> str:
    """A new API token secret with 256 bits of randomness."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_digest(secret: str) -> str:
    """The SHA-256 digest under which a token is stored (secrets are random, so no salt is needed)."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def derived_key(secret_key: str, purpose: str) -> bytes:
    """32 bytes derived from ``secret_key`` for one ``purpose``, so no two uses of one secret share a key."""
    return hashlib.sha256(f"catalog.{purpose}.secret:".encode() + str(secret_key).encode()).digest()


def sealing_key(secret_key: str, purpose: str) -> Fernet:
    """A Fernet key derived from the app's ``SECRET_KEY`` for one ``purpose`` (what is stored sealed:
    webhook signing secrets, sync job credentials), so one purpose's ciphertext never opens another's."""
    return Fernet(base64.urlsafe_b64encode(derived_key(secret_key, purpose)))
