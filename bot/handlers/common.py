"""/start (with deep links), /help, /language, /menu, /cancel."""

from __future__ import annotations

from html import escape

from aiogram import Bot, F, Router
from aiogram.filters import Command, CommandObject, CommandStart
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, ChatMemberUpdated, Message
from aiogram.utils.i18n import I18n
from sqlmodel.ext.asyncio.session import AsyncSession

from bot import keyboards
from bot.callbacks import pressed_on
from bot.commands import register_staff_commands
from bot.demand_flow import resume_pending_demand
from bot.i18n import CATALOG_FOR, LANGUAGE_NAMES, KnownLanguages, _
from bot.keyboards import LanguageCb
from bot.screens import ask_for_compound, finish_binding, staff_help
from bot.settings import Settings
from bot.texts import enumeration
from models.registry import get_compound_by_code
from models.tables import Compound, Role, User
from models.users import InviteError, redeem_invite, set_reachable
from nlu.client import NLUClient


async def start_with_compound(
    message: Message, command: CommandObject, state: FSMContext, session: AsyncSession,
    user: User, nlu: NLUClient, settings: Settings,
) -> None:  # fmt: skip
    compound = await get_compound_by_code(session=session, code=(command.args or "")[2:])
    if compound is None:
        await message.answer(_("这个二维码对应的小区没有找到，请手动选择您的小区。"))
        await ask_for_compound(message, state)
        return
    await message.answer(
        _("您好，{name}！欢迎使用“点菜”小区改造服务。").format(name=escape(user.first_name))
    )
    await finish_binding(message, state=state, session=session, user=user, compound=compound)
    await resume_pending_demand(
        message, state=state, session=session, user=user, nlu=nlu, settings=settings
    )


async def start_with_invite(
    message: Message, command: CommandObject, session: AsyncSession, user: User, bot: Bot,
    i18n: I18n,
) -> None:  # fmt: skip
    try:
        compounds = await redeem_invite(session=session, token=(command.args or "")[2:], user=user)
    except InviteError as error:
        reasons = {
            "unknown": _("这个邀请链接无效。"),
            "used": _("这个邀请链接已经被使用过了，每个链接只能用一次。"),
            "expired": _("这个邀请链接已过期，请联系管理员重新生成。"),
        }
        await message.answer(reasons[error.reason])
        return
    names = enumeration(escape(c.name) for c in compounds)
    await session.commit()  # commit, then talk
    await register_staff_commands(bot, i18n, user)
    await message.answer(
        _("欢迎加入！您现在是以下小区的社区工作者：{names}。\n点“📥 待办”开始处理工单。").format(
            names=names
        ),
        reply_markup=keyboards.main_menu(user.role),
    )


async def start(
    message: Message, state: FSMContext, session: AsyncSession, user: User, bot: Bot, i18n: I18n
) -> None:
    await message.answer(
        _(
            "您好，{name}！我是“点菜”小区改造助手。\n"
            "小区改造改什么，请居民来“点菜”：有什么问题和建议，直接打字、发照片或位置告诉我。"
        ).format(name=escape(user.first_name))
    )
    if Role(user.role).is_staff:
        await register_staff_commands(bot, i18n, user)
        await message.answer(
            staff_help(Role(user.role)), reply_markup=keyboards.main_menu(user.role)
        )
        return
    if user.compound_id is None:
        await ask_for_compound(message, state)
        return
    compound = await session.get(Compound, user.compound_id) if user.compound_id else None
    if compound is not None:
        await message.answer(
            _("您的小区：<b>{name}</b>").format(name=escape(compound.name)),
            reply_markup=keyboards.main_menu(user.role),
        )
    else:
        await message.answer(_("请选择下面的功能："), reply_markup=keyboards.main_menu(user.role))


async def help_(message: Message, user: User) -> None:
    if Role(user.role).is_staff:
        await message.answer(
            staff_help(Role(user.role)), reply_markup=keyboards.main_menu(user.role)
        )
        return
    await message.answer(
        _(
            "<b>怎么用</b>\n"
            "• 有问题或建议：直接打字告诉我，比如“3号楼下水道又堵了”，也可以发照片、位置。\n"
            "• 👍 我也反映：邻居已经反映过同样的问题时，我会告诉您；点“👍 我也反映”就算您一票，"
            "不用重复提交，办理进展也会通知您。\n"
            "• 📋 我的诉求：看办理进度，补充说明、撤回或催办。\n"
            "• 🏘 小区改造：看本小区改造计划、大家反映最多的问题和办理情况。\n"
            "• 📢 社区公告：停水停电、施工等通知。\n"
            "• /language 切换语言，/cancel 取消当前操作。\n"
            "遇到燃气泄漏、火情等紧急情况，请先拨打 119 / 110 / 120。"
        ),
        reply_markup=keyboards.main_menu(user.role),
    )


async def menu(message: Message, user: User) -> None:
    await message.answer(_("请选择下面的功能："), reply_markup=keyboards.main_menu(user.role))


async def language(message: Message) -> None:
    await message.answer(
        _("请选择语言 / Choose your language:"), reply_markup=keyboards.languages()
    )


async def language_chosen(
    query: CallbackQuery, callback_data: LanguageCb, user: User, i18n: I18n,
    languages: KnownLanguages,
) -> None:  # fmt: skip
    if callback_data.code not in LANGUAGE_NAMES:
        await query.answer()
        return
    user.language = callback_data.code
    languages.remember(query.from_user.id, user.language)  # for the safety reply, right away
    i18n.current_locale = CATALOG_FOR[user.language]  # answer in the new language right away
    await query.answer()
    await pressed_on(query).answer(
        _("已切换为简体中文。"), reply_markup=keyboards.main_menu(user.role)
    )


async def cancel(message: Message, state: FSMContext, user: User) -> None:
    had_state = await state.get_state() is not None
    await state.clear()
    await message.answer(
        _("已取消。") if had_state else _("现在没有进行中的操作。"),
        reply_markup=keyboards.main_menu(user.role),
    )


async def membership_changed(event: ChatMemberUpdated, session: AsyncSession, user: User) -> None:
    """A resident blocked or unblocked the bot: the outbox skips people it cannot reach."""
    await set_reachable(
        session=session, user=user, reachable=event.new_chat_member.status not in ("kicked", "left")
    )


def router() -> Router:
    router = Router(name=__name__)
    router.message.filter(F.chat.type == "private")
    router.message.register(
        start_with_compound, CommandStart(deep_link=True, magic=F.args.startswith("c_"))
    )
    router.message.register(
        start_with_invite, CommandStart(deep_link=True, magic=F.args.startswith("w_"))
    )
    router.message.register(start, CommandStart())
    router.message.register(help_, Command("help"))
    router.message.register(menu, Command("menu"))
    router.message.register(language, Command("language"))
    router.callback_query.register(language_chosen, LanguageCb.filter())
    router.message.register(cancel, Command("cancel"))
    router.my_chat_member.register(membership_changed, F.chat.type == "private")
    return router
