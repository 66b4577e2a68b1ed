"""With REDIS_URL set, conversation state lives in Redis and survives a bot restart."""

from __future__ import annotations

import os

import pytest
from aiogram.fsm.storage.base import DefaultKeyBuilder
from aiogram.fsm.storage.redis import RedisStorage
from sqlmodel import select

from bot.app import create_dispatcher, create_storage
from bot.settings import Settings
from models.db import make_session_factory
from models.tables import Ticket, TicketAttachment
from tests.conftest import load_demo_registry
from tests.harness import FakeNLU, Harness
from tests.mocked_bot import make_bot

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@pytest.fixture
async def redis_storage_factory():
    import redis.asyncio as redis

    client = redis.Redis.from_url(REDIS_URL)
    try:
        await client.ping()
    except Exception as error:
        pytest.skip(f"Redis not reachable at {REDIS_URL}: {error}")
    prefix = f"diancai-test-{os.getpid()}"
    made: list[RedisStorage] = []

    def make() -> RedisStorage:
        storage = RedisStorage(client, key_builder=DefaultKeyBuilder(prefix=prefix))
        made.append(storage)
        return storage

    yield make
    keys = await client.keys(f"{prefix}:*")
    if keys:
        await client.delete(*keys)
    await client.aclose()


def test_storage_follows_the_setting() -> None:
    assert type(create_storage(Settings(_env_file=None))).__name__ == "MemoryStorage"
    assert isinstance(create_storage(Settings(_env_file=None, redis_url=REDIS_URL)), RedisStorage)


async def test_draft_survives_a_restart(sqlite_engine, redis_storage_factory):
    factory = make_session_factory(sqlite_engine)
    await load_demo_registry(factory)
    settings = Settings(_env_file=None, telegram_bot_token="42:TEST")
    nlu = FakeNLU()
    bot, recorder = make_bot()

    def dispatcher():
        dp = create_dispatcher(settings=settings, session_factory=factory, nlu=nlu,
                               storage=redis_storage_factory(), run_outbox=False)  # fmt: skip
        dp["bot_username"] = "diancai_test_bot"
        return dp

    before = Harness(dispatcher(), bot, recorder)
    await before.send(1001, "/start c_hp01")
    assert any("一句话" in r for r in await before.send_photo(1001))
    after = Harness(dispatcher(), bot, recorder)  # the bot restarted; the photo is in Redis
    nlu.teach("健身器材坏了两个", "leisure_fitness", 0.9)
    await after.send(1001, "健身器材坏了两个")
    await after.press(1001, "✅ 确认提交")
    async with factory() as s:
        [ticket] = (await s.exec(select(Ticket))).all()
        [attachment] = (await s.exec(select(TicketAttachment))).all()
    assert ticket.category == "leisure_fitness" and attachment.ticket_id == ticket.id
