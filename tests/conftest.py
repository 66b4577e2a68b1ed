"""Shared fixtures: databases (SQLite always, PostgreSQL when it is running), the demo
registry, and a dispatcher wired to a recording bot."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import functools
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlmodel import SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

import models.tables  # noqa: F401  (registers the tables)
from models.db import make_engine, make_session_factory
from models.registry import import_compounds, import_plan_items

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "data" / "demo"
POSTGRES_URL = os.environ.get(
    "TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)
PG_SCHEMA = f"diancai_test_{os.getpid()}"


def pytest_sessionstart(session: pytest.Session) -> None:
    # The translations are compiled by `make`; do it here too so plain `pytest` works.
    for po in ROOT.glob("bot/locales/*/LC_MESSAGES/messages.po"):
        mo = po.with_suffix(".mo")
        if not mo.exists() or mo.stat().st_mtime < po.stat().st_mtime:
            subprocess.run(
                [sys.executable, "-m", "babel.messages.frontend", "compile", "-f", "-i", str(po),
                 "-o", str(mo)], check=True, capture_output=True,
            )  # fmt: skip


@functools.cache
def _postgres_unavailable_reason() -> str | None:
    import asyncpg

    async def probe() -> None:
        conn = await asyncpg.connect(
            POSTGRES_URL.replace("postgresql+asyncpg", "postgresql"), timeout=3
        )
        await conn.close()

    # In a thread of its own: fixtures asking for it already run inside an event loop.
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        try:
            pool.submit(asyncio.run, probe()).result()
        except Exception as error:
            return f"PostgreSQL not reachable at {POSTGRES_URL}: {error}"
    return None


@pytest.fixture(scope="session")
def postgres_url() -> str:
    reason = _postgres_unavailable_reason()
    if reason:
        pytest.skip(reason)
    return POSTGRES_URL


def postgres_engine(url: str) -> AsyncEngine:
    """An engine confined to this test run's own schema, so runs never see each other."""
    return make_engine(url, connect_args={"server_settings": {"search_path": PG_SCHEMA}})


async def _reset_schema(url: str) -> None:
    engine = make_engine(url)
    async with engine.begin() as conn:
        await conn.execute(text(f'DROP SCHEMA IF EXISTS "{PG_SCHEMA}" CASCADE'))
        await conn.execute(text(f'CREATE SCHEMA "{PG_SCHEMA}"'))
    await engine.dispose()


async def drop_schema(url: str) -> None:
    engine = make_engine(url)
    async with engine.begin() as conn:
        await conn.execute(text(f'DROP SCHEMA IF EXISTS "{PG_SCHEMA}" CASCADE'))
    await engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def engine(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    """A fresh, empty schema on each database the product runs on."""
    if request.param == "sqlite":
        db = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'test.db'}")
        async with db.begin() as conn:
            await conn.run_sync(SQLModel.metadata.create_all)
        yield db
        await db.dispose()
        return
    url = request.getfixturevalue("postgres_url")
    await _reset_schema(url)
    db = postgres_engine(url)
    async with db.begin() as conn:
        await conn.run_sync(SQLModel.metadata.create_all)
    yield db
    await db.dispose()
    await drop_schema(url)


@pytest.fixture
async def sqlite_engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    db = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'test.db'}")
    async with db.begin() as conn:
        await conn.run_sync(SQLModel.metadata.create_all)
    yield db
    await db.dispose()


@pytest.fixture
def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return make_session_factory(engine)


@pytest.fixture
async def session(session_factory: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    async with session_factory() as s:
        yield s


async def load_demo_registry(factory: async_sessionmaker[AsyncSession]) -> None:
    async with factory() as s, s.begin():
        await import_compounds(session=s, path=DEMO / "compounds.csv")
        await import_plan_items(session=s, path=DEMO / "plan_items.csv")


async def until(condition: Callable[[], object], within: float = 5.0) -> None:
    """Wait until ``condition()`` holds, checking often: for work done by a task the test
    started. Fails after ``within`` seconds rather than hanging."""
    deadline = asyncio.get_running_loop().time() + within
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"not so after {within} s")
        await asyncio.sleep(0.01)


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def rasa_url() -> Iterator[str]:
    """A Rasa server with the current model, on a free port, for the whole test session.

    Not 5005: the tests always run against the model of the current config and data, never
    against an older server someone left running. `make test` trains the model first.
    """
    from nlu import server
    from nlu.model import model_path

    model = model_path()
    if not model.exists():
        pytest.fail(f"{model} is missing: run `make nlu-model` (make test does it first)")
    handle = server.start(port=free_port(), model=model)
    try:
        yield handle.url
    finally:
        server.stop(handle)


@contextlib.asynccontextmanager
async def dispatcher_harness(engine: AsyncEngine, spool_path: Path) -> AsyncIterator[Any]:
    from bot.app import create_dispatcher
    from bot.settings import Settings
    from tests.harness import ADMIN, FakeNLU, Harness
    from tests.mocked_bot import make_bot

    factory = make_session_factory(engine)
    await load_demo_registry(factory)
    settings = Settings(_env_file=None, telegram_bot_token="42:TEST", admin_ids=[ADMIN])
    nlu = FakeNLU()
    dispatcher = create_dispatcher(
        settings=settings, session_factory=factory, nlu=nlu, run_outbox=False,
        spool_path=spool_path,
    )  # fmt: skip
    bot, recorder = make_bot()
    await dispatcher.emit_startup(bot=bot, dispatcher=dispatcher, **dispatcher.workflow_data)
    yield Harness(dispatcher, bot, recorder, factory, nlu)
    await dispatcher.emit_shutdown(bot=bot, dispatcher=dispatcher, **dispatcher.workflow_data)


@pytest.fixture
async def h(sqlite_engine: AsyncEngine, tmp_path: Path) -> AsyncIterator[object]:
    """The real dispatcher with a recording bot, a fake NLU and the demo registry (SQLite)."""
    async with dispatcher_harness(sqlite_engine, tmp_path / "spool.jsonl") as harness:
        yield harness


@pytest.fixture
async def h_db(engine: AsyncEngine, tmp_path: Path) -> AsyncIterator[object]:
    """The same, on each database the product runs on: PostgreSQL refuses what SQLite lets
    through (a VARCHAR too long), and a database error is answered as an outage."""
    async with dispatcher_harness(engine, tmp_path / "spool.jsonl") as harness:
        yield harness
