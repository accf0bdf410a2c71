"""engagement: clicks, click totals, reader feedback

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "clicks",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("issue_id", sa.Integer(), nullable=False),
        sa.Column("pick_id", sa.Integer(), nullable=False),
        sa.Column("delivery_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("human", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.String(length=50), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.CheckConstraint("source IN ('redirect', 'sendgrid')", name=op.f("ck_clicks_source")),
        sa.ForeignKeyConstraint(
            ["delivery_id"], ["deliveries.id"], name=op.f("fk_clicks_delivery_id_deliveries"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["issue_id"], ["issues.id"], name=op.f("fk_clicks_issue_id_issues"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(["pick_id"], ["picks.id"], name=op.f("fk_clicks_pick_id_picks"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_clicks")),
    )
    with op.batch_alter_table("clicks", schema=None) as batch_op:
        batch_op.create_index("ix_clicks_issue_pick", ["issue_id", "pick_id"], unique=False)
        batch_op.create_index("ix_clicks_delivery", ["delivery_id", "at"], unique=False)
        batch_op.create_index("ix_clicks_at", ["at"], unique=False)

    op.create_table(
        "click_totals",
        sa.Column("pick_id", sa.Integer(), nullable=False),
        sa.Column("variant", sa.String(length=500), nullable=False),
        sa.Column("issue_id", sa.Integer(), nullable=False),
        sa.Column("human", sa.Integer(), nullable=False),
        sa.Column("machine", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["issue_id"], ["issues.id"], name=op.f("fk_click_totals_issue_id_issues"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["pick_id"], ["picks.id"], name=op.f("fk_click_totals_pick_id_picks"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("pick_id", "variant", name=op.f("pk_click_totals")),
    )
    with op.batch_alter_table("click_totals", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_click_totals_issue_id"), ["issue_id"], unique=False)

    op.create_table(
        "issue_click_totals",
        sa.Column("issue_id", sa.Integer(), nullable=False),
        sa.Column("human_clickers", sa.Integer(), nullable=False),
        sa.Column("machine_clickers", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["issue_id"], ["issues.id"], name=op.f("fk_issue_click_totals_issue_id_issues"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("issue_id", name=op.f("pk_issue_click_totals")),
    )

    op.create_table(
        "feedback",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("issue_id", sa.Integer(), nullable=False),
        sa.Column("pick_id", sa.Integer(), nullable=False),
        sa.Column("delivery_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("feed_id", sa.Integer(), nullable=True),
        sa.Column("vote", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.CheckConstraint("vote IN (-1, 1)", name=op.f("ck_feedback_vote")),
        sa.ForeignKeyConstraint(
            ["delivery_id"], ["deliveries.id"], name=op.f("fk_feedback_delivery_id_deliveries"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(["feed_id"], ["feeds.id"], name=op.f("fk_feedback_feed_id_feeds"), ondelete="SET NULL"),
        sa.ForeignKeyConstraint(
            ["issue_id"], ["issues.id"], name=op.f("fk_feedback_issue_id_issues"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(["pick_id"], ["picks.id"], name=op.f("fk_feedback_pick_id_picks"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feedback")),
        sa.UniqueConstraint("delivery_id", "pick_id", name="uq_feedback_delivery_pick"),
    )
    with op.batch_alter_table("feedback", schema=None) as batch_op:
        batch_op.create_index("ix_feedback_feed", ["feed_id"], unique=False)
        batch_op.create_index("ix_feedback_pick", ["pick_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("feedback", schema=None) as batch_op:
        batch_op.drop_index("ix_feedback_pick")
        batch_op.drop_index("ix_feedback_feed")
    op.drop_table("feedback")
    op.drop_table("issue_click_totals")
    with op.batch_alter_table("click_totals", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_click_totals_issue_id"))
    op.drop_table("click_totals")
    with op.batch_alter_table("clicks", schema=None) as batch_op:
        batch_op.drop_index("ix_clicks_at")
        batch_op.drop_index("ix_clicks_delivery")
        batch_op.drop_index("ix_clicks_issue_pick")
    op.drop_table("clicks")
