"""Reporting a demand (我要反映): any free text outside another flow is a demand or a question.

The demand being written is a typed ``Draft`` (bot/draft.py) in the conversation's FSM data
until it becomes a ticket, so a photo, a location or a voice message sent before or after the
words is attached to it, and a demand typed before the resident chose their compound is kept
meanwhile. Every button shown for a draft carries its token: a stale one never acts on a newer
draft.

Urgent messages come first (``urgent_router``, before every other router): the safety reply
was already sent by bot/safety.py; here the urgent ticket is filed without questions.
"""

from __future__ import annotations

from html import escape
from typing import Any

from aiogram import F, Router
from aiogram.filters import Command, Filter
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.keyboard import InlineKeyboardBuilder
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.attachments import attachment_of
from bot.callbacks import pressed_on
from bot.demand_flow import (
    Report,
    ReportCb,
    category_keyboard,
    classify_draft,
    propose,
    submit,
)
from bot.draft import Draft, drop_draft, load_draft, save_draft
from bot.filters import MenuButton
from bot.i18n import _
from bot.safety import URGENT_KEY
from bot.screens import ask_for_compound
from bot.settings import Settings
from bot.texts import MENU_REPORT
from models.db import id_of
from models.demands import find_similar_open_tickets
from models.privacy import cut, public_snippet
from models.tables import Role, Ticket, User
from models.tickets import endorse, endorsement_count
from nlu.client import NLUClient
from nlu.normalize import normalize
from nlu.taxonomy import load_taxonomy
from nlu.urgent import UrgentMatch


class IsUrgent(Filter):
    """A resident's message matched the urgent patterns (bot.safety.UrgentMiddleware, which
    already sent the safety reply). Staff typing danger words are searching their tickets."""

    async def __call__(self, _message: Message, **data: Any) -> bool | dict[str, Any]:
        match, user = data.get(URGENT_KEY), data.get("user")
        if match is None or user is None or Role(user.role).is_staff:
            return False
        return {"urgent": match}


# --- keyboards ----------------------------------------------------------------------------


def _duplicate_keyboard(draft: Draft, ticket_id: int) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(
        text=_("👍 我也反映"),
        callback_data=ReportCb(action="endorse", draft=draft.token, value=str(ticket_id)),
    )
    builder.button(
        text=_("仍然单独提交"), callback_data=ReportCb(action="separate", draft=draft.token)
    )
    builder.adjust(1)
    return builder.as_markup()


# --- the draft ----------------------------------------------------------------------------


async def _draft_to_continue(state: FSMContext) -> Draft:
    """The open draft when the new words belong to it, otherwise a new one."""
    draft = await load_draft(state)
    if draft is not None and (
        draft.waiting_for_compound
        or await state.get_state() in (Report.choosing.state, Report.awaiting_text.state)
    ):
        return draft
    return Draft()


# --- entry points -------------------------------------------------------------------------


async def urgent_message(
    message: Message, urgent: UrgentMatch, state: FSMContext, session: AsyncSession,
    user: User, nlu: NLUClient, settings: Settings,
) -> None:  # fmt: skip
    """Whatever the resident was doing (choosing a compound, typing an address, adding to a
    ticket), a danger is a demand: filed urgent now, or as soon as the compound is known."""
    if await state.get_state() not in (Report.choosing.state, Report.awaiting_text.state):
        await state.set_state(None)
    draft = await _draft_to_continue(state)
    attachment = attachment_of(message)
    if attachment is not None:
        draft.add_attachment(attachment)
    await handle_text(
        message, text=message.text or message.caption or "", state=state, session=session,
        user=user, nlu=nlu, settings=settings, draft=draft, urgent=urgent,
    )  # fmt: skip


async def report_prompt(message: Message) -> None:
    await message.answer(
        _("请直接打字说说您遇到的问题或建议，比如“3号楼2单元楼道灯坏了”。也可以发照片或位置。")
    )


async def media(
    message: Message, state: FSMContext, session: AsyncSession, user: User, nlu: NLUClient,
    settings: Settings,
) -> None:  # fmt: skip
    draft = await _draft_to_continue(state)
    attachment = attachment_of(message)
    if attachment is not None:
        draft.add_attachment(attachment)
    elif message.location:
        draft.location = (message.location.latitude, message.location.longitude)
    if message.caption:
        await handle_text(
            message, text=message.caption, state=state, session=session, user=user, nlu=nlu,
            settings=settings, draft=draft,
        )  # fmt: skip
        return
    await save_draft(state, draft)
    if draft.parts:
        await message.answer(_("已添加到您正在反映的问题里。请点上面的按钮确认。"))
        return
    await state.set_state(Report.awaiting_text)
    if message.voice:
        await message.answer(
            _("收到语音了。我暂时听不懂语音，请再用文字简单说一句是什么问题，语音会一起附上。")
        )
    elif message.location:
        await message.answer(_("收到位置了。请再用一句话说说这里有什么问题？"))
    else:
        await message.answer(_("收到照片了。请再用一句话说说是什么问题？"))


async def text_message(
    message: Message, state: FSMContext, session: AsyncSession, user: User, nlu: NLUClient,
    settings: Settings, flooding: bool = False,
) -> None:  # fmt: skip
    await handle_text(
        message, text=message.text or "", state=state, session=session, user=user, nlu=nlu,
        settings=settings, flooding=flooding,
    )  # fmt: skip


async def handle_text(
    message: Message, *, text: str, state: FSMContext, session: AsyncSession, user: User,
    nlu: NLUClient, settings: Settings, draft: Draft | None = None, flooding: bool = False,
    urgent: UrgentMatch | None = None,
) -> None:  # fmt: skip
    draft = draft or await _draft_to_continue(state)
    draft.add_text(message.message_id, text)
    if urgent is not None:
        draft.urgent_reason = draft.urgent_reason or urgent.reason
        draft.safety_reply_sent = True  # bot.safety sent it before this handler ran
    if user.compound_id is None:
        draft.waiting_for_compound = True
        await save_draft(state, draft)
        if draft.urgent:
            await message.answer(
                _(
                    "这条紧急情况我已记下。请马上告诉我您住在哪个小区，我立刻通知负责的社区工作人员。"
                )
            )
        else:
            await message.answer(_("好的，您说的我先记下了。请先告诉我您住在哪个小区。"))
        await ask_for_compound(message, state)
        return
    await save_draft(state, draft)
    if flooding and not draft.urgent and await state.get_state() == Report.choosing.state:
        return  # added to the draft; the note about the flood was sent by the middleware
    await classify_draft(
        message, state=state, session=session, user=user, nlu=nlu, settings=settings, draft=draft
    )


# --- callbacks ----------------------------------------------------------------------------


async def _current_draft(
    query: CallbackQuery, callback_data: ReportCb, *, state: FSMContext, user: User,
    settings: Settings,
) -> Draft | None:  # fmt: skip
    """The draft the button was shown for, or None after telling the resident it is stale:
    an old button never acts on what they are writing now. They get the current question
    again, so nothing they typed since is lost."""
    draft = await load_draft(state)
    if draft is not None and draft.token == callback_data.draft:
        return draft
    await query.answer(_("这条已经过期了。"))
    message = pressed_on(query)
    await message.edit_reply_markup(reply_markup=None)
    if draft is not None and draft.parts and not draft.waiting_for_compound:
        await message.answer(
            _("这个按钮已经过期。您正在反映的是：『{text}』").format(text=_echo(draft.text))
        )
        await propose(message, state=state, draft=draft, user=user, settings=settings)
    return None


def _echo(text: str, limit: int = 200) -> str:
    """The resident's own words, shown back to them: escaped and cut."""
    return escape(cut(text, limit))


async def cancel_draft(
    query: CallbackQuery, callback_data: ReportCb, state: FSMContext, user: User,
    settings: Settings,
) -> None:  # fmt: skip
    if (
        await _current_draft(query, callback_data, state=state, user=user, settings=settings)
        is None
    ):
        return
    await drop_draft(state)
    await state.set_state(None)
    await query.answer()
    await pressed_on(query).edit_text(_("已取消，这条内容没有提交。"))


async def all_categories(
    query: CallbackQuery, callback_data: ReportCb, state: FSMContext, user: User,
    settings: Settings,
) -> None:  # fmt: skip
    draft = await _current_draft(query, callback_data, state=state, user=user, settings=settings)
    if draft is None:
        return
    await query.answer()
    await pressed_on(query).edit_text(
        _("请选择问题类别："),
        reply_markup=category_keyboard(draft, list(load_taxonomy().ids), user.language, more=False),
    )


async def category_chosen(
    query: CallbackQuery, callback_data: ReportCb, state: FSMContext, session: AsyncSession,
    user: User, settings: Settings,
) -> None:  # fmt: skip
    draft = await _current_draft(query, callback_data, state=state, user=user, settings=settings)
    if draft is None:
        return
    if callback_data.value not in load_taxonomy():
        await query.answer(_("这条内容已经处理过了。"))
        return
    await query.answer()
    message = pressed_on(query)
    await message.edit_reply_markup(reply_markup=None)
    draft.category = callback_data.value
    await save_draft(state, draft)
    assert user.compound_id is not None  # categories are offered once the compound is known
    similar = await find_similar_open_tickets(
        session=session,
        compound_id=user.compound_id,
        category=callback_data.value,
        normalized_text=draft.normalized or normalize(draft.text),
        exclude_author_id=user.id,
    )
    if similar:
        ticket = similar[0].ticket
        count = 1 + await endorsement_count(session=session, ticket_id=id_of(ticket))
        await message.answer(
            _("已有 {count} 位邻居反映过：『{text}』\n您是想一起反映这件事吗？").format(
                count=count, text=escape(public_snippet(ticket.text_original, 80))
            ),
            reply_markup=_duplicate_keyboard(draft, id_of(ticket)),
        )
        return
    await submit(
        message, state=state, session=session, user=user, settings=settings, draft=draft,
        category=callback_data.value,
    )  # fmt: skip


async def submit_separately(
    query: CallbackQuery, callback_data: ReportCb, state: FSMContext, session: AsyncSession,
    user: User, settings: Settings,
) -> None:  # fmt: skip
    draft = await _current_draft(query, callback_data, state=state, user=user, settings=settings)
    if draft is None:
        return
    if not draft.category:
        await query.answer(_("这条内容已经处理过了。"))
        return
    await query.answer()
    message = pressed_on(query)
    await message.edit_reply_markup(reply_markup=None)
    await submit(
        message, state=state, session=session, user=user, settings=settings, draft=draft,
        category=draft.category,
    )  # fmt: skip


async def endorse_existing(
    query: CallbackQuery, callback_data: ReportCb, state: FSMContext, session: AsyncSession,
    user: User, settings: Settings,
) -> None:  # fmt: skip
    draft = await _current_draft(query, callback_data, state=state, user=user, settings=settings)
    if draft is None:
        return
    ticket = await session.get(Ticket, int(callback_data.value))
    if ticket is None or ticket.compound_id != user.compound_id:
        await query.answer(_("这条诉求已不存在。"), show_alert=True)
        return
    await endorse(session=session, ticket=ticket, user=user)
    await session.commit()  # commit, then talk
    await drop_draft(state)
    await state.set_state(None)
    await query.answer()
    await pressed_on(query).edit_text(
        _("👍 已为诉求 {reference} 加上您的一票。办理有进展时，我们也会通知您。").format(
            reference=ticket.reference
        )
    )


def router() -> Router:
    router = Router(name=__name__)
    router.message.filter(F.chat.type == "private")
    router.message.register(report_prompt, MenuButton(MENU_REPORT))
    router.message.register(report_prompt, Command("report"))
    router.message.register(media, F.photo | F.location | F.voice | F.video | F.document)
    router.message.register(text_message, F.text, ~F.text.startswith("/"))
    router.callback_query.register(cancel_draft, ReportCb.filter(F.action == "cancel"))
    router.callback_query.register(all_categories, ReportCb.filter(F.action == "all"))
    router.callback_query.register(category_chosen, ReportCb.filter(F.action == "cat"))
    router.callback_query.register(submit_separately, ReportCb.filter(F.action == "separate"))
    router.callback_query.register(endorse_existing, ReportCb.filter(F.action == "endorse"))
    return router


def urgent_router() -> Router:
    urgent_router = Router(name=f"{__name__}.urgent")
    urgent_router.message.filter(F.chat.type == "private")
    urgent_router.edited_message.filter(F.chat.type == "private")
    urgent_router.edited_message.register(urgent_message, F.text | F.caption, IsUrgent())
    urgent_router.message.register(urgent_message, F.text | F.caption, IsUrgent())
    return urgent_router
