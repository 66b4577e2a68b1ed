"""Answers to the scheduler's surveys: 回访 (问题解决了吗？ then 1–5, then words if any) and
民意验收 (the whole renovation, then each plan item the resident raised).

A press on someone else's survey, an ended one, or a question already answered gets a polite
word and changes nothing. What the resident gave is committed before the bot answers."""

from __future__ import annotations

from html import escape

from aiogram import F, Router
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.keyboard import InlineKeyboardBuilder
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.callbacks import pressed_on
from bot.i18n import N_, _
from bot.keyboards import AcceptCb, SurveyCb, acceptance_scores, survey_scores
from models.db import id_of
from models.surveys import (
    LOW_SCORES,
    SurveyClosed,
    answer_acceptance,
    answer_comment,
    answer_resolved,
    answer_score,
)
from models.tables import Survey, User

CLOSED_TEXTS = {
    "foreign": N_("这份问卷不是您的，或已不存在。"),
    "expired": N_("这份问卷已经结束了，谢谢您的关注。"),
    "answered": N_("这个问题您已经回答过了，谢谢！"),
}


class SurveyComment(StatesGroup):
    waiting = State()  # the resident types what is still wrong, or a comment


async def _closed(query: CallbackQuery, error: SurveyClosed) -> None:
    await query.answer(_(CLOSED_TEXTS[error.reason]), show_alert=True)


def _comment_button(survey_id: int) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(text=_("写评价"), callback_data=SurveyCb(id=survey_id, step="comment"))
    return builder.as_markup()


async def _ask_what_is_wrong(state: FSMContext, survey_id: int) -> None:
    await state.set_state(SurveyComment.waiting)
    await state.update_data(survey_id=survey_id)


async def resolved_pressed(
    query: CallbackQuery, callback_data: SurveyCb, session: AsyncSession, user: User,
    state: FSMContext,
) -> None:  # fmt: skip
    survey = await session.get(Survey, callback_data.id)
    resolved = bool(callback_data.value)
    try:
        outcome = await answer_resolved(
            session=session, survey=survey, user=user, resolved=resolved
        )
    except SurveyClosed as error:
        await _closed(query, error)
        return
    await session.commit()
    await query.answer()
    if resolved:
        text = _("太好了！请为这次办理打分：")
    else:
        await _ask_what_is_wrong(state, callback_data.id)
        told = (
            _("很抱歉。诉求已重新打开，社区工作人员已收到通知。")
            if outcome.reopened
            else _("很抱歉。社区工作人员已收到通知。")
        )
        ask = _("还有哪里没解决？请直接打字告诉我们（发送 /cancel 跳过）。也请为办理打分：")
        text = f"{told}\n{ask}"
    await pressed_on(query).edit_text(text, reply_markup=survey_scores(callback_data.id, _))


async def score_pressed(
    query: CallbackQuery, callback_data: SurveyCb, session: AsyncSession, user: User,
    state: FSMContext,
) -> None:  # fmt: skip
    survey = await session.get(Survey, callback_data.id)
    try:
        outcome = await answer_score(
            session=session, survey=survey, user=user, score=callback_data.value
        )
    except (SurveyClosed, ValueError) as error:
        await _closed(query, error if isinstance(error, SurveyClosed) else SurveyClosed("foreign"))
        return
    await session.commit()
    await query.answer()
    if callback_data.value in LOW_SCORES:
        await _ask_what_is_wrong(state, callback_data.id)
        told = (
            _("很抱歉。诉求已重新打开，社区工作人员已收到通知。")
            if outcome.reopened
            else _("谢谢您的评分，社区工作人员已收到通知。")
        )
        text = f"{told}\n" + _("还有哪里不满意？请直接打字告诉我们（发送 /cancel 跳过）。")
        await pressed_on(query).edit_text(text)
        return
    if await state.get_state() == SurveyComment.waiting.state:
        await pressed_on(query).edit_text(_("谢谢您的评分！还有哪里没解决，请直接打字告诉我们。"))
        return
    await pressed_on(query).edit_text(
        _("谢谢您的评价！如有意见或建议，可以点“写评价”。"),
        reply_markup=_comment_button(callback_data.id),
    )


async def comment_pressed(
    query: CallbackQuery, callback_data: SurveyCb, session: AsyncSession, user: User,
    state: FSMContext,
) -> None:  # fmt: skip
    survey = await session.get(Survey, callback_data.id)
    if survey is None or survey.user_id != user.id:
        await _closed(query, SurveyClosed("foreign"))
        return
    await _ask_what_is_wrong(state, callback_data.id)
    await query.answer()
    await pressed_on(query).answer(_("请输入您的意见（发送 /cancel 取消）："))


async def comment_received(
    message: Message, state: FSMContext, session: AsyncSession, user: User
) -> None:
    survey = await session.get(Survey, (await state.get_data()).get("survey_id"))
    await state.set_state(None)
    try:
        into_ticket = await answer_comment(
            session=session, survey=survey, user=user, text=message.text or ""
        )
    except SurveyClosed:
        await message.answer(_("这份问卷已经结束了，谢谢您的关注。"))
        return
    await session.commit()
    if into_ticket:
        await message.answer(_("已记入诉求，社区工作人员会看到。谢谢！"))
    else:
        await message.answer(_("已记录您的意见，谢谢！"))


async def acceptance_pressed(
    query: CallbackQuery, callback_data: AcceptCb, session: AsyncSession, user: User
) -> None:
    survey = await session.get(Survey, callback_data.id)
    try:
        following = await answer_acceptance(
            session=session, survey=survey, user=user, item_id=callback_data.item,
            score=callback_data.score,
        )  # fmt: skip
    except SurveyClosed as error:
        await _closed(query, error)
        return
    await session.commit()
    await query.answer()
    if following is None:
        await pressed_on(query).edit_text(_("谢谢您参与民意验收！结果将公布在小区改造公示中。"))
        return
    await pressed_on(query).edit_text(
        _("您反映过的改造内容「{title}」，效果如何？").format(title=escape(following.title)),
        reply_markup=acceptance_scores(callback_data.id, id_of(following), _),
    )


def router() -> Router:
    router = Router(name=__name__)
    router.callback_query.register(resolved_pressed, SurveyCb.filter(F.step == "resolved"))
    router.callback_query.register(score_pressed, SurveyCb.filter(F.step == "score"))
    router.callback_query.register(comment_pressed, SurveyCb.filter(F.step == "comment"))
    router.message.register(
        comment_received,
        SurveyComment.waiting,
        F.chat.type == "private",
        F.text,
        ~F.text.startswith("/"),
    )
    router.callback_query.register(acceptance_pressed, AcceptCb.filter())
    return router
