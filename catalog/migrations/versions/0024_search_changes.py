"""search change log: which datasets each catalogue write changed, in commit-safe order (issue 17)

``search_change``: one row per dataset a statement changed (its row, tags, resources, themes,
search-index entry), ``dataset_id`` NULL for a write that can change any search ("recompute
everything": departments, memberships, truncations), ``xid`` the writer's transaction id
(PostgreSQL, ``txid_current()``; NULL on SQLite). Written by triggers in the writer's own
transaction, next to the version tokens of migrations 0018 and 0023; the search index module logs
its own entries (``dataset_search`` is an FTS5 table on SQLite, which takes no triggers).

A cached word search keeps its hits and the log position it saw; after a write it re-evaluates
only the datasets logged since (:mod:`catalog.search.delta`). On PostgreSQL a sequence value is
taken before the commit, so a later value can commit first: the reader also re-reads the entries
of the transactions its snapshot could not see (``xid`` in the snapshot's list or at or after its
``xmax``).

``search_change_horizon`` (one row): the log is pruned to its last ``keep`` entries once it holds
twice as many; ``seq`` is the highest entry deleted and ``xid`` the oldest transaction still running
when it was (entries of transactions running then are kept). A cached answer older than the horizon
recomputes in full.

Revision ID: 0024_search_changes
Revises: 0023_search_facets
"""
import sqlalchemy as sa
from alembic import op

revision = "0024_search_changes"
down_revision = "0023_search_facets"
branch_labels = None
depends_on = None

#: How many entries the log keeps (it is pruned to this once it holds twice as many).
KEEP = 20000
#: Per table: which of its rows' columns name the dataset a write changed.
TOUCHES = {"dataset": "id", "dataset_tag": "dataset_id", "resource": "package_id", "dataset_group": "dataset_id"}
#: Tables whose writes can change which datasets any search finds or how it names them.
EVERYTHING = ("department", "membership")


def upgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    op.create_table(
        "search_change",
        sa.Column("seq", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
        sa.Column("dataset_id", sa.String(36), nullable=True),
        sa.Column("xid", sa.BigInteger, nullable=True),
        sqlite_autoincrement=True,  # never reuse a number (a reader's position must not be taken again)
    )
    op.create_table(
        "search_change_horizon",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("xid", sa.BigInteger, nullable=False),
        sa.Column("keep", sa.Integer, nullable=False),
    )
    op.execute(f"INSERT INTO search_change_horizon (id, seq, xid, keep) VALUES (1, 0, 0, {KEEP})")
    op.create_index("ix_search_change_xid", "search_change", ["xid"])
    if postgresql:
        _postgresql_upgrade()
    else:
        _sqlite_upgrade()


def _postgresql_upgrade() -> None:
    op.execute("""
        CREATE FUNCTION search_change_log(ids text[]) RETURNS void LANGUAGE plpgsql AS $$
        DECLARE
            top bigint;
            horizon record;
            running bigint;
        BEGIN
            IF ids IS NULL OR cardinality(ids) = 0 THEN
                RETURN;
            END IF;
            WITH logged AS (
                INSERT INTO search_change (dataset_id, xid)
                SELECT DISTINCT id, txid_current() FROM unnest(ids) AS id RETURNING seq)
            SELECT max(seq) INTO top FROM logged;
            SELECT seq, keep INTO horizon FROM search_change_horizon WHERE id = 1;
            IF top - horizon.seq > 2 * horizon.keep THEN
                -- entries of transactions still running stay (a reader may need them)
                running := txid_snapshot_xmin(txid_current_snapshot());
                UPDATE search_change_horizon SET seq = greatest(seq, top - keep), xid = greatest(xid, running)
                WHERE id = 1;
                DELETE FROM search_change WHERE seq <= top - horizon.keep AND xid < running;
            END IF;
        END $$""")
    for table, column in TOUCHES.items():
        for event, rows in (("INSERT", "new_rows"), ("DELETE", "old_rows"), ("UPDATE", None)):
            name = f"search_change_{table}_{event.lower()}"
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
                    PERFORM search_change_log(({ids}));
                    RETURN NULL;
                END $$""")
            op.execute(f"CREATE TRIGGER {name} AFTER {event} ON {table} REFERENCING {referencing} "
                       f"FOR EACH STATEMENT EXECUTE FUNCTION {name}()")
    op.execute("""
        CREATE FUNCTION search_change_tag_update() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM search_change_log((SELECT array_agg(DISTINCT dt.dataset_id) FROM dataset_tag dt
                                       JOIN new_rows t ON t.id = dt.tag_id));
            RETURN NULL;
        END $$""")
    op.execute("CREATE TRIGGER search_change_tag_update AFTER UPDATE ON tag REFERENCING NEW TABLE AS new_rows "
               "FOR EACH STATEMENT EXECUTE FUNCTION search_change_tag_update()")
    op.execute("""
        CREATE FUNCTION search_change_everything() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM search_change_log(ARRAY[NULL]::text[]);
            RETURN NULL;
        END $$""")
    for table in (*EVERYTHING, *TOUCHES):
        events = "INSERT OR UPDATE OR DELETE OR TRUNCATE" if table in EVERYTHING else "TRUNCATE"
        op.execute(f"CREATE TRIGGER search_change_{table}_everything AFTER {events} ON {table} "
                   f"FOR EACH STATEMENT EXECUTE FUNCTION search_change_everything()")


def _sqlite_upgrade() -> None:
    for table, column in TOUCHES.items():
        for event, ids in (("INSERT", (f"NEW.{column}",)), ("DELETE", (f"OLD.{column}",)),
                           ("UPDATE", (f"OLD.{column}", f"NEW.{column}"))):
            values = ", ".join(f"({i})" for i in dict.fromkeys(ids))
            if event == "UPDATE":  # the key rarely changes: one entry unless it did
                body = (f"INSERT INTO search_change (dataset_id) VALUES (NEW.{column}); "
                        f"INSERT INTO search_change (dataset_id) SELECT OLD.{column} "
                        f"WHERE OLD.{column} <> NEW.{column};")
            else:
                body = f"INSERT INTO search_change (dataset_id) VALUES {values};"
            op.execute(f"CREATE TRIGGER search_change_{table}_{event.lower()} AFTER {event} ON {table} "
                       f"BEGIN {body} END")
    op.execute("CREATE TRIGGER search_change_tag_update AFTER UPDATE OF name ON tag BEGIN "
               "INSERT INTO search_change (dataset_id) SELECT dataset_id FROM dataset_tag WHERE tag_id = NEW.id; END")
    for table in EVERYTHING:
        for event in ("INSERT", "UPDATE", "DELETE"):
            op.execute(f"CREATE TRIGGER search_change_{table}_{event.lower()} AFTER {event} ON {table} "
                       f"BEGIN INSERT INTO search_change (dataset_id) VALUES (NULL); END")
    # writers take turns on SQLite: prune behind the newest entry, in the writer's statement
    op.execute("""
        CREATE TRIGGER search_change_prune AFTER INSERT ON search_change
        WHEN NEW.seq - (SELECT seq FROM search_change_horizon WHERE id = 1)
             > 2 * (SELECT keep FROM search_change_horizon WHERE id = 1)
        BEGIN
            UPDATE search_change_horizon SET seq = NEW.seq - keep WHERE id = 1;
            DELETE FROM search_change WHERE seq <= (SELECT seq FROM search_change_horizon WHERE id = 1);
        END""")


def downgrade() -> None:
    names = [f"search_change_{table}_{event}" for table in TOUCHES for event in ("insert", "delete", "update")]
    if op.get_bind().dialect.name == "postgresql":
        for name in names:
            table = name[len("search_change_"):].rsplit("_", 1)[0]
            op.execute(f"DROP TRIGGER {name} ON {table}")
            op.execute(f"DROP FUNCTION {name}()")
        op.execute("DROP TRIGGER search_change_tag_update ON tag")
        op.execute("DROP FUNCTION search_change_tag_update()")
        for table in (*EVERYTHING, *TOUCHES):
            op.execute(f"DROP TRIGGER search_change_{table}_everything ON {table}")
        op.execute("DROP FUNCTION search_change_everything()")
        op.execute("DROP FUNCTION search_change_log(text[])")
    else:
        names += ["search_change_tag_update", "search_change_prune"]
        names += [f"search_change_{table}_{event}" for table in EVERYTHING for event in ("insert", "update", "delete")]
        for name in names:
            op.execute(f"DROP TRIGGER {name}")
    op.drop_table("search_change_horizon")
    op.drop_table("search_change")
