"""The demand a resident is reporting, from the draft to the ticket: the NLU's reading of the
whole draft, the category question (with buttons that carry the draft's token), a question
answered instead, and the ticket filed (at once when urgent).

The resident's messages and presses arrive in bot/handlers/report.py; a demand typed before
the resident chose their compound is resumed here once the compound is bound
(bot/handlers/onboarding.py, bot/handlers/common.py).
"""

from __future__ import annotations

import asyncio

from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import InlineKeyboardMarkup, Message
from aiogram.utils.i18n import get_i18n
from aiogram.utils.keyboard import InlineKeyboardBuilder
from sqlmodel.ext.asyncio.session import AsyncSession

from bot import keyboards
from bot.draft import Draft, drop_draft, load_draft, save_draft
from bot.i18n import _
from bot.safety import safety_advice
from bot.screens import answer_plan_question, send_ticket_list
from bot.settings import Settings
from bot.texts import local_time
from models.demands import urgent_category
from models.tables import User
from models.tickets import Classification, create_ticket
from nlu.client import Interpretation, NLUClient, unavailable
from nlu.language import small_talk, unreadable
from nlu.normalize import normalize
from nlu.taxonomy import load_taxonomy

NLU_WAIT_SECONDS = 2.0  # the resident never waits longer than this for NLU
QUESTION_INTENTS = frozenset({"greet", "goodbye", "ask_progress", "ask_plan", "out_of_scope"})


class Report(StatesGroup):
    choosing = State()  # a category was proposed or offered; waiting for a tap
    awaiting_text = State()  # a photo, location or voice came without words


class ReportCb(CallbackData, prefix="rep"):
    action: str  # ok / cat / all / cancel / endorse / separate
    draft: str  # the token of the draft the button was shown for
    value: str = ""


def _confirm_keyboard(draft: Draft, category: str) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    confirm = ReportCb(action="cat", draft=draft.token, value=category)
    builder.button(text=_("✅ 确认提交"), callback_data=confirm)
    builder.button(text=_("🔄 换个类别"), callback_data=ReportCb(action="all", draft=draft.token))
    builder.button(text=_("✖️ 取消"), callback_data=ReportCb(action="cancel", draft=draft.token))
    builder.adjust(1, 2)
    return builder.as_markup()


def category_keyboard(
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


async def _interpret(nlu: NLUClient, text: str) -> Interpretation:
    try:
        return await asyncio.wait_for(nlu.interpret(text), NLU_WAIT_SECONDS)
    except TimeoutError:
        # The client has its own timeout; this guard keeps the promise whatever happens.
        return unavailable(text)


async def classify_draft(
    message: Message, *, state: FSMContext, session: AsyncSession, user: User, nlu: NLUClient,
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
        await submit(message, state=state, session=session, user=user, settings=settings,
                     draft=draft, category=category)  # fmt: skip
        return
    if unreadable(draft.text):  # English, pinyin: the model reads Chinese only (nlu/language.py)
        talk = small_talk(draft.text)
        if talk is not None and len(draft.parts) == 1 and not draft.attachments:
            await drop_draft(state)
            await state.set_state(None)
            await answer_question(
                message, intent=talk, session=session, user=user, settings=settings
            )
            return
        await state.set_state(Report.choosing)  # still a demand: the draft keeps the words
        draft.new_question()
        await save_draft(state, draft)
        await message.answer(
            _("我最能读懂中文描述，用中文说一句识别得最准。您的原话已保存，请选择问题类别："),
            reply_markup=category_keyboard(
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
        await answer_question(
            message, intent=interpretation.intent, session=session, user=user, settings=settings
        )
        return
    draft.available = interpretation.available
    await state.set_state(Report.choosing)
    await propose(message, state=state, draft=draft, user=user, settings=settings)


async def propose(
    message: Message, *, state: FSMContext, draft: Draft, user: User, settings: Settings
) -> None:
    """The category question for ``draft``, with buttons that carry its new token."""
    draft.new_question()
    await save_draft(state, draft)
    if not draft.available:
        await message.answer(
            _("抱歉，自动识别暂时不可用。您的内容已保存，请选择问题类别："),
            reply_markup=category_keyboard(
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
        reply_markup=category_keyboard(draft, top, user.language, more=True),
    )


async def answer_question(
    message: Message, *, intent: str, session: AsyncSession, user: User, settings: Settings
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
        await send_ticket_list(message, session=session, user=user, settings=settings, page=0)
    elif intent == "ask_plan":
        await answer_plan_question(message, session=session, user=user)
    else:
        await message.answer(
            _(
                "我是小区改造助手，主要帮您反映小区里的问题和建议。"
                "有什么想反映的，直接打字告诉我；发送 /help 查看用法。"
            ),
            reply_markup=keyboards.main_menu(user.role),
        )


async def resume_pending_demand(
    message: Message, *, state: FSMContext, session: AsyncSession, user: User, nlu: NLUClient,
    settings: Settings,
) -> None:  # fmt: skip
    """Called once the resident has a compound: continue with a demand kept meanwhile."""
    draft = await load_draft(state)
    if draft is None or not draft.waiting_for_compound:
        return
    draft.waiting_for_compound = False
    await save_draft(state, draft)
    if draft.parts:
        await classify_draft(message, state=state, session=session, user=user, nlu=nlu,
                             settings=settings, draft=draft)  # fmt: skip


# --- creating the ticket ------------------------------------------------------------------


async def submit(
    message: Message, *, state: FSMContext, session: AsyncSession, user: User, settings: Settings,
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
