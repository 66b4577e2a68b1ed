"""``/report 2026-11``: the monthly report (月通报) on demand, for district staff (their
district) and city staff (the whole city) — the same text, chart and workbook the scheduler
sends on the 1st. A bare ``/report`` stays the resident's 我要反映 (bot/handlers/report.py)."""

from __future__ import annotations

from aiogram import Bot, F, Router
from aiogram.filters import Command, CommandObject
from aiogram.types import Message
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.filters import HasRole
from bot.i18n import _
from bot.messages import REPORT_PARTS, render_monthly_report, send_rendered
from bot.settings import Settings
from models.db import utcnow
from models.report import Month, build_monthly_report
from models.tables import Role, User
from models.users import worker_compound_ids


async def monthly_report(
    message: Message, command: CommandObject, session: AsyncSession, user: User,
    settings: Settings, bot: Bot,
) -> None:  # fmt: skip
    now = utcnow()
    this_month = Month.of(now, settings.tz)
    month = Month.parse(command.args or "")
    if month is None:
        await message.answer(
            _("没看懂这个月份。请按“年-月”发送，例如 /report {example}").format(
                example=this_month.previous()
            )
        )
        return
    if month > this_month:
        await message.answer(
            _("{month} 还没有到，暂无通报。上个月的是 /report {example}").format(
                month=month, example=this_month.previous()
            )
        )
        return
    report = await build_monthly_report(
        session=session,
        compound_ids=await worker_compound_ids(session=session, user=user),
        district_id=user.district_id if user.role == Role.district_staff else None,
        month=month,
        tz=settings.tz,
        now=now,
    )
    for part in REPORT_PARTS:
        rendered = await render_monthly_report(
            report, part, _=_, language=user.language, tz=settings.tz
        )
        await send_rendered(bot, message.chat.id, rendered)


def router() -> Router:
    router = Router(name=__name__)
    router.message.filter(F.chat.type == "private", HasRole(Role.district_staff))
    router.message.register(monthly_report, Command("report", magic=F.args))
    return router
