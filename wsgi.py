"""WSGI entry point: ``gunicorn wsgi:app``."""
from catalog import create_app
from catalog.db import get_db
from catalog.search import memory

app = create_app()
# each worker loads its search replica (PostgreSQL, SEARCH_MEMORY_INDEX) at boot, in a thread: the database answers
# the plain-word searches until it is loaded
memory.warm(get_db(app).engine)
