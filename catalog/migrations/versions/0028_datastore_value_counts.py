"""DataStore kept value counts (issue 17): live records per common value of each indexed field

``datastore_value_count`` (``catalog.datastore.value_counts``): per DataStore table, ``x-index`` field and value,
how many live records hold the value, for the values with more than 1,000 of them. Every write moves the kept
counts in its own transaction under the table's lock, so the total of a filter on a common value (the
households of a town) is one row, exact, instead of a count of every match (147-455 ms for 90,900 households
at 1,000,000 records on PostgreSQL, in every new process).

``datastore_table.values_seq``: the change number up to which a table's records were looked over for common
values (``catalog.datastore.value_survey``, the sync scheduler's tick); set to ``last_seq`` here for the
tables this migration keeps the values of.

Upgrade keeps the common values of every existing table: for each field its stored schema marks ``x-index``,
the live records grouped by the field's text as the filter compares it (PostgreSQL ``data ->> field``, SQLite
the JSON string), the values above 1,000 kept. One read of the table's records per marked field. A value that
becomes common later is kept by the first filter that counts it. Downgrade drops the table.

Revision ID: 0028_datastore_value_counts
Revises: 0027_search_member_index
"""
import json

import sqlalchemy as sa
from alembic import op

from catalog.datastore.record_schemas import indexed_fields

revision = "0028_datastore_value_counts"
down_revision = "0027_search_member_index"
branch_labels = None
depends_on = None

#: values with more live records than this are kept (catalog.datastore.value_counts.KEEP_ABOVE when this was written)
KEEP_ABOVE = 1000


def upgrade() -> None:
    op.create_table(
        "datastore_value_count",
        sa.Column("resource_id", sa.String(36), sa.ForeignKey("datastore_table.resource_id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("field", sa.String(64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("live", sa.BigInteger(), nullable=False, server_default="0"),
        sa.PrimaryKeyConstraint("resource_id", "field", "value"))
    op.add_column("datastore_table", sa.Column("values_seq", sa.BigInteger(), nullable=False, server_default="0"))
    op.execute("UPDATE datastore_table SET values_seq = last_seq")
    conn = op.get_bind()
    postgres = conn.dialect.name == "postgresql"
    if postgres:
        # every write to a table that keeps values updates a few of these rows: room on the page for the new
        # version keeps each update beside the old one (a heap-only tuple, no new index entry)
        op.execute("ALTER TABLE datastore_value_count SET (fillfactor = 50)")
    for resource_id, stored in conn.execute(sa.text("SELECT resource_id, schema_document FROM datastore_table")):
        document = json.loads(stored) if isinstance(stored, str) else stored
        for name in indexed_fields(document):
            if postgres:
                value, holds = "data ->> :field", "data ? :field"
            else:
                value = "json_extract(data, '$.\"' || :field || '\"')"
                holds = "json_type(data, '$.\"' || :field || '\"') = 'text'"
            conn.execute(sa.text(
                f"INSERT INTO datastore_value_count (resource_id, field, value, live) "
                f"SELECT :resource, :field, value, count(*) FROM (SELECT {value} AS value FROM datastore_record "
                f"WHERE resource_id = :resource AND NOT deleted AND {holds}) AS held "
                f"WHERE value IS NOT NULL GROUP BY value HAVING count(*) > :above"),
                {"field": name, "resource": resource_id, "above": KEEP_ABOVE})


def downgrade() -> None:
    op.drop_table("datastore_value_count")
    # ALTER TABLE … DROP COLUMN on both (SQLite 3.35 and later): a batch copy of the table would drop and
    # make it again, deleting every record through the records' ON DELETE CASCADE
    op.execute("ALTER TABLE datastore_table DROP COLUMN values_seq")
