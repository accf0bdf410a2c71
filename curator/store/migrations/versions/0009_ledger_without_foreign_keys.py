"""the send ledger without foreign keys and without its batch_key index: a freeze writes a
million rows, and PostgreSQL checked each one's issue and subscriber with a trigger (6 of its
15 seconds); every state change of a row wrote a batch_key index entry too. A batch's rows are
found among its issue's open rows instead, through the claim index.

The freeze is their only writer: it copies ids it reads from issues and subscribers in the
same statement, so they exist by construction. Nothing deletes an issue, and erasing a
subscriber (subscribers._privacy.erase) empties its ledger rows' subscriber_id itself before
the subscriber row goes.

Revision ID: 0009
Revises: 0008
"""

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("fk_deliveries_issue_id_issues"), type_="foreignkey")
        batch_op.drop_constraint(op.f("fk_deliveries_subscriber_id_subscribers"), type_="foreignkey")
        batch_op.drop_index("ix_deliveries_batch")


def downgrade() -> None:
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.create_index("ix_deliveries_batch", ["batch_key"], unique=False)
        batch_op.create_foreign_key(
            op.f("fk_deliveries_issue_id_issues"), "issues", ["issue_id"], ["id"], ondelete="CASCADE"
        )
        batch_op.create_foreign_key(
            op.f("fk_deliveries_subscriber_id_subscribers"), "subscribers", ["subscriber_id"], ["id"],
            ondelete="SET NULL",
        )
