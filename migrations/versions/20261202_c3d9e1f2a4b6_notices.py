"""notices: audience, kind, attachment, acknowledgements, schedule, report and recall

Revision ID: c3d9e1f2a4b6
Revises: c4e8a2f6b1d3
Create Date: 2026-12-02 00:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models.db

revision: str = "c3d9e1f2a4b6"
down_revision: str | None = "c4e8a2f6b1d3"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WHEN = ("started_at", "cancelled_at", "recalled_at", "report_edited_at")
COUNTS = ("pushed", "opted_out", "blocked")


def upgrade() -> None:
    with op.batch_alter_table("notice") as batch:
        batch.add_column(sa.Column("audience_spec", sa.JSON(), nullable=False, server_default="{}"))
        batch.add_column(
            sa.Column("kind", sa.String(length=16), nullable=False, server_default="general")
        )
        batch.add_column(sa.Column("attachment_kind", sa.String(length=16), nullable=True))
        batch.add_column(sa.Column("attachment_file_id", sa.String(length=256), nullable=True))
        batch.add_column(
            sa.Column("ask_ack", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch.add_column(sa.Column("correction_of_id", sa.Integer(), nullable=True))
        for name in COUNTS:
            batch.add_column(sa.Column(name, sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("version", sa.Integer(), nullable=False, server_default="1"))
        batch.add_column(sa.Column("report_chat_id", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("report_message_id", sa.BigInteger(), nullable=True))
        for name in WHEN:
            batch.add_column(sa.Column(name, models.db.UTCDateTime(timezone=True), nullable=True))
        batch.create_index(batch.f("ix_notice_correction_of_id"), ["correction_of_id"])
        batch.create_foreign_key(
            "fk_notice_correction_of_id_notice", "notice", ["correction_of_id"], ["id"]
        )
    op.create_table(
        "notice_compound",
        sa.Column("notice_id", sa.Integer(), nullable=False),
        sa.Column("compound_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["compound_id"], ["compound.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["notice_id"], ["notice.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("notice_id", "compound_id"),
    )
    op.create_table(
        "notice_ack",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("notice_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("created_at", models.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["notice_id"], ["notice.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["app_user.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("notice_id", "user_id"),
    )
    op.create_index(op.f("ix_notice_ack_notice_id"), "notice_ack", ["notice_id"])
    op.create_index(op.f("ix_notice_ack_user_id"), "notice_ack", ["user_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_notice_ack_user_id"), table_name="notice_ack")
    op.drop_index(op.f("ix_notice_ack_notice_id"), table_name="notice_ack")
    op.drop_table("notice_ack")
    op.drop_table("notice_compound")
    with op.batch_alter_table("notice") as batch:
        batch.drop_constraint("fk_notice_correction_of_id_notice", type_="foreignkey")
        batch.drop_index(batch.f("ix_notice_correction_of_id"))
        for name in (*WHEN, "report_message_id", "report_chat_id", "version", *COUNTS,
                     "correction_of_id", "ask_ack", "attachment_file_id", "attachment_kind",
                     "kind", "audience_spec"):  # fmt: skip
            batch.drop_column(name)
