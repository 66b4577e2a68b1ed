"""The staff's own menu, /help and command list (per role, in both languages), and 📊 统计."""

from __future__ import annotations

from aiogram import Bot, Router
from aiogram.filters import Command
from aiogram.fsm.context import FSMContext
from aiogram.types import BotCommand, BotCommandScopeChat, Message
from aiogram.utils.i18n import I18n
from sqlmodel.ext.asyncio.session import AsyncSession

from bot import keyboards
from bot.filters import HasRole, MenuButton
from bot.handlers.staff.notices import open_notices
from bot.handlers.staff.plan import open_plan
from bot.i18n import CATALOG_FOR, N_, _, translate
from bot.texts import STAFF_COMPOUNDS, STAFF_NOTICES, STAFF_STATS
from models.stats import compute_kpis
from models.tables import Role, User
from models.users import worker_compound_ids
from models.workbench import queue_counts

router = Router(name=__name__)

WORKER_COMMANDS = (
    ("queue", N_("待办工单")),
    ("tickets", N_("查找工单（编号或关键词）")),
    ("notice", N_("发布公告")),
    ("plan", N_("小区改造计划与进度")),
    ("stats", N_("三率统计")),
    ("qr", N_("小区二维码海报")),
    ("help", N_("帮助")),
    ("cancel", N_("取消当前操作")),
)
OVERSEER_COMMANDS = (
    ("workers", N_("社区工作者管理")),
    ("invite", N_("邀请社区工作者")),
    ("report", N_("月度通报，例如 /report 2026-11")),
)


def staff_help(role: Role) -> str:
    lines = [
        _("<b>工作台怎么用</b>"),
        _("• 📥 待办：新诉求、超时、紧急、今日到期和我负责的，点编号打开工单。"),
        _("• 在工单里：受理、派给、纳入计划、开始处理、办结、不予采纳、合并、延期、回复、请补充。"),
        _("• 直接输入编号（如 2611-0001）或关键词可以查找工单；多选后可以批量回复、办结或合并。"),
        _("• 📢 公告：给居民发通知。🏘 小区：改造计划和进度。📊 统计：三率。"),
    ]
    if role.oversees:
        lines.append(_("• /workers 管理社区工作者，/invite 生成邀请链接，/report 月度通报。"))
    lines.append(_("/cancel 取消当前操作。"))
    return "\n".join(lines)


async def register_staff_commands(bot: Bot, i18n: I18n, user: User) -> None:
    """The command menu of this staff member's chat, in both languages (Telegram shows the one
    matching the app's language)."""
    commands = WORKER_COMMANDS + (OVERSEER_COMMANDS if Role(user.role).oversees else ())
    for language, catalog in CATALOG_FOR.items():
        await bot.set_my_commands(
            [
                BotCommand(command=name, description=translate(i18n, language, text))
                for name, text in commands
            ],
            scope=BotCommandScopeChat(chat_id=user.chat_id),
            language_code=None if catalog == i18n.default_locale else language,
        )


@router.message(Command("stats"), HasRole(Role.worker))
@router.message(MenuButton(STAFF_STATS), HasRole(Role.worker))
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


@router.message(MenuButton(STAFF_NOTICES), HasRole(Role.worker))
async def notices_button(
    message: Message, state: FSMContext, session: AsyncSession, user: User
) -> None:
    await open_notices(message, state, session, user)


@router.message(MenuButton(STAFF_COMPOUNDS), HasRole(Role.worker))
async def compounds_button(
    message: Message, state: FSMContext, session: AsyncSession, user: User
) -> None:
    await open_plan(message, session, user, state)
