"""Staff administration: district and city staff manage community workers (their compounds,
revoking them), create invites, and import the compound registry by sending a CSV file. QR
posters for notice boards: any staff member, for the compounds in their scope."""

from __future__ import annotations

import tempfile
from html import escape
from pathlib import Path
from typing import Any

from aiogram import Bot, F, Router
from aiogram.filters import Command, CommandObject
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.types import BufferedInputFile, CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.keyboard import InlineKeyboardBuilder
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.callbacks import pressed_on
from bot.compound_picker import on_pick, show_picker
from bot.filters import HasRole
from bot.i18n import _
from bot.qr import deep_link, poster_png
from bot.settings import Settings
from bot.texts import enumeration, local_time
from models.db import id_of
from models.plan import OutOfScope, compound_in_scope, search_in_scope
from models.registry import RegistryError, get_compound_by_code, import_as
from models.tables import Compound, District, Role, User
from models.users import (
    NotManageable,
    add_worker_compound,
    create_invite,
    managed_worker,
    managed_workers,
    remove_worker_compound,
    revoke_worker,
)

MAX_CSV_BYTES = 2 * 1024 * 1024
MAX_ERROR_LINES = 30


class StaffCb(CallbackData, prefix="sa"):
    """Ids only; models/users.py checks on every press that the worker and the compound are
    the presser's to manage."""

    action: (
        str  # list / worker / add / rm / revoke / revoke_ok / invite / inv_more / inv_go / inv_stop
    )
    worker: int = 0
    compound: int = 0


def _not_yours() -> str:
    return _("这不在您管辖的范围内，没有做任何修改。")


def _who(worker: User) -> str:
    handle = f" @{worker.username}" if worker.username else ""
    return f"{escape(worker.first_name or str(worker.telegram_id))}{handle}"


# --- workers --------------------------------------------------------------------------------


async def _workers_view(*, session: AsyncSession, user: User) -> tuple[str, InlineKeyboardMarkup]:
    workers = await managed_workers(session=session, by=user)
    lines = [_("👥 <b>社区工作者</b>（{n} 位）").format(n=len(workers))]
    builder = InlineKeyboardBuilder()
    for worker, compounds in workers:
        names = enumeration(escape(c.name) for c in compounds) or _("（没有负责的小区）")
        lines.append(_("• {who}：{names}").format(who=_who(worker), names=names))
        builder.button(
            text=worker.first_name or str(worker.telegram_id),
            callback_data=StaffCb(action="worker", worker=id_of(worker)),
        )
    if not workers:
        lines.append(_("还没有社区工作者。点“生成邀请”邀请第一位。"))
    lines += [
        "",
        _("点选工作者可以增减其负责的小区或撤销身份。发送 CSV 文件即可导入小区名录或改造项目。"),
    ]
    builder.adjust(3)
    builder.row()
    builder.button(text=_("✉️ 生成邀请"), callback_data=StaffCb(action="invite"))
    return "\n".join(lines), builder.as_markup()


async def _worker_card(
    *, session: AsyncSession, user: User, worker_id: int
) -> tuple[str, InlineKeyboardMarkup]:
    worker, compounds = await managed_worker(session=session, by=user, worker_id=worker_id)
    names = enumeration(escape(c.name) for c in compounds) or _("（没有负责的小区）")
    text = _("👤 <b>{who}</b>\n负责小区：{names}").format(who=_who(worker), names=names)
    builder = InlineKeyboardBuilder()
    for compound in compounds:
        builder.button(
            text=_("✖ 移除 {name}").format(name=compound.name),
            callback_data=StaffCb(action="rm", worker=worker_id, compound=id_of(compound)),
        )
    builder.button(text=_("➕ 添加小区"), callback_data=StaffCb(action="add", worker=worker_id))
    builder.button(
        text=_("⛔ 撤销工作者身份"), callback_data=StaffCb(action="revoke", worker=worker_id)
    )
    builder.button(text=_("« 返回"), callback_data=StaffCb(action="list"))
    builder.adjust(1)
    return text, builder.as_markup()


async def open_admin(message: Message, session: AsyncSession, user: User, **_data: Any) -> None:
    """The staff menu's 管理 button: the workers this user manages."""
    try:
        text, markup = await _workers_view(session=session, user=user)
    except NotManageable:
        await message.answer(_("抱歉，这个功能只对管理员开放。"))
        return
    await message.answer(text, reply_markup=markup)


async def not_admin(message: Message) -> None:
    await message.answer(_("抱歉，这个功能只对管理员开放。"))


async def not_staff(message: Message) -> None:
    await message.answer(_("抱歉，这个功能只对社区工作人员开放。"))


async def workers_command(message: Message, session: AsyncSession, user: User) -> None:
    await open_admin(message, session, user)


async def worker_pressed(
    query: CallbackQuery, callback_data: StaffCb, session: AsyncSession, user: User
) -> None:
    try:
        if callback_data.action == "list":
            view = await _workers_view(session=session, user=user)
        else:
            if callback_data.action == "rm":
                await remove_worker_compound(
                    session=session, by=user, worker_id=callback_data.worker,
                    compound_id=callback_data.compound,
                )  # fmt: skip
                await session.commit()
            view = await _worker_card(session=session, user=user, worker_id=callback_data.worker)
    except NotManageable:
        await query.answer(_not_yours(), show_alert=True)
        return
    await query.answer()
    await pressed_on(query).edit_text(view[0], reply_markup=view[1])


async def add_pressed(
    query: CallbackQuery, callback_data: StaffCb, state: FSMContext, **data: Any
) -> None:
    try:
        worker, _compounds = await managed_worker(
            session=data["session"], by=data["user"], worker_id=callback_data.worker
        )
    except NotManageable:
        await query.answer(_not_yours(), show_alert=True)
        return
    await query.answer()
    await show_picker(
        pressed_on(query),
        purpose="wadd",
        target=callback_data.worker,
        prompt=_("给 {who} 添加哪个小区？").format(who=_who(worker)),
        data={"state": state, **data},
    )


@on_pick("wadd")
async def compound_for_worker(
    message: Message, *, compound_id: int, target: int, session: AsyncSession, user: User,
    **_data: Any,
) -> None:  # fmt: skip
    try:
        await add_worker_compound(
            session=session, by=user, worker_id=target, compound_id=compound_id
        )
        await session.commit()
        text, markup = await _worker_card(session=session, user=user, worker_id=target)
    except NotManageable:
        await message.answer(_not_yours())
        return
    await message.answer(text, reply_markup=markup)


async def revoke_pressed(
    query: CallbackQuery, callback_data: StaffCb, session: AsyncSession, user: User
) -> None:
    try:
        worker, _compounds = await managed_worker(
            session=session, by=user, worker_id=callback_data.worker
        )
    except NotManageable:
        await query.answer(_not_yours(), show_alert=True)
        return
    builder = InlineKeyboardBuilder()
    builder.button(
        text=_("确定撤销"), callback_data=StaffCb(action="revoke_ok", worker=id_of(worker))
    )
    builder.button(text=_("« 返回"), callback_data=StaffCb(action="worker", worker=id_of(worker)))
    await query.answer()
    await pressed_on(query).edit_text(
        _(
            "确定撤销 {who} 的社区工作者身份吗？其负责的小区将被移除，"
            "其名下未办结的诉求改为待分配。"
        ).format(who=_who(worker)),
        reply_markup=builder.as_markup(),
    )


async def revoke_confirmed(
    query: CallbackQuery, callback_data: StaffCb, session: AsyncSession, user: User
) -> None:
    try:
        worker = await revoke_worker(session=session, by=user, worker_id=callback_data.worker)
    except NotManageable:
        await query.answer(_not_yours(), show_alert=True)
        return
    await session.commit()
    await query.answer()
    await pressed_on(query).edit_text(_("已撤销 {who} 的社区工作者身份。").format(who=_who(worker)))


# --- invites --------------------------------------------------------------------------------


async def _send_invite(
    message: Message, *, session: AsyncSession, user: User, settings: Settings, bot_username: str,
    compound_ids: list[int],
) -> None:  # fmt: skip
    try:
        created = await create_invite(session=session, created_by=user, compound_ids=compound_ids)
    except PermissionError:
        await message.answer(_("只能为您所管辖区内的小区生成邀请。"))
        return
    except ValueError:
        await message.answer(_("请至少选择一个小区。"))
        return
    names = [c.name for c in [await session.get(Compound, i) for i in created.compound_ids] if c]
    await session.commit()
    await message.answer(
        _(
            "社区工作者邀请链接（只能使用一次，{expires} 前有效）：\n{link}\n负责小区：{names}"
        ).format(
            link=f"https://t.me/{bot_username}?start=w_{created.token}",
            expires=local_time(created.expires_at, settings.tz),
            names=escape(enumeration(names)),
        )
    )


async def _start_invite(message: Message, state: FSMContext, data: dict[str, Any]) -> None:
    await state.update_data(invite_ids=[])
    await show_picker(
        message,
        purpose="inv",
        prompt=_("邀请的社区工作者负责哪些小区？（可以选多个）"),
        data={"state": state, **data},
    )


async def invite_command(
    message: Message, command: CommandObject, state: FSMContext, session: AsyncSession,
    user: User, settings: Settings, bot_username: str, **data: Any,
) -> None:  # fmt: skip
    words = (command.args or "").replace(",", " ").replace("，", " ").split()
    if not words:
        await _start_invite(
            message, state, {"session": session, "user": user, "settings": settings,
                             "bot_username": bot_username, **data},
        )  # fmt: skip
        return
    ids: list[int] = []
    unknown: list[str] = []
    for word in words:  # a code (hp01) or a name (南湖春晓)
        compound = await get_compound_by_code(session=session, code=word)
        if compound is None:
            found = await search_in_scope(session=session, user=user, query=word, limit=1)
            compound = found[0] if found else None
        if compound is None:
            unknown.append(word)
        else:
            ids.append(id_of(compound))
    if unknown:
        await message.answer(
            _("没有找到这些小区：{codes}").format(codes=escape(", ".join(unknown)))
        )
        return
    await _send_invite(
        message, session=session, user=user, settings=settings, bot_username=bot_username,
        compound_ids=ids,
    )  # fmt: skip


@on_pick("inv")
async def compound_for_invite(
    message: Message, *, compound_id: int, session: AsyncSession, user: User, state: FSMContext,
    **_data: Any,
) -> None:  # fmt: skip
    try:
        if not Role(user.role).oversees:
            raise OutOfScope("only district and city staff invite")
        await compound_in_scope(session=session, user=user, compound_id=compound_id)
    except OutOfScope:
        await message.answer(_not_yours())
        return
    chosen = list((await state.get_data()).get("invite_ids", []))
    if compound_id not in chosen:
        chosen.append(compound_id)
    await state.update_data(invite_ids=chosen)
    names = [c.name for c in [await session.get(Compound, i) for i in chosen] if c]
    builder = InlineKeyboardBuilder()
    builder.button(text=_("✅ 生成邀请链接"), callback_data=StaffCb(action="inv_go"))
    builder.button(text=_("➕ 再选一个小区"), callback_data=StaffCb(action="inv_more"))
    builder.button(text=_("✖ 取消"), callback_data=StaffCb(action="inv_stop"))
    builder.adjust(1, 2)
    await message.answer(
        _("已选小区：{names}").format(names=escape(enumeration(names))),
        reply_markup=builder.as_markup(),
    )


async def invite_pressed(
    query: CallbackQuery, callback_data: StaffCb, state: FSMContext, session: AsyncSession,
    user: User, settings: Settings, bot_username: str, **data: Any,
) -> None:  # fmt: skip
    await query.answer()
    message = pressed_on(query)
    if not Role(user.role).oversees:
        await message.answer(_not_yours())
        return
    if callback_data.action == "inv_stop":
        await state.update_data(invite_ids=[])
        await message.edit_text(_("已取消，没有生成邀请。"))
        return
    if callback_data.action == "inv_go":
        chosen = list((await state.get_data()).get("invite_ids", []))
        await state.update_data(invite_ids=[])
        await _send_invite(
            message,
            session=session,
            user=user,
            settings=settings,
            bot_username=bot_username,
            compound_ids=chosen,
        )
        return
    everything = {"session": session, "user": user, "settings": settings,
                  "bot_username": bot_username, **data}  # fmt: skip
    if callback_data.action == "invite" or not (await state.get_data()).get("invite_ids"):
        await _start_invite(message, state, everything)
        return
    await show_picker(message, purpose="inv", prompt=_("再选一个小区："),
                      data={"state": state, **everything})  # fmt: skip


# --- QR posters -----------------------------------------------------------------------------


@on_pick("qr")
async def poster(
    message: Message, *, compound_id: int, session: AsyncSession, user: User, bot_username: str,
    **_data: Any,
) -> None:  # fmt: skip
    try:
        compound = await compound_in_scope(session=session, user=user, compound_id=compound_id)
    except OutOfScope:
        await message.answer(_("只能为您负责的小区生成二维码海报。"))
        return
    district = await session.get(District, compound.district_id)
    png = poster_png(
        compound_name=compound.name,
        district_name=district.name if district else "",
        link=deep_link(bot_username, compound.code),
    )
    await message.answer_photo(
        BufferedInputFile(png, filename=f"{compound.code}.png"),
        caption=_("{name} 的二维码海报，可打印张贴在公示栏。").format(name=escape(compound.name)),
    )


async def qr_command(
    message: Message, command: CommandObject, state: FSMContext, session: AsyncSession,
    user: User, bot_username: str, **data: Any,
) -> None:  # fmt: skip
    word = (command.args or "").strip()
    everything = {"state": state, "session": session, "user": user, "bot_username": bot_username,
                  **data}  # fmt: skip
    if word:
        compound = await get_compound_by_code(session=session, code=word)
        if compound is None:
            found = await search_in_scope(session=session, user=user, query=word, limit=1)
            compound = found[0] if found else None
        if compound is not None:
            await poster(message, compound_id=compound.id, **everything)
            return
    await show_picker(message, purpose="qr", prompt=_("要生成哪个小区的二维码海报？"),
                      data=everything, auto_single=True)  # fmt: skip


# --- registry import ------------------------------------------------------------------------


async def registry_file(message: Message, bot: Bot, session: AsyncSession, user: User) -> None:
    document = message.document
    assert document is not None  # the handler's filter: F.document
    name = Path(document.file_name or "registry.csv").name
    if not name.lower().endswith(".csv"):
        await message.answer(_("请发送 CSV 文件（UTF-8 编码，带表头），格式见 README。"))
        return
    if (document.file_size or 0) > MAX_CSV_BYTES:
        await message.answer(_("文件太大了，最多 2 MB。"))
        return
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / name
        await bot.download(document.file_id, destination=path)
        try:
            async with session.begin_nested():
                kind, result = await import_as(session=session, user=user, path=path)
        except RegistryError as error:
            lines = [escape(line) for line in error.errors[:MAX_ERROR_LINES]]
            if len(error.errors) > MAX_ERROR_LINES:
                lines.append(_("……还有 {n} 处错误").format(n=len(error.errors) - MAX_ERROR_LINES))
            await message.answer(_("导入失败，没有写入任何内容：") + "\n" + "\n".join(lines))
            return
        except PermissionError:
            await message.answer(_not_yours())
            return
    await session.commit()
    what = _("小区") if kind == "compounds" else _("改造项目")
    await message.answer(
        _("导入完成（{what}）：新增 {created} 条，更新 {updated} 条。").format(
            what=what, created=result.created, updated=result.updated
        )
    )


def router() -> Router:
    router = Router(name=__name__)
    router.message.filter(F.chat.type == "private")
    router.message.register(not_admin, Command("invite", "workers"), ~HasRole(Role.district_staff))
    router.message.register(not_staff, Command("qr"), ~HasRole(Role.worker))
    router.message.register(workers_command, Command("workers"), HasRole(Role.district_staff))
    router.callback_query.register(
        worker_pressed, StaffCb.filter(F.action.in_({"list", "worker", "rm"}))
    )
    router.callback_query.register(add_pressed, StaffCb.filter(F.action == "add"))
    router.callback_query.register(revoke_pressed, StaffCb.filter(F.action == "revoke"))
    router.callback_query.register(revoke_confirmed, StaffCb.filter(F.action == "revoke_ok"))
    router.message.register(invite_command, Command("invite"), HasRole(Role.district_staff))
    router.callback_query.register(
        invite_pressed, StaffCb.filter(F.action.in_({"invite", "inv_more", "inv_go", "inv_stop"}))
    )
    router.message.register(qr_command, Command("qr"), HasRole(Role.worker))
    router.message.register(registry_file, F.document, HasRole(Role.district_staff))
    return router
