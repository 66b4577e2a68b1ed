"""Reporting a demand (我要反映): any free text outside another flow is a demand or a question.

The draft lives in the FSM data under "draft" until it becomes a ticket, so a photo, a
location or a voice message sent before or after the words is attached to it, and a demand
typed before the resident chose their compound is kept meanwhile ("pending").
"""

from __future__ import annotations

import asyncio
from html import escape
from typing import Any

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import I18n
from aiogram.utils.keyboard import InlineKeyboardBuilder
from sqlmodel.ext.asyncio.session import AsyncSession

from bot import keyboards
from bot.attachments import attachment_of
from bot.filters import MenuButton
from bot.handlers.board import send_board
from bot.handlers.mytickets import send_ticket_list
from bot.handlers.onboarding import ask_for_compound
from bot.i18n import _
from bot.settings import Settings
from bot.texts import MENU_REPORT, local_time
from models.demands import find_similar_open_tickets, urgent_category
from models.privacy import mask_phones
from models.tables import Ticket, User
from models.tickets import Classification, create_ticket, endorse, endorsement_count
from nlu.client import Interpretation, NLUClient, unavailable
from nlu.language import small_talk, unreadable
from nlu.normalize import normalize
from nlu.taxonomy import load_taxonomy

router = Router(name=__name__)
router.message.filter(F.chat.type == "private")

NLU_WAIT_SECONDS = 2.0  # the resident never waits longer than this for NLU
QUESTION_INTENTS = frozenset({"greet", "goodbye", "ask_progress", "ask_plan", "out_of_scope"})


class Report(StatesGroup):
    choosing = State()  # a category was proposed or offered; waiting for a tap
    awaiting_text = State()  # a photo, location or voice came without words


class ReportCb(CallbackData, prefix="rep"):
    action: str  # ok / cat / all / cancel / endorse / separate
    value: str = ""


# --- keyboards ----------------------------------------------------------------------------


def _confirm_keyboard(category: str) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(text=_("✅ 确认提交"), callback_data=ReportCb(action="cat", value=category))
    builder.button(text=_("🔄 换个类别"), callback_data=ReportCb(action="all"))
    builder.button(text=_("✖️ 取消"), callback_data=ReportCb(action="cancel"))
    builder.adjust(1, 2)
    return builder.as_markup()


def _category_keyboard(
    category_ids: list[str], language: str, *, more: bool
) -> InlineKeyboardMarkup:
    taxonomy = load_taxonomy()
    builder = InlineKeyboardBuilder()
    for category_id in category_ids:
        builder.button(
            text=taxonomy.get(category_id).name(language),
            callback_data=ReportCb(action="cat", value=category_id),
        )
    if more:
        builder.button(text=_("全部类别"), callback_data=ReportCb(action="all"))
    builder.button(text=_("✖️ 取消"), callback_data=ReportCb(action="cancel"))
    builder.adjust(2 if len(category_ids) > 4 else 1)
    return builder.as_markup()


def _duplicate_keyboard(ticket_id: int) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(
        text=_("👍 我也反映"), callback_data=ReportCb(action="endorse", value=str(ticket_id))
    )
    builder.button(text=_("仍然单独提交"), callback_data=ReportCb(action="separate"))
    builder.adjust(1)
    return builder.as_markup()


# --- the draft ----------------------------------------------------------------------------


async def _draft(state: FSMContext) -> dict[str, Any]:
    return dict((await state.get_data()).get("draft") or {})


async def _save_draft(state: FSMContext, draft: dict[str, Any]) -> None:
    await state.update_data(draft=draft)


async def _interpret(nlu: NLUClient, text: str) -> Interpretation:
    try:
        return await asyncio.wait_for(nlu.interpret(text), NLU_WAIT_SECONDS)
    except TimeoutError:
        # The client has its own timeout; this guard keeps the promise whatever happens.
        return unavailable(text)


# --- entry points -------------------------------------------------------------------------


@router.message(Command("report"))
@router.message(MenuButton(MENU_REPORT))
async def report_prompt(message: Message) -> None:
    await message.answer(
        _("请直接打字说说您遇到的问题或建议，比如“3号楼2单元楼道灯坏了”。也可以发照片或位置。")
    )


@router.message(F.photo | F.location | F.voice | F.video | F.document)
async def media(
    message: Message, state: FSMContext, session: AsyncSession, user: User, nlu: NLUClient,
    settings: Settings, i18n: I18n,
) -> None:  # fmt: skip
    draft = await _draft(state)
    attachment = attachment_of(message)
    if attachment is not None:
        draft.setdefault("attachments", []).append(list(attachment))
    elif message.location:
        draft["location"] = [message.location.latitude, message.location.longitude]
    await _save_draft(state, draft)
    if message.caption:
        await handle_text(message, message.caption, state, session, user, nlu, settings, i18n)
        return
    if draft.get("text"):
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
    settings: Settings, i18n: I18n, flooding: bool = False,
) -> None:  # fmt: skip
    await handle_text(
        message, message.text or "", state, session, user, nlu, settings, i18n, flooding=flooding
    )


async def handle_text(
    message: Message, text: str, state: FSMContext, session: AsyncSession, user: User,
    nlu: NLUClient, settings: Settings, i18n: I18n, *, flooding: bool = False,
) -> None:  # fmt: skip
    draft = await _draft(state)
    continuing = bool(draft.get("text")) and await state.get_state() == Report.choosing
    if continuing:
        text = f"{draft['text']}\n{text}"  # more words about the same problem
    draft["text"] = text
    await _save_draft(state, draft)
    if user.compound_id is None:
        await state.update_data(pending=True)
        await message.answer(_("好的，您说的我先记下了。请先告诉我您住在哪个小区。"))
        await ask_for_compound(message, state)
        return
    if flooding and await state.get_state() == Report.choosing:
        return  # added to the draft; the note about the flood was sent by the middleware
    interpretation = await _interpret(nlu, text)
    draft.update(
        normalized=normalize(text),
        intent=interpretation.intent,
        confidence=interpretation.confidence,
        model_version=interpretation.model_version,
        ranking=[r.category for r in interpretation.ranking],
    )
    await _save_draft(state, draft)
    if interpretation.urgent:
        confident = interpretation.confidence >= settings.nlu_confidence_threshold
        category = urgent_category(
            interpretation.urgent_reason, interpretation.category if confident else None
        )
        await _submit(
            message, state, session, user, settings, category, urgent=True,
            urgent_reason=interpretation.urgent_reason,
        )  # fmt: skip
        return
    if unreadable(text):  # English, pinyin: the model reads Chinese only (nlu/language.py)
        talk = small_talk(text)
        if talk is not None and not continuing and not draft.get("attachments"):
            await state.update_data(draft=None)
            await state.set_state(None)
            await answer_question(message, talk, session, user, settings)
            return
        await state.set_state(Report.choosing)  # still a demand: the draft keeps the words
        await message.answer(
            _("我最能读懂中文描述，用中文说一句识别得最准。您的原话已保存，请选择问题类别："),
            reply_markup=_category_keyboard(list(load_taxonomy().ids), user.language, more=False),
        )
        return
    if (
        interpretation.intent in QUESTION_INTENTS
        and interpretation.confidence >= settings.nlu_confidence_threshold
        and not continuing  # a draft in progress is never dropped for a question
        and not draft.get("attachments")
    ):
        await state.update_data(draft=None)
        await state.set_state(None)
        await answer_question(message, interpretation.intent, session, user, settings)  # type: ignore[arg-type]
        return
    await state.set_state(Report.choosing)
    if not interpretation.available:
        await message.answer(
            _("抱歉，自动识别暂时不可用。您的内容已保存，请选择问题类别："),
            reply_markup=_category_keyboard(list(load_taxonomy().ids), user.language, more=False),
        )
        return
    best = interpretation.category
    if best and interpretation.confidence >= settings.nlu_confidence_threshold:
        name = load_taxonomy().get(best).name(user.language)
        await message.answer(
            _("您反映的是【{category}】问题，对吗？").format(category=name),
            reply_markup=_confirm_keyboard(best),
        )
        return
    top = draft["ranking"][:3] or ["other"]
    if "other" not in top:
        top.append("other")
    await message.answer(
        _("我不太确定您说的是哪类问题，请选一个最接近的："),
        reply_markup=_category_keyboard(top, user.language, more=True),
    )


async def answer_question(
    message: Message, intent: str, session: AsyncSession, user: User, settings: Settings
) -> None:
    if intent == "greet":
        await message.answer(
            _("您好！有什么问题或建议，直接告诉我就行，比如“楼道灯不亮了”。"),
            reply_markup=keyboards.main_menu(),
        )
    elif intent == "goodbye":
        await message.answer(_("不客气，有事随时找我！"), reply_markup=keyboards.main_menu())
    elif intent == "ask_progress":
        await send_ticket_list(message, session, user, settings, page=0)
    elif intent == "ask_plan":
        await send_board(message, session, user, settings)
    else:
        await message.answer(
            _(
                "我是小区改造助手，主要帮您反映小区里的问题和建议。"
                "有什么想反映的，直接打字告诉我；发送 /help 查看用法。"
            ),
            reply_markup=keyboards.main_menu(),
        )


async def resume_pending_demand(
    message: Message, state: FSMContext, session: AsyncSession, user: User, nlu: NLUClient,
    settings: Settings, i18n: I18n,
) -> None:  # fmt: skip
    """Called once the resident has a compound: continue with a demand kept meanwhile."""
    data = await state.get_data()
    if not data.get("pending"):
        return
    await state.update_data(pending=False)
    draft = data.get("draft") or {}
    if draft.get("text"):
        await handle_text(message, draft["text"], state, session, user, nlu, settings, i18n)


# --- callbacks ----------------------------------------------------------------------------


@router.callback_query(ReportCb.filter(F.action == "cancel"))
async def cancel_draft(query: CallbackQuery, state: FSMContext) -> None:
    await state.update_data(draft=None)
    await state.set_state(None)
    await query.answer()
    await query.message.edit_text(_("已取消，这条内容没有提交。"))  # type: ignore[union-attr]


@router.callback_query(ReportCb.filter(F.action == "all"))
async def all_categories(query: CallbackQuery, user: User) -> None:
    await query.answer()
    await query.message.edit_text(  # type: ignore[union-attr]
        _("请选择问题类别："),
        reply_markup=_category_keyboard(list(load_taxonomy().ids), user.language, more=False),
    )


@router.callback_query(ReportCb.filter(F.action == "cat"))
async def category_chosen(
    query: CallbackQuery, callback_data: ReportCb, state: FSMContext, session: AsyncSession,
    user: User, settings: Settings,
) -> None:  # fmt: skip
    draft = await _draft(state)
    if not draft.get("text") or callback_data.value not in load_taxonomy():
        await query.answer(_("这条内容已经处理过了。"), show_alert=False)
        return
    await query.answer()
    await query.message.edit_reply_markup(reply_markup=None)  # type: ignore[union-attr]
    draft["category"] = callback_data.value
    await _save_draft(state, draft)
    similar = await find_similar_open_tickets(
        session=session,
        compound_id=user.compound_id,  # type: ignore[arg-type]
        category=callback_data.value,
        normalized_text=draft.get("normalized") or normalize(draft["text"]),
        exclude_author_id=user.id,
    )
    if similar:
        ticket = similar[0].ticket
        count = 1 + await endorsement_count(session=session, ticket_id=ticket.id)  # type: ignore[arg-type]
        await query.message.answer(  # type: ignore[union-attr]
            _("已有 {count} 位邻居反映过：『{text}』\n您是想一起反映这件事吗？").format(
                count=count, text=escape(mask_phones(ticket.text_original[:80]))
            ),
            reply_markup=_duplicate_keyboard(ticket.id),  # type: ignore[arg-type]
        )
        return
    await _submit(query.message, state, session, user, settings, callback_data.value)  # type: ignore[arg-type]


@router.callback_query(ReportCb.filter(F.action == "separate"))
async def submit_separately(
    query: CallbackQuery, state: FSMContext, session: AsyncSession, user: User, settings: Settings
) -> None:
    draft = await _draft(state)
    if not draft.get("category"):
        await query.answer(_("这条内容已经处理过了。"))
        return
    await query.answer()
    await query.message.edit_reply_markup(reply_markup=None)  # type: ignore[union-attr]
    await _submit(query.message, state, session, user, settings, draft["category"])  # type: ignore[arg-type]


@router.callback_query(ReportCb.filter(F.action == "endorse"))
async def endorse_existing(
    query: CallbackQuery, callback_data: ReportCb, state: FSMContext, session: AsyncSession,
    user: User,
) -> None:  # fmt: skip
    ticket = await session.get(Ticket, int(callback_data.value))
    if ticket is None or ticket.compound_id != user.compound_id:
        await query.answer(_("这条诉求已不存在。"), show_alert=True)
        return
    await endorse(session=session, ticket=ticket, user=user)
    await state.update_data(draft=None)
    await state.set_state(None)
    await query.answer()
    await query.message.edit_text(  # type: ignore[union-attr]
        _("👍 已为诉求 {reference} 加上您的一票。办理有进展时，我们也会通知您。").format(
            reference=ticket.reference
        )
    )


# --- creating the ticket ------------------------------------------------------------------


def _safety_advice(settings: Settings, reason: str | None) -> str:
    lines = [
        _("⚠️ <b>这可能是紧急情况，请先确保人身安全！</b>"),
        _("• 火警 119 · 报警 110 · 急救 120"),
    ]
    if reason == "gas":
        lines.append(
            _("• 燃气抢修：{number}").format(number=settings.gas_emergency_line)
            if settings.gas_emergency_line
            else _("• 燃气抢修：燃气公司 24 小时电话（见燃气表或缴费单）")
        )
        lines.append(_("• 闻到燃气味：不要开关电器、不要点火，开窗通风，到室外再打电话。"))
    elif reason == "electric":
        lines.append(_("• 不要靠近或触碰电线，远离积水，等专业人员处理。"))
    elif reason == "elevator":
        lines.append(_("• 被困电梯：保持冷静，按警铃或拨打电梯内的救援电话，不要扒门。"))
    lines.append(_("我们已同时通知社区工作人员。"))
    return "\n".join(lines)


async def _submit(
    message: Message, state: FSMContext, session: AsyncSession, user: User, settings: Settings,
    category: str, *, urgent: bool = False, urgent_reason: str | None = None,
) -> None:  # fmt: skip
    draft = await _draft(state)
    if urgent:
        await message.answer(_safety_advice(settings, urgent_reason))
    location = draft.get("location") or [None, None]
    ticket = await create_ticket(
        session=session,
        author=user,
        compound_id=user.compound_id,  # type: ignore[arg-type]
        text=draft["text"],
        normalized_text=draft.get("normalized") or normalize(draft["text"]),
        classification=Classification(
            category=category,
            source="nlu" if category == (draft.get("ranking") or [None])[0] else "resident",
            intent=draft.get("intent"),
            confidence=draft.get("confidence"),
            model_version=draft.get("model_version"),
        ),
        urgent=urgent,
        latitude=location[0],
        longitude=location[1],
        attachments=[tuple(a) for a in draft.get("attachments", [])],  # type: ignore[misc]
    )
    await state.update_data(draft=None)
    await state.set_state(None)
    entry = load_taxonomy().get(category)
    await message.answer(
        _(
            "✅ 已提交！编号 <b>{reference}</b>\n"
            "类别：{category}（{tier}）\n"
            "社区将在 {deadline} 前受理，进展会第一时间通知您。\n"
            "在“📋 我的诉求”里可以随时查看。"
        ).format(
            reference=ticket.reference,
            category=entry.name(user.language),
            tier=entry.tier.name(user.language),
            deadline=local_time(ticket.response_due_at, settings.tz),
        ),
        reply_markup=keyboards.main_menu(),
    )
