"""Helpers for the sandbox tests (importable from test modules; the fixtures are in conftest)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiohttp import web

from sandbox.core import Sandbox

TOKEN = "123456789:SANDBOX-test-token"


def make_bot(api_url: str, token: str = TOKEN) -> Bot:
    """A real aiogram bot talking HTTP to the sandbox (HTML parse mode, as Diancai uses)."""
    return Bot(
        token,
        session=AiohttpSession(api=TelegramAPIServer.from_base(api_url)),
        default=DefaultBotProperties(parse_mode="HTML"),
    )


@contextlib.asynccontextmanager
async def polling(bot: Bot, dispatcher: Dispatcher, sb: Sandbox) -> AsyncIterator[Dispatcher]:
    """Run `dispatcher` in polling mode for the duration of the block."""
    before = sb.stats.requests.get("getUpdates", 0)
    task = asyncio.create_task(
        dispatcher.start_polling(
            bot, handle_signals=False, polling_timeout=2, close_bot_session=False
        )
    )
    try:
        await eventually(lambda: _true(sb.stats.requests.get("getUpdates", 0) > before))
        yield dispatcher
    finally:
        with contextlib.suppress(RuntimeError):
            await dispatcher.stop_polling()
        await asyncio.wait_for(task, 10)


async def _true(value: bool) -> bool:
    return value


@contextlib.asynccontextmanager
async def http_server(
    handler: Callable[[web.Request], Awaitable[web.StreamResponse]] | web.Application,
    path: str = "/hook",
) -> AsyncIterator[str]:
    """An aiohttp app on a free loopback port; yields its base URL."""
    if isinstance(handler, web.Application):
        app = handler
    else:
        app = web.Application()
        app.router.add_post(path, handler)
    runner = web.AppRunner(app, shutdown_timeout=1.0)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    try:
        yield f"http://{host}:{port}"
    finally:
        await runner.cleanup()


async def eventually(check: Callable[[], Awaitable[Any]], within: float = 5.0) -> Any:
    """Await `check()` until it returns something truthy."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        result = await check()
        if result:
            return result
        if loop.time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)
