"""access log: keyed chain (a gap-free sequence number and the audit key's id on every entry)

Existing entries keep their SHA-256 chain and get no key id; ``catalog audit rekey`` checks them
under that old scheme and signs them with the audit key (docs/SECURITY.md, "Access log").

Revision ID: 0010_audit_chain
Revises: 0009_connections
"""
import sqlalchemy as sa
from alembic import op

revision = "0010_audit_chain"
down_revision = "0009_connections"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("access_log", sa.Column("seq", sa.BigInteger(), nullable=True))
    op.add_column("access_log", sa.Column("key_id", sa.String(length=16), nullable=True))
    # The old chain's order is the id order; number it 1, 2, 3 … as the keyed chain counts.
    op.execute("UPDATE access_log SET seq = ranked.n FROM "
               "(SELECT id, ROW_NUMBER() OVER (ORDER BY id) AS n FROM access_log) AS ranked "
               "WHERE access_log.id = ranked.id")
    op.create_index(op.f("ix_access_log_seq"), "access_log", ["seq"], unique=True)
    op.add_column("access_log_head", sa.Column("seq", sa.BigInteger(), server_default="0", nullable=False))
    op.execute("UPDATE access_log_head SET seq = (SELECT COUNT(*) FROM access_log)")


def downgrade() -> None:
    with op.batch_alter_table("access_log_head", schema=None) as batch_op:
        batch_op.drop_column("seq")
    with op.batch_alter_table("access_log", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_access_log_seq"))
        batch_op.drop_column("key_id")
        batch_op.drop_column("seq")
