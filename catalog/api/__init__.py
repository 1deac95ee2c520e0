"""The CKAN-compatible Action API: registry, dispatcher, OpenAPI."""
from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register every domain's actions and the API blueprint."""
    from ..activity import actions as _activity  # noqa: F401  (registers actions)
    from ..auth import actions as _auth  # noqa: F401
    from ..connections import actions as _connections  # noqa: F401
    from ..datasets import actions as _datasets, lookup_actions as _lookups  # noqa: F401
    from ..datastore import actions as _datastore  # noqa: F401
    from ..demands import actions as _demands  # noqa: F401
    from ..departments import actions as _departments  # noqa: F401
    from ..exchange import actions as _exchange  # noqa: F401
    from ..freshness import actions as _freshness  # noqa: F401
    from ..objections import actions as _objections  # noqa: F401
    from ..groups import actions as _groups  # noqa: F401
    from ..licenses import actions as _licenses  # noqa: F401
    from ..reports import actions as _reports  # noqa: F401
    from ..review import actions as _review  # noqa: F401
    from ..search import actions as _search  # noqa: F401
    from ..sharing import actions as _sharing, grant_actions as _share_grants  # noqa: F401
    from ..sync import actions as _sync  # noqa: F401
    from ..webhooks import actions as _webhooks, init_app as init_webhooks  # noqa: F401
    from . import ckan_routes as _ckan_routes, status as _status  # noqa: F401
    from .dispatcher import bp

    app.register_blueprint(bp)
    init_webhooks(app)
