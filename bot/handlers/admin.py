"""District / city staff: worker invites and compound posters."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import Command, CommandObject
from aiogram.types import BufferedInputFile, Message
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.filters import HasRole
from bot.i18n import _
from bot.qr import deep_link, poster_png
from bot.settings import Settings
from bot.texts import local_time
from models.registry import get_compound_by_code
from models.tables import District, Role, User
from models.users import create_invite

router = Router(name=__name__)
router.message.filter(F.chat.type == "private")


@router.message(Command("invite"), ~HasRole(Role.district_staff))
async def not_admin(message: Message) -> None:
    await message.answer(_("抱歉，这个功能只对管理员开放。"))


@router.message(Command("qr"), ~HasRole(Role.worker))
async def not_staff(message: Message) -> None:
    await message.answer(_("抱歉，这个功能只对社区工作人员开放。"))


@router.message(Command("invite"), HasRole(Role.district_staff))
async def invite(
    message: Message,
    command: CommandObject,
    session: AsyncSession,
    user: User,
    settings: Settings,
    bot_username: str,
) -> None:
    codes = (command.args or "").replace(",", " ").split()
    if not codes:
        await message.answer(_("用法：/invite 小区编号…，例如 /invite hp01 hp02"))
        return
    compounds, unknown = [], []
    for code in codes:
        compound = await get_compound_by_code(session=session, code=code)
        (compounds if compound else unknown).append(compound or code)
    if unknown:
        await message.answer(_("没有这些小区编号：{codes}").format(codes=", ".join(unknown)))
        return
    try:
        created = await create_invite(
            session=session, created_by=user, compound_ids=[c.id for c in compounds]
        )
    except PermissionError:
        await message.answer(_("只能为您所管辖区内的小区生成邀请。"))
        return
    link = f"https://t.me/{bot_username}?start=w_{created.token}"
    await message.answer(
        _(
            "社区工作者邀请链接（只能使用一次，{expires} 前有效）：\n{link}\n负责小区：{names}"
        ).format(
            link=link,
            expires=local_time(created.expires_at, settings.tz),
            names="、".join(c.name for c in compounds),
        )
    )


@router.message(Command("qr"), HasRole(Role.worker))
async def qr(
    message: Message, command: CommandObject, session: AsyncSession, bot_username: str
) -> None:
    code = (command.args or "").strip()
    compound = await get_compound_by_code(session=session, code=code) if code else None
    if compound is None:
        await message.answer(_("用法：/qr 小区编号，例如 /qr hp01"))
        return
    district = await session.get(District, compound.district_id)
    png = poster_png(
        compound_name=compound.name,
        district_name=district.name if district else "",
        link=deep_link(bot_username, compound.code),
    )
    await message.answer_photo(
        BufferedInputFile(png, filename=f"{compound.code}.png"),
        caption=_("{name} 的二维码海报，可打印张贴在公示栏。").format(name=compound.name),
    )
