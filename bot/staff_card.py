"""The staff's ticket card, shared by the staff's handler modules: everything a worker needs to
decide, buttons named by the action (受理, 办结) and carrying the ticket's version so a stale card
never acts, the note an action asks for (with response templates), and a bulk action carried
out on several tickets at once."""

from __future__ import annotations

from datetime import datetime
from functools import cache
from html import escape
from pathlib import Path

import yaml
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import InlineKeyboardMarkup, Message
from aiogram.utils.keyboard import InlineKeyboardBuilder
from pydantic import BaseModel
from sqlmodel.ext.asyncio.session import AsyncSession

from bot import keyboards
from bot.i18n import N_, NC_, _, pgettext
from bot.settings import Settings
from bot.texts import STATUS_LABELS, enumeration, history_entry, local_time
from models import ticket_actions as actions
from models.db import id_of, utcnow
from models.lifecycle import next_statuses
from models.privacy import cut
from models.tables import Compound, Ticket, TicketStatus, User
from models.tickets import TicketPermissionError, actor_for, endorsement_count, ticket_events
from models.workbench import similar_open_tickets, ticket_attachments, ticket_for_staff
from nlu.taxonomy import load_taxonomy

CARD_TEXT_LIMIT = 1500  # of the resident's words on the card (Telegram allows 4,096 in all)
HISTORY_SHOWN = 6

# Buttons are named by what the worker does, not by the state it leads to; in the context
# "card action" (the same words in a history read "Accepted", "Resolved").
CARD_ACTION = "card action"
ACTION_FOR_TARGET = {
    TicketStatus.accepted: ("accept", NC_("card action", "受理")),
    TicketStatus.planned: ("plan", NC_("card action", "纳入计划")),
    TicketStatus.in_progress: ("start", NC_("card action", "开始处理")),
    TicketStatus.resolved: ("resolve", NC_("card action", "办结")),
    TicketStatus.rejected: ("reject", NC_("card action", "不予采纳")),
    TicketStatus.merged: ("merge", NC_("card action", "合并")),
    TicketStatus.closed: ("close", NC_("card action", "关闭")),
}
# Actions that keep the status, for open tickets.
OPEN_ACTIONS = (
    ("assign", NC_("card action", "派给")),
    ("extend", NC_("card action", "延期")),
    ("reply", NC_("card action", "回复")),
    ("ask", NC_("card action", "请补充")),
)


class StaffTicketCb(CallbackData, prefix="sw"):
    id: int
    v: int  # the version the card showed
    a: str = "view"  # view (redraw) / open (a new card) / accept / plan / ... / media
    x: str = ""  # the action's choice (a worker id, a reason, a number of days, ...)


def countdown(due: datetime, now: datetime) -> str:
    """ "响应剩余 3 小时" / "已超时 2 天": the deadline as a worker reads it."""
    seconds = (due - now).total_seconds()
    hours = abs(seconds) / 3600
    amount = (
        _("{n} 天").format(n=round(hours / 24))
        if hours >= 48
        else _("{n} 小时").format(n=max(1, round(hours)))
    )
    return (
        _("剩余 {amount}").format(amount=amount)
        if seconds >= 0
        else _("已超时 {amount}").format(amount=amount)
    )


async def card_text(
    *,
    session: AsyncSession,
    ticket: Ticket,
    viewer: User,
    settings: Settings,
    now: datetime | None = None,
) -> str:
    now = now or utcnow()
    taxonomy = load_taxonomy()
    entry = taxonomy.get(ticket.category)
    compound = await session.get(Compound, ticket.compound_id)
    votes = await endorsement_count(session=session, ticket_id=id_of(ticket))
    head = "🚨 " if ticket.urgent else ""
    lines = [
        f"{head}<b>{ticket.reference}</b> · {escape(_(STATUS_LABELS[ticket.status]))}",
        _("类别：{category}（{tier}）").format(
            category=escape(entry.name(viewer.language)),
            tier=escape(entry.tier.name(viewer.language)),
        )
        + (
            _(" · 识别置信度 {confidence:.0%}").format(confidence=ticket.nlu_confidence)
            if ticket.nlu_confidence is not None and ticket.category_source == "nlu"
            else ""
        ),
        _("小区：{place}").format(
            place=escape(
                " ".join(
                    p
                    for p in (compound.name if compound else "", ticket.building, ticket.unit)
                    if p
                )
            )
        ),
        _("附议：{n} 位邻居").format(n=votes),
    ]
    if ticket.status == TicketStatus.new:
        lines.append(
            _("响应时限 {due}（{left}）").format(
                due=local_time(ticket.response_due_at, settings.tz),
                left=countdown(ticket.response_due_at, now),
            )
        )
    elif ticket.status in (TicketStatus.accepted, TicketStatus.planned, TicketStatus.in_progress):
        lines.append(
            _("办理时限 {due}（{left}）").format(
                due=local_time(ticket.resolution_due_at, settings.tz),
                left=countdown(ticket.resolution_due_at, now),
            )
        )
    if ticket.assignee_id:
        assignee = await session.get(User, ticket.assignee_id)
        lines.append(
            _("负责人：{name}").format(name=escape(assignee.first_name if assignee else "—"))
        )
    lines += ["", escape(cut(ticket.text_original, CARD_TEXT_LIMIT)), ""]
    attachments = await ticket_attachments(session=session, ticket_id=id_of(ticket))
    if attachments or ticket.latitude is not None:
        lines.append(
            _("📎 附件 {n} 个{location}").format(
                n=len(attachments), location=_("，有位置") if ticket.latitude is not None else ""
            )
        )
    events = await ticket_events(session=session, ticket_id=id_of(ticket))
    lines.append(_("<b>办理记录</b>"))
    for event in events[-HISTORY_SHOWN:]:
        note = escape(cut(event.note, 200)) if event.note else None
        lines.append(
            f"{local_time(event.created_at, settings.tz)} {history_entry(event.action, note)}"
        )
    if ticket.status in (TicketStatus.new, TicketStatus.accepted):
        similar = await similar_open_tickets(session=session, ticket=ticket, limit=3)
        if similar:
            lines.append(
                _("相似的未办结工单：{refs}").format(
                    refs=enumeration(t.reference or "" for t in similar)
                )
            )
    return "\n".join(lines)


async def card_markup(
    *, session: AsyncSession, ticket: Ticket, viewer: User
) -> InlineKeyboardMarkup:
    actor = await actor_for(session=session, ticket=ticket, user=viewer)
    builder = InlineKeyboardBuilder()
    id_, v = id_of(ticket), ticket.version
    for target in next_statuses(ticket.status, actor):
        action, label = ACTION_FOR_TARGET[target]
        builder.button(
            text=pgettext(CARD_ACTION, label), callback_data=StaffTicketCb(id=id_, v=v, a=action)
        )
    if ticket.status in (
        TicketStatus.new,
        TicketStatus.accepted,
        TicketStatus.planned,
        TicketStatus.in_progress,
    ):
        for action, label in OPEN_ACTIONS:
            builder.button(
                text=pgettext(CARD_ACTION, label),
                callback_data=StaffTicketCb(id=id_, v=v, a=action),
            )
    builder.button(text=_("📎 附件"), callback_data=StaffTicketCb(id=id_, v=v, a="media"))
    builder.button(text=_("🔄 刷新"), callback_data=StaffTicketCb(id=id_, v=v, a="view"))
    builder.adjust(3)
    return builder.as_markup()


# --- showing it ----------------------------------------------------------------------------


async def send_card(
    message: Message, *, session: AsyncSession, ticket: Ticket, user: User, settings: Settings,
    head: str | None = None,
) -> None:  # fmt: skip
    text = await card_text(session=session, ticket=ticket, viewer=user, settings=settings)
    await message.answer(
        f"{head}\n\n{text}" if head else text,
        reply_markup=await card_markup(session=session, ticket=ticket, viewer=user),
    )


# --- the words an action asks for ----------------------------------------------------------

TEMPLATES_FILE = Path(__file__).resolve().parent / "locales" / "response_templates.yml"
PENDING_KEY = "staff_pending"  # FSM data: the PendingAction whose words are awaited
SELECTION_KEY = "staff_selection"  # FSM data: {ticket id: version} chosen for a bulk action

# What each action asks for before it is carried out, and whether words are required.
NOTE_PROMPTS = {
    "accept": (N_("受理：可以写一句说明（居民会看到），或直接点“不加说明”。"), False),
    "start": (N_("开始处理：可以写一句说明（居民会看到），或直接点“不加说明”。"), False),
    "close": (N_("关闭：可以写一句说明，或直接点“不加说明”。"), False),
    "resolve": (
        N_("办结：请写办结说明（居民会看到）。可以发一张办结后的照片，把说明写在照片说明里。"),
        True,
    ),
    "reject": (N_("不予采纳：请写具体理由（居民会看到）。"), True),
    "reply": (N_("回复居民：请输入内容（不改变状态）。"), True),
    "ask": (N_("请居民补充：请输入要问的问题，居民的回答会补充到工单里并通知您。"), True),
    "extend": (N_("延期：请写延期理由（会记入办理记录，居民会看到）。"), True),
    "plan_new": (N_("新建计划项：请输入计划项名称，例如“3号楼屋面防水”。"), True),
}


class StaffFlow(StatesGroup):
    note = State()  # waiting for the words (or a photo) of an action


class PendingAction(BaseModel):
    """The action a worker started and whose words we wait for (typed FSM data)."""

    ticket_id: int
    version: int
    action: str
    choice: str = ""
    bulk: list[tuple[int, int]] = []  # (ticket id, version) for a bulk action


class TemplateCb(CallbackData, prefix="tpl"):
    i: int
    use: bool = False
    skip: bool = False  # "不加说明"
    cancel: bool = False


@cache
def _templates() -> dict[str, dict[str, list[str]]]:
    templates: dict[str, dict[str, list[str]]] = yaml.safe_load(
        TEMPLATES_FILE.read_text(encoding="utf-8")
    )
    return templates


def templates_for(category: str, language: str) -> list[str]:
    data = _templates()
    return [*data.get(category, {}).get(language, []), *data.get("any", {}).get(language, [])]


async def ask_for_note(
    message: Message, state: FSMContext, *, ticket: Ticket, user: User, pending: PendingAction
) -> None:
    prompt, required = NOTE_PROMPTS[pending.action.removeprefix("bulk_")]
    await state.set_state(StaffFlow.note)
    await state.update_data({PENDING_KEY: pending.model_dump()})
    builder = InlineKeyboardBuilder()
    if pending.action in ("resolve", "reply", "bulk_resolve", "bulk_reply", "accept", "start"):
        for i, text in enumerate(templates_for(ticket.category, user.language)):
            builder.button(text=f"📝 {cut(text, 30)}", callback_data=TemplateCb(i=i))
    if not required:
        builder.button(text=_("不加说明"), callback_data=TemplateCb(i=-1, skip=True))
    builder.button(text=_("取消"), callback_data=TemplateCb(i=-1, cancel=True))
    builder.adjust(1)
    await message.answer(_(prompt), reply_markup=builder.as_markup())


# --- several tickets at once ---------------------------------------------------------------


async def carry_out_bulk(
    message: Message,
    *,
    state: FSMContext,
    session: AsyncSession,
    user: User,
    pending: PendingAction,
    note: str,
) -> None:
    """One answer for the selected tickets; each resident is told on their own ticket."""
    action = pending.action.removeprefix("bulk_")
    tickets: list[tuple[Ticket, int]] = []
    for ticket_id, version in pending.bulk:
        try:
            tickets.append(
                (await ticket_for_staff(session=session, user=user, ticket_id=ticket_id), version)
            )
        except TicketPermissionError:
            continue
    if action != "merge" and not note.strip():
        await message.answer(_("这一步需要写说明，请输入文字（或发送 /cancel 取消）。"))
        return
    done, skipped = await actions.bulk(
        session=session,
        user=user,
        tickets=tickets,
        action=action,
        note=note,
        target_id=pending.bulk[0][0] if action == "merge" else None,
    )
    await session.commit()  # commit, then talk
    await state.set_state(None)
    await state.update_data({SELECTION_KEY: {}, PENDING_KEY: None})
    lines = [
        _("批量处理完成：{done} 条成功，{skipped} 条跳过。").format(
            done=len(done), skipped=len(skipped)
        )
    ]
    if skipped:
        lines.append(
            _("跳过（状态已变或不能这样操作）：{refs}").format(
                refs=enumeration(t.reference or "" for t, _why in skipped)
            )
        )
    await message.answer("\n".join(lines), reply_markup=keyboards.main_menu(user.role))
