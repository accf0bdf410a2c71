"""The initial schema.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from alembic import op

from curator.store.schema import metadata

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Pre-release: the first revision creates the tables as declared. Before the first
    # release it is frozen into explicit operations; later changes get revisions of their own.
    metadata.create_all(op.get_bind())


def downgrade() -> None:
    metadata.drop_all(op.get_bind())
