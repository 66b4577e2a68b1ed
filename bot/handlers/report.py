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

import asyncio
from html import escape
from typing import Any

from aiogram import F, Router
from aiogram.filters import Command, Filter
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import get_i18n
from aiogram.utils.keyboard import InlineKeyboardBuilder
from sqlmodel.ext.asyncio.session import AsyncSession

from bot import keyboards
from bot.attachments import attachment_of
from bot.callbacks import pressed_on
from bot.draft import Draft, drop_draft, load_draft, save_draft
from bot.filters import MenuButton
from bot.handlers.mytickets import send_ticket_list
from bot.handlers.onboarding import ask_for_compound
from bot.handlers.plan_question import answer_plan_question
from bot.i18n import _
from bot.safety import URGENT_KEY, safety_advice
from bot.settings import Settings
from bot.texts import MENU_REPORT, local_time
from models.db import id_of
from models.demands import find_similar_open_tickets, urgent_category
from models.privacy import cut, public_snippet
from models.tables import Role, Ticket, User
from models.tickets import Classification, create_ticket, endorse, endorsement_count
from nlu.client import Interpretation, NLUClient, unavailable
from nlu.language import small_talk, unreadable
from nlu.normalize import normalize
from nlu.taxonomy import load_taxonomy
from nlu.urgent import UrgentMatch

router = Router(name=__name__)
router.message.filter(F.chat.type == "private")

urgent_router = Router(name=f"{__name__}.urgent")
urgent_router.message.filter(F.chat.type == "private")
urgent_router.edited_message.filter(F.chat.type == "private")

NLU_WAIT_SECONDS = 2.0  # the resident never waits longer than this for NLU
QUESTION_INTENTS = frozenset({"greet", "goodbye", "ask_progress", "ask_plan", "out_of_scope"})


class Report(StatesGroup):
    choosing = State()  # a category was proposed or offered; waiting for a tap
    awaiting_text = State()  # a photo, location or voice came without words


class ReportCb(CallbackData, prefix="rep"):
    action: str  # ok / cat / all / cancel / endorse / separate
    draft: str  # the token of the draft the button was shown for
    value: str = ""


class IsUrgent(Filter):
    """A resident's message matched the urgent patterns (bot.safety.UrgentMiddleware, which
    already sent the safety reply). Staff typing danger words are searching their tickets."""

    async def __call__(self, _message: Message, **data: Any) -> bool | dict[str, Any]:
        match, user = data.get(URGENT_KEY), data.get("user")
        if match is None or user is None or Role(user.role).is_staff:
            return False
        return {"urgent": match}


# --- keyboards ----------------------------------------------------------------------------


def _confirm_keyboard(draft: Draft, category: str) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    confirm = ReportCb(action="cat", draft=draft.token, value=category)
    builder.button(text=_("✅ 确认提交"), callback_data=confirm)
    builder.button(text=_("🔄 换个类别"), callback_data=ReportCb(action="all", draft=draft.token))
    builder.button(text=_("✖️ 取消"), callback_data=ReportCb(action="cancel", draft=draft.token))
    builder.adjust(1, 2)
    return builder.as_markup()


def _category_keyboard(
    draft: Draft, category_ids: list[str], language: str, *, more: bool
) -> InlineKeyboardMarkup:
    taxonomy = load_taxonomy()
    builder = InlineKeyboardBuilder()
    for category_id in category_ids:
        builder.button(
            text=taxonomy.get(category_id).name(language),
            callback_data=ReportCb(action="cat", draft=draft.token, value=category_id),
        )
    if more:
        builder.button(text=_("全部类别"), callback_data=ReportCb(action="all", draft=draft.token))
    builder.button(text=_("✖️ 取消"), callback_data=ReportCb(action="cancel", draft=draft.token))
    builder.adjust(2 if len(category_ids) > 4 else 1)
    return builder.as_markup()


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


async def _interpret(nlu: NLUClient, text: str) -> Interpretation:
    try:
        return await asyncio.wait_for(nlu.interpret(text), NLU_WAIT_SECONDS)
    except TimeoutError:
        # The client has its own timeout; this guard keeps the promise whatever happens.
        return unavailable(text)


# --- entry points -------------------------------------------------------------------------


@urgent_router.message(F.text | F.caption, IsUrgent())
@urgent_router.edited_message(F.text | F.caption, IsUrgent())
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
        message, message.text or message.caption or "", state, session, user, nlu, settings,
        draft=draft, urgent=urgent,
    )  # fmt: skip


@router.message(Command("report"))
@router.message(MenuButton(MENU_REPORT))
async def report_prompt(message: Message) -> None:
    await message.answer(
        _("请直接打字说说您遇到的问题或建议，比如“3号楼2单元楼道灯坏了”。也可以发照片或位置。")
    )


@router.message(F.photo | F.location | F.voice | F.video | F.document)
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
            message, message.caption, state, session, user, nlu, settings, draft=draft
        )
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


@router.message(F.text, ~F.text.startswith("/"))
async def text_message(
    message: Message, state: FSMContext, session: AsyncSession, user: User, nlu: NLUClient,
    settings: Settings, flooding: bool = False,
) -> None:  # fmt: skip
    await handle_text(
        message, message.text or "", state, session, user, nlu, settings, flooding=flooding
    )


async def handle_text(
    message: Message, text: str, state: FSMContext, session: AsyncSession, user: User,
    nlu: NLUClient, settings: Settings, *, draft: Draft | None = None, flooding: bool = False,
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
    await classify_draft(message, state, session, user, nlu, settings, draft)


async def classify_draft(
    message: Message, state: FSMContext, session: AsyncSession, user: User, nlu: NLUClient,
    settings: Settings, draft: Draft,
) -> None:  # fmt: skip
    """Propose a category for the whole draft, file it at once when urgent, or answer a
    question."""
    interpretation = await _interpret(nlu, draft.text)
    draft.normalized = normalize(draft.text)
    draft.intent = interpretation.intent
    draft.confidence = interpretation.confidence
    draft.model_version = interpretation.model_version
    draft.ranking = [r.category for r in interpretation.ranking]
    draft.proposed = interpretation.category
    if interpretation.urgent and not draft.urgent:
        draft.urgent_reason = interpretation.urgent_reason
    if draft.urgent:
        confident = interpretation.confidence >= settings.nlu_confidence_threshold
        category = urgent_category(
            draft.urgent_reason, interpretation.category if confident else None
        )
        await _submit(message, state, session, user, settings, draft, category)
        return
    if unreadable(draft.text):  # English, pinyin: the model reads Chinese only (nlu/language.py)
        talk = small_talk(draft.text)
        if talk is not None and len(draft.parts) == 1 and not draft.attachments:
            await drop_draft(state)
            await state.set_state(None)
            await answer_question(message, talk, session, user, settings)
            return
        await state.set_state(Report.choosing)  # still a demand: the draft keeps the words
        draft.new_question()
        await save_draft(state, draft)
        await message.answer(
            _("我最能读懂中文描述，用中文说一句识别得最准。您的原话已保存，请选择问题类别："),
            reply_markup=_category_keyboard(
                draft, list(load_taxonomy().ids), user.language, more=False
            ),
        )
        return
    if (
        interpretation.intent in QUESTION_INTENTS
        and interpretation.confidence >= settings.nlu_confidence_threshold
        and len(draft.parts) == 1  # a draft in progress is never dropped for a question
        and not draft.attachments
    ):
        await drop_draft(state)
        await state.set_state(None)
        await answer_question(message, interpretation.intent, session, user, settings)
        return
    draft.available = interpretation.available
    await state.set_state(Report.choosing)
    await _propose(message, state, draft, user, settings)


async def _propose(
    message: Message, state: FSMContext, draft: Draft, user: User, settings: Settings
) -> None:
    """The category question for ``draft``, with buttons that carry its new token."""
    draft.new_question()
    await save_draft(state, draft)
    if not draft.available:
        await message.answer(
            _("抱歉，自动识别暂时不可用。您的内容已保存，请选择问题类别："),
            reply_markup=_category_keyboard(
                draft, list(load_taxonomy().ids), user.language, more=False
            ),
        )
        return
    best = draft.proposed
    if best and (draft.confidence or 0.0) >= settings.nlu_confidence_threshold:
        name = load_taxonomy().get(best).name(user.language)
        await message.answer(
            _("您反映的是【{category}】问题，对吗？").format(category=name),
            reply_markup=_confirm_keyboard(draft, best),
        )
        return
    top = draft.ranking[:3] or ["other"]
    if "other" not in top:
        top.append("other")
    await message.answer(
        _("我不太确定您说的是哪类问题，请选一个最接近的："),
        reply_markup=_category_keyboard(draft, top, user.language, more=True),
    )


async def answer_question(
    message: Message, intent: str, session: AsyncSession, user: User, settings: Settings
) -> None:
    if intent == "greet":
        await message.answer(
            _("您好！有什么问题或建议，直接告诉我就行，比如“楼道灯不亮了”。"),
            reply_markup=keyboards.main_menu(user.role),
        )
    elif intent == "goodbye":
        await message.answer(
            _("不客气，有事随时找我！"), reply_markup=keyboards.main_menu(user.role)
        )
    elif intent == "ask_progress":
        await send_ticket_list(message, session, user, settings, page=0)
    elif intent == "ask_plan":
        await answer_plan_question(message, session, user)
    else:
        await message.answer(
            _(
                "我是小区改造助手，主要帮您反映小区里的问题和建议。"
                "有什么想反映的，直接打字告诉我；发送 /help 查看用法。"
            ),
            reply_markup=keyboards.main_menu(user.role),
        )


async def resume_pending_demand(
    message: Message, state: FSMContext, session: AsyncSession, user: User, nlu: NLUClient,
    settings: Settings,
) -> None:  # fmt: skip
    """Called once the resident has a compound: continue with a demand kept meanwhile."""
    draft = await load_draft(state)
    if draft is None or not draft.waiting_for_compound:
        return
    draft.waiting_for_compound = False
    await save_draft(state, draft)
    if draft.parts:
        await classify_draft(message, state, session, user, nlu, settings, draft)


# --- callbacks ----------------------------------------------------------------------------


async def _current_draft(
    query: CallbackQuery, callback_data: ReportCb, state: FSMContext, user: User,
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
        await _propose(message, state, draft, user, settings)
    return None


def _echo(text: str, limit: int = 200) -> str:
    """The resident's own words, shown back to them: escaped and cut."""
    return escape(cut(text, limit))


@router.callback_query(ReportCb.filter(F.action == "cancel"))
async def cancel_draft(
    query: CallbackQuery, callback_data: ReportCb, state: FSMContext, user: User,
    settings: Settings,
) -> None:  # fmt: skip
    if await _current_draft(query, callback_data, state, user, settings) is None:
        return
    await drop_draft(state)
    await state.set_state(None)
    await query.answer()
    await pressed_on(query).edit_text(_("已取消，这条内容没有提交。"))


@router.callback_query(ReportCb.filter(F.action == "all"))
async def all_categories(
    query: CallbackQuery, callback_data: ReportCb, state: FSMContext, user: User,
    settings: Settings,
) -> None:  # fmt: skip
    draft = await _current_draft(query, callback_data, state, user, settings)
    if draft is None:
        return
    await query.answer()
    await pressed_on(query).edit_text(
        _("请选择问题类别："),
        reply_markup=_category_keyboard(
            draft, list(load_taxonomy().ids), user.language, more=False
        ),
    )


@router.callback_query(ReportCb.filter(F.action == "cat"))
async def category_chosen(
    query: CallbackQuery, callback_data: ReportCb, state: FSMContext, session: AsyncSession,
    user: User, settings: Settings,
) -> None:  # fmt: skip
    draft = await _current_draft(query, callback_data, state, user, settings)
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
    await _submit(message, state, session, user, settings, draft, callback_data.value)


@router.callback_query(ReportCb.filter(F.action == "separate"))
async def submit_separately(
    query: CallbackQuery, callback_data: ReportCb, state: FSMContext, session: AsyncSession,
    user: User, settings: Settings,
) -> None:  # fmt: skip
    draft = await _current_draft(query, callback_data, state, user, settings)
    if draft is None:
        return
    if not draft.category:
        await query.answer(_("这条内容已经处理过了。"))
        return
    await query.answer()
    message = pressed_on(query)
    await message.edit_reply_markup(reply_markup=None)
    await _submit(message, state, session, user, settings, draft, draft.category)


@router.callback_query(ReportCb.filter(F.action == "endorse"))
async def endorse_existing(
    query: CallbackQuery, callback_data: ReportCb, state: FSMContext, session: AsyncSession,
    user: User, settings: Settings,
) -> None:  # fmt: skip
    draft = await _current_draft(query, callback_data, state, user, settings)
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


# --- creating the ticket ------------------------------------------------------------------


async def _submit(
    message: Message, state: FSMContext, session: AsyncSession, user: User, settings: Settings,
    draft: Draft, category: str,
) -> None:  # fmt: skip
    assert user.compound_id is not None  # a draft is filed once the compound is known
    ticket = await create_ticket(
        session=session,
        author=user,
        compound_id=user.compound_id,
        text=draft.text,
        normalized_text=draft.normalized or normalize(draft.text),
        classification=Classification(
            category=category,
            source="nlu" if draft.ranking and category == draft.ranking[0] else "resident",
            intent=draft.intent,
            confidence=draft.confidence,
            model_version=draft.model_version,
        ),
        urgent=draft.urgent,
        latitude=draft.location[0] if draft.location else None,
        longitude=draft.location[1] if draft.location else None,
        attachments=draft.attachments,
    )
    # Commit, then talk: a reply that fails (the resident blocked the bot a moment later, a
    # 5xx, a long 429) must not take the ticket with it.
    await session.commit()
    await drop_draft(state)
    await state.set_state(None)
    if ticket.urgent and not draft.safety_reply_sent:
        await message.answer(
            safety_advice(i18n=get_i18n(), language=user.language, settings=settings,
                          reason=draft.urgent_reason)
        )  # fmt: skip
    entry = load_taxonomy().get(category)
    await message.answer(
        _(
            "✅ 已提交！编号 <b>{reference}</b>\n"
            "类别：{category}（{tier}）\n"
            "社区应在 {deadline} 前受理，办理进展会发消息告诉您。\n"
            "在“📋 我的诉求”里可以随时查看。"
        ).format(
            reference=ticket.reference,
            category=entry.name(user.language),
            tier=entry.tier.name(user.language),
            deadline=local_time(ticket.response_due_at, settings.tz),
        ),
        reply_markup=keyboards.main_menu(user.role),
    )
