"""catalog core: departments, users, tokens, datasets, resources, activity

Revision ID: 39efd116d8c9
Revises: 
Create Date: 2026-11-28 04:20:53.100391
"""
from alembic import op
import sqlalchemy as sa
import catalog.db
from sqlalchemy.dialects import postgresql

revision = '39efd116d8c9'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    
    op.create_table('activity',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('timestamp', catalog.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('user_id', sa.String(length=36), nullable=True),
    sa.Column('object_id', sa.String(length=36), nullable=False),
    sa.Column('department_id', sa.String(length=36), nullable=True),
    sa.Column('activity_type', sa.String(length=50), nullable=False),
    sa.Column('data', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_activity'))
    )
    with op.batch_alter_table('activity', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_activity_department_id'), ['department_id'], unique=False)
        batch_op.create_index('ix_activity_object_timestamp', ['object_id', 'timestamp'], unique=False)

    op.create_table('department',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('code', sa.String(length=18), nullable=True),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('image_url', sa.String(length=2000), nullable=True),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('created', catalog.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('modified', catalog.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_department')),
    sa.UniqueConstraint('code', name=op.f('uq_department_code')),
    sa.UniqueConstraint('name', name=op.f('uq_department_name'))
    )
    op.create_table('tag',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tag')),
    sa.UniqueConstraint('name', name=op.f('uq_tag_name'))
    )
    op.create_table('user',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('fullname', sa.String(length=200), nullable=True),
    sa.Column('email', sa.String(length=200), nullable=True),
    sa.Column('about', sa.Text(), nullable=True),
    sa.Column('password_hash', sa.String(length=255), nullable=True),
    sa.Column('sysadmin', sa.Boolean(), nullable=False),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('created', catalog.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_user')),
    sa.UniqueConstraint('name', name=op.f('uq_user_name'))
    )
    op.create_table('api_token',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('user_id', sa.String(length=36), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('scope', sa.String(length=10), nullable=False),
    sa.Column('created', catalog.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', catalog.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_used', catalog.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', catalog.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['user.id'], name=op.f('fk_api_token_user_id_user'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_token')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_api_token_token_hash'))
    )
    with op.batch_alter_table('api_token', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_api_token_user_id'), ['user_id'], unique=False)

    op.create_table('dataset',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=True),
    sa.Column('notes', sa.Text(), nullable=True),
    sa.Column('owner_org', sa.String(length=36), nullable=False),
    sa.Column('private', sa.Boolean(), nullable=False),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('type', sa.String(length=50), nullable=False),
    sa.Column('url', sa.String(length=2000), nullable=True),
    sa.Column('version', sa.String(length=100), nullable=True),
    sa.Column('author', sa.String(length=200), nullable=True),
    sa.Column('author_email', sa.String(length=200), nullable=True),
    sa.Column('maintainer', sa.String(length=200), nullable=True),
    sa.Column('maintainer_email', sa.String(length=200), nullable=True),
    sa.Column('license_id', sa.String(length=100), nullable=True),
    sa.Column('extras', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('resource_code', sa.String(length=64), nullable=True),
    sa.Column('category', sa.String(length=32), nullable=True),
    sa.Column('share_type', sa.String(length=20), nullable=True),
    sa.Column('share_condition', sa.Text(), nullable=True),
    sa.Column('share_method', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('open_type', sa.String(length=20), nullable=True),
    sa.Column('open_condition', sa.Text(), nullable=True),
    sa.Column('update_cycle', sa.String(length=20), nullable=True),
    sa.Column('publish_date', sa.Date(), nullable=True),
    sa.Column('related_codes', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('items', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('metadata_schema', sa.String(length=100), nullable=False),
    sa.Column('creator_user_id', sa.String(length=36), nullable=True),
    sa.Column('metadata_created', catalog.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('metadata_modified', catalog.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['creator_user_id'], ['user.id'], name=op.f('fk_dataset_creator_user_id_user'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['owner_org'], ['department.id'], name=op.f('fk_dataset_owner_org_department')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_dataset')),
    sa.UniqueConstraint('name', name=op.f('uq_dataset_name')),
    sa.UniqueConstraint('resource_code', name=op.f('uq_dataset_resource_code'))
    )
    with op.batch_alter_table('dataset', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_dataset_category'), ['category'], unique=False)
        batch_op.create_index(batch_op.f('ix_dataset_metadata_modified'), ['metadata_modified'], unique=False)
        batch_op.create_index(batch_op.f('ix_dataset_owner_org'), ['owner_org'], unique=False)
        batch_op.create_index(batch_op.f('ix_dataset_state'), ['state'], unique=False)

    op.create_table('membership',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('user_id', sa.String(length=36), nullable=False),
    sa.Column('department_id', sa.String(length=36), nullable=False),
    sa.Column('role', sa.String(length=10), nullable=False),
    sa.Column('created', catalog.db.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("role in ('admin', 'editor', 'member')", name=op.f('ck_membership_role')),
    sa.ForeignKeyConstraint(['department_id'], ['department.id'], name=op.f('fk_membership_department_id_department'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['user.id'], name=op.f('fk_membership_user_id_user'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_membership')),
    sa.UniqueConstraint('user_id', 'department_id', name='uq_membership_user_department')
    )
    with op.batch_alter_table('membership', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_membership_department_id'), ['department_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_membership_user_id'), ['user_id'], unique=False)

    op.create_table('dataset_tag',
    sa.Column('dataset_id', sa.String(length=36), nullable=False),
    sa.Column('tag_id', sa.String(length=36), nullable=False),
    sa.ForeignKeyConstraint(['dataset_id'], ['dataset.id'], name=op.f('fk_dataset_tag_dataset_id_dataset'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tag_id'], ['tag.id'], name=op.f('fk_dataset_tag_tag_id_tag'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('dataset_id', 'tag_id', name=op.f('pk_dataset_tag'))
    )
    with op.batch_alter_table('dataset_tag', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_dataset_tag_tag_id'), ['tag_id'], unique=False)

    op.create_table('resource',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('package_id', sa.String(length=36), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=True),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('url', sa.String(length=2000), nullable=False),
    sa.Column('url_type', sa.String(length=20), nullable=True),
    sa.Column('format', sa.String(length=50), nullable=True),
    sa.Column('mimetype', sa.String(length=100), nullable=True),
    sa.Column('size', sa.BigInteger(), nullable=True),
    sa.Column('hash', sa.String(length=100), nullable=True),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('extras', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('created', catalog.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_modified', catalog.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('metadata_modified', catalog.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['package_id'], ['dataset.id'], name=op.f('fk_resource_package_id_dataset'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_resource'))
    )
    with op.batch_alter_table('resource', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_resource_package_id'), ['package_id'], unique=False)

    


def downgrade() -> None:
    
    with op.batch_alter_table('resource', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_resource_package_id'))

    op.drop_table('resource')
    with op.batch_alter_table('dataset_tag', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_dataset_tag_tag_id'))

    op.drop_table('dataset_tag')
    with op.batch_alter_table('membership', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_membership_user_id'))
        batch_op.drop_index(batch_op.f('ix_membership_department_id'))

    op.drop_table('membership')
    with op.batch_alter_table('dataset', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_dataset_state'))
        batch_op.drop_index(batch_op.f('ix_dataset_owner_org'))
        batch_op.drop_index(batch_op.f('ix_dataset_metadata_modified'))
        batch_op.drop_index(batch_op.f('ix_dataset_category'))

    op.drop_table('dataset')
    with op.batch_alter_table('api_token', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_api_token_user_id'))

    op.drop_table('api_token')
    op.drop_table('user')
    op.drop_table('tag')
    op.drop_table('department')
    with op.batch_alter_table('activity', schema=None) as batch_op:
        batch_op.drop_index('ix_activity_object_timestamp')
        batch_op.drop_index(batch_op.f('ix_activity_department_id'))

    op.drop_table('activity')
    
