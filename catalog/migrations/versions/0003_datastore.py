"""datastore: record schemas, tables, records with a change sequence, quarantine; dataset.record_schema

Revision ID: 0003_datastore
Revises: 0002_search_index
Create Date: 2026-11-28 04:54:12.151609
"""
from alembic import op
import sqlalchemy as sa
import catalog.db
from sqlalchemy.dialects import postgresql

revision = '0003_datastore'
down_revision = '0002_search_index'
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table('record_schema',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('document', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('owner_org', sa.String(length=36), nullable=True),
    sa.Column('creator_user_id', sa.String(length=36), nullable=True),
    sa.Column('created', catalog.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['creator_user_id'], ['user.id'], name=op.f('fk_record_schema_creator_user_id_user'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['owner_org'], ['department.id'], name=op.f('fk_record_schema_owner_org_department'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_record_schema')),
    sa.UniqueConstraint('name', 'version', name='uq_record_schema_name_version')
    )
    op.create_table('datastore_table',
    sa.Column('resource_id', sa.String(length=36), nullable=False),
    sa.Column('fields', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('primary_key', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('record_schema', sa.String(length=120), nullable=True),
    sa.Column('schema_document', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('last_seq', sa.BigInteger(), nullable=False),
    sa.Column('created', catalog.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('modified', catalog.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['resource_id'], ['resource.id'], name=op.f('fk_datastore_table_resource_id_resource'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('resource_id', name=op.f('pk_datastore_table'))
    )
    op.create_table('quarantine',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('resource_id', sa.String(length=36), nullable=False),
    sa.Column('source', sa.String(length=100), nullable=False),
    sa.Column('row_number', sa.Integer(), nullable=True),
    sa.Column('raw', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('errors', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('created', catalog.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('resolved_at', catalog.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['resource_id'], ['resource.id'], name=op.f('fk_quarantine_resource_id_resource'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_quarantine'))
    )
    with op.batch_alter_table('quarantine', schema=None) as batch_op:
        batch_op.create_index('ix_quarantine_resource_status', ['resource_id', 'status'], unique=False)

    op.create_table('datastore_record',
    sa.Column('resource_id', sa.String(length=36), nullable=False),
    sa.Column('key', sa.String(length=500), nullable=False),
    sa.Column('seq', sa.BigInteger(), nullable=False),
    sa.Column('deleted', sa.Boolean(), nullable=False),
    sa.Column('data', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('updated_at', catalog.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['resource_id'], ['datastore_table.resource_id'], name=op.f('fk_datastore_record_resource_id_datastore_table'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('resource_id', 'key', name=op.f('pk_datastore_record'))
    )
    with op.batch_alter_table('datastore_record', schema=None) as batch_op:
        batch_op.create_index('ix_datastore_record_resource_seq', ['resource_id', 'seq'], unique=True)

    with op.batch_alter_table('dataset', schema=None) as batch_op:
        batch_op.add_column(sa.Column('record_schema', sa.String(length=120), nullable=True))




def downgrade() -> None:

    with op.batch_alter_table('dataset', schema=None) as batch_op:
        batch_op.drop_column('record_schema')

    with op.batch_alter_table('datastore_record', schema=None) as batch_op:
        batch_op.drop_index('ix_datastore_record_resource_seq')

    op.drop_table('datastore_record')
    with op.batch_alter_table('quarantine', schema=None) as batch_op:
        batch_op.drop_index('ix_quarantine_resource_status')

    op.drop_table('quarantine')
    op.drop_table('datastore_table')
    op.drop_table('record_schema')

