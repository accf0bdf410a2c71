"""the desk: edited titles and summaries, a featured pick, when picks arrived, desk visits, fetch runs

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("picks", schema=None) as batch_op:
        batch_op.add_column(sa.Column("title", sa.String(length=1000), nullable=True))
        batch_op.add_column(sa.Column("summary", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("featured", sa.Boolean(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("created_at", sa.DateTime(), nullable=True))
        batch_op.create_index(
            "uq_picks_featured", ["issue_id"], unique=True,
            sqlite_where=sa.text("featured"), postgresql_where=sa.text("featured"),
        )

    op.create_table(
        "desk_visits",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("seen_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_desk_visits_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", "period", name=op.f("pk_desk_visits")),
    )
    op.create_table(
        "fetch_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("started_by", sa.String(length=320), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("feeds_total", sa.Integer(), nullable=False),
        sa.Column("feeds_done", sa.Integer(), nullable=False),
        sa.Column("new_items", sa.Integer(), nullable=False),
        sa.Column("new_picks", sa.Integer(), nullable=False),
        sa.Column("errors", sa.Integer(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.CheckConstraint("state IN ('running', 'done', 'failed')", name=op.f("ck_fetch_runs_state")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fetch_runs")),
    )


def downgrade() -> None:
    op.drop_table("fetch_runs")
    op.drop_table("desk_visits")
    with op.batch_alter_table("picks", schema=None) as batch_op:
        batch_op.drop_index("uq_picks_featured")
        batch_op.drop_column("created_at")
        batch_op.drop_column("featured")
        batch_op.drop_column("summary")
        batch_op.drop_column("title")
