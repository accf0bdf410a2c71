"""subscribers: only my topics, address change, unsubscribe reason, welcome; the schedule edited by ops

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("subscribers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("only_my_topics", sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column("new_email", sa.String(length=320), nullable=True))
        batch_op.add_column(sa.Column("unsubscribe_reason", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("welcomed_at", sa.DateTime(), nullable=True))
    op.create_table(
        "schedule_overrides",
        sa.Column("job", sa.String(length=50), nullable=False),
        sa.Column("fields", sa.String(length=300), nullable=False),
        sa.Column("updated_by", sa.String(length=320), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("job", name=op.f("pk_schedule_overrides")),
    )


def downgrade() -> None:
    op.drop_table("schedule_overrides")
    with op.batch_alter_table("subscribers", schema=None) as batch_op:
        batch_op.drop_column("welcomed_at")
        batch_op.drop_column("unsubscribe_reason")
        batch_op.drop_column("new_email")
        batch_op.drop_column("only_my_topics")
