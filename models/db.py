"""Engine, async sessions and the column types shared by the tables."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from sqlalchemy import DateTime, event
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.types import TypeDecorator
from sqlmodel.ext.asyncio.session import AsyncSession


def utcnow() -> datetime:
    return datetime.now(UTC)


class _Row(Protocol):
    id: int | None


def id_of(row: _Row) -> int:
    """The primary key of a row that is in the database (loaded, or added and flushed).

    Every table declares ``id: int | None`` because a new object has no key until the database
    gives it one; code that holds a stored row states that here instead of trusting it silently.
    """
    if row.id is None:
        raise ValueError(f"{type(row).__name__} has no id yet: add it and flush first")
    return row.id


def stored_ids(ids: Iterable[int | None]) -> list[int]:
    """Primary keys read back by a query (``select(Compound.id)``): never NULL in the database,
    though typed ``int | None`` like the ``id`` they come from."""
    return [key for key in ids if key is not None]


class UTCDateTime(TypeDecorator[datetime]):
    """Stores UTC and always returns aware UTC datetimes (SQLite forgets the zone otherwise)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; store aware UTC datetimes")
        value = value.astimezone(UTC)
        # SQLite compares datetimes as text: keep one format, without an offset.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(
        self,
        value: datetime | None,
        dialect: Dialect,  # noqa: ARG002 - TypeDecorator's signature
    ) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# SQLite allows one writer at a time. WAL lets readers go on while someone writes; a writer that
# finds the database locked waits up to the busy timeout instead of failing at once; NORMAL
# synchronisation in WAL mode syncs at checkpoints, not at every commit (a power cut may lose the
# last commits, never corrupt the file), which keeps each write transaction short.
SQLITE_PRAGMAS = (
    "PRAGMA foreign_keys=ON",
    "PRAGMA journal_mode=WAL",
    "PRAGMA busy_timeout=15000",
    "PRAGMA synchronous=NORMAL",
)


def make_engine(database_url: str, **kwargs: object) -> AsyncEngine:
    if database_url.startswith("sqlite"):
        _ensure_sqlite_dir(database_url)
        engine = create_async_engine(database_url, **kwargs)

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):
            cursor = dbapi_connection.cursor()
            for pragma in SQLITE_PRAGMAS:
                cursor.execute(pragma)
            cursor.close()

        return engine
    return create_async_engine(database_url, pool_pre_ping=True, **kwargs)


def _ensure_sqlite_dir(database_url: str) -> None:
    path = database_url.split(":///", 1)[-1]
    if path and path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)


def make_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)


@asynccontextmanager
async def transaction(factory: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """A session whose work is committed on success and rolled back on error."""
    async with factory() as session, session.begin():
        yield session
