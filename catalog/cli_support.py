"""What the ``catalog`` commands of every package share: the account a command acts as."""
from __future__ import annotations

import sqlalchemy as sa

from .auth.models import User
from .auth.service import get_user
from .errors import ValidationError


def cli_actor(session, username: str | None) -> User:
    """The account named by ``--as``/``--user``, else the oldest active sysadmin (a command run on the server)."""
    if username:
        return get_user(session, username)
    actor = session.scalar(sa.select(User).where(User.sysadmin.is_(True), User.state == "active").order_by(User.created))
    if actor is None:
        raise ValidationError.single("--as", "no sysadmin exists; create one with catalog user create --sysadmin")
    return actor
