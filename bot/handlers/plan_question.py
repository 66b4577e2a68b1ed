"""A free question about the compound's renovation ("什么时候开始改造？", "啥时候动工",
"改造到哪一步了"): a few lines from the board's figures — the stage, whether the works have
begun, the planned year and finish, the next step — and a button to the whole board
(bot/handlers/board.py), rather than the whole board at once."""

from __future__ import annotations

from html import escape

from aiogram import Router
from aiogram.filters.callback_data import CallbackData
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.keyboard import InlineKeyboardBuilder
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.callbacks import pressed_on
from bot.handlers.board import STAGE_LABELS, progress_bar, send_board
from bot.i18n import N_, _
from bot.settings import Settings
from models.renovation import RenovationStatus, renovation_status
from models.tables import RenovationStage, User

router = Router(name=__name__)

# What comes after each stage, in the words a resident would use.
NEXT_STEPS = {
    RenovationStage.surveying: N_("下一步：根据居民反映的问题定改造方案。"),
    RenovationStage.planning: N_("下一步：方案定下来以后开工。"),
    RenovationStage.construction: N_("下一步：完工后请居民验收打分。"),
    RenovationStage.completed: N_("下一步：居民验收打分（民意验收）。"),
}


class WholeBoardCb(CallbackData, prefix="board"):
    """The button under the short answer: the whole board of the resident's compound."""


def _whole_board_button() -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(text=_("🏘 查看完整改造公示"), callback_data=WholeBoardCb())
    return builder.as_markup()


def plan_answer(status: RenovationStatus, *, notified: bool) -> str:
    """The short answer; ``notified``: the resident gets stage changes as messages."""
    stage = _(STAGE_LABELS[status.stage])
    if not status.started:
        now = _("现在：{stage}，还没开工。").format(stage=stage)
    elif status.stage == RenovationStage.construction:
        now = _("现在：{stage}，已经开工。").format(stage=stage)
    else:
        now = _("现在：{stage}，已经完工。").format(stage=stage)
    lines = [_("🏘 <b>{name}</b> 的改造").format(name=escape(status.compound.name)), now]
    if status.started:
        lines.append(
            _("总进度：{bar}").format(bar=progress_bar(status.compound.renovation_progress))
        )
    if status.compound.renovation_year:
        lines.append(_("计划改造年份：{year} 年").format(year=status.compound.renovation_year))
    if status.items:
        lines.append(
            _("改造内容 {n} 项：已完成 {done} 项，施工中 {doing} 项。").format(
                n=status.items, done=status.items_done, doing=status.items_in_progress
            )
        )
    elif status.stage == RenovationStage.surveying:
        lines.append(_("改造方案还没有定下来。您想改什么，直接打字告诉我。"))
    else:
        lines.append(_("改造方案还没有公布。"))
    if status.planned_finish is not None:
        lines.append(_("计划完工：{date}").format(date=status.planned_finish.strftime("%Y-%m-%d")))
    if status.next_stage is None:
        lines.append(_("改造已经完成并通过验收。"))
    else:
        lines.append(_(NEXT_STEPS[status.stage]))
        if notified:
            lines.append(_("进入下一阶段时，我会发消息告诉您。"))
    return "\n".join(lines)


async def answer_plan_question(message: Message, session: AsyncSession, user: User) -> None:
    status = (
        await renovation_status(session=session, compound_id=user.compound_id)
        if user.compound_id
        else None
    )
    if status is None:
        await message.answer(_("您还没有选择小区。发送 /start 选择后就能看到本小区的改造公示。"))
        return
    await message.answer(
        plan_answer(status, notified=user.notifications_enabled),
        reply_markup=_whole_board_button(),
    )


@router.callback_query(WholeBoardCb.filter())
async def whole_board(
    query: CallbackQuery, session: AsyncSession, user: User, settings: Settings
) -> None:
    await query.answer()
    await send_board(pressed_on(query), session, user, settings)
