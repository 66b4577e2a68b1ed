"""The command menus Telegram shows beside the input field (the "/" list): everyone's, and each
staff member's own, in Chinese (the default) and English."""

from __future__ import annotations

from aiogram import Bot
from aiogram.types import BotCommand, BotCommandScopeChat, BotCommandScopeDefault
from aiogram.utils.i18n import I18n

from bot.i18n import CATALOG_FOR, N_, translate
from models.tables import Role, User

COMMANDS = (
    ("start", N_("开始 / 选择小区")),
    ("menu", N_("主菜单")),
    ("report", N_("我要反映")),
    ("mine", N_("我的诉求")),
    ("board", N_("小区改造公示")),
    ("notices", N_("社区公告")),
    ("settings", N_("设置")),
    ("language", N_("语言 / Language")),
    ("help", N_("帮助")),
    ("cancel", N_("取消当前操作")),
)


async def register_commands(bot: Bot, i18n: I18n) -> None:
    """The command menu in Chinese (the default) and English."""
    for language, catalog in CATALOG_FOR.items():
        commands = [
            BotCommand(command=name, description=translate(i18n, language, text))
            for name, text in COMMANDS
        ]
        await bot.set_my_commands(
            commands,
            scope=BotCommandScopeDefault(),
            language_code=None if catalog == i18n.default_locale else language,
        )


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
