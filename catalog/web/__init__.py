"""The web interface for department data officers and the data authority (server-rendered, zh/en).

Pages call the same service functions as the Action API; templates only lay the results out.
"""
from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register translations, the browser login, CSRF protection and the pages."""
    from . import common, i18n, login
    from . import groups as _groups  # noqa: F401  (/group: themes)
    from . import account, dashboard, datasets, demands, departments, health, objections, resources, review, search, sharing, sync  # noqa: F401
    from . import reports as _reports  # noqa: F401  (/report/quarterly: catalog/reports)

    i18n.init_app(app)
    login.init_app(app)
    common.init_csrf(app)
    app.register_blueprint(common.bp)
    common.init_error_pages(app)
