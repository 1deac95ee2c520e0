"""The government data resource catalog (政务数据资源目录): a CKAN-compatible Flask service."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from flask import Flask

__version__ = "0.1.0"


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Build the app: defaults, then ``CATALOG_*`` environment variables, then ``config``."""
    from . import api, config as settings, db, security, web
    from .api.rawjson import CatalogJSONProvider
    from .datasets import views as dataset_views
    from .datastore import views as datastore_views
    from .exchange import views as exchange_views
    from .search import memory as search_memory

    instance_path = os.environ.get("CATALOG_INSTANCE_PATH") or (config or {}).get("INSTANCE_PATH")
    app = Flask(__name__, instance_path=instance_path, instance_relative_config=True)
    app.config.update(settings.DEFAULTS)
    app.config.update(settings.from_environment())
    app.config.update(config or {})
    settings.check(app.config)
    settings.finalize(app.config, app.instance_path)
    app.json = CatalogJSONProvider(app)  # RawJSON values (the change feed's records) as they are
    app.json.ensure_ascii = False
    app.json.sort_keys = False

    db.init_app(app)
    search_memory.attach(db.get_db(app).engine, app.config["SEARCH_MEMORY_INDEX"],
                         Path(app.instance_path) / "search-replica")
    api.init_app(app)
    app.register_blueprint(dataset_views.bp)
    app.register_blueprint(datastore_views.bp)
    app.register_blueprint(exchange_views.bp)
    web.init_app(app)
    security.init_app(app)
    return app
