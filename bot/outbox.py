"""The outbox sender: drains ``outbox_message`` rows within Telegram's limits.

- at most ``outbox_global_rate`` messages per second overall, and one per
  ``outbox_per_chat_interval`` seconds to any one chat;
- a 429 pauses all sending for ``retry_after`` (Telegram's limits are per bot) and the row is
  tried again afterwards, without counting an attempt;
- a 403 (the user blocked the bot) parks the row and marks the user unreachable;
- a 400 cannot succeed on retry: parked with the error;
- other errors (network, 5xx) are retried with exponential backoff, then parked;
- non-urgent rows wait out quiet hours;
- at start-up, rows claimed by a sender that died are due again (sent at least once); while
  running, so are rows claimed longer ago than a lease (a pass that failed half-way);
- a row whose handling fails unexpectedly counts a failed attempt; the pass goes on.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from aiogram import Bot
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramNotFound,
    TelegramRetryAfter,
)
from aiogram.utils.i18n import I18n
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.messages import UnknownTemplate, render, send_rendered
from bot.settings import Settings
from models import outbox
from models.db import utcnow
from models.tables import OutboxMessage, User

log = logging.getLogger(__name__)

# A claim older than this was left by a pass that failed: its rows are due again. A pass
# handles at most a batch of rows, each within about a second, so this is generous.
CLAIM_LEASE = timedelta(minutes=5)


class RateLimiter:
    """Spaces sends: a global minimum interval and a per-chat one.

    ``clock`` (monotonic seconds) and ``sleep`` are the real ones by default; tests give a fake
    pair and check the limits on the fake clock without waiting.
    """

    def __init__(
        self,
        global_rate: float,
        per_chat_interval: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.global_interval = 1.0 / global_rate
        self.per_chat_interval = per_chat_interval
        self.clock, self._sleep = clock, sleep
        self._next_global = 0.0
        self._next_for_chat: dict[int, float] = {}
        self.paused_until = 0.0

    def chat_wait(self, chat_id: int) -> float:
        return max(0.0, self._next_for_chat.get(chat_id, 0.0) - self.clock())

    def pause_left(self) -> float:
        """Seconds until a 429's pause ends (0 when not paused)."""
        return max(0.0, self.paused_until - self.clock())

    async def acquire(self, chat_id: int) -> None:
        now = self.clock()
        if len(self._next_for_chat) > 10_000:  # chats whose slot has passed need no entry
            self._next_for_chat = {c: t for c, t in self._next_for_chat.items() if t > now}
        start = max(
            now, self._next_global, self.paused_until, self._next_for_chat.get(chat_id, 0.0)
        )
        self._next_global = start + self.global_interval
        self._next_for_chat[chat_id] = start + self.per_chat_interval
        if start > now:
            await self._sleep(start - now)

    def pause(self, seconds: float) -> None:
        self.paused_until = max(self.paused_until, self.clock() + seconds)


class OutboxSender:
    def __init__(
        self,
        *,
        bot: Bot,
        session_factory: async_sessionmaker[AsyncSession],
        settings: Settings,
        i18n: I18n,
        idle_interval: float = 0.5,
        batch_size: int = 30,
        claim_lease: timedelta = CLAIM_LEASE,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.bot, self.session_factory, self.settings, self.i18n = (
            bot,
            session_factory,
            settings,
            i18n,
        )
        self.limiter = RateLimiter(
            settings.outbox_global_rate, settings.outbox_per_chat_interval, clock=clock, sleep=sleep
        )
        self.idle_interval, self.batch_size = idle_interval, batch_size
        self.claim_lease = claim_lease
        self._next_lease_check = 0.0
        self._stopping = asyncio.Event()
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """Something was enqueued: look now rather than at the next poll."""
        self._wake.set()

    async def stop(self) -> None:
        self._stopping.set()
        self._wake.set()

    async def run(self) -> None:
        async with self.session_factory() as session, session.begin():
            recovered = await outbox.recover_claimed(session=session)
        if recovered:
            log.warning("outbox: %d messages claimed before a crash are due again", recovered)
        self._next_lease_check = self.limiter.clock() + self.claim_lease.total_seconds() / 4
        while not self._stopping.is_set():
            try:
                await self._recover_expired_claims()
                handled = await self.run_once()
            except Exception:  # the sender must outlive a database hiccup
                log.exception("outbox: pass failed")
                handled = 0
            if not handled:
                self._wake.clear()
                try:
                    await asyncio.wait_for(self._wake.wait(), self.idle_interval)
                except TimeoutError:
                    pass

    async def _recover_expired_claims(self) -> None:
        """Between passes (so none of this sender's own claims is in flight), rows claimed
        longer ago than the lease are due again."""
        if self.limiter.clock() < self._next_lease_check:
            return
        self._next_lease_check = self.limiter.clock() + self.claim_lease.total_seconds() / 4
        async with self.session_factory() as session, session.begin():
            recovered = await outbox.recover_claimed(
                session=session, claimed_before=utcnow() - self.claim_lease
            )
        if recovered:
            log.warning("outbox: %d messages left claimed by a failed pass are due again",
                        recovered)  # fmt: skip

    async def run_once(self) -> int:
        """Claim due rows and try each once. Returns how many rows were handled."""
        now = utcnow()
        async with self.session_factory() as session, session.begin():
            rows = await outbox.claim_due(session=session, now=now, limit=self.batch_size)
        for row in rows:
            try:
                await self._handle(row)
            except Exception as error:
                log.exception("outbox: message %s failed", row.id)
                # Counted as a failed attempt, so a row that always fails ends up parked
                # rather than blocking the ones behind it. If even that cannot be written
                # (the database is down), the pass stops: the lease returns its claims.
                async with self.session_factory() as session, session.begin():
                    outbox.mark_failed(
                        await session.merge(row), now=utcnow(),
                        error=f"{type(error).__name__}: {error}",
                        max_attempts=self.settings.outbox_max_attempts,
                    )  # fmt: skip
        return len(rows)

    async def _handle(self, row: OutboxMessage) -> None:
        now = utcnow()
        async with self.session_factory() as session, session.begin():
            row = await session.merge(row)
            quiet_end = None if row.urgent else self._quiet_end(now)
            wait = max(self.limiter.chat_wait(row.chat_id), self.limiter.pause_left())
            if quiet_end is not None:
                outbox.postpone(row, quiet_end)
                return
            if wait > 1.0:  # don't hold the whole batch for one busy chat
                outbox.postpone(row, now + timedelta(seconds=wait))
                return
            await self._send(session, row)

    def _quiet_end(self, now: datetime) -> datetime | None:
        s = self.settings
        return outbox.quiet_hours_end(
            now, start=s.quiet_hours_start, end=s.quiet_hours_end, tz=s.tz
        )

    async def _send(self, session: AsyncSession, row: OutboxMessage) -> None:
        recipient = await session.get(User, row.user_id) if row.user_id else None
        language = recipient.language if recipient else self.settings.default_locale
        try:
            rendered = await render(
                session=session,
                i18n=self.i18n,
                language=language,
                tz=self.settings.tz,
                template=row.payload.get("template", ""),
                params=row.payload.get("params", {}),
            )
        except UnknownTemplate as error:
            outbox.park(row, error=str(error))
            return
        await self.limiter.acquire(row.chat_id)
        try:
            message = await send_rendered(self.bot, row.chat_id, rendered)  # text, photo or file
        except TelegramRetryAfter as error:
            self.limiter.pause(error.retry_after)
            outbox.postpone(row, utcnow() + timedelta(seconds=error.retry_after))
        except TelegramForbiddenError as error:
            outbox.park(row, error=f"blocked: {error.message}")
            if recipient is not None:
                recipient.reachable, recipient.blocked_at = False, utcnow()
        except (TelegramBadRequest, TelegramNotFound) as error:
            outbox.park(row, error=error.message)
        except Exception as error:  # network errors, 5xx: worth retrying
            outbox.mark_failed(
                row, now=utcnow(), error=f"{type(error).__name__}: {error}",
                max_attempts=self.settings.outbox_max_attempts,
            )  # fmt: skip
        else:
            outbox.mark_sent(row, now=utcnow(), telegram_message_id=message.message_id)
