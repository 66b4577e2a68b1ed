"""月通报: on the 1st at 09:00 (Asia/Shanghai) every district staff member gets last month's
report on their district and every city staff member the report on the whole city.

The job only queues: three outbox rows per recipient (text, chart, workbook — see
bot/messages.py), rendered in the recipient's language when the sender sends them. Each row
has a dedupe key per recipient, month and part, so running the job again (another process, a
restart, every few minutes) queues nothing twice. A scheduler that was down at 09:00 on the 1st
catches up when it comes back, until the end of the 7th; later it leaves the month alone.
"""

from __future__ import annotations

from datetime import datetime, time

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.messages import REPORT_PARTS
from bot.settings import Settings
from models import outbox
from models.report import Month
from models.tables import Role, User
from models.users import worker_compound_ids

SEND_AT = time(9, 0)
CATCH_UP_DAYS = 7


def report_due(now: datetime, settings: Settings) -> Month | None:
    """The month whose report is due at ``now``: last month, from the 1st 09:00 local time
    until the end of the 7th; None otherwise."""
    local = now.astimezone(settings.tz)
    if local.day > CATCH_UP_DAYS or (local.day == 1 and local.time() < SEND_AT):
        return None
    return Month(local.year, local.month).previous()


def dedupe_key(user: User, month: Month, part: str) -> str:
    return f"monthly_report:{month}:{user.id}:{part}"


async def sweep_monthly_reports(
    *, session_factory: async_sessionmaker[AsyncSession], settings: Settings, now: datetime
) -> int:
    """Queue last month's report for every district and city staff member who has not had it.
    Returns how many reports (recipients) were queued."""
    month = report_due(now, settings)
    if month is None:
        return 0
    queued = 0
    async with session_factory() as session, session.begin():
        staff = await session.exec(
            select(User)
            .where(
                col(User.role).in_((Role.district_staff, Role.city_staff)),
                col(User.reachable).is_(True),
            )
            .order_by(col(User.id))
        )
        for user in staff.all():
            if user.role == Role.district_staff and user.district_id is None:
                continue  # no district yet: nothing to report on
            compound_ids = sorted(await worker_compound_ids(session=session, user=user))
            params = {
                "month": str(month),
                "compound_ids": compound_ids,
                "district_id": user.district_id if user.role == Role.district_staff else None,
            }
            new = False
            for part in REPORT_PARTS:
                row = await outbox.enqueue(
                    session=session,
                    recipient=user,
                    kind="monthly_report",
                    template="monthly_report",
                    params={**params, "part": part},
                    dedupe_key=dedupe_key(user, month, part),
                )
                new = new or row is not None
            queued += new
    return queued
