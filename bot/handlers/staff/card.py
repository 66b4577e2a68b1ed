"""The staff's ticket card: everything a worker needs to decide, and buttons named by the
action (受理, 办结), carrying the ticket's version so a stale card never acts."""

from __future__ import annotations

from datetime import datetime
from html import escape

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.keyboard import InlineKeyboardBuilder
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.i18n import NC_, _, pgettext
from bot.settings import Settings
from bot.texts import STATUS_LABELS, enumeration, history_entry, local_time
from models.db import id_of, utcnow
from models.lifecycle import next_statuses
from models.privacy import cut
from models.tables import Compound, Ticket, TicketStatus, User
from models.tickets import actor_for, endorsement_count, ticket_events
from models.workbench import similar_open_tickets, ticket_attachments
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
    author = await session.get(User, ticket.author_id)
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
    # Contact only for the compound's staff (the card is only shown to them) and only if the
    # resident shared it.
    if author is not None and author.phone:
        lines.append(_("居民电话：{phone}").format(phone=escape(author.phone)))
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
