"""A database outage loses nothing: the update is spooled, the person is told, and the
message becomes a ticket once the database is back. A bug is not an outage: it is logged,
kept in the dead-letter file and apologised for. Replay survives a crash."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from datetime import timedelta
from pathlib import Path

import aiosqlite
import pytest
from _pytest.logging import LogCaptureFixture
from aiogram import F
from aiogram.types import Message
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlmodel import SQLModel, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.app import create_dispatcher
from bot.settings import Settings
from bot.spool import Spool, replay
from models.db import make_engine, make_session_factory, utcnow
from models.tables import Ticket
from models.tables import User as DbUser
from nlu.client import Interpretation
from tests.conftest import free_port, load_demo_registry
from tests.harness import FakeNLU, Harness
from tests.mocked_bot import make_bot


async def test_message_during_outage_is_kept_and_handled_after(tmp_path: Path) -> None:
    db_file = tmp_path / "live.db"
    engine: AsyncEngine = make_engine(f"sqlite+aiosqlite:///{db_file}")
    async with engine.begin() as conn:
        await conn.run_sync(SQLModel.metadata.create_all)
    factory = make_session_factory(engine)
    await load_demo_registry(factory)
    # The dispatcher talks to a database that cannot be opened (a directory, not a file).
    broken = make_engine(f"sqlite+aiosqlite:///{tmp_path}/no/such/dir/../../")
    settings = Settings(_env_file=None, telegram_bot_token="42:TEST")
    nlu = FakeNLU()
    nlu.teach("楼顶漏水了", "building", 0.92)
    spool_path = tmp_path / "spool.jsonl"
    down = create_dispatcher(settings=settings, session_factory=make_session_factory(broken),
                             nlu=nlu, run_outbox=False, spool_path=spool_path)  # fmt: skip
    bot, recorder = make_bot()
    down["bot_username"] = "diancai_test_bot"
    h = Harness(down, bot, recorder)

    replies = await h.send(1001, "/start c_hp01")
    assert any("消息已经保存" in r for r in replies)
    replies = await h.send(1001, "楼顶漏水了")
    assert any("消息已经保存" in r for r in replies)
    assert spool_path.exists() and len(spool_path.read_text().splitlines()) == 2

    # The database is back: the same updates, replayed, bind the compound and start the report.
    up = create_dispatcher(settings=settings, session_factory=factory, nlu=nlu,
                           run_outbox=False, spool_path=spool_path)  # fmt: skip
    up["bot_username"] = "diancai_test_bot"
    recorder.clear()
    assert await replay(spool=up["spool"], dispatcher=up, bot=bot) == 2
    assert not spool_path.exists()
    assert "您反映的是【楼体维修与节能】问题，对吗？" in recorder.texts()
    h.dp = up
    await h.press(1001, "✅ 确认提交")
    async with factory() as s:
        [ticket] = (await s.exec(select(Ticket))).all()
    assert ticket.text_original == "楼顶漏水了"
    await engine.dispose()
    await broken.dispose()


# --- a bug is not an outage -----------------------------------------------------------------

BUG_ZH = "抱歉，处理您的消息时出了问题。消息已经保存，等技术人员查明后处理，不用重发。"
BUG_EN = (
    "Sorry, something went wrong with your message. It is saved and will be handled once a "
    "technician has looked into it — no need to send it again."
)
DOWN_EN = (
    "We're doing maintenance. Your message is saved and will be handled automatically when "
    "we're back — no need to send it again. Sorry for the wait!"
)


def _harness(factory: async_sessionmaker[AsyncSession], spool_path: Path,
             nlu: FakeNLU | None = None) -> Harness:  # fmt: skip
    settings = Settings(_env_file=None, telegram_bot_token="42:TEST")
    dispatcher = create_dispatcher(settings=settings, session_factory=factory, nlu=nlu or FakeNLU(),
                                   run_outbox=False, spool_path=spool_path)  # fmt: skip
    dispatcher["bot_username"] = "diancai_test_bot"
    bot, recorder = make_bot()
    return Harness(dispatcher, bot, recorder, factory, nlu)


async def _second_account(message: Message, session: AsyncSession, user: DbUser) -> None:
    """A bug: a second account for the same Telegram user (IntegrityError)."""
    session.add(DbUser(telegram_id=user.telegram_id, chat_id=user.chat_id))
    await session.flush()


async def _long_building(message: Message, session: AsyncSession, user: DbUser) -> None:
    """A bug: a building longer than its column (DataError on PostgreSQL)."""
    user.building = "9" * 40 + "号楼"
    await session.flush()


async def _web_service_failed(message: Message) -> None:
    """A bug: an OSError that has nothing to do with the database."""
    raise ConnectionResetError("connection reset by some web service")


def _assert_kept_as_a_bug(h: Harness, text: str, error: str, caplog: LogCaptureFixture) -> None:
    spool: Spool = h.dp["spool"]
    assert len(spool) == 0  # not spooled: it would fail again every five seconds
    letters = [d for d in spool.dead_letters() if d["update"]["message"]["text"] == text]
    assert len(letters) == 1 and error in letters[0]["error"]
    assert "Traceback (most recent call last)" in letters[0]["traceback"]
    assert any(r.levelno == logging.ERROR and r.exc_info for r in caplog.records)


async def test_an_integrity_error_is_a_bug_not_an_outage(
    session_factory: async_sessionmaker[AsyncSession], tmp_path: Path, caplog: LogCaptureFixture
) -> None:
    await load_demo_registry(session_factory)
    h = _harness(session_factory, tmp_path / "spool" / "updates.jsonl")
    h.dp.message.register(_second_account, F.text == "再注册一次")
    assert await h.send(1001, "再注册一次") == [BUG_ZH]
    _assert_kept_as_a_bug(h, "再注册一次", "IntegrityError", caplog)
    assert await h.send(1002, "再注册一次", language_code="en") == [BUG_EN]
    assert (tmp_path / "spool" / "dead-letter.jsonl").exists()


@pytest.mark.parametrize(
    "engine", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
async def test_a_building_longer_than_its_column_is_a_bug_on_postgres(
    session_factory: async_sessionmaker[AsyncSession], tmp_path: Path, caplog: LogCaptureFixture
) -> None:
    await load_demo_registry(session_factory)
    h = _harness(session_factory, tmp_path / "updates.jsonl")
    h.dp.message.register(_long_building, F.text == "我住9999…号楼")
    assert await h.send(1001, "我住9999…号楼") == [BUG_ZH]
    _assert_kept_as_a_bug(h, "我住9999…号楼", "value too long", caplog)
    [letter] = h.dp["spool"].dead_letters()
    assert "StringDataRightTruncationError" in letter["traceback"]  # asyncpg's DataError
    # The database is fine: the next message is handled as usual.
    replies = await h.send(1001, "/start c_hp01")
    assert any("已为您绑定小区" in r for r in replies)


async def test_an_oserror_outside_the_database_is_a_bug(
    sqlite_engine: AsyncEngine, tmp_path: Path, caplog: LogCaptureFixture
) -> None:
    h = _harness(make_session_factory(sqlite_engine), tmp_path / "updates.jsonl")
    h.dp.message.register(_web_service_failed, F.text == "查一下")
    assert await h.send(1001, "查一下") == [BUG_ZH]
    _assert_kept_as_a_bug(h, "查一下", "ConnectionResetError", caplog)


async def test_a_database_server_that_refuses_connections_is_an_outage(tmp_path: Path) -> None:
    refused = make_engine(f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/diancai")
    h = _harness(make_session_factory(refused), tmp_path / "updates.jsonl")
    assert await h.send(1001, "/start c_hp01", language_code="en") == [DOWN_EN]
    assert len(h.dp["spool"]) == 1 and h.dp["spool"].dead_letters() == []
    await refused.dispose()


# --- replay is crash-safe -------------------------------------------------------------------


async def test_a_replay_interrupted_by_a_crash_loses_nothing_and_repeats_nothing(
    tmp_path: Path,
) -> None:
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'live.db'}")
    async with engine.begin() as conn:
        await conn.run_sync(SQLModel.metadata.create_all)
    factory = make_session_factory(engine)
    await load_demo_registry(factory)
    broken = make_engine(f"sqlite+aiosqlite:///{tmp_path}/no/such/dir/../../")
    spool_path = tmp_path / "updates.jsonl"
    down = _harness(make_session_factory(broken), spool_path)
    await down.send(1001, "/start c_hp01")
    await down.send(1001, "楼顶漏水了")
    await down.send(1002, "/start c_hp01")
    spool: Spool = down.dp["spool"]
    assert len(spool) == 3

    # Still down when the replayer tries: the pass stops, nothing is lost, nobody is told twice.
    down.recorder.clear()
    assert await replay(spool=spool, dispatcher=down.dp, bot=down.bot) == 0
    assert len(spool) == 3 and down.recorder.texts() == []

    # Back up; the process dies while the second update is being handled (its NLU call hangs).
    hanging = FakeNLU()
    entered = asyncio.Event()

    async def hang(text: str) -> Interpretation:
        entered.set()
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    hanging.interpret = hang  # type: ignore[method-assign]
    first = _harness(factory, spool_path, hanging)
    first.recorder = down.recorder
    task = asyncio.create_task(replay(spool=first.dp["spool"], dispatcher=first.dp, bot=down.bot))
    await entered.wait()
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert len(Spool(spool_path)) == 3  # the batch is still on disk

    # After the restart, the batch is replayed: the first update is not handled again.
    nlu = FakeNLU()
    nlu.teach("楼顶漏水了", "building", 0.92)
    second = _harness(factory, spool_path, nlu)
    assert await replay(spool=second.dp["spool"], dispatcher=second.dp, bot=down.bot) == 3
    assert not spool_path.exists() and not second.dp["spool"].replaying_path.exists()
    bound = [t for t in down.recorder.texts() if "已为您绑定小区" in t]
    assert len(bound) == 2  # 1001 once (before the crash), 1002 once
    assert down.recorder.texts(1001).count("您反映的是【楼体维修与节能】问题，对吗？") == 1
    async with factory() as s:
        users = (await s.exec(select(DbUser).order_by(DbUser.telegram_id))).all()
    assert [u.telegram_id for u in users if u.compound_id is not None] == [1001, 1002]
    await engine.dispose()
    await broken.dispose()


# --- SQLite under load ------------------------------------------------------------------------


@pytest.mark.parametrize("last_seen", ["just now", "an hour ago"])
async def test_a_resident_waiting_for_nlu_holds_up_no_other_writer(
    h: Harness, tmp_path: Path, last_seen: str
) -> None:
    """SQLite has one writer at a time: an update must not hold the write lock while its
    handler waits for NLU (or anything else), or thirty residents at once queue behind each
    other and some are told the system is down."""
    await h.bind(1001)
    if last_seen == "an hour ago":  # the message also refreshes when we last saw them
        async with h.factory() as s, s.begin():  # type: ignore[misc]
            user = (await s.exec(select(DbUser).where(DbUser.telegram_id == 1001))).one()
            user.last_seen_at -= timedelta(hours=1)
    locked: list[str] = []
    real_interpret = h.nlu.interpret  # type: ignore[union-attr]

    async def interpret(text: str) -> Interpretation:
        # Another writer, which does not wait at all, gets the lock now.
        async with aiosqlite.connect(tmp_path / "test.db", timeout=0) as other:
            try:
                await other.execute("BEGIN IMMEDIATE")
                await other.rollback()
            except sqlite3.OperationalError as error:
                locked.append(str(error))
        return await real_interpret(text)

    h.nlu.teach("楼道灯坏了好几天", "lighting", 0.9)  # type: ignore[union-attr]
    h.nlu.interpret = interpret  # type: ignore[union-attr, method-assign]
    replies = await h.send(1001, "楼道灯坏了好几天")
    assert any("您反映的是【" in r for r in replies) and locked == []
    user = await h.user(1001)
    assert user.last_seen_at > utcnow() - timedelta(minutes=5)


async def test_sqlite_connections_wait_for_the_write_lock_and_commit_cheaply(
    sqlite_engine: AsyncEngine,
) -> None:
    async with sqlite_engine.connect() as conn:
        pragmas = {
            name: (await conn.exec_driver_sql(f"PRAGMA {name}")).scalar()
            for name in ("journal_mode", "busy_timeout", "synchronous", "foreign_keys")
        }
    # WAL: readers never wait for the writer; a writer waits up to 15 s rather than failing;
    # NORMAL (1): no fsync at every commit in WAL mode.
    assert pragmas == {"journal_mode": "wal", "busy_timeout": 15000, "synchronous": 1,
                       "foreign_keys": 1}  # fmt: skip
