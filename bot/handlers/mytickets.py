"""我的诉求: a resident's tickets, their history, and what they can do with them
(补充说明, 撤回, 催办); staff of the compound see status buttons on the same view."""

from __future__ import annotations

from html import escape

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.keyboard import InlineKeyboardBuilder
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.attachments import attachment_of, send_photos
from bot.callbacks import pressed_on
from bot.filters import MenuButton
from bot.i18n import _
from bot.keyboards import TicketCb
from bot.screens import PageCb, send_ticket_list
from bot.settings import Settings
from bot.texts import MENU_MY_TICKETS, history_entry, local_time, status_label, too_long
from models.db import id_of
from models.lifecycle import OPEN_STATUSES, Actor, IllegalTransition
from models.limits import TooLong
from models.privacy import cut, mask_private, public_snippet
from models.tables import Ticket, TicketStatus, User
from models.tickets import (
    TicketPermissionError,
    TooSoon,
    actor_for,
    add_comment,
    can_view,
    change_status,
    endorsement_count,
    remind,
    ticket_events,
    ticket_photos,
)
from nlu.taxonomy import load_taxonomy


class StatusCb(CallbackData, prefix="ts"):
    """The author's own status change: 不满意，重新处理 (staff act from bot/handlers/staff/)."""

    id: int
    to: str


class AddInfo(StatesGroup):
    waiting = State()


async def mine(message: Message, session: AsyncSession, user: User, settings: Settings) -> None:
    await send_ticket_list(message, session=session, user=user, settings=settings, page=0)


async def page(
    query: CallbackQuery, callback_data: PageCb, session: AsyncSession, user: User,
    settings: Settings,
) -> None:  # fmt: skip
    await query.answer()
    await send_ticket_list(
        pressed_on(query),
        session=session,
        user=user,
        settings=settings,
        page=callback_data.page,
        edit=True,
    )


async def _detail_text(
    *, session: AsyncSession, ticket: Ticket, viewer: User, settings: Settings
) -> str:
    taxonomy = load_taxonomy()
    category = taxonomy.get(ticket.category)
    is_staff = (
        ticket.compound_id is not None
        and viewer.id != ticket.author_id
        and viewer.role != "resident"
    )
    original = (
        cut(ticket.text_original, 1000)
        if (viewer.id == ticket.author_id or is_staff)
        else public_snippet(ticket.text_original, 1000)
    )
    lines = [
        ("🚨 " if ticket.urgent else "")
        + _("<b>诉求 {reference}</b>").format(reference=ticket.reference),
        _("类别：{category}（{tier}）").format(
            category=category.name(viewer.language), tier=category.tier.name(viewer.language)
        ),
        _("状态：<b>{status}</b>").format(status=status_label(ticket.status)),
        _("内容：{text}").format(text=escape(original)),
    ]
    endorsements = await endorsement_count(session=session, ticket_id=id_of(ticket))
    if endorsements:
        lines.append(_("👍 {n} 位邻居附议").format(n=endorsements))
    if ticket.status in OPEN_STATUSES and ticket.accepted_at is None:
        lines.append(
            _("受理时限：{deadline}").format(
                deadline=local_time(ticket.response_due_at, settings.tz)
            )
        )
    lines.append("")
    lines.append(_("<b>办理记录</b>"))
    for event in await ticket_events(session=session, ticket_id=id_of(ticket)):
        note = escape(mask_private(event.note)) if event.note else None
        # Who acted stays private: residents see roles, not names.
        lines.append(
            f"{local_time(event.created_at, settings.tz)} {history_entry(event.action, note)}"
        )
    return "\n".join(lines)


async def _detail_markup(
    *, session: AsyncSession, ticket: Ticket, viewer: User
) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    try:
        actor = await actor_for(session=session, ticket=ticket, user=viewer)
    except TicketPermissionError:
        actor = None
    if actor == Actor.author and ticket.status in OPEN_STATUSES:
        builder.button(text=_("补充说明"), callback_data=TicketCb(id=id_of(ticket), action="add"))
        builder.button(text=_("催办"), callback_data=TicketCb(id=id_of(ticket), action="remind"))
        builder.button(text=_("撤回"), callback_data=TicketCb(id=id_of(ticket), action="withdraw"))
    elif actor == Actor.author and ticket.status == TicketStatus.resolved:
        builder.button(
            text=_("不满意，重新处理"),
            callback_data=StatusCb(id=id_of(ticket), to=TicketStatus.in_progress),
        )
    builder.adjust(3)
    return builder.as_markup()


async def _load_visible(
    query: CallbackQuery, *, session: AsyncSession, user: User, ticket_id: int
) -> Ticket | None:
    ticket = await session.get(Ticket, ticket_id)
    if ticket is None or not await can_view(session=session, ticket=ticket, user=user):
        await query.answer(_("找不到这条诉求。"), show_alert=True)
        return None
    return ticket


async def view(
    query: CallbackQuery, callback_data: TicketCb, session: AsyncSession, user: User,
    settings: Settings,
) -> None:  # fmt: skip
    ticket = await _load_visible(query, session=session, user=user, ticket_id=callback_data.id)
    if ticket is None:
        return
    await query.answer()
    message = pressed_on(query)
    await message.answer(
        await _detail_text(session=session, ticket=ticket, viewer=user, settings=settings),
        reply_markup=await _detail_markup(session=session, ticket=ticket, viewer=user),
    )
    photos = await ticket_photos(session=session, ticket=ticket, viewer=user)
    if photos:
        await send_photos(message, photos)


async def remind_pressed(
    query: CallbackQuery, callback_data: TicketCb, session: AsyncSession, user: User,
    settings: Settings,
) -> None:  # fmt: skip
    ticket = await _load_visible(query, session=session, user=user, ticket_id=callback_data.id)
    if ticket is None:
        return
    try:
        await remind(session=session, ticket=ticket, user=user)
    except TooSoon as error:
        await query.answer(
            _("24 小时内只能催办一次，{when} 后可以再催。").format(
                when=local_time(error.next_allowed, settings.tz)
            ),
            show_alert=True,
        )
        return
    except TicketPermissionError:
        await query.answer(_("这条诉求已经办结或关闭，不能催办。"), show_alert=True)
        return
    await session.commit()  # commit, then talk
    await query.answer()
    chased = _("已催办诉求 {reference}，负责的社区工作人员会收到提醒。")
    await pressed_on(query).answer(chased.format(reference=ticket.reference))


async def withdraw_pressed(query: CallbackQuery, callback_data: TicketCb) -> None:
    builder = InlineKeyboardBuilder()
    builder.button(
        text=_("确定撤回"), callback_data=TicketCb(id=callback_data.id, action="withdraw_ok")
    )
    builder.button(text=_("不撤回"), callback_data=TicketCb(id=callback_data.id, action="view"))
    await query.answer()
    await pressed_on(query).answer(
        _("确定要撤回这条诉求吗？撤回后社区将不再处理。"), reply_markup=builder.as_markup()
    )


async def withdraw_confirmed(
    query: CallbackQuery, callback_data: TicketCb, session: AsyncSession, user: User
) -> None:
    ticket = await _load_visible(query, session=session, user=user, ticket_id=callback_data.id)
    if ticket is None:
        return
    try:
        await change_status(
            session=session, ticket=ticket, target=TicketStatus.withdrawn, actor=user
        )
    except (IllegalTransition, TicketPermissionError):
        await query.answer(_("这条诉求现在不能撤回。"), show_alert=True)
        return
    await query.answer()
    await pressed_on(query).edit_text(
        _("诉求 {reference} 已撤回。").format(reference=ticket.reference)
    )


async def add_pressed(query: CallbackQuery, callback_data: TicketCb, state: FSMContext) -> None:
    await state.set_state(AddInfo.waiting)
    await state.update_data(add_to=callback_data.id)
    await query.answer()
    await pressed_on(query).answer(_("请发送要补充的文字或照片（发送 /cancel 取消）："))


async def add_received(
    message: Message, state: FSMContext, session: AsyncSession, user: User
) -> None:
    ticket = await session.get(Ticket, (await state.get_data()).get("add_to"))
    attachment = attachment_of(message)
    try:
        if ticket is None:
            raise TicketPermissionError("the ticket is gone")
        await add_comment(
            session=session, ticket=ticket, author=user, text=message.text or message.caption,
            attachments=[attachment] if attachment else [],
        )  # fmt: skip
    except TooLong as error:
        await message.answer(too_long(error))  # still adding: they try again or /cancel
        return
    except TicketPermissionError:
        await state.set_state(None)
        await message.answer(_("这条诉求已经不能补充了。"))
        return
    await state.set_state(None)
    await message.answer(_("已补充到诉求 {reference}。").format(reference=ticket.reference))


async def status_pressed(
    query: CallbackQuery, callback_data: StatusCb, session: AsyncSession,
    user: User,
) -> None:  # fmt: skip
    ticket = await _load_visible(query, session=session, user=user, ticket_id=callback_data.id)
    if ticket is None:
        return
    try:
        event = await change_status(
            session=session, ticket=ticket, target=TicketStatus(callback_data.to), actor=user
        )
    except (IllegalTransition, TicketPermissionError, ValueError):
        await query.answer(_("现在不能这样操作。"), show_alert=True)
        return
    await session.commit()  # commit, then talk
    await query.answer()
    if event.action == "reopened":
        text = _("诉求 {reference} 已重新打开，社区工作人员已收到通知，会重新处理。")
    else:
        text = _("诉求 {reference} 已更新为：{status}。")
    await pressed_on(query).answer(
        text.format(reference=ticket.reference, status=status_label(ticket.status))
    )


def router() -> Router:
    router = Router(name=__name__)
    router.message.filter(F.chat.type == "private")
    router.message.register(mine, MenuButton(MENU_MY_TICKETS))
    router.message.register(mine, Command("mine"))
    router.callback_query.register(page, PageCb.filter())
    router.callback_query.register(view, TicketCb.filter(F.action == "view"))
    router.callback_query.register(remind_pressed, TicketCb.filter(F.action == "remind"))
    router.callback_query.register(withdraw_pressed, TicketCb.filter(F.action == "withdraw"))
    router.callback_query.register(withdraw_confirmed, TicketCb.filter(F.action == "withdraw_ok"))
    router.callback_query.register(add_pressed, TicketCb.filter(F.action == "add"))
    router.message.register(add_received, AddInfo.waiting, F.text | F.photo)
    router.callback_query.register(status_pressed, StatusCb.filter())
    return router
