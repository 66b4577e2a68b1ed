"""Background work for notices, and one active outbox sender across bot processes.

- ``hold_lease`` runs a job only while this process holds a named lease (models/leases.py):
  with several bot processes behind a webhook load balancer, exactly one outbox sender paces
  messages within Telegram's 30/s, and a standby takes over when the holder dies.
- ``NoticeDispatcher`` (under its own lease) starts notices when they are due (scheduled ones
  survive restarts: they are rows), keeps each author's report message up to date while
  sending, moves finished notices to ``sent``, and deletes recalled notices' messages.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
from collections.abc import Callable, Coroutine
from datetime import timedelta
from typing import Any

from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest, TelegramForbiddenError, TelegramRetryAfter
from aiogram.utils.i18n import I18n
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.i18n import translate
from bot.notice_texts import manage_markup, report_text
from models import notices
from models.db import utcnow
from models.leases import acquire_lease, release_lease
from models.tables import Notice, NoticeState, OutboxState, User

log = logging.getLogger(__name__)

LEASE_TTL = timedelta(seconds=15)
SENDER_LEASE = "outbox-sender"
DISPATCHER_LEASE = "notice-dispatcher"
REPORT_EVERY = 3.0  # seconds between edits of a report while sending
DELETES_PER_PASS = 25  # 撤回: deletions per pass (about one pass a second)


def holder_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


async def hold_lease(
    *,
    name: str,
    holder: str,
    factory: async_sessionmaker[AsyncSession],
    job: Callable[[], Coroutine[Any, Any, None]],
    stopping: asyncio.Event,
    ttl: timedelta = LEASE_TTL,
) -> None:
    """Run ``job`` while holding lease ``name``, renewing it every ttl/3; stop the job at once
    when the lease cannot be renewed (another process may take over after ``ttl``)."""
    task: asyncio.Task[None] | None = None
    try:
        while not stopping.is_set():
            try:
                async with factory() as session:
                    held = await acquire_lease(session=session, name=name, holder=holder, ttl=ttl)
            except Exception:
                log.exception("lease %s: renewal failed", name)
                held = False
            if held and (task is None or task.done()):
                log.info("lease %s: %s is now the active one", name, holder)
                task = asyncio.create_task(job(), name=f"lease-{name}")
            elif not held and task is not None:
                log.warning("lease %s: lost, stopping", name)
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
                task = None
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), ttl.total_seconds() / 3)
    finally:
        if task is not None:
            if stopping.is_set():  # a clean shutdown: a job told to stop finishes its batch
                await asyncio.wait({task}, timeout=min(5.0, ttl.total_seconds() / 2))
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            with contextlib.suppress(Exception):
                async with factory() as session:
                    await release_lease(session=session, name=name, holder=holder)


class NoticeDispatcher:
    def __init__(
        self,
        *,
        bot: Bot,
        session_factory: async_sessionmaker[AsyncSession],
        i18n: I18n,
        interval: float = 1.0,
        wake: Callable[[], None] | None = None,
    ) -> None:
        self.bot, self.factory, self.i18n = bot, session_factory, i18n
        self.interval, self.wake = interval, wake or (lambda: None)
        self._reported: dict[int, tuple[float, str]] = {}  # notice → (when, text) last shown

    async def run(self) -> None:
        while True:
            try:
                await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("notices: pass failed")
            await asyncio.sleep(self.interval)

    async def run_once(self) -> None:
        now = utcnow()
        async with self.factory() as session:
            due = await notices.due_notice_ids(session=session, now=now)
        for notice_id in due:
            async with self.factory() as session, session.begin():
                started = await notices.start_notice(session=session, notice_id=notice_id, now=now)
            if started is not None:
                log.info("notice %s: sending to %s residents", notice_id, started.pushed)
                self.wake()
                await self.report(notice_id, force=True)
        async with self.factory() as session:
            active = await notices.active_notice_ids(session=session)
        for notice_id in active:
            await self._recall(notice_id)
            async with self.factory() as session, session.begin():
                notice = await session.get(Notice, notice_id)
                before = notice.state if notice else None
                if notice is not None:
                    await notices.finish_if_done(session=session, notice=notice)
                finished = notice is not None and notice.state != before
            await self.report(notice_id, force=finished)

    async def report(self, notice_id: int, *, force: bool = False) -> None:
        """Edit the author's report message: every few seconds while sending, and at the end."""
        async with self.factory() as session:
            notice = await session.get(Notice, notice_id)
            if notice is None or notice.report_message_id is None:
                return
            author = await session.get(User, notice.author_id)
            current = await notices.progress(session=session, notice=notice)
        last_at, last_text = self._reported.get(notice_id, (0.0, ""))
        if not force and time.monotonic() - last_at < REPORT_EVERY:
            return
        language = author.language if author else "zh"
        text = report_text(lambda m: translate(self.i18n, language, m), notice, current)
        if text == last_text:
            return
        markup = manage_markup(lambda m: translate(self.i18n, language, m), notice)
        try:
            await self.bot.edit_message_text(
                chat_id=notice.report_chat_id,
                message_id=notice.report_message_id,
                text=text,
                reply_markup=markup,
            )
        except TelegramBadRequest as error:
            if "not modified" not in error.message:
                log.warning("notice %s: report not updated: %s", notice_id, error.message)
        except (TelegramForbiddenError, TelegramRetryAfter) as error:
            log.warning("notice %s: report not updated: %s", notice_id, error)
            return
        self._reported[notice_id] = (time.monotonic(), text)

    async def _recall(self, notice_id: int) -> None:
        async with self.factory() as session:
            notice = await session.get(Notice, notice_id)
            if notice is None or notice.recalled_at is None:
                return
            rows = await notices.messages_to_delete(
                session=session, notice_id=notice_id, limit=DELETES_PER_PASS
            )
        for row in rows:
            if row.telegram_message_id is None:  # never: the query asks for sent messages
                continue
            try:
                await self.bot.delete_message(
                    chat_id=row.chat_id,
                    message_id=row.telegram_message_id,
                )
            except TelegramRetryAfter as error:
                await asyncio.sleep(error.retry_after)
                return
            except (TelegramBadRequest, TelegramForbiddenError) as error:
                log.info("notice %s: message not deleted: %s", notice_id, error)
            async with self.factory() as session, session.begin():
                merged = await session.merge(row)
                merged.state = OutboxState.recalled
            await asyncio.sleep(1 / DELETES_PER_PASS)
        if not rows:
            async with self.factory() as session, session.begin():
                notice = await session.get(Notice, notice_id)
                if notice is not None and notice.state == NoticeState.sending:
                    notice.state = NoticeState.sent
