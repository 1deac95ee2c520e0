"""search facet counts kept per value and visibility class; the catalog version in 8 rows (issue 17)

``search_facet_member``: what each dataset that is not deleted counts under — one row per (facet,
value) with the dataset's visibility class (``owner_org``, ``state``, ``private``): facet ``''``
(the dataset itself, for the total), ``organization``, ``tags``, ``res_format`` (once per format),
``groups`` and the dataset columns ``share_type``, ``update_cycle``, ``open_type``, ``category``,
``license_id``.

``search_facet_count``: the sums of those rows per (facet, value, class), split over 8 ``slot`` s
(PostgreSQL: the writing transaction's id modulo 8; SQLite: 0) so that two transactions writing
datasets of the same department rarely wait for the same row. A search without words and filters
sums the rows of the classes its reader may see instead of counting the catalogue.

Both are kept by triggers in the writer's transaction, so they are exact for every snapshot, and
every write path (the API, the sync, bulk SQL) keeps them: a statement that writes ``dataset``,
``dataset_tag``, ``resource``, ``dataset_group`` or renames a ``tag`` recomputes the member rows
of the datasets it touched and adds the difference to the counts. PostgreSQL: statement triggers
with transition tables calling ``search_facets_refresh(ids)``, which first locks those datasets'
rows (two transactions adding tags to one dataset recompute it one after the other, each seeing
the other's commit). SQLite: row triggers (its writers take turns anyway).

The catalog version (migration 0018) becomes 8 rows: a writing transaction replaces the token of
row ``txid % 8 + 1`` (PostgreSQL) instead of the one row every catalogue write used to lock until
its commit; the search cache keys on all 8 tokens. SQLite keeps writing row 1.

Revision ID: 0023_search_facets
Revises: 0022_sync_source_hash
"""
import uuid

import sqlalchemy as sa
from alembic import op

revision = "0023_search_facets"
down_revision = "0022_sync_source_hash"
branch_labels = None
depends_on = None

#: How many version rows and count slots.
SHARDS = 8
#: Facets that are a column of ``dataset``.
COLUMNS = ("share_type", "update_cycle", "open_type", "category", "license_id")
CLASS = ("owner_org", "state", "private")


def fresh(where: str) -> str:
    """The member rows the datasets ``d`` matching ``where`` should have now (not deleted ones)."""
    live = f"({where}) AND d.state <> 'deleted'"
    cls = "d.owner_org, d.state, d.private"
    parts = [f"SELECT d.id AS dataset_id, '' AS facet, '' AS value, {cls} FROM dataset d WHERE {live}",
             f"SELECT d.id, 'organization', d.owner_org, {cls} FROM dataset d WHERE {live}"]
    parts += [f"SELECT d.id, '{c}', d.{c}, {cls} FROM dataset d WHERE {live} AND d.{c} IS NOT NULL"
              for c in COLUMNS]
    parts += [f"SELECT d.id, 'tags', t.name, {cls} FROM dataset d JOIN dataset_tag dt ON dt.dataset_id = d.id "
              f"JOIN tag t ON t.id = dt.tag_id WHERE {live}",
              f"SELECT DISTINCT d.id, 'res_format', upper(r.format), {cls} FROM dataset d "
              f"JOIN resource r ON r.package_id = d.id WHERE {live} AND r.format IS NOT NULL AND r.format <> ''",
              f"SELECT d.id, 'groups', g.group_name, {cls} FROM dataset d JOIN dataset_group g ON g.dataset_id = d.id "
              f"WHERE {live}"]
    return "\nUNION ALL ".join(parts)


#: Per table: which of its rows' columns name the datasets a write touched.
TOUCHES = {"dataset": "id", "dataset_tag": "dataset_id", "resource": "package_id", "dataset_group": "dataset_id"}
MEMBER_COLUMNS = "dataset_id, facet, value, owner_org, state, private"
COUNT_KEY = "facet, value, owner_org, state, private, slot"


def upgrade() -> None:
    op.create_table(
        "search_facet_member",
        sa.Column("dataset_id", sa.String(36), nullable=False, index=True),
        sa.Column("facet", sa.String(20), nullable=False),
        sa.Column("value", sa.String(200), nullable=False),
        sa.Column("owner_org", sa.String(36), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("private", sa.Boolean, nullable=False),
    )
    op.create_table(
        "search_facet_count",
        sa.Column("facet", sa.String(20), nullable=False),
        sa.Column("value", sa.String(200), nullable=False),
        sa.Column("owner_org", sa.String(36), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("private", sa.Boolean, nullable=False),
        sa.Column("slot", sa.SmallInteger, nullable=False),
        sa.Column("n", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("facet", "value", "owner_org", "state", "private", "slot"),
    )
    # what is there already
    op.execute(f"INSERT INTO search_facet_member ({MEMBER_COLUMNS}) {fresh('1 = 1')}")
    op.execute(f"INSERT INTO search_facet_count ({COUNT_KEY}, n) SELECT facet, value, owner_org, state, private, "
               f"0, count(*) FROM search_facet_member GROUP BY facet, value, owner_org, state, private")
    version = sa.table("catalog_version", sa.column("id", sa.Integer), sa.column("token", sa.String))
    op.bulk_insert(version, [{"id": i, "token": uuid.uuid4().hex} for i in range(2, SHARDS + 1)])
    if op.get_bind().dialect.name == "postgresql":
        _postgresql_upgrade()
    else:
        _sqlite_upgrade()


#: The member row a new tag, theme or resource adds to a live dataset — (facet, value, joins,
#: condition) over the new row ``{row}`` — unless the dataset has it already (a second resource of a
#: format counts once). Rows are inserted one statement each by executemany (a bulk load, the ORM), so
#: these add the new rows instead of recomputing the dataset.
ADDED = {
    "dataset_tag": ("'tags'", "t.name", "JOIN tag t ON t.id = {row}.tag_id", "true"),
    "dataset_group": ("'groups'", "{row}.group_name", "", "true"),
    "resource": ("'res_format'", "upper({row}.format)", "", "{row}.format IS NOT NULL AND {row}.format <> ''"),
}


def _added_rows(table: str, row: str, source: str) -> str:
    """``SELECT`` of the member rows the new rows of ``table`` (``row``, read from ``source``) add."""
    facet, value, joins, where = (part.format(row=row) for part in ADDED[table])
    column = TOUCHES[table]
    return (f"SELECT DISTINCT d.id AS dataset_id, {facet} AS facet, {value} AS value, d.owner_org, d.state, "
            f"d.private FROM {source} JOIN dataset d ON d.id = {row}.{column} {joins} "
            f"WHERE {where} AND d.state <> 'deleted' AND NOT EXISTS (SELECT 1 FROM search_facet_member m "
            f"WHERE m.dataset_id = d.id AND m.facet = {facet} AND m.value = {value})")


def _postgresql_upgrade() -> None:
    op.execute(f"""
        CREATE OR REPLACE FUNCTION catalog_version_advance() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            UPDATE catalog_version SET token = replace(gen_random_uuid()::text, '-', '')
            WHERE id = txid_current() % {SHARDS} + 1;
            RETURN NULL;
        END $$""")
    op.execute(f"""
        CREATE FUNCTION search_facets_refresh(ids text[]) RETURNS void LANGUAGE plpgsql AS $$
        BEGIN
            IF ids IS NULL OR cardinality(ids) = 0 THEN
                RETURN;
            END IF;
            -- one transaction at a time recomputes a dataset; the statements below take a new
            -- snapshot (READ COMMITTED), so they see what a transaction that held the lock committed
            PERFORM 1 FROM dataset WHERE id = ANY(ids) ORDER BY id FOR NO KEY UPDATE;
            WITH fresh AS ({fresh('d.id = ANY(ids)')}),
            current AS (SELECT {MEMBER_COLUMNS} FROM search_facet_member WHERE dataset_id = ANY(ids)),
            gone AS (SELECT * FROM current EXCEPT ALL SELECT * FROM fresh),
            came AS (SELECT * FROM fresh EXCEPT ALL SELECT * FROM current),
            removed AS (
                DELETE FROM search_facet_member m USING gone g
                WHERE m.dataset_id = g.dataset_id AND m.facet = g.facet AND m.value = g.value
                  AND m.owner_org = g.owner_org AND m.state = g.state AND m.private = g.private),
            added AS (INSERT INTO search_facet_member ({MEMBER_COLUMNS}) SELECT * FROM came),
            delta AS (
                SELECT facet, value, owner_org, state, private, sum(n) AS n FROM (
                    SELECT facet, value, owner_org, state, private, -1 AS n FROM gone
                    UNION ALL SELECT facet, value, owner_org, state, private, 1 FROM came) changes
                GROUP BY facet, value, owner_org, state, private HAVING sum(n) <> 0)
            INSERT INTO search_facet_count AS c ({COUNT_KEY}, n)
            SELECT facet, value, owner_org, state, private, txid_current() % {SHARDS}, n FROM delta
            ON CONFLICT ({COUNT_KEY}) DO UPDATE SET n = c.n + excluded.n;
        END $$""")
    for table, column in TOUCHES.items():
        for event, rows in (("INSERT", "new_rows"), ("DELETE", "old_rows"), ("UPDATE", None)):
            name = f"search_facets_{table}_{event.lower()}"
            if event == "INSERT" and table in ADDED:  # lock the datasets, then add what is new
                op.execute(f"""
                    CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$
                    BEGIN
                        PERFORM 1 FROM dataset WHERE id IN (SELECT {column} FROM new_rows) ORDER BY id
                            FOR NO KEY UPDATE;
                        WITH added AS (
                            INSERT INTO search_facet_member ({MEMBER_COLUMNS})
                            {_added_rows(table, "n", "new_rows n")}
                            RETURNING facet, value, owner_org, state, private)
                        INSERT INTO search_facet_count AS c ({COUNT_KEY}, n)
                        SELECT facet, value, owner_org, state, private, txid_current() % {SHARDS}, count(*)
                        FROM added GROUP BY facet, value, owner_org, state, private
                        ON CONFLICT ({COUNT_KEY}) DO UPDATE SET n = c.n + excluded.n;
                        RETURN NULL;
                    END $$""")
                op.execute(f"CREATE TRIGGER {name} AFTER INSERT ON {table} REFERENCING NEW TABLE AS new_rows "
                           f"FOR EACH STATEMENT EXECUTE FUNCTION {name}()")
                continue
            if event == "INSERT" and table == "dataset":  # new datasets: nothing to compare with, nobody else sees them
                op.execute(f"""
                    CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$
                    BEGIN
                        WITH added AS (
                            INSERT INTO search_facet_member ({MEMBER_COLUMNS})
                            {fresh("d.id IN (SELECT id FROM new_rows)")}
                            RETURNING facet, value, owner_org, state, private)
                        INSERT INTO search_facet_count AS c ({COUNT_KEY}, n)
                        SELECT facet, value, owner_org, state, private, txid_current() % {SHARDS}, count(*)
                        FROM added GROUP BY facet, value, owner_org, state, private
                        ON CONFLICT ({COUNT_KEY}) DO UPDATE SET n = c.n + excluded.n;
                        RETURN NULL;
                    END $$""")
                op.execute(f"CREATE TRIGGER {name} AFTER INSERT ON {table} REFERENCING NEW TABLE AS new_rows "
                           f"FOR EACH STATEMENT EXECUTE FUNCTION {name}()")
                continue
            if rows:
                ids = f"SELECT array_agg(DISTINCT {column}) FROM {rows}"
                referencing = f"{'NEW' if rows == 'new_rows' else 'OLD'} TABLE AS {rows}"
            else:
                ids = (f"SELECT array_agg(DISTINCT x) FROM (SELECT {column} AS x FROM new_rows "
                       f"UNION SELECT {column} FROM old_rows) touched")
                referencing = "NEW TABLE AS new_rows OLD TABLE AS old_rows"
            op.execute(f"""
                CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    PERFORM search_facets_refresh(({ids}));
                    RETURN NULL;
                END $$""")
            op.execute(f"CREATE TRIGGER {name} AFTER {event} ON {table} REFERENCING {referencing} "
                       f"FOR EACH STATEMENT EXECUTE FUNCTION {name}()")
    op.execute("""
        CREATE FUNCTION search_facets_tag_update() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM search_facets_refresh((SELECT array_agg(DISTINCT dt.dataset_id) FROM dataset_tag dt
                                           JOIN new_rows t ON t.id = dt.tag_id));
            RETURN NULL;
        END $$""")
    op.execute("CREATE TRIGGER search_facets_tag_update AFTER UPDATE ON tag REFERENCING NEW TABLE AS new_rows "
               "FOR EACH STATEMENT EXECUTE FUNCTION search_facets_tag_update()")


def _sqlite_refresh(where: str) -> str:
    """Trigger body statements recomputing the member rows and counts of the datasets ``where`` names."""
    upsert = f"ON CONFLICT ({COUNT_KEY}) DO UPDATE SET n = n + excluded.n"
    return f"""
        INSERT INTO search_facet_count ({COUNT_KEY}, n)
            SELECT facet, value, owner_org, state, private, 0, -count(*) FROM search_facet_member
            WHERE dataset_id IN ({where}) GROUP BY facet, value, owner_org, state, private {upsert};
        DELETE FROM search_facet_member WHERE dataset_id IN ({where});
        INSERT INTO search_facet_member ({MEMBER_COLUMNS}) {fresh(f'd.id IN ({where})')};
        INSERT INTO search_facet_count ({COUNT_KEY}, n)
            SELECT facet, value, owner_org, state, private, 0, count(*) FROM search_facet_member
            WHERE dataset_id IN ({where}) GROUP BY facet, value, owner_org, state, private {upsert};"""


def _sqlite_added(table: str) -> str:
    """Trigger body statements counting and adding the member row of a new ``table`` row (``NEW``)."""
    row = _added_rows(table, "NEW", "(SELECT 1) AS one")
    return f"""
        INSERT INTO search_facet_count ({COUNT_KEY}, n)
            SELECT facet, value, owner_org, state, private, 0, 1 FROM ({row}) AS added WHERE true
            ON CONFLICT ({COUNT_KEY}) DO UPDATE SET n = n + excluded.n;
        INSERT INTO search_facet_member ({MEMBER_COLUMNS}) {row};"""


def _sqlite_upgrade() -> None:
    for table, column in TOUCHES.items():
        for event, where in (("INSERT", f"SELECT NEW.{column}"), ("DELETE", f"SELECT OLD.{column}"),
                             ("UPDATE", f"SELECT OLD.{column} UNION SELECT NEW.{column}")):
            body = _sqlite_added(table) if event == "INSERT" and table in ADDED else _sqlite_refresh(where)
            op.execute(f"CREATE TRIGGER search_facets_{table}_{event.lower()} AFTER {event} ON {table} "
                       f"BEGIN {body} END")
    op.execute("CREATE TRIGGER search_facets_tag_update AFTER UPDATE OF name ON tag BEGIN "
               f"{_sqlite_refresh('SELECT dataset_id FROM dataset_tag WHERE tag_id = NEW.id')} END")


def downgrade() -> None:
    names = [f"search_facets_{table}_{event}" for table in TOUCHES for event in ("insert", "delete", "update")]
    names.append("search_facets_tag_update")
    if op.get_bind().dialect.name == "postgresql":
        for name in names:
            table = "tag" if name == "search_facets_tag_update" else name[len("search_facets_"):].rsplit("_", 1)[0]
            op.execute(f"DROP TRIGGER {name} ON {table}")
            op.execute(f"DROP FUNCTION {name}()")
        op.execute("DROP FUNCTION search_facets_refresh(text[])")
        op.execute("""
            CREATE OR REPLACE FUNCTION catalog_version_advance() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                UPDATE catalog_version SET token = replace(gen_random_uuid()::text, '-', '') WHERE id = 1;
                RETURN NULL;
            END $$""")
    else:
        for name in names:
            op.execute(f"DROP TRIGGER {name}")
    op.execute("DELETE FROM catalog_version WHERE id > 1")
    op.drop_table("search_facet_count")
    op.drop_table("search_facet_member")
