"""The urgent path, checked before anything else: onboarding, flood control, drafts, even the
database. Every text and caption, new or edited, is matched against the urgent patterns
(nlu/urgent.py) over its whole length; on a match the safety reply (119 / 110 / 120, the gas
line) is the first answer the person gets, and the handlers then file the urgent ticket."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import Message, TelegramObject, Update
from aiogram.utils.i18n import I18n

from bot.i18n import N_, KnownLanguages, translate
from bot.settings import Settings
from nlu.urgent import UrgentMatch, urgent_in

log = logging.getLogger(__name__)

URGENT_KEY = "urgent"  # in handler data: the UrgentMatch of this message, if any
SAFETY_SENT_KEY = "safety_reply_sent"


def safety_advice(*, i18n: I18n, language: str, settings: Settings, reason: str | None) -> str:
    def t(text: str) -> str:
        return translate(i18n, language, text)

    lines = [
        t(N_("⚠️ <b>这可能是紧急情况，请先确保人身安全！</b>")),
        t(N_("• 火警 119 · 报警 110 · 急救 120")),
    ]
    if reason == "gas":
        lines.append(
            t(N_("• 燃气抢修：{number}")).format(number=settings.gas_emergency_line)
            if settings.gas_emergency_line
            else t(N_("• 燃气抢修：燃气公司 24 小时电话（见燃气表或缴费单）"))
        )
        lines.append(t(N_("• 闻到燃气味：不要开关电器、不要点火，开窗通风，到室外再打电话。")))
    elif reason == "electric":
        lines.append(t(N_("• 不要靠近或触碰电线，远离积水，等专业人员处理。")))
    elif reason == "elevator":
        lines.append(t(N_("• 被困电梯：保持冷静，按警铃或拨打电梯内的救援电话，不要扒门。")))
    lines.append(t(N_("我们已同时通知社区工作人员。")))
    return "\n".join(lines)


def message_of(update: Update) -> Message | None:
    return update.message or update.edited_message


def urgent_match(message: Message) -> UrgentMatch | None:
    """The urgent pattern a person's text or caption matches, over its whole length."""
    if message.from_user is None or message.from_user.is_bot:
        return None
    text = message.text or message.caption or ""
    if not text or text.startswith("/"):
        return None
    return urgent_in(text)


async def send_safety_reply(message: Message, match: UrgentMatch, data: dict[str, Any]) -> None:
    """Once per update, whatever fails later; a failed send is logged, never raised, so the
    update goes on to be filed."""
    if data.get(SAFETY_SENT_KEY) or data.get("replaying"):
        return
    data[SAFETY_SENT_KEY] = True
    languages: KnownLanguages = data["languages"]  # known without the database
    text = safety_advice(
        i18n=data["i18n"], language=languages.of(message.from_user), settings=data["settings"],
        reason=match.reason,
    )  # fmt: skip
    try:
        await data["bot"].send_message(message.chat.id, text)
    except Exception:
        log.exception("could not send the safety reply to chat %s", message.chat.id)


class UrgentMiddleware(BaseMiddleware):
    """Outer update middleware, registered before the database and the conversation's lock:
    the safety reply never waits for a query, a slow NLU call or an earlier message.

    ``staff_states``: a worker typing a note ("燃气泄漏已处理") is not reporting a danger."""

    def __init__(self, *, staff_states: frozenset[str] = frozenset()) -> None:
        self.staff_states = staff_states

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        message = message_of(event) if isinstance(event, Update) else None
        if message is not None and data.get("raw_state") not in self.staff_states:
            match = urgent_match(message)
            if match is not None:
                data[URGENT_KEY] = match
                await send_safety_reply(message, match, data)
        return await handler(event, data)
