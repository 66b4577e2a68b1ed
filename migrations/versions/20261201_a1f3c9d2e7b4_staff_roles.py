"""staff roles: district and city staff replace admin; ticket version and plan item link

Revision ID: a1f3c9d2e7b4
Revises: 7c565226a60c
Create Date: 2026-12-01 23:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "a1f3c9d2e7b4"
down_revision: str | None = "7c565226a60c"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("app_user") as batch_op:
        batch_op.add_column(sa.Column("district_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            "fk_app_user_district_id_district", "district", ["district_id"], ["id"]
        )
        batch_op.create_index("ix_app_user_district_id", ["district_id"], unique=False)
    # Admins came from ADMIN_IDS, which now bootstrap city staff.
    op.execute("UPDATE app_user SET role = 'city_staff' WHERE role = 'admin'")
    with op.batch_alter_table("ticket") as batch_op:
        batch_op.add_column(
            sa.Column("version", sa.Integer(), server_default="1", nullable=False)
        )
        batch_op.add_column(sa.Column("plan_item_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            "fk_ticket_plan_item_id_plan_item", "plan_item", ["plan_item_id"], ["id"],
            ondelete="SET NULL",
        )
        batch_op.create_index("ix_ticket_plan_item_id", ["plan_item_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("ticket") as batch_op:
        batch_op.drop_index("ix_ticket_plan_item_id")
        batch_op.drop_constraint("fk_ticket_plan_item_id_plan_item", type_="foreignkey")
        batch_op.drop_column("plan_item_id")
        batch_op.drop_column("version")
    op.execute("UPDATE app_user SET role = 'admin' WHERE role IN ('city_staff', 'district_staff')")
    with op.batch_alter_table("app_user") as batch_op:
        batch_op.drop_index("ix_app_user_district_id")
        batch_op.drop_constraint("fk_app_user_district_id_district", type_="foreignkey")
        batch_op.drop_column("district_id")
