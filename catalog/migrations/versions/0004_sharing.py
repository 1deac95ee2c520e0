"""sharing: share requests, grants, the hash-chained access log

Revision ID: 0004_sharing
Revises: 0003_datastore
Create Date: 2026-11-28 05:07:50.706724
"""
from alembic import op
import sqlalchemy as sa
import catalog.db
from sqlalchemy.dialects import postgresql

revision = '0004_sharing'
down_revision = '0003_datastore'
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table('access_log',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('timestamp', catalog.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('action', sa.String(length=50), nullable=False),
    sa.Column('user_id', sa.String(length=36), nullable=True),
    sa.Column('user_name', sa.String(length=100), nullable=True),
    sa.Column('departments', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('package_id', sa.String(length=36), nullable=False),
    sa.Column('owner_org', sa.String(length=36), nullable=False),
    sa.Column('resource_id', sa.String(length=36), nullable=True),
    sa.Column('params', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('record_count', sa.Integer(), nullable=False),
    sa.Column('prev_hash', sa.String(length=64), nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_access_log'))
    )
    with op.batch_alter_table('access_log', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_access_log_owner_org'), ['owner_org'], unique=False)
        batch_op.create_index(batch_op.f('ix_access_log_package_id'), ['package_id'], unique=False)

    op.create_table('access_log_head',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('last_hash', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_access_log_head'))
    )
    # The chain starts from a fixed genesis hash; writers lock this one row to append in order.
    op.execute("INSERT INTO access_log_head (id, last_hash) VALUES (1, '" + "0" * 64 + "')")
    op.create_table('share_request',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('package_id', sa.String(length=36), nullable=False),
    sa.Column('organization_id', sa.String(length=36), nullable=False),
    sa.Column('requester_id', sa.String(length=36), nullable=True),
    sa.Column('purpose', sa.Text(), nullable=False),
    sa.Column('fields', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('expires', sa.Date(), nullable=True),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('deadline', sa.Date(), nullable=False),
    sa.Column('decided_by', sa.String(length=36), nullable=True),
    sa.Column('decided_at', catalog.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('created', catalog.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['decided_by'], ['user.id'], name=op.f('fk_share_request_decided_by_user'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['organization_id'], ['department.id'], name=op.f('fk_share_request_organization_id_department'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['package_id'], ['dataset.id'], name=op.f('fk_share_request_package_id_dataset'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['requester_id'], ['user.id'], name=op.f('fk_share_request_requester_id_user'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_share_request'))
    )
    with op.batch_alter_table('share_request', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_share_request_organization_id'), ['organization_id'], unique=False)
        batch_op.create_index('ix_share_request_package_status', ['package_id', 'status'], unique=False)

    op.create_table('share_grant',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('package_id', sa.String(length=36), nullable=False),
    sa.Column('organization_id', sa.String(length=36), nullable=False),
    sa.Column('request_id', sa.String(length=36), nullable=True),
    sa.Column('fields', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('expires_at', catalog.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', catalog.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created', catalog.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['organization_id'], ['department.id'], name=op.f('fk_share_grant_organization_id_department'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['package_id'], ['dataset.id'], name=op.f('fk_share_grant_package_id_dataset'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['request_id'], ['share_request.id'], name=op.f('fk_share_grant_request_id_share_request'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_share_grant'))
    )
    with op.batch_alter_table('share_grant', schema=None) as batch_op:
        batch_op.create_index('ix_share_grant_package_org', ['package_id', 'organization_id'], unique=False)




def downgrade() -> None:

    with op.batch_alter_table('share_grant', schema=None) as batch_op:
        batch_op.drop_index('ix_share_grant_package_org')

    op.drop_table('share_grant')
    with op.batch_alter_table('share_request', schema=None) as batch_op:
        batch_op.drop_index('ix_share_request_package_status')
        batch_op.drop_index(batch_op.f('ix_share_request_organization_id'))

    op.drop_table('share_request')
    op.drop_table('access_log_head')
    with op.batch_alter_table('access_log', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_access_log_package_id'))
        batch_op.drop_index(batch_op.f('ix_access_log_owner_org'))

    op.drop_table('access_log')

