"""scheduler: survey answers in two taps and per plan item, plan item dates, what residents
were last told of a compound's progress

Revision ID: c4e8a2f6b1d3
Revises: e1f31565b49d
Create Date: 2026-12-02 00:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "c4e8a2f6b1d3"
down_revision: str | None = "e1f31565b49d"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("survey_answer") as batch:
        batch.add_column(sa.Column("resolved", sa.Boolean(), nullable=True))
        batch.add_column(
            sa.Column("item_scores", sa.JSON(), nullable=False, server_default=sa.text("'{}'"))
        )
        batch.alter_column("score", existing_type=sa.Integer(), nullable=True)
    with op.batch_alter_table("plan_item") as batch:
        batch.add_column(sa.Column("due_date", sa.Date(), nullable=True))
        batch.add_column(sa.Column("announced_status", sa.String(length=20), nullable=True))
        batch.add_column(sa.Column("announced_progress", sa.Integer(), nullable=True))
    with op.batch_alter_table("compound") as batch:
        batch.add_column(sa.Column("announced_stage", sa.String(length=20), nullable=True))
    op.create_index("ix_ticket_status_resolved_at", "ticket", ["status", "resolved_at"])


def downgrade() -> None:
    op.drop_index("ix_ticket_status_resolved_at", table_name="ticket")
    with op.batch_alter_table("compound") as batch:
        batch.drop_column("announced_stage")
    with op.batch_alter_table("plan_item") as batch:
        batch.drop_column("announced_progress")
        batch.drop_column("announced_status")
        batch.drop_column("due_date")
    with op.batch_alter_table("survey_answer") as batch:
        batch.alter_column("score", existing_type=sa.Integer(), nullable=False)
        batch.drop_column("item_scores")
        batch.drop_column("resolved")
