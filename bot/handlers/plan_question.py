"""The button under the short answer to a question about the renovation
(``bot.screens.answer_plan_question``, "什么时候开始改造？"): the whole board."""

from __future__ import annotations

from aiogram import Router
from aiogram.types import CallbackQuery
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.callbacks import pressed_on
from bot.screens import WholeBoardCb, send_board
from bot.settings import Settings
from models.tables import User


async def whole_board(
    query: CallbackQuery, session: AsyncSession, user: User, settings: Settings
) -> None:
    await query.answer()
    await send_board(pressed_on(query), session=session, user=user, settings=settings)


def router() -> Router:
    router = Router(name=__name__)
    router.callback_query.register(whole_board, WholeBoardCb.filter())
    return router
