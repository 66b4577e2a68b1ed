"""Updates the bot could not handle, kept on disk beside each other (``var/spool/``):

- ``updates.jsonl``: updates that arrived while the database was down (raw Telegram updates,
  one a line, oldest first). The replayer feeds them to the dispatcher once it answers again.
- ``updates.replaying.jsonl``: the batch being replayed. ``updates.jsonl`` is renamed to it,
  replayed, then deleted, so updates spooled meanwhile start a new file and a crash in the
  middle loses nothing: the next pass replays the batch again. Each replayed update is marked in
  the database in the same transaction as its effects (``models.replays``), so the update a
  crash interrupted is replayed and the ones before it are skipped: nothing is done twice.
- ``dead-letter.jsonl``: updates whose handler failed with a bug (not an outage). Each line
  holds the error, its traceback and the update, for a human; once the bug is fixed, the
  ``update`` of a line appended to ``updates.jsonl`` is replayed like any other.

Only a failure to reach the database is an outage (``is_database_down``): an integrity or data
error is a bug in our code, and retrying it every few seconds would never help.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sqlite3
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
from aiogram import Bot, Dispatcher
from aiogram.types import Update
from sqlalchemy import exc, text
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from models.db import utcnow

log = logging.getLogger(__name__)

# SQLite result codes (the primary code, the low byte) that mean the database file cannot be
# used right now: busy or locked past the busy timeout, out of memory, read-only, I/O error,
# corrupt, disk full, cannot open, lock protocol error, not a database.
SQLITE_UNAVAILABLE = frozenset({5, 6, 7, 8, 10, 11, 13, 14, 15, 26})
# PostgreSQL SQLSTATE classes and codes of the same kind: connection exception, insufficient
# resources (too many connections, disk full), system error, the server shutting down or
# starting up, no such database, authentication failed.
POSTGRES_UNAVAILABLE_CLASSES = frozenset({"08", "53", "58", "3D", "28"})
POSTGRES_UNAVAILABLE_CODES = frozenset({"57P01", "57P02", "57P03"})
# Where an OSError must come from to be about the database (a refused or timed-out connection).
DATABASE_PACKAGES = ("sqlalchemy", "asyncpg", "aiosqlite", "sqlite3")


def _causes(error: BaseException) -> Iterator[BaseException]:
    """The error, what SQLAlchemy wrapped (``orig``) and what caused it, without loops."""
    seen: set[int] = set()
    pending = [error]
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        pending.extend(
            e
            for e in (getattr(current, "orig", None), current.__cause__, current.__context__)
            if isinstance(e, BaseException)
        )


def _raised_by_database(error: BaseException) -> bool:
    for frame, _line in traceback.walk_tb(error.__traceback__):
        module = str(frame.f_globals.get("__name__", ""))
        if module.split(".", 1)[0] in DATABASE_PACKAGES:
            return True
    return False


def is_database_down(error: BaseException) -> bool:
    """True when ``error`` means the database cannot be reached or used right now (an outage
    worth waiting out), False for anything else: a constraint or data error, a bad statement,
    an OSError of something else than the database connection."""
    for cause in _causes(error):
        if isinstance(cause, exc.DBAPIError) and cause.connection_invalidated:
            return True
        if isinstance(cause, exc.DisconnectionError | exc.TimeoutError):  # pool exhausted
            return True
        if isinstance(cause, sqlite3.Error):
            return (getattr(cause, "sqlite_errorcode", 0) & 0xFF) in SQLITE_UNAVAILABLE
        if isinstance(cause, asyncpg.PostgresError):
            state = str(getattr(cause, "sqlstate", "") or "")
            return state[:2] in POSTGRES_UNAVAILABLE_CLASSES or state in POSTGRES_UNAVAILABLE_CODES
        if isinstance(cause, OSError) and _raised_by_database(cause):
            return True
    return False


def _append_line(path: Path, line: str) -> None:
    """Append and make it durable: what is in these files must survive a crash."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as handle:
        handle.write(line + "\n")
        handle.flush()
        os.fsync(handle.fileno())


def _read_lines(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


class Spool:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.replaying_path = path.with_name(f"{path.stem}.replaying{path.suffix}")
        self.dead_letter_path = path.with_name("dead-letter.jsonl")
        self._lock = asyncio.Lock()

    async def append(self, update: Update) -> None:
        line = update.model_dump_json(exclude_none=True)
        async with self._lock:
            _append_line(self.path, line)

    async def batch(self) -> list[dict[str, Any]]:
        """The updates to replay now, oldest first: a batch a crash or an outage interrupted,
        else everything spooled so far (renamed, so new outages start a new file)."""
        async with self._lock:
            if not self.replaying_path.exists() and self.path.exists():
                os.replace(self.path, self.replaying_path)
            entries = _read_lines(self.replaying_path)
        # A line copied back from the dead-letter file carries the update under "update".
        return [entry.get("update", entry) for entry in entries]

    async def finish_batch(self) -> None:
        async with self._lock:
            self.replaying_path.unlink(missing_ok=True)

    async def dead_letter(self, update: Update, error: BaseException) -> bool:
        """Keep an update whose handler failed with a bug. False if it is already kept (the
        same update failing again when a crashed replay is resumed)."""
        entry = {
            "failed_at": utcnow().isoformat(),
            "update_id": update.update_id,
            "error": f"{type(error).__name__}: {error}",
            "traceback": "".join(traceback.format_exception(error)),
            "update": update.model_dump(mode="json", exclude_none=True),
        }
        async with self._lock:
            if any(e.get("update_id") == update.update_id for e in self.dead_letters()):
                return False
            _append_line(self.dead_letter_path, json.dumps(entry, ensure_ascii=False))
        return True

    def dead_letters(self) -> list[dict[str, Any]]:
        return _read_lines(self.dead_letter_path)

    def __len__(self) -> int:
        """Updates waiting to be replayed."""
        return len(_read_lines(self.path)) + len(_read_lines(self.replaying_path))


async def database_answers(factory: async_sessionmaker[AsyncSession]) -> bool:
    try:
        async with factory() as session:
            await session.scalar(text("SELECT 1"))
    except Exception:
        return False
    return True


async def replay(*, spool: Spool, dispatcher: Dispatcher, bot: Bot) -> int:
    """Feed spooled updates to the dispatcher, oldest first. Returns how many were handled.

    If the database is down again, the pass stops there and the rest of the batch waits for
    the next one (the resilience middleware raises instead of spooling a replayed update). An
    update whose handler fails with a bug goes to the dead-letter file (the middleware does
    it) and the pass goes on."""
    handled = 0
    for raw in await spool.batch():
        update = Update.model_validate(raw, context={"bot": bot})
        try:
            await dispatcher.feed_update(bot, update, replaying=True)
        except Exception as error:
            if is_database_down(error):
                log.warning("spool: database down again; %d updates wait", len(spool))
                return handled
            log.exception("spool: update %s failed on replay", update.update_id)
        handled += 1
    await spool.finish_batch()
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
