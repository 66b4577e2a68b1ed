"""The staff's menu buttons 📊 统计, 📢 公告 and 🏘 小区. (Their /help: bot.screens.staff_help;
their command list: bot.commands.register_staff_commands.)"""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import Command
from aiogram.fsm.context import FSMContext
from aiogram.types import Message
from sqlmodel.ext.asyncio.session import AsyncSession

from bot import keyboards
from bot.filters import HasRole, MenuButton
from bot.i18n import _
from bot.screens import open_notices, open_plan
from bot.texts import STAFF_COMPOUNDS, STAFF_NOTICES, STAFF_STATS
from models.stats import compute_kpis
from models.tables import Role, User
from models.users import worker_compound_ids
from models.workbench import queue_counts


async def stats(message: Message, session: AsyncSession, user: User) -> None:
    scope = await worker_compound_ids(session=session, user=user)
    kpis = await compute_kpis(session=session, compound_ids=scope)
    counts = await queue_counts(session=session, user=user)
    await message.answer(
        _(
            "<b>📊 三率（您负责的 {n} 个小区）</b>\n"
            "响应率 {response}（按时受理 {r_num}/{r_den}）\n"
            "解决率 {resolution}（已办结 {s_num}/{s_den}）\n"
            "满意率 {satisfaction}（满意 {f_num}/{f_den}）\n"
            "待办：新 {new} · 超时 {overdue} · 紧急 {urgent}"
        ).format(
            n=len(scope),
            response=kpis.response.percent(),
            r_num=kpis.response.numerator,
            r_den=kpis.response.denominator,
            resolution=kpis.resolution.percent(),
            s_num=kpis.resolution.numerator,
            s_den=kpis.resolution.denominator,
            satisfaction=kpis.satisfaction.percent(),
            f_num=kpis.satisfaction.numerator,
            f_den=kpis.satisfaction.denominator,
            new=counts.new,
            overdue=counts.overdue,
            urgent=counts.urgent,
        ),
        reply_markup=keyboards.main_menu(user.role),
    )


async def notices_button(message: Message, session: AsyncSession, user: User) -> None:
    await open_notices(message, session=session, user=user)


async def compounds_button(
    message: Message, state: FSMContext, session: AsyncSession, user: User
) -> None:
    await open_plan(message, session=session, user=user, state=state)


def router() -> Router:
    router = Router(name=__name__)
    router.message.register(stats, MenuButton(STAFF_STATS), HasRole(Role.worker))
    router.message.register(stats, Command("stats"), HasRole(Role.worker))
    router.message.register(notices_button, MenuButton(STAFF_NOTICES), HasRole(Role.worker))
    router.message.register(compounds_button, MenuButton(STAFF_COMPOUNDS), HasRole(Role.worker))
    return router
