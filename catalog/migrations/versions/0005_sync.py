"""sync: jobs and runs

Revision ID: 0005_sync
Revises: 0004_sharing
Create Date: 2026-11-28 05:40:10.656024
"""
from alembic import op
import sqlalchemy as sa
import catalog.db
from sqlalchemy.dialects import postgresql

revision = '0005_sync'
down_revision = '0004_sharing'
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table('sync_job',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=True),
    sa.Column('package_id', sa.String(length=36), nullable=False),
    sa.Column('resource_id', sa.String(length=36), nullable=False),
    sa.Column('source', sa.String(length=50), nullable=False),
    sa.Column('source_config', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('stream', sa.String(length=200), nullable=True),
    sa.Column('mapping', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('mode', sa.String(length=20), nullable=False),
    sa.Column('write', sa.String(length=20), nullable=False),
    sa.Column('on_invalid', sa.String(length=20), nullable=False),
    sa.Column('schedule', sa.String(length=100), nullable=True),
    sa.Column('batch_size', sa.Integer(), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('state', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('creator_user_id', sa.String(length=36), nullable=True),
    sa.Column('created', catalog.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('modified', catalog.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['creator_user_id'], ['user.id'], name=op.f('fk_sync_job_creator_user_id_user'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['package_id'], ['dataset.id'], name=op.f('fk_sync_job_package_id_dataset'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['resource_id'], ['resource.id'], name=op.f('fk_sync_job_resource_id_resource'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sync_job')),
    sa.UniqueConstraint('name', name=op.f('uq_sync_job_name'))
    )
    with op.batch_alter_table('sync_job', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sync_job_package_id'), ['package_id'], unique=False)

    op.create_table('sync_run',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('job_id', sa.String(length=36), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('trigger', sa.String(length=20), nullable=False),
    sa.Column('started', catalog.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('finished', catalog.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('counts', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('error_message', sa.Text(), nullable=True),
    sa.Column('error_detail', sa.Text(), nullable=True),
    sa.Column('log', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.ForeignKeyConstraint(['job_id'], ['sync_job.id'], name=op.f('fk_sync_run_job_id_sync_job'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sync_run'))
    )
    with op.batch_alter_table('sync_run', schema=None) as batch_op:
        batch_op.create_index('ix_sync_run_job_started', ['job_id', 'started'], unique=False)




def downgrade() -> None:

    with op.batch_alter_table('sync_run', schema=None) as batch_op:
        batch_op.drop_index('ix_sync_run_job_started')

    op.drop_table('sync_run')
    with op.batch_alter_table('sync_job', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sync_job_package_id'))

    op.drop_table('sync_job')

