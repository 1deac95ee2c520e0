"""catalog version for the search cache (issue 17): a token every catalog write replaces

Revision ID: 0018_catalog_version
Revises: 0017_groups_licenses

(The revision id keeps the name of the placeholder it fills.)
"""
import uuid

import sqlalchemy as sa
from alembic import op

revision = "0018_catalog_version"
down_revision = "0017_groups_licenses"
branch_labels = None
depends_on = None

#: The tables whose rows a search reads (its conditions, facets and display names).
TABLES = ("dataset", "resource", "tag", "dataset_tag", "dataset_group", "department", "membership")


def upgrade() -> None:
    op.create_table(
        "catalog_version",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("token", sa.String(32), nullable=False),
    )
    op.execute(sa.text("INSERT INTO catalog_version (id, token) VALUES (1, :token)")
               .bindparams(token=uuid.uuid4().hex))
    if op.get_bind().dialect.name == "postgresql":
        # Once per statement, in the writer's transaction: the new token commits (or rolls back)
        # with the write. gen_random_uuid: never the same token twice, even after a rollback.
        op.execute("""
            CREATE FUNCTION catalog_version_advance() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                UPDATE catalog_version SET token = replace(gen_random_uuid()::text, '-', '') WHERE id = 1;
                RETURN NULL;
            END $$""")
        for table in TABLES:
            op.execute(f"CREATE TRIGGER catalog_version_{table} AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE "
                       f"ON {table} FOR EACH STATEMENT EXECUTE FUNCTION catalog_version_advance()")
    else:  # SQLite has row triggers only
        for table in TABLES:
            for event in ("INSERT", "UPDATE", "DELETE"):
                op.execute(f"CREATE TRIGGER catalog_version_{table}_{event.lower()} AFTER {event} ON {table} "
                           f"BEGIN UPDATE catalog_version SET token = lower(hex(randomblob(16))) WHERE id = 1; END")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in TABLES:
            op.execute(f"DROP TRIGGER catalog_version_{table} ON {table}")
        op.execute("DROP FUNCTION catalog_version_advance()")
    else:
        for table in TABLES:
            for event in ("insert", "update", "delete"):
                op.execute(f"DROP TRIGGER catalog_version_{table}_{event}")
    op.drop_table("catalog_version")
