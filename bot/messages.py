"""Rendering outbox templates into the recipient's language at send time.

An outbox payload is ``{"template": name, "params": {...}}``; each template below turns its
params (ids, never Telegram objects) into text and buttons.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from html import escape
from typing import Any
from zoneinfo import ZoneInfo

from aiogram import Bot
from aiogram.types import InlineKeyboardMarkup, Message
from aiogram.utils.i18n import I18n
from aiogram.utils.keyboard import InlineKeyboardBuilder
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.i18n import translate
from bot.keyboards import TicketCb
from bot.texts import STATUS_LABELS, local_time
from models.privacy import mask_phones
from models.tables import Compound, Notice, Ticket, TicketEvent
from nlu.taxonomy import load_taxonomy


class UnknownTemplate(Exception):
    pass


@dataclass(frozen=True, slots=True)
class Rendered:
    text: str
    reply_markup: InlineKeyboardMarkup | None = None
    photo: str | None = None  # a file_id: sent as a photo with ``text`` as its caption
    document: str | None = None  # a file_id: sent as a document with ``text`` as its caption


async def deliver(bot: Bot, chat_id: int, rendered: Rendered) -> Message:
    """Send a rendered message: text, or a photo or document with the text as caption."""
    if rendered.photo:
        return await bot.send_photo(
            chat_id=chat_id,
            photo=rendered.photo,
            caption=rendered.text,
            reply_markup=rendered.reply_markup,
        )
    if rendered.document:
        return await bot.send_document(
            chat_id=chat_id,
            document=rendered.document,
            caption=rendered.text,
            reply_markup=rendered.reply_markup,
        )
    return await bot.send_message(
        chat_id=chat_id, text=rendered.text, reply_markup=rendered.reply_markup
    )


@dataclass(frozen=True, slots=True)
class Context:
    session: AsyncSession
    i18n: I18n
    language: str
    tz: ZoneInfo

    def _(self, message: str) -> str:
        return translate(self.i18n, self.language, message)


Template = Callable[[Context, dict[str, Any]], Awaitable[Rendered]]
TEMPLATES: dict[str, Template] = {}


def template(name: str) -> Callable[[Template], Template]:
    def register(func: Template) -> Template:
        TEMPLATES[name] = func
        return func

    return register


async def render(
    *,
    session: AsyncSession,
    i18n: I18n,
    language: str,
    tz: ZoneInfo,
    template: str,
    params: dict[str, Any],
) -> Rendered:
    func = TEMPLATES.get(template)
    if func is None:
        raise UnknownTemplate(f"unknown outbox template {template!r}")
    return await func(Context(session, i18n, language, tz), params)


def ticket_button(ctx: Context, ticket_id: int, label: str) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(text=label, callback_data=TicketCb(id=ticket_id))
    return builder.as_markup()


def category_label(ctx: Context, category_id: str) -> str:
    return load_taxonomy().get(category_id).name(ctx.language)


@template("text")
async def _text(ctx: Context, params: dict[str, Any]) -> Rendered:
    return Rendered(escape(str(params["text"])))


@template("worker_new_ticket")
async def _worker_new_ticket(ctx: Context, params: dict[str, Any]) -> Rendered:
    ticket = await ctx.session.get(Ticket, params["ticket_id"])
    if ticket is None:
        raise UnknownTemplate("ticket gone")
    compound = await ctx.session.get(Compound, ticket.compound_id)
    head = ctx._("🚨 紧急诉求") if ticket.urgent else ctx._("🆕 新诉求")
    place = " ".join(
        p for p in (compound.name if compound else "", ticket.building, ticket.unit) if p
    )
    text = (
        f"<b>{head} {ticket.reference}</b>\n"
        f"【{escape(category_label(ctx, ticket.category))}】{escape(place)}\n"
        f"{escape(ticket.text_original[:500])}\n"
        + ctx._("响应时限：{deadline}").format(deadline=local_time(ticket.response_due_at, ctx.tz))
    )
    return Rendered(text, ticket_button(ctx, ticket.id, ctx._("查看与处理")))  # type: ignore[arg-type]


@template("ticket_status")
async def _ticket_status(ctx: Context, params: dict[str, Any]) -> Rendered:
    ticket = await ctx.session.get(Ticket, params["ticket_id"])
    event = await ctx.session.get(TicketEvent, params["event_id"])
    if ticket is None or event is None:
        raise UnknownTemplate("ticket or event gone")
    status = ctx._(STATUS_LABELS[event.to_status or ticket.status])  # type: ignore[index]
    lines = [
        ctx._("📬 您关注的诉求 <b>{reference}</b>【{category}】有新进展：").format(
            reference=ticket.reference, category=escape(category_label(ctx, ticket.category))
        ),
        ctx._("状态：<b>{status}</b>").format(status=escape(status)),
    ]
    if event.note:
        lines.append(ctx._("说明：{note}").format(note=escape(mask_phones(event.note))))
    return Rendered("\n".join(lines), ticket_button(ctx, ticket.id, ctx._("查看详情")))  # type: ignore[arg-type]


@template("worker_reminder")
async def _worker_reminder(ctx: Context, params: dict[str, Any]) -> Rendered:
    ticket = await ctx.session.get(Ticket, params["ticket_id"])
    if ticket is None:
        raise UnknownTemplate("ticket gone")
    text = ctx._("⏰ 居民催办：诉求 <b>{reference}</b>【{category}】仍未办结，请尽快处理。").format(
        reference=ticket.reference, category=escape(category_label(ctx, ticket.category))
    )
    return Rendered(text, ticket_button(ctx, ticket.id, ctx._("查看与处理")))  # type: ignore[arg-type]


@template("notice")
async def _notice(ctx: Context, params: dict[str, Any]) -> Rendered:
    if "notice_id" not in params:  # a plain text notice (older rows, benchmarks)
        head = ctx._("📢 社区公告")
        return Rendered(f"<b>{head}</b>\n{escape(str(params['text']))}")
    from bot.notice_texts import render_notice

    notice = await ctx.session.get(Notice, params["notice_id"])
    if notice is None:
        raise UnknownTemplate("notice gone")
    return await render_notice(ctx, notice)
