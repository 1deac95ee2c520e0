"""Fixtures of the share workflow tests (the cast lives in tests/sharing/cast.py)."""
from tests.sharing.cast import share_cast  # noqa: F401  (the fixture)
