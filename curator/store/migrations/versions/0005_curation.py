"""curation: item embeddings, page kinds and word counts, editors' taste models

Revision ID: 0005
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("items", schema=None) as batch_op:
        batch_op.add_column(sa.Column("embedding", sa.LargeBinary(), nullable=True))
        batch_op.add_column(sa.Column("word_count", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("kind", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("kind_confidence", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("kind_value", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("kind_version", sa.String(length=64), nullable=True))
    op.create_table(
        "taste_models",
        sa.Column("version", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("trained_at", sa.DateTime(), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("decisions", sa.Integer(), nullable=False),
        sa.Column("model", sa.LargeBinary(), nullable=True),
        sa.PrimaryKeyConstraint("version", name=op.f("pk_taste_models")),
    )


def downgrade() -> None:
    op.drop_table("taste_models")
    with op.batch_alter_table("items", schema=None) as batch_op:
        for column in ("kind_version", "kind_value", "kind_confidence", "kind", "word_count"):
            batch_op.drop_column(column)
        batch_op.drop_column("embedding")
