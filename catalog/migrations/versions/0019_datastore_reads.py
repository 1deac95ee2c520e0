"""DataStore read indexes, record text search (issue 17): the x-index field indexes of existing tables

Tables created before this revision hold a copy of their record schema without the ``x-index`` marks the
shipped schemas now carry (household@1: head_id_number, town): the marks are copied
into the stored documents (annotations; validation is unchanged), and the index of every marked field is
made, as ``create_table`` makes it for new tables. Downgrade drops those indexes.

Revision ID: 0019_datastore_reads
Revises: 0018_catalog_version
"""
import json

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from catalog.datastore.query import field_index_ddl
from catalog.datastore.record_schemas import indexed_fields
from schemas.registry import load_schema, parse_ref

revision = "0019_datastore_reads"
down_revision = "0018_catalog_version"
branch_labels = None
depends_on = None

_FIELD_INDEX_PREFIX = "ix_datastore_record_field_"


def _shipped(ref):
    try:
        name, version = parse_ref(ref)
        return load_schema("records", name, version)
    except (ValueError, FileNotFoundError):
        return None


def upgrade() -> None:
    conn = op.get_bind()
    dialect = conn.dialect.name
    tables = sa.table("datastore_table", sa.column("resource_id"), sa.column("record_schema"),
                      sa.column("schema_document"))
    made = set()
    for resource_id, ref, stored in conn.execute(sa.select(tables.c.resource_id, tables.c.record_schema,
                                                           tables.c.schema_document)).all():
        document = json.loads(stored) if isinstance(stored, str) else stored
        shipped = _shipped(ref) if ref else None
        properties = (document or {}).get("properties") or {}
        marked = [name for name in indexed_fields(shipped) if isinstance(properties.get(name), dict)
                  and properties[name].get("x-index") is not True]
        if marked:
            for name in marked:
                properties[name]["x-index"] = True
            conn.execute(sa.text("UPDATE datastore_table SET schema_document = :document WHERE resource_id = :id")
                         .bindparams(sa.bindparam("document", type_=sa.JSON().with_variant(
                             postgresql.JSONB(), "postgresql"))),
                         {"document": document, "id": resource_id})
        for name in indexed_fields(document):
            if name not in made:
                conn.execute(sa.text(field_index_ddl(name, dialect)))
                made.add(name)


def downgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name == "postgresql":
        names = conn.scalars(sa.text("SELECT indexname FROM pg_indexes WHERE tablename = 'datastore_record'")).all()
    else:
        names = conn.scalars(sa.text("SELECT name FROM sqlite_master WHERE type = 'index' "
                                     "AND tbl_name = 'datastore_record'")).all()
    for name in names:
        if name.startswith(_FIELD_INDEX_PREFIX):
            op.execute(f"DROP INDEX IF EXISTS {name}")
