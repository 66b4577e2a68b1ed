"""The workbench (工作台): 待办 with its counts, filters, sort and pages; search by reference or
words; several tickets selected and answered, resolved or merged at once."""

from __future__ import annotations

import math
from html import escape

from aiogram import F, Router
from aiogram.filters import Command, StateFilter
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.keyboard import InlineKeyboardBuilder
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.callbacks import pressed_on
from bot.filters import HasRole, MenuButton
from bot.i18n import N_, _
from bot.settings import Settings
from bot.staff_card import (
    SELECTION_KEY,
    PendingAction,
    StaffTicketCb,
    ask_for_note,
    carry_out_bulk,
    send_card,
)
from bot.texts import STAFF_QUEUE, STAFF_SEARCH
from models.db import id_of
from models.privacy import cut
from models.tables import Compound, Role, Ticket, User
from models.tickets import TicketPermissionError, snippet
from models.workbench import (
    REFERENCE,
    Sort,
    TicketFilter,
    compounds_in_scope,
    list_tickets,
    queue_counts,
    ticket_by_reference,
    ticket_for_staff,
)
from nlu.taxonomy import load_taxonomy

SEARCH_KEY = "staff_search"
VIEW_KEY = "staff_view"  # FSM data: the list on screen (a packed QueueCb), redrawn on a tick
MAX_SELECTED = 50

QUICK_FILTERS = {
    "": N_("全部"),
    "new": N_("新"),
    "overdue": N_("超时"),
    "urgent": N_("紧急"),
    "today": N_("今日到期"),
    "unassigned": N_("未派"),
    "mine": N_("我负责"),
}
SORT_LABELS = {
    Sort.deadline: N_("按时限"),
    Sort.endorsements: N_("按附议"),
    Sort.newest: N_("最新"),
}


class QueueCb(CallbackData, prefix="q"):
    k: str = ""  # quick filter (QUICK_FILTERS), or "search"
    c: str = ""  # category id
    m: int = 0  # compound id
    s: str = Sort.deadline
    p: int = 0  # page
    sel: bool = False  # choosing several tickets
    pick: str = ""  # "cat" / "cmp": show a picker instead of the list


class SelectCb(CallbackData, prefix="qs"):
    id: int
    v: int


class BulkCb(CallbackData, prefix="qb"):
    a: str  # reply / resolve / merge / clear


class StaffSearch(StatesGroup):
    typing = State()


def _filter_of(cb: QueueCb, words: str | None) -> TicketFilter:
    return TicketFilter(
        status="new" if cb.k == "new" else None,
        category=cb.c or None,
        compound_id=cb.m or None,
        urgent=cb.k == "urgent",
        overdue=cb.k == "overdue",
        due_today=cb.k == "today",
        unassigned=cb.k == "unassigned",
        mine=cb.k == "mine",
        words=words if cb.k == "search" else None,
    )


def _row_label(ticket: Ticket, votes: int, selected: bool, language: str) -> str:
    mark = "☑️ " if selected else ("🚨 " if ticket.urgent else "")
    category = load_taxonomy().get(ticket.category).name(language)
    shown = snippet(ticket.text_original, 18)
    extra = f" 👍{votes}" if votes else ""
    return _("{mark}{reference}【{category}】{text}{votes}").format(
        mark=mark, reference=ticket.reference, category=category, text=shown, votes=extra
    )


def _category_picker(cb: QueueCb, language: str) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for category in load_taxonomy().categories:
        builder.button(
            text=category.name(language),
            callback_data=QueueCb(k=cb.k, c=category.id, m=cb.m, s=cb.s, sel=cb.sel),
        )
    builder.button(text=_("全部类别"), callback_data=QueueCb(k=cb.k, m=cb.m, s=cb.s, sel=cb.sel))
    builder.adjust(2)
    return builder.as_markup()


async def _compound_picker(session: AsyncSession, user: User, cb: QueueCb) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for compound in (await compounds_in_scope(session=session, user=user))[:40]:
        builder.button(
            text=compound.name,
            callback_data=QueueCb(k=cb.k, c=cb.c, m=id_of(compound), s=cb.s, sel=cb.sel),
        )
    builder.button(text=_("全部小区"), callback_data=QueueCb(k=cb.k, c=cb.c, s=cb.s, sel=cb.sel))
    builder.adjust(2)
    return builder.as_markup()


async def _filters_shown(session: AsyncSession, user: User, cb: QueueCb, words: str | None) -> str:
    """The queue's second line: which quick filter or search, category and compound."""
    described = [_("筛选：{quick}").format(quick=_(QUICK_FILTERS.get(cb.k, N_("搜索"))))]
    if cb.k == "search" and words:
        described = [_("搜索：{words}").format(words=escape(cut(words, 30)))]
    if cb.c:
        described.append(load_taxonomy().get(cb.c).name(user.language))
    if cb.m:
        chosen = await session.get(Compound, cb.m)
        described.append(escape(chosen.name if chosen else ""))
    return " · ".join(described)


def _add_controls(
    builder: InlineKeyboardBuilder, cb: QueueCb, pages: int, *, selected: int
) -> list[int]:
    """The buttons under the tickets: quick filters, sorts, pickers, multi-select, pages
    and, with tickets selected, the bulk actions. Returns the widths of their rows."""
    widths: list[int] = []
    for key, label in QUICK_FILTERS.items():
        mark = "• " if key == cb.k else ""
        builder.button(
            text=mark + _(label), callback_data=QueueCb(k=key, c=cb.c, m=cb.m, s=cb.s, sel=cb.sel)
        )
    widths += [4, 3]
    for sort, label in SORT_LABELS.items():
        mark = "• " if sort == cb.s else ""
        builder.button(
            text=mark + _(label), callback_data=QueueCb(k=cb.k, c=cb.c, m=cb.m, s=sort, sel=cb.sel)
        )
    widths.append(3)
    builder.button(
        text=_("类别▾"),
        callback_data=QueueCb(k=cb.k, c=cb.c, m=cb.m, s=cb.s, sel=cb.sel, pick="cat"),
    )
    builder.button(
        text=_("小区▾"),
        callback_data=QueueCb(k=cb.k, c=cb.c, m=cb.m, s=cb.s, sel=cb.sel, pick="cmp"),
    )
    builder.button(
        text=_("✖️ 结束多选") if cb.sel else _("☑️ 多选"),
        callback_data=QueueCb(k=cb.k, c=cb.c, m=cb.m, s=cb.s, p=cb.p, sel=not cb.sel),
    )
    widths.append(3)
    nav = 0
    if cb.p > 0:
        builder.button(
            text="◀️", callback_data=QueueCb(k=cb.k, c=cb.c, m=cb.m, s=cb.s, p=cb.p - 1, sel=cb.sel)
        )
        nav += 1
    if cb.p + 1 < pages:
        builder.button(
            text="▶️", callback_data=QueueCb(k=cb.k, c=cb.c, m=cb.m, s=cb.s, p=cb.p + 1, sel=cb.sel)
        )
        nav += 1
    if nav:
        widths.append(nav)
    if cb.sel and selected:
        for action, label in (
            ("reply", N_("批量回复")),
            ("resolve", N_("批量办结")),
            ("merge", N_("合并所选")),
            ("clear", N_("清空")),
        ):
            builder.button(text=_(label), callback_data=BulkCb(a=action))
        widths.append(4)
    return widths


async def render_queue(
    *, session: AsyncSession, user: User, state: FSMContext, cb: QueueCb
) -> tuple[str, InlineKeyboardMarkup]:
    await state.update_data({VIEW_KEY: cb.pack()})
    data = await state.get_data()
    words = data.get(SEARCH_KEY)
    selection: dict[str, int] = data.get(SELECTION_KEY) or {}
    counts = await queue_counts(session=session, user=user)
    head = _(
        "<b>📥 待办</b>  新 {new} · 超时 {overdue} · 紧急 {urgent} · "
        "今日到期 {today} · 我负责 {mine}"
    ).format(
        new=counts.new,
        overdue=counts.overdue,
        urgent=counts.urgent,
        today=counts.due_today,
        mine=counts.mine,
    )
    if cb.pick == "cat":
        return head + "\n" + _("按类别筛选："), _category_picker(cb, user.language)
    if cb.pick == "cmp":
        return head + "\n" + _("按小区筛选："), await _compound_picker(session, user, cb)

    builder = InlineKeyboardBuilder()
    listed, total = await list_tickets(
        session=session, user=user, filter=_filter_of(cb, words), sort=Sort(cb.s), page=cb.p
    )
    pages = max(1, math.ceil(total / 8))
    lines = [
        head,
        await _filters_shown(session, user, cb, words)
        + " · "
        + _("共 {n} 条，第 {page}/{pages} 页").format(n=total, page=cb.p + 1, pages=pages),
    ]
    if not listed:
        lines.append(_("没有符合条件的工单。"))
    if cb.sel:
        lines.append(_("多选：点工单勾选，已选 {n} 条。").format(n=len(selection)))
    for item in listed:
        ticket = item.ticket
        selected = str(ticket.id) in selection
        data_ = (
            SelectCb(id=id_of(ticket), v=ticket.version)
            if cb.sel
            else StaffTicketCb(id=id_of(ticket), v=ticket.version, a="open")
        )
        builder.button(
            text=_row_label(ticket, item.endorsements, selected, user.language), callback_data=data_
        )
    widths = [1] * len(listed) + _add_controls(builder, cb, pages, selected=len(selection))
    builder.adjust(*widths)
    return "\n".join(lines), builder.as_markup()


async def show_queue(
    message: Message,
    *,
    session: AsyncSession,
    user: User,
    state: FSMContext,
    cb: QueueCb | None = None,
) -> None:
    text, markup = await render_queue(session=session, user=user, state=state, cb=cb or QueueCb())
    await message.answer(text, reply_markup=markup)


async def not_staff(message: Message) -> None:
    await message.answer(_("抱歉，这个功能只对社区工作者开放。"))


async def queue(message: Message, state: FSMContext, session: AsyncSession, user: User) -> None:
    await state.update_data({SEARCH_KEY: None})
    await show_queue(message, session=session, user=user, state=state)


async def queue_pressed(
    query: CallbackQuery,
    callback_data: QueueCb,
    state: FSMContext,
    session: AsyncSession,
    user: User,
) -> None:
    await query.answer()
    text, markup = await render_queue(session=session, user=user, state=state, cb=callback_data)
    await pressed_on(query).edit_text(text, reply_markup=markup)


async def select_pressed(
    query: CallbackQuery,
    callback_data: SelectCb,
    state: FSMContext,
    session: AsyncSession,
    user: User,
) -> None:
    selection: dict[str, int] = (await state.get_data()).get(SELECTION_KEY) or {}
    key = str(callback_data.id)
    if key in selection:
        del selection[key]
    elif len(selection) >= MAX_SELECTED:
        await query.answer(_("一次最多选 {n} 条。").format(n=MAX_SELECTED), show_alert=True)
        return
    else:
        try:
            await ticket_for_staff(session=session, user=user, ticket_id=callback_data.id)
        except TicketPermissionError:
            await query.answer(_("抱歉，这条工单不在您负责的小区。"), show_alert=True)
            return
        selection[key] = callback_data.v
    await state.update_data({SELECTION_KEY: selection})
    await query.answer()
    view = (await state.get_data()).get(VIEW_KEY)
    cb = QueueCb.unpack(view) if view else QueueCb(sel=True)
    text, markup = await render_queue(session=session, user=user, state=state, cb=cb)
    await pressed_on(query).edit_text(text, reply_markup=markup)


async def bulk_pressed(
    query: CallbackQuery,
    callback_data: BulkCb,
    state: FSMContext,
    session: AsyncSession,
    user: User,
) -> None:
    selection: dict[str, int] = (await state.get_data()).get(SELECTION_KEY) or {}
    if callback_data.a == "clear" or not selection:
        await state.update_data({SELECTION_KEY: {}})
        await query.answer(_("已清空选择。"))
        return
    await query.answer()
    chosen = sorted((int(i), v) for i, v in selection.items())
    first = await session.get(Ticket, chosen[0][0])
    if first is None:
        return
    pending = PendingAction(
        ticket_id=id_of(first), version=chosen[0][1], action=f"bulk_{callback_data.a}", bulk=chosen
    )
    if callback_data.a == "merge":
        await carry_out_bulk(
            pressed_on(query), state=state, session=session, user=user, pending=pending, note=""
        )
        return
    await ask_for_note(pressed_on(query), state, ticket=first, user=user, pending=pending)


# --- search ---------------------------------------------------------------------------------


async def search_prompt(message: Message, state: FSMContext) -> None:
    await state.set_state(StaffSearch.typing)
    await message.answer(_("请输入工单编号（如 2611-0001）或关键词："))


async def search(
    message: Message, state: FSMContext, session: AsyncSession, user: User, settings: Settings
) -> None:
    """Staff typing outside a flow are looking for a ticket, never filing one."""
    await state.set_state(None)
    words = (message.text or "").strip()
    reference = REFERENCE.match(words)
    if reference:
        try:
            ticket = await ticket_by_reference(
                session=session, user=user, reference=reference.group(1)
            )
        except TicketPermissionError:
            await message.answer(
                _("没有找到编号为 {reference} 的工单（或不在您负责的小区）。").format(
                    reference=escape(reference.group(1))
                )
            )
            return
        await send_card(message, session=session, ticket=ticket, user=user, settings=settings)
        return
    await state.update_data({SEARCH_KEY: words[:100]})
    await show_queue(message, session=session, user=user, state=state, cb=QueueCb(k="search"))


def router() -> Router:
    router = Router(name=__name__)
    router.message.filter(F.chat.type == "private")
    router.message.register(not_staff, Command("queue", "tickets", "stats"), ~HasRole(Role.worker))
    router.message.register(queue, MenuButton(STAFF_QUEUE), HasRole(Role.worker))
    router.message.register(queue, Command("queue", "tickets"), HasRole(Role.worker))
    router.callback_query.register(queue_pressed, QueueCb.filter(), HasRole(Role.worker))
    router.callback_query.register(select_pressed, SelectCb.filter(), HasRole(Role.worker))
    router.callback_query.register(bulk_pressed, BulkCb.filter(), HasRole(Role.worker))
    router.message.register(search_prompt, MenuButton(STAFF_SEARCH), HasRole(Role.worker))
    router.message.register(
        search, StateFilter(None), F.text, ~F.text.startswith("/"), HasRole(Role.worker)
    )
    router.message.register(
        search, StaffSearch.typing, F.text, ~F.text.startswith("/"), HasRole(Role.worker)
    )
    return router
