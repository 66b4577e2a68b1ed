"""Building the bot and its dispatcher. Long-lived objects are created once here and reach
handlers by parameter name (aiogram's workflow data)."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.enums import ParseMode
from aiogram.exceptions import TelegramRetryAfter
from aiogram.fsm.storage.base import BaseStorage
from aiogram.fsm.storage.memory import MemoryStorage
from aiogram.utils.i18n import I18n
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.commands import register_commands
from bot.handlers import STAFF_STATES, root_router
from bot.i18n import KnownLanguages, UserLocaleMiddleware, make_i18n
from bot.middlewares import DatabaseMiddleware, ThrottlingMiddleware, UserMiddleware
from bot.middlewares.resilience import ReplayOnceMiddleware, ResilienceMiddleware
from bot.middlewares.sequence import ChatSequenceMiddleware
from bot.notices import DISPATCHER_LEASE, SENDER_LEASE, NoticeDispatcher, hold_lease, holder_id
from bot.outbox import OutboxSender
from bot.safety import UrgentMiddleware
from bot.settings import Settings
from bot.spool import Spool, replay_forever
from models.demands import warm_up as warm_up_demands
from nlu.client import NLUClient

log = logging.getLogger(__name__)


MAX_REPLY_WAIT = 30  # seconds; a longer flood wait is not worth holding a reply for


async def wait_out_flood_limits(make_request: Any, bot: Bot, method: Any) -> Any:
    """Session middleware for replies in handlers: on 429 wait ``retry_after`` and try again,
    so an answer to a resident is late rather than lost."""
    for _attempt in range(3):
        try:
            return await make_request(bot, method)
        except TelegramRetryAfter as error:
            if error.retry_after > MAX_REPLY_WAIT:
                raise
            await asyncio.sleep(error.retry_after)
    return await make_request(bot, method)


def create_bot(settings: Settings, token: str, *, wait_on_flood: bool = True) -> Bot:
    """``wait_on_flood=False`` for the outbox sender, which paces itself and reschedules."""
    api = (
        TelegramAPIServer.from_base(settings.telegram_api_base)
        if settings.telegram_api_base
        else None
    )
    session = AiohttpSession(api=api) if api else AiohttpSession()
    if wait_on_flood:
        session.middleware(wait_out_flood_limits)
    return Bot(token, session=session, default=DefaultBotProperties(parse_mode=ParseMode.HTML))


def create_storage(settings: Settings) -> BaseStorage:
    if settings.redis_url:
        from aiogram.fsm.storage.redis import RedisStorage

        return RedisStorage.from_url(settings.redis_url)
    return MemoryStorage()


def create_dispatcher(
    *,
    settings: Settings,
    session_factory: async_sessionmaker[AsyncSession],
    nlu: NLUClient,
    i18n: I18n | None = None,
    storage: BaseStorage | None = None,
    run_outbox: bool = True,
    spool_path: Path | None = None,
) -> Dispatcher:
    i18n = i18n or make_i18n(settings.default_locale)
    dispatcher = Dispatcher(
        storage=storage or create_storage(settings),
        settings=settings,
        session_factory=session_factory,
        nlu=nlu,
        i18n=i18n,
        languages=KnownLanguages(),
    )
    spool = Spool(spool_path or Path("var/spool/updates.jsonl"))
    dispatcher["spool"] = spool
    # Order matters: the safety reply first (no database, no waiting), then the outage spool,
    # one update at a time per chat, and only then a database session.
    dispatcher.update.outer_middleware(UrgentMiddleware(staff_states=STAFF_STATES))
    dispatcher.update.outer_middleware(ResilienceMiddleware(spool))
    dispatcher.update.outer_middleware(ChatSequenceMiddleware())
    dispatcher.update.outer_middleware(DatabaseMiddleware(session_factory))
    dispatcher.update.outer_middleware(UserMiddleware())
    dispatcher.update.outer_middleware(ReplayOnceMiddleware())
    UserLocaleMiddleware(i18n).setup(dispatcher)
    dispatcher.message.middleware(ThrottlingMiddleware())
    dispatcher.include_router(root_router())
    dispatcher.startup.register(_on_startup)
    dispatcher.shutdown.register(_on_shutdown)
    dispatcher["run_outbox"] = run_outbox
    return dispatcher


async def _on_startup(dispatcher: Dispatcher, bot: Bot) -> None:
    settings: Settings = dispatcher["settings"]
    await asyncio.to_thread(warm_up_demands)
    me = await bot.get_me()
    dispatcher["bot_username"] = me.username
    await register_commands(bot, dispatcher["i18n"])
    if dispatcher["run_outbox"]:
        _start_background(dispatcher, bot, settings)
        dispatcher["spool_task"] = asyncio.create_task(
            replay_forever(spool=dispatcher["spool"], dispatcher=dispatcher, bot=bot,
                           factory=dispatcher["session_factory"]),
            name="spool-replay",
        )  # fmt: skip
    log.info("bot @%s started", me.username)


def _start_background(dispatcher: Dispatcher, bot: Bot, settings: Settings) -> None:
    """The outbox sender and the notice dispatcher, each only while this process holds its
    lease: several bot processes (behind a webhook load balancer) have one of each active."""
    sender_bot = create_bot(settings, bot.token, wait_on_flood=False)
    factory = dispatcher["session_factory"]
    stopping, holder = asyncio.Event(), holder_id()

    def run_sender() -> Any:
        sender = OutboxSender(bot=sender_bot, session_factory=factory, settings=settings,
                              i18n=dispatcher["i18n"])  # fmt: skip
        dispatcher["outbox_sender"] = sender
        return sender.run()

    def wake_sender() -> None:
        sender: OutboxSender | None = dispatcher.workflow_data.get("outbox_sender")
        if sender is not None:
            sender.wake()

    notices = NoticeDispatcher(bot=bot, session_factory=factory, i18n=dispatcher["i18n"],
                               wake=wake_sender)  # fmt: skip
    dispatcher["sender_bot"], dispatcher["leases_stopping"] = sender_bot, stopping
    dispatcher["lease_tasks"] = [
        asyncio.create_task(
            hold_lease(name=name, holder=holder, factory=factory, job=job, stopping=stopping),
            name=f"lease-{name}",
        )
        for name, job in ((SENDER_LEASE, run_sender), (DISPATCHER_LEASE, notices.run))
    ]


async def _on_shutdown(dispatcher: Dispatcher) -> None:
    spool_task: asyncio.Task[Any] | None = dispatcher.workflow_data.get("spool_task")
    if spool_task is not None:
        spool_task.cancel()
        await asyncio.gather(spool_task, return_exceptions=True)
    sender: OutboxSender | None = dispatcher.workflow_data.get("outbox_sender")
    if sender is not None:
        await sender.stop()  # finish the batch in hand, then give the leases up
    stopping: asyncio.Event | None = dispatcher.workflow_data.get("leases_stopping")
    if stopping is not None:
        stopping.set()
        await asyncio.gather(*dispatcher["lease_tasks"], return_exceptions=True)
        await dispatcher["sender_bot"].session.close()
    await dispatcher["nlu"].close()
