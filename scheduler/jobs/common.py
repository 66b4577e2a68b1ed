"""What every sweep shares: quiet hours, batching, and the local clock."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.settings import Settings
from models.outbox import quiet_hours_end

BATCH = 500
T = TypeVar("T")


def not_before(now: datetime, settings: Settings, *, urgent: bool = False) -> datetime | None:
    """When a push made at ``now`` may go out: after the quiet hours, unless urgent.
    (The sender checks again when it sends; this keeps a sweep's clock, e.g. run-due's.)"""
    if urgent:
        return None
    return quiet_hours_end(
        now, start=settings.quiet_hours_start, end=settings.quiet_hours_end, tz=settings.tz
    )


def local_day(now: datetime, settings: Settings) -> date:
    return now.astimezone(settings.tz).date()


def day_start(day: date, settings: Settings) -> datetime:
    """Midnight of ``day`` in the local time zone, as an aware datetime."""
    return datetime.combine(day, time(0), tzinfo=settings.tz)


def next_day_start(day: date, settings: Settings) -> datetime:
    return day_start(day + timedelta(days=1), settings)


async def in_batches(
    session_factory: async_sessionmaker[AsyncSession],
    fetch: Callable[[AsyncSession, Any], Any],
    handle: Callable[[AsyncSession, T], Any],
) -> int:
    """Fetch ids after the last one seen, ``BATCH`` at a time, and handle each batch in its
    own transaction: a crash loses at most one batch's work, which the next run redoes (the
    dedupe keys make that safe). Returns how many items ``handle`` counted."""

    async def each(session: AsyncSession, items: list[T]) -> int:
        return sum([int(await handle(session, item) or 0) for item in items])

    return await in_whole_batches(session_factory, fetch, each)


async def in_whole_batches(
    session_factory: async_sessionmaker[AsyncSession],
    fetch: Callable[[AsyncSession, Any], Any],
    handle: Callable[[AsyncSession, list[T]], Any],
) -> int:
    """``in_batches``, with ``handle`` given a whole batch (for set-wise work)."""
    done, after = 0, None
    while True:
        async with session_factory() as session, session.begin():
            items = list(await fetch(session, after))
            if not items:
                return done
            done += int(await handle(session, items) or 0)
            after = items[-1]
        if len(items) < BATCH:
            return done
