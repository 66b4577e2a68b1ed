"""Updates that arrived while the database was down, kept on disk until it is back.

The spool is a JSON-lines file of raw Telegram updates. The replayer feeds them to the
dispatcher again, oldest first, once the database answers; an update that still fails
stays in the spool.
"""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path

from aiogram import Bot, Dispatcher
from aiogram.types import Update
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

log = logging.getLogger(__name__)

# Errors that mean "the database cannot be reached", as opposed to a bug in a handler.
DATABASE_DOWN = (OperationalError, InterfaceError, DBAPIError, ConnectionError, OSError)


class Spool:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = asyncio.Lock()

    async def append(self, update: Update) -> None:
        line = update.model_dump_json(exclude_none=True)
        async with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as handle:
                handle.write(line + "\n")

    async def take_all(self) -> list[dict[str, object]]:
        async with self._lock:
            if not self.path.exists():
                return []
            lines = self.path.read_text(encoding="utf-8").splitlines()
            self.path.unlink()
        return [json.loads(line) for line in lines if line.strip()]

    def __len__(self) -> int:
        if not self.path.exists():
            return 0
        return sum(1 for line in self.path.read_text(encoding="utf-8").splitlines() if line.strip())


async def database_answers(factory: async_sessionmaker[AsyncSession]) -> bool:
    try:
        async with factory() as session:
            await session.exec(text("SELECT 1"))  # type: ignore[call-overload]
    except DATABASE_DOWN:
        return False
    return True


async def replay(*, spool: Spool, dispatcher: Dispatcher, bot: Bot) -> int:
    """Feed spooled updates to the dispatcher, oldest first. Returns how many were handled.

    If the database is still down, the resilience middleware spools an update again (without
    answering the person twice). An update whose handler fails for another reason is a bug, not
    an outage: it is logged and not retried forever."""
    handled = 0
    for raw in await spool.take_all():
        update = Update.model_validate(raw, context={"bot": bot})
        try:
            await dispatcher.feed_update(bot, update, replaying=True)
        except Exception:
            log.exception("spool: update %s failed on replay", update.update_id)
            continue
        handled += 1
    return handled


async def replay_forever(
    *, spool: Spool, dispatcher: Dispatcher, bot: Bot, factory: async_sessionmaker[AsyncSession],
    interval: float = 5.0,
) -> None:  # fmt: skip
    while True:
        await asyncio.sleep(interval)
        if len(spool) and await database_answers(factory):
            sent = await replay(spool=spool, dispatcher=dispatcher, bot=bot)
            log.info("spool: replayed %d updates", sent)
