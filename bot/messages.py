"""Rendering outbox templates into the recipient's language at send time.

An outbox payload is ``{"template": name, "params": {...}}``; each template below turns its
params (ids, never Telegram objects) into text and buttons.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from html import escape
from typing import Any
from zoneinfo import ZoneInfo

from aiogram import Bot
from aiogram.types import BufferedInputFile, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import I18n
from aiogram.utils.keyboard import InlineKeyboardBuilder
from sqlmodel.ext.asyncio.session import AsyncSession

from bot import report_files
from bot.i18n import N_, translate
from bot.keyboards import TicketCb, acceptance_scores, survey_resolved
from bot.texts import PLAN_STATUS_LABELS, STAGE_LABELS, STATUS_LABELS, history_entry, local_time
from models.db import id_of
from models.lifecycle import OPEN_STATUSES
from models.privacy import cut, mask_private
from models.report import Month, MonthlyReport, build_monthly_report
from models.tables import (
    Compound,
    Notice,
    PlanItem,
    RenovationStage,
    Survey,
    SurveyState,
    Ticket,
    TicketEvent,
)
from nlu.taxonomy import load_taxonomy


class UnknownTemplate(Exception):
    pass


@dataclass(frozen=True, slots=True)
class Rendered:
    """One Telegram message: a text, or a photo or a document with ``text`` as its caption."""

    text: str
    reply_markup: InlineKeyboardMarkup | None = None
    photo: str | BufferedInputFile | None = None  # a file id, or a file made at send time
    document: str | BufferedInputFile | None = None  # likewise, sent as a document


async def send_rendered(bot: Bot, chat_id: int, rendered: Rendered) -> Message:
    """One Telegram call for one rendered message, so one outbox row is still one message."""
    if rendered.photo is not None:
        return await bot.send_photo(
            chat_id=chat_id, photo=rendered.photo, caption=rendered.text,
            reply_markup=rendered.reply_markup,
        )  # fmt: skip
    if rendered.document is not None:
        return await bot.send_document(
            chat_id=chat_id, document=rendered.document, caption=rendered.text,
            reply_markup=rendered.reply_markup,
        )  # fmt: skip
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

    def pgettext(self, context: str, message: str) -> str:
        return translate(self.i18n, self.language, message, context=context)


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


def ticket_button(ticket_id: int, label: str) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(text=label, callback_data=TicketCb(id=ticket_id))
    return builder.as_markup()


def category_label(ctx: Context, category_id: str) -> str:
    return load_taxonomy().get(category_id).name(ctx.language)


@template("text")
async def _text(
    ctx: Context,  # noqa: ARG001 - every template takes (ctx, params)
    params: dict[str, Any],
) -> Rendered:
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
    text = "\n".join(
        [
            f"<b>{head} {ticket.reference}</b>",
            ctx._("【{category}】{place}").format(
                category=escape(category_label(ctx, ticket.category)), place=escape(place)
            ),
            escape(cut(ticket.text_original, 500)),
            ctx._("响应时限：{deadline}").format(
                deadline=local_time(ticket.response_due_at, ctx.tz)
            ),
        ]
    )
    return Rendered(text, ticket_button(id_of(ticket), ctx._("查看与处理")))


@template("ticket_status")
async def _ticket_status(ctx: Context, params: dict[str, Any]) -> Rendered:
    ticket = await ctx.session.get(Ticket, params["ticket_id"])
    event = await ctx.session.get(TicketEvent, params["event_id"])
    if ticket is None or event is None:
        raise UnknownTemplate("ticket or event gone")
    status = ctx._(STATUS_LABELS[event.to_status or ticket.status])
    lines = [
        ctx._("📬 您关注的诉求 <b>{reference}</b>【{category}】有新进展：").format(
            reference=ticket.reference, category=escape(category_label(ctx, ticket.category))
        ),
        ctx._("状态：<b>{status}</b>").format(status=escape(status)),
    ]
    if event.note:
        lines.append(ctx._("说明：{note}").format(note=escape(mask_private(event.note))))
    return Rendered("\n".join(lines), ticket_button(id_of(ticket), ctx._("查看详情")))


@template("worker_reminder")
async def _worker_reminder(ctx: Context, params: dict[str, Any]) -> Rendered:
    ticket = await ctx.session.get(Ticket, params["ticket_id"])
    if ticket is None:
        raise UnknownTemplate("ticket gone")
    text = ctx._("⏰ 居民催办：诉求 <b>{reference}</b>【{category}】仍未办结，请尽快处理。").format(
        reference=ticket.reference, category=escape(category_label(ctx, ticket.category))
    )
    return Rendered(text, ticket_button(id_of(ticket), ctx._("查看与处理")))


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


async def _ticket_and_event(ctx: Context, params: dict[str, Any]) -> tuple[Ticket, TicketEvent]:
    ticket = await ctx.session.get(Ticket, params["ticket_id"])
    event = await ctx.session.get(TicketEvent, params["event_id"])
    if ticket is None or event is None:
        raise UnknownTemplate("ticket or event gone")
    return ticket, event


def _news_head(ctx: Context, ticket: Ticket) -> str:
    return ctx._("📬 您关注的诉求 <b>{reference}</b>【{category}】有新进展：").format(
        reference=ticket.reference, category=escape(category_label(ctx, ticket.category))
    )


@template("ticket_news")
async def _ticket_news(ctx: Context, params: dict[str, Any]) -> Rendered:
    """Staff replied or moved a deadline: news without a status change."""
    ticket, event = await _ticket_and_event(ctx, params)
    lines = [_news_head(ctx, ticket)]
    if event.action == "extended":
        lines.append(
            ctx._("办理时限延至 {deadline}").format(
                deadline=local_time(ticket.resolution_due_at, ctx.tz)
            )
        )
    note = escape(mask_private(event.note or ""))
    lines.append(history_entry(event.action, note, gettext=ctx._, in_context=ctx.pgettext))
    return Rendered("\n".join(lines), ticket_button(id_of(ticket), ctx._("查看详情")))


@template("ticket_question")
async def _ticket_question(ctx: Context, params: dict[str, Any]) -> Rendered:
    """请补充: the author is asked; the button opens 补充说明 on the ticket."""
    ticket, event = await _ticket_and_event(ctx, params)
    text = (
        ctx._("❓ 关于您的诉求 <b>{reference}</b>，社区工作人员想请您补充：").format(
            reference=ticket.reference
        )
        + f"\n{escape(event.note or '')}"
    )
    builder = InlineKeyboardBuilder()
    builder.button(text=ctx._("补充说明"), callback_data=TicketCb(id=id_of(ticket), action="add"))
    return Rendered(text, builder.as_markup())


@template("ticket_after_photo")
async def _ticket_after_photo(ctx: Context, params: dict[str, Any]) -> Rendered:
    ticket = await ctx.session.get(Ticket, params["ticket_id"])
    if ticket is None:
        raise UnknownTemplate("ticket gone")
    caption = ctx._("📷 诉求 {reference} 办结后的照片").format(reference=ticket.reference)
    return Rendered(caption, photo=str(params["file_id"]))


@template("worker_assigned")
async def _worker_assigned(ctx: Context, params: dict[str, Any]) -> Rendered:
    ticket, _event = await _ticket_and_event(ctx, params)
    text = ctx._("👤 诉求 <b>{reference}</b>【{category}】已派给您处理。").format(
        reference=ticket.reference, category=escape(category_label(ctx, ticket.category))
    )
    return Rendered(text, ticket_button(id_of(ticket), ctx._("查看与处理")))


@template("worker_ticket_news")
async def _worker_ticket_news(ctx: Context, params: dict[str, Any]) -> Rendered:
    """A resident reopened, added details or photos: the worker hears at once."""
    ticket, event = await _ticket_and_event(ctx, params)
    head = {
        "reopened": ctx._("🔁 居民重新打开了诉求 <b>{reference}</b>"),
        "commented": ctx._("✍️ 居民补充了诉求 <b>{reference}</b>"),
    }.get(event.action, ctx._("📬 诉求 <b>{reference}</b> 有新动态"))
    lines = [head.format(reference=ticket.reference)]
    if event.note:
        lines.append(escape(cut(event.note, 500)))
    return Rendered("\n".join(lines), ticket_button(id_of(ticket), ctx._("查看与处理")))


# --- the monthly report (月通报) ------------------------------------------------------------
# A report is three outbox rows (text, chart, workbook), each one Telegram message rendered
# when it is sent, in the recipient's language, from the figures of that moment. Nothing is
# stored on disk: no file to share between processes or clean up, and a retried row renders
# again. The figures of a finished month barely move between queueing and sending.

REPORT_PARTS = ("text", "chart", "xlsx")


async def render_monthly_report(
    report: MonthlyReport, part: str, *, _: Callable[[str], str], language: str, tz: ZoneInfo
) -> Rendered:
    """One part of the report as a message; drawing and the workbook run in a thread."""
    if part == "text":
        return Rendered(report_files.report_text(report, _=_, language=language, tz=tz))
    stem = report_files.file_stem(report)
    if part == "chart":
        png = await asyncio.to_thread(report_files.chart_png, report, _=_, language=language)
        return Rendered(
            escape(report_files.report_caption(report, _=_, kind="chart")),
            photo=BufferedInputFile(png, filename=f"{stem}.png"),
        )
    if part == "xlsx":
        xlsx = await asyncio.to_thread(
            report_files.workbook_xlsx, report, _=_, language=language, tz=tz
        )
        return Rendered(
            escape(report_files.report_caption(report, _=_, kind="xlsx")),
            document=BufferedInputFile(xlsx, filename=f"{stem}.xlsx"),
        )
    raise UnknownTemplate(f"unknown monthly report part {part!r}")


@template("monthly_report")
async def _monthly_report(ctx: Context, params: dict[str, Any]) -> Rendered:
    month = Month.parse(str(params.get("month", "")))
    if month is None:
        raise UnknownTemplate(f"bad month {params.get('month')!r}")
    report = await build_monthly_report(
        session=ctx.session, compound_ids=params.get("compound_ids", []),
        district_id=params.get("district_id"), month=month, tz=ctx.tz,
    )  # fmt: skip
    return await render_monthly_report(
        report, str(params.get("part")), _=ctx._, language=ctx.language, tz=ctx.tz
    )


# --- the scheduler's messages (scheduler/jobs/, models/surveys.py) ----------------------


async def _ticket(ctx: Context, params: dict[str, Any]) -> Ticket:
    ticket = await ctx.session.get(Ticket, params["ticket_id"])
    if ticket is None:
        raise UnknownTemplate("ticket gone")
    return ticket


def _ref(ctx: Context, ticket: Ticket) -> dict[str, str]:
    return {
        "reference": ticket.reference or "",
        "category": escape(category_label(ctx, ticket.category)),
    }


async def _open_survey(ctx: Context, params: dict[str, Any]) -> Survey:
    survey = await ctx.session.get(Survey, params["survey_id"])
    if survey is None or survey.state != SurveyState.pending:
        raise UnknownTemplate("survey answered or ended before it was sent")
    return survey


@template("survey_ticket")
async def _survey_ticket(ctx: Context, params: dict[str, Any]) -> Rendered:
    survey = await _open_survey(ctx, params)
    ticket = await _ticket(ctx, {"ticket_id": survey.ticket_id})
    head = ctx._("⏰ 提醒：") if params.get("reminder") else ""
    if ticket.author_id == survey.user_id:
        about = ctx._("📝 <b>回访</b>：您反映的诉求 <b>{reference}</b>【{category}】已办结。")
    else:
        about = ctx._("📝 <b>回访</b>：您附议的诉求 <b>{reference}</b>【{category}】已办结。")
    text = head + about.format(**_ref(ctx, ticket)) + "\n" + ctx._("问题解决了吗？")
    return Rendered(text, survey_resolved(id_of(survey), ctx._))


@template("survey_acceptance")
async def _survey_acceptance(ctx: Context, params: dict[str, Any]) -> Rendered:
    survey = await _open_survey(ctx, params)
    compound = await ctx.session.get(Compound, survey.compound_id)
    if compound is None:
        raise UnknownTemplate("compound gone")
    head = ctx._("⏰ 提醒：") if params.get("reminder") else ""
    text = head + ctx._(
        "🏗 <b>民意验收</b>：{compound} 的改造已竣工。\n请为整体改造效果打分（1–5）："
    ).format(compound=escape(compound.name))
    return Rendered(text, acceptance_scores(id_of(survey), 0, ctx._))


@template("worker_survey_alert")
async def _worker_survey_alert(ctx: Context, params: dict[str, Any]) -> Rendered:
    ticket = await _ticket(ctx, params)
    if params.get("reason") == "unresolved":
        text = ctx._("⚠️ 回访：居民说诉求 <b>{reference}</b>【{category}】<b>未解决</b>。")
    else:
        text = ctx._("⚠️ 回访：居民对诉求 <b>{reference}</b>【{category}】的办理<b>不满意</b>。")
    text = text.format(**_ref(ctx, ticket))
    if ticket.status in OPEN_STATUSES:
        text += "\n" + ctx._("诉求已重新打开，请尽快处理。")
    return Rendered(text, ticket_button(id_of(ticket), ctx._("查看与处理")))


ESCALATION_TEXTS = {
    "reopened": N_(
        "⬆️ 督办：诉求 <b>{reference}</b>【{category}】（{compound}）已被居民两次重新打开。"
    ),
    "overdue_response": N_(
        "⬆️ 督办：诉求 <b>{reference}</b>【{category}】（{compound}）"
        "超过响应时限 {deadline} 仍未受理。"
    ),
    "overdue_resolution": N_(
        "⬆️ 督办：诉求 <b>{reference}</b>【{category}】（{compound}）"
        "超过办结时限 {deadline} 仍未办结。"
    ),
}


@template("staff_escalation")
async def _staff_escalation(ctx: Context, params: dict[str, Any]) -> Rendered:
    ticket = await _ticket(ctx, params)
    compound = await ctx.session.get(Compound, ticket.compound_id)
    due = (
        ticket.response_due_at
        if params["reason"] == "overdue_response"
        else ticket.resolution_due_at
    )
    text = ctx._(ESCALATION_TEXTS[params["reason"]]).format(
        **_ref(ctx, ticket), compound=escape(compound.name if compound else ""),
        deadline=local_time(due, ctx.tz),
    )  # fmt: skip
    return Rendered(text, ticket_button(id_of(ticket), ctx._("查看详情")))


@template("worker_deadline")
async def _worker_deadline(ctx: Context, params: dict[str, Any]) -> Rendered:
    ticket = await _ticket(ctx, params)
    response = params["deadline"] == "response"
    due = ticket.response_due_at if response else ticket.resolution_due_at
    if params.get("overdue"):
        text = (
            ctx._(
                "⏰ 诉求 <b>{reference}</b>【{category}】已超过响应时限（{deadline}），请尽快受理。"
            )
            if response
            else ctx._("⏰ 诉求 <b>{reference}</b>【{category}】已超过办结时限（{deadline}）。")
        )
    else:
        text = (
            ctx._("⏳ 诉求 <b>{reference}</b>【{category}】的响应时限 {deadline} 快到了。")
            if response
            else ctx._("⏳ 诉求 <b>{reference}</b>【{category}】的办结时限 {deadline} 快到了。")
        )
    text = text.format(**_ref(ctx, ticket), deadline=local_time(due, ctx.tz))
    return Rendered(text, ticket_button(id_of(ticket), ctx._("查看与处理")))


async def _ticket_lines(ctx: Context, ids: list[int], total: int) -> list[str]:
    lines = []
    for ticket_id in ids:
        ticket = await ctx.session.get(Ticket, ticket_id)
        if ticket is not None:
            lines.append(
                ctx._("• {urgent}<b>{reference}</b>【{category}】").format(
                    urgent="🚨 " if ticket.urgent else "",
                    reference=ticket.reference,
                    category=escape(category_label(ctx, ticket.category)),
                )
            )
    if total > len(ids):
        lines.append(ctx._("……另有 {n} 条").format(n=total - len(ids)))
    return lines


@template("worker_digest")
async def _worker_digest(ctx: Context, params: dict[str, Any]) -> Rendered:
    lines = [ctx._("☀️ <b>今日待办</b>")]
    if params["overdue_count"]:
        lines.append(ctx._("已超时 {n} 条：").format(n=params["overdue_count"]))
        lines += await _ticket_lines(ctx, params["overdue_ids"], params["overdue_count"])
    if params["today_count"]:
        lines.append(ctx._("今天到期 {n} 条：").format(n=params["today_count"]))
        lines += await _ticket_lines(ctx, params["today_ids"], params["today_count"])
    lines.append(ctx._("发送 /tickets 查看待办列表。"))
    return Rendered("\n".join(lines))


@template("compound_stage")
async def _compound_stage(ctx: Context, params: dict[str, Any]) -> Rendered:
    compound = await ctx.session.get(Compound, params["compound_id"])
    if compound is None:
        raise UnknownTemplate("compound gone")
    text = ctx._(
        "🏗 {compound} 的改造进入新阶段：<b>{stage}</b>\n发送 /board 查看改造公示。"
    ).format(
        compound=escape(compound.name),
        stage=escape(ctx._(STAGE_LABELS[RenovationStage(params["stage"])])),
    )
    return Rendered(text)


@template("progress_digest")
async def _progress_digest(ctx: Context, params: dict[str, Any]) -> Rendered:
    compound = await ctx.session.get(Compound, params["compound_id"])
    if compound is None:
        raise UnknownTemplate("compound gone")
    lines = [ctx._("📈 <b>{compound}</b> 本周改造进展：").format(compound=escape(compound.name))]
    for news in params["items"]:
        item = await ctx.session.get(PlanItem, news["id"])
        if item is None:
            continue
        before = f"{ctx._(PLAN_STATUS_LABELS[news['from_status']])} {news['from_progress']}%"
        after = f"{ctx._(PLAN_STATUS_LABELS[news['status']])} {news['progress']}%"
        lines.append(
            ctx._("• {title}：{before} → <b>{after}</b>").format(
                title=escape(item.title), before=before, after=after
            )
        )
    lines.append(ctx._("发送 /board 查看改造公示。"))
    return Rendered("\n".join(lines))
