"""Staff acting on one ticket: the presses on its card (bot/staff_card.py), the choices and the
note an action asks for, the response templates, the action carried out.

Every press is checked in models/ (scope, lifecycle, version). A press on a stale card gets the
fresh card before any text is asked for; a note typed for a ticket someone changed meanwhile is
shown back, never thrown away.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import TypedDict

from aiogram import F, Router
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message
from aiogram.utils.keyboard import InlineKeyboardBuilder
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.attachments import attachment_of, send_photos
from bot.callbacks import pressed_on
from bot.filters import HasRole
from bot.i18n import N_, _
from bot.keyboards import TicketCb
from bot.settings import Settings
from bot.staff_card import (
    PENDING_KEY,
    PendingAction,
    StaffFlow,
    StaffTicketCb,
    TemplateCb,
    ask_for_note,
    card_markup,
    card_text,
    carry_out_bulk,
    send_card,
    templates_for,
)
from bot.texts import STATUS_LABELS, too_long
from models import ticket_actions as actions
from models.db import id_of
from models.lifecycle import IllegalTransition
from models.limits import TooLong
from models.plan import plan_items
from models.privacy import cut
from models.tables import Role, Ticket, TicketStatus, User
from models.tickets import TicketPermissionError, ticket_photos
from models.workbench import (
    similar_open_tickets,
    ticket_attachments,
    ticket_for_staff,
)

REJECT_REASON_LABELS = {
    "not_in_scope": N_("不属于老旧小区改造范围"),
    "duplicate": N_("重复反映"),
    "private_property": N_("属于业主私有部位"),
    "not_feasible": N_("目前条件不具备"),
    "other": N_("其他原因"),
}
EXTENSION_DAYS = (1, 3, 7, 15, 30)
# --- showing the card ---------------------------------------------------------------------


async def _redraw(
    query: CallbackQuery, *, session: AsyncSession, ticket: Ticket, user: User, settings: Settings
) -> None:
    await pressed_on(query).edit_text(
        await card_text(session=session, ticket=ticket, viewer=user, settings=settings),
        reply_markup=await card_markup(session=session, ticket=ticket, viewer=user),
    )


async def _load(
    query: CallbackQuery,
    callback_data: StaffTicketCb,
    *,
    session: AsyncSession,
    user: User,
    settings: Settings,
) -> Ticket | None:
    """The ticket if in scope and as the card showed it; otherwise a polite refusal, or the
    fresh card (before any text is asked for)."""
    try:
        ticket = await ticket_for_staff(session=session, user=user, ticket_id=callback_data.id)
    except TicketPermissionError:
        await query.answer(_("抱歉，这条工单不在您负责的小区。"), show_alert=True)
        return None
    if ticket.version != callback_data.v and callback_data.a not in ("view", "open"):
        name = await actions.last_actor_name(session=session, ticket_id=id_of(ticket))
        await query.answer(
            _("该工单刚被 {name} 更新，请看最新情况再操作。").format(name=name or _("他人")),
            show_alert=True,
        )
        await _redraw(query, session=session, ticket=ticket, user=user, settings=settings)
        return None
    return ticket


async def alert_opened(
    query: CallbackQuery,
    callback_data: TicketCb,
    session: AsyncSession,
    user: User,
    settings: Settings,
) -> None:
    """The button on an alert ("查看与处理") opens the staff card."""
    try:
        ticket = await ticket_for_staff(session=session, user=user, ticket_id=callback_data.id)
    except TicketPermissionError:
        await query.answer(_("抱歉，这条工单不在您负责的小区。"), show_alert=True)
        return
    await query.answer()
    message = pressed_on(query)
    photos = await ticket_photos(session=session, ticket=ticket, viewer=user)
    if photos:
        await send_photos(message, photos)
    await send_card(message, session=session, ticket=ticket, user=user, settings=settings)


# --- presses ------------------------------------------------------------------------------


def _cb(ticket: Ticket, action: str, choice: str = "") -> StaffTicketCb:
    assert ticket.id is not None
    return StaffTicketCb(id=ticket.id, v=ticket.version, a=action, x=choice)


async def _options(
    *, session: AsyncSession, ticket: Ticket, action: str
) -> tuple[str, list[tuple[str, StaffTicketCb]]] | str:
    """What the worker chooses from before ``action`` (a question and its buttons), or why
    there is nothing to choose."""
    if action == "reject":
        reasons = [
            (_(label), _cb(ticket, action, code)) for code, label in REJECT_REASON_LABELS.items()
        ]
        return _("不予采纳的原因："), reasons
    if action == "extend":
        days = [(_("{n} 天").format(n=n), _cb(ticket, action, str(n))) for n in EXTENSION_DAYS]
        return _("延期多少天？"), days
    if action == "assign":
        workers = await actions.compound_workers(session=session, compound_id=ticket.compound_id)
        if not workers:
            return _("这个小区还没有社区工作者。")
        return _("派给谁？"), [
            (w.first_name or str(w.id), _cb(ticket, action, str(w.id))) for w in workers
        ]
    if action == "plan":
        items = await plan_items(session=session, compound_id=ticket.compound_id)
        options = [(cut(item.title, 40), _cb(ticket, action, str(item.id))) for item in items]
        options.append((_("➕ 新建计划项"), _cb(ticket, action, "new")))
        return _("纳入哪个改造计划项？"), options
    # merge
    similar = await similar_open_tickets(session=session, ticket=ticket, limit=6, threshold=0)
    if not similar:
        return _("同小区同类别没有可以合并的未办结工单。")
    return _("合并到哪条工单？（本工单的居民会改为关注那一条）"), [
        (f"{t.reference} {cut(t.text_original, 20)}", _cb(ticket, action, str(t.id)))
        for t in similar
    ]


CHOOSE_FIRST = frozenset({"reject", "extend", "assign", "plan", "merge"})
NO_NOTE = frozenset({"assign", "merge", "plan"})  # carried out on the choice (plan: an item)


async def pressed(
    query: CallbackQuery, callback_data: StaffTicketCb, state: FSMContext, session: AsyncSession,
    user: User, settings: Settings,
) -> None:  # fmt: skip
    ticket = await _load(query, callback_data, session=session, user=user, settings=settings)
    if ticket is None:
        return
    action, choice = callback_data.a, callback_data.x
    message = pressed_on(query)
    if action == "view":  # 🔄 on the card: redrawn in place
        await query.answer()
        await _redraw(query, session=session, ticket=ticket, user=user, settings=settings)
        return
    if action == "open":  # from a list: the card comes below it, the list stays
        await query.answer()
        await send_card(message, session=session, ticket=ticket, user=user, settings=settings)
        return
    if action == "media":
        await query.answer()
        await _send_media(message, session=session, ticket=ticket)
        return
    if action in CHOOSE_FIRST and not choice:
        options = await _options(session=session, ticket=ticket, action=action)
        if isinstance(options, str):
            await query.answer(options, show_alert=True)
            return
        await _choose(query, *options)
        return
    await query.answer()
    pending = PendingAction(
        ticket_id=callback_data.id, version=ticket.version, action=action, choice=choice
    )
    if action in NO_NOTE and choice != "new":
        await _carry_out(
            message, state=state, session=session, user=user, settings=settings, pending=pending,
            note=None,
        )  # fmt: skip
        return
    if action == "plan":
        pending.action = "plan_new"
    await ask_for_note(message, state, ticket=ticket, user=user, pending=pending)


async def _choose(
    query: CallbackQuery, question: str, options: Sequence[tuple[str, CallbackData]]
) -> None:
    builder = InlineKeyboardBuilder()
    for label, data in options:
        builder.button(text=label, callback_data=data)
    builder.adjust(1)
    await query.answer()
    await pressed_on(query).answer(question, reply_markup=builder.as_markup())


async def _end_flow(state: FSMContext) -> None:
    """The action is done, refused or cancelled: no words are awaited for it any more."""
    await state.set_state(None)
    await state.update_data({PENDING_KEY: None})


async def _pending(state: FSMContext) -> PendingAction | None:
    raw = (await state.get_data()).get(PENDING_KEY)
    return PendingAction.model_validate(raw) if raw else None


async def template_pressed(
    query: CallbackQuery,
    callback_data: TemplateCb,
    state: FSMContext,
    session: AsyncSession,
    user: User,
    settings: Settings,
) -> None:
    pending = await _pending(state)
    if pending is None or await state.get_state() != StaffFlow.note.state:
        await query.answer(_("这条已经过期了。"))
        return
    await query.answer()
    message = pressed_on(query)
    await message.edit_reply_markup(reply_markup=None)
    if callback_data.cancel:
        await _end_flow(state)
        await message.answer(_("已取消，工单没有改动。"))
        return
    if callback_data.skip:
        await _carry_out(
            message, state=state, session=session, user=user, settings=settings, pending=pending,
            note=None,
        )  # fmt: skip
        return
    ticket = await session.get(Ticket, pending.ticket_id)
    options = templates_for(ticket.category if ticket else "any", user.language)
    if not 0 <= callback_data.i < len(options):
        return
    text = options[callback_data.i]
    if callback_data.use:
        await _carry_out(
            message, state=state, session=session, user=user, settings=settings, pending=pending,
            note=text,
        )  # fmt: skip
        return
    builder = InlineKeyboardBuilder()
    builder.button(text=_("✅ 就用这条"), callback_data=TemplateCb(i=callback_data.i, use=True))
    builder.button(text=_("取消"), callback_data=TemplateCb(i=-1, cancel=True))
    await message.answer(
        _("模板：<code>{text}</code>\n点文字可以复制，改好后发给我；或直接用这条：").format(
            text=escape(text)
        ),
        reply_markup=builder.as_markup(),
    )


async def note_typed(
    message: Message,
    state: FSMContext,
    session: AsyncSession,
    user: User,
    settings: Settings,
) -> None:
    pending = await _pending(state)
    if pending is None:
        await state.set_state(None)
        return
    note = message.text or message.caption
    photo = attachment_of(message) if message.photo else None
    if photo is not None and pending.action != "resolve":
        await message.answer(_("这一步只需要文字。"))
        return
    await _carry_out(
        message, state=state, session=session, user=user, settings=settings, pending=pending,
        note=note, photo=photo,
    )  # fmt: skip


# --- carrying out ---------------------------------------------------------------------------


DONE = {
    "accept": N_("✅ 已受理"),
    "start": N_("✅ 已开始处理"),
    "close": N_("✅ 已关闭"),
    "resolve": N_("✅ 已办结，居民会收到通知"),
    "reject": N_("✅ 已不予采纳，居民会看到理由"),
    "reply": N_("✅ 已回复居民"),
    "ask": N_("✅ 已请居民补充，回答会通知您"),
    "extend": N_("✅ 已延期"),
    "assign": N_("✅ 已派出"),
    "plan": N_("✅ 已纳入计划"),
    "plan_new": N_("✅ 已新建计划项并纳入"),
    "merge": N_("✅ 已合并，居民会改为关注目标工单"),
}
TRANSITIONS = {
    "accept": TicketStatus.accepted,
    "start": TicketStatus.in_progress,
    "close": TicketStatus.closed,
}


class _ActionArguments(TypedDict):
    session: AsyncSession
    ticket: Ticket
    user: User
    seen_version: int


async def _apply(
    *, session: AsyncSession, ticket: Ticket, user: User, pending: PendingAction,
    note: str | None, photo: tuple[str, str, str | None] | None,
) -> None:  # fmt: skip
    """The model call behind ``pending.action``; raises what models.ticket_actions raises."""
    common: _ActionArguments = {
        "session": session,
        "ticket": ticket,
        "user": user,
        "seen_version": pending.version,
    }
    match pending.action:
        case "accept" | "start" | "close":
            await actions.transition(**common, target=TRANSITIONS[pending.action], note=note)
        case "resolve":
            await actions.resolve(**common, note=note or "", photo=photo)
        case "reject":
            await actions.reject(**common, reason=pending.choice, note=note or "")
        case "reply":
            await actions.reply(**common, text=note or "")
        case "ask":
            await actions.ask_for_details(**common, question=note or "")
        case "extend":
            await actions.extend_deadline(**common, days=int(pending.choice), reason=note or "")
        case "assign":
            await actions.assign(**common, worker_id=int(pending.choice))
        case "plan":
            await actions.plan(**common, plan_item_id=int(pending.choice))
        case "plan_new":
            await actions.plan(**common, new_title=note)
        case "merge":
            await actions.merge(**common, target_id=int(pending.choice))
        case _:
            raise ValueError(pending.action)


async def _carry_out(
    message: Message,
    *,
    state: FSMContext,
    session: AsyncSession,
    user: User,
    settings: Settings,
    pending: PendingAction,
    note: str | None,
    photo: tuple[str, str, str | None] | None = None,
) -> None:
    if pending.action.startswith("bulk_"):
        await carry_out_bulk(
            message, state=state, session=session, user=user, pending=pending, note=note or ""
        )
        return
    try:
        ticket = await ticket_for_staff(session=session, user=user, ticket_id=pending.ticket_id)
        await _apply(
            session=session, ticket=ticket, user=user, pending=pending, note=note, photo=photo
        )
    except TooLong as error:
        await session.rollback()  # nothing of a refused action is kept
        await message.answer(too_long(error))  # still waiting for (shorter) words
        return
    except actions.NoteRequired:
        await session.rollback()
        await message.answer(_("这一步需要写说明，请输入文字（或发送 /cancel 取消）。"))
        return  # still waiting for the words
    except actions.StaleTicket as stale:
        await session.rollback()
        await _end_flow(state)
        await message.answer(
            _("该工单刚被 {name} 更新，您的操作没有执行。").format(
                name=escape(stale.changed_by or _("他人"))
            )
            + (_("\n您刚写的：<code>{note}</code>").format(note=escape(note)) if note else "")
        )
        fresh = await session.get(Ticket, pending.ticket_id)  # reloaded after the rollback
        if fresh is not None:
            await send_card(message, session=session, ticket=fresh, user=user, settings=settings)
        return
    except (IllegalTransition, TicketPermissionError, ValueError):
        await session.rollback()
        await _end_flow(state)
        await message.answer(_("现在不能这样操作，请看工单的最新情况。"))
        return
    await session.commit()  # commit, then talk
    await _end_flow(state)
    # One message: what was done, then the card as it is now (with the buttons now allowed).
    await send_card(
        message, session=session, ticket=ticket, user=user, settings=settings,
        head=f"{_(DONE[pending.action])} · {_(STATUS_LABELS[ticket.status])}",
    )  # fmt: skip


async def _send_media(message: Message, *, session: AsyncSession, ticket: Ticket) -> None:
    """Photos, voice, documents and the location the resident sent, re-sent on request."""
    attachments = await ticket_attachments(session=session, ticket_id=id_of(ticket))
    photos = [a.file_id for a in attachments if a.kind == "photo"]
    if photos:
        await send_photos(message, photos)
    for attachment in attachments:
        if attachment.kind == "voice":
            await message.answer_voice(attachment.file_id)
        elif attachment.kind == "document":
            await message.answer_document(attachment.file_id)
        elif attachment.kind == "video":
            await message.answer_video(attachment.file_id)
    if ticket.latitude is not None and ticket.longitude is not None:
        await message.answer_location(ticket.latitude, ticket.longitude)
    if not attachments and ticket.latitude is None:
        await message.answer(_("这条工单没有照片、语音或位置。"))


def router() -> Router:
    router = Router(name=__name__)
    router.message.filter(F.chat.type == "private")
    router.callback_query.register(
        alert_opened, TicketCb.filter(F.action == "view"), HasRole(Role.worker)
    )
    router.callback_query.register(pressed, StaffTicketCb.filter(), HasRole(Role.worker))
    router.callback_query.register(template_pressed, TemplateCb.filter(), HasRole(Role.worker))
    router.message.register(note_typed, StaffFlow.note, F.text | F.photo, ~F.text.startswith("/"))
    return router
