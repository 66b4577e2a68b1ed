"""Getting updates: getUpdates offset semantics and long polling, and webhook delivery."""

from __future__ import annotations

import asyncio

import pytest
from aiogram import Bot, Dispatcher
from aiogram.exceptions import TelegramConflictError
from aiogram.methods import SendMessage
from aiogram.types import Message
from aiogram.webhook.aiohttp_server import SimpleRequestHandler
from aiohttp import web
from sandbox_helpers import eventually, http_server

from sandbox.app import SandboxServer
from sandbox.client import SandboxClient
from sandbox.echo import make_dispatcher


async def test_get_updates_offset_semantics(client: SandboxClient, bot: Bot) -> None:
    user = await client.create_user("王阿姨")
    for text in ("一", "二", "三"):
        await client.send_text(user["id"], text)

    updates = await bot.get_updates(timeout=0)
    assert [u.message.text for u in updates if u.message] == ["一", "二", "三"]
    ids = [u.update_id for u in updates]
    assert ids == sorted(ids) and len(set(ids)) == 3
    # not confirmed yet: the same updates come again
    assert [u.update_id for u in await bot.get_updates(timeout=0)] == ids
    assert [u.update_id for u in await bot.get_updates(limit=2, timeout=0)] == ids[:2]
    # offset confirms everything before it
    assert [u.update_id for u in await bot.get_updates(offset=ids[1], timeout=0)] == ids[1:]
    assert [u.update_id for u in await bot.get_updates(timeout=0)] == ids[1:]
    # a negative offset keeps only the last ones
    assert [u.update_id for u in await bot.get_updates(offset=-1, timeout=0)] == ids[2:]
    assert await bot.get_updates(offset=ids[2] + 1, timeout=0) == []


async def held_poll(sandbox: SandboxServer, bot: Bot, timeout: int) -> asyncio.Task:
    """A getUpdates long poll, returned once the sandbox holds it (not merely sent)."""
    sb = sandbox.sandbox
    before = sb.poll_generation
    poll = asyncio.create_task(bot.get_updates(timeout=timeout))
    # the sandbox wakes its waiters when a getUpdates arrives: no guessing with a sleep
    assert await sb.wait_for(lambda: sb.poll_generation > before, 5), "getUpdates never arrived"
    return poll


async def test_long_poll_returns_when_an_update_arrives(
    sandbox: SandboxServer, client: SandboxClient, bot: Bot
) -> None:
    user = await client.create_user("王阿姨")
    poll = await held_poll(sandbox, bot, timeout=60)
    assert not poll.done()  # nothing to return yet: it waits
    await client.send_text(user["id"], "在吗")
    # answered by the update, long before its 60 s (the guard only keeps a failure short)
    updates = await asyncio.wait_for(poll, 10)
    assert [u.message.text for u in updates if u.message] == ["在吗"]
    # and an empty long poll waits for its timeout
    loop = asyncio.get_running_loop()
    started = loop.time()
    assert await bot.get_updates(offset=updates[0].update_id + 1, timeout=1) == []
    assert loop.time() - started >= 0.9


async def test_allowed_updates_filters(client: SandboxClient, bot: Bot) -> None:
    user = await client.create_user("王阿姨")
    await client.send_text(user["id"], "消息")
    assert await bot.get_updates(timeout=0, allowed_updates=["callback_query"]) == []
    await client.send_text(user["id"], "也被过滤")
    assert await bot.get_updates(timeout=0) == []  # the setting persists
    await bot.get_updates(timeout=0, allowed_updates=[])  # back to the default
    await client.send_text(user["id"], "又能收到了")
    assert [u.message.text for u in await bot.get_updates(timeout=0) if u.message] == ["又能收到了"]


async def test_a_second_poller_terminates_the_first(sandbox: SandboxServer, bot: Bot) -> None:
    first = await held_poll(sandbox, bot, timeout=5)
    second = asyncio.create_task(bot.get_updates(timeout=1))
    with pytest.raises(TelegramConflictError, match="terminated by other getUpdates request"):
        await first
    assert await second == []


async def test_webhook_delivery_with_secret_token(
    sandbox: SandboxServer, client: SandboxClient, bot: Bot
) -> None:
    secret = "s3cret-token_1"
    seen_headers: list[str | None] = []
    app = web.Application()

    @web.middleware
    async def record(request: web.Request, handler):  # type: ignore[no-untyped-def]
        seen_headers.append(request.headers.get("X-Telegram-Bot-Api-Secret-Token"))
        return await handler(request)

    app.middlewares.append(record)
    SimpleRequestHandler(make_dispatcher(), bot, secret_token=secret).register(app, "/hook")
    async with http_server(app) as base:
        assert await bot.set_webhook(f"{base}/hook", secret_token=secret) is True
        info = await bot.get_webhook_info()
        assert info.url == f"{base}/hook" and info.pending_update_count == 0
        with pytest.raises(TelegramConflictError, match="can't use getUpdates method while"):
            await bot.get_updates(timeout=0)

        user = await client.create_user("王阿姨")
        sent = await client.send_text(user["id"], "走 webhook")
        answer = await client.wait(user["id"], since=sent["message_id"])
        assert answer[0]["text"] == "收到：走 webhook"
        assert seen_headers and set(seen_headers) == {secret}
        await bot.delete_webhook()
    assert (await bot.get_webhook_info()).url == ""
    assert await bot.get_updates(timeout=0) == []
    assert (await client.stats())["webhook"]["deliveries"] >= 1


async def test_webhook_reply_in_the_response_body(
    sandbox: SandboxServer, client: SandboxClient, bot: Bot
) -> None:
    """aiogram can answer an update in the webhook response itself (multipart "method")."""
    dispatcher = Dispatcher()

    @dispatcher.message()
    async def reply(message: Message) -> SendMessage:
        return message.answer(f"直接回复：{message.text}")

    app = web.Application()
    SimpleRequestHandler(dispatcher, bot, handle_in_background=False).register(app, "/hook")
    async with http_server(app) as base:
        await bot.set_webhook(f"{base}/hook")
        user = await client.create_user("王阿姨")
        sent = await client.send_text(user["id"], "你好")
        answer = await client.wait(user["id"], since=sent["message_id"])
        await bot.delete_webhook()
    assert answer[0]["text"] == "直接回复：你好"


async def test_webhook_retries_until_the_endpoint_answers(
    sandbox: SandboxServer, client: SandboxClient, bot: Bot
) -> None:
    calls: list[int] = []

    async def flaky(request: web.Request) -> web.Response:
        calls.append((await request.json())["update_id"])
        if len(calls) < 3:
            return web.Response(status=500)
        return web.json_response({})

    async with http_server(flaky) as base:
        await bot.set_webhook(f"{base}/hook")
        user = await client.create_user("王阿姨")
        await client.send_text(user["id"], "重试")

        async def delivered() -> bool:
            return len(calls) >= 3 and (await bot.get_webhook_info()).pending_update_count == 0

        await eventually(delivered, within=8)
        info = await bot.get_webhook_info()
        assert (
            info.last_error_message == "Wrong response from the webhook: 500 Internal Server Error"
        )
        assert len(set(calls)) == 1  # the same update, redelivered
        await bot.delete_webhook(drop_pending_updates=True)
    stats = await client.stats()
    assert stats["webhook"]["failures"] == 2 and stats["webhook"]["deliveries"] == 1


async def test_set_webhook_drop_pending_updates(client: SandboxClient, bot: Bot) -> None:
    user = await client.create_user("王阿姨")
    await client.send_text(user["id"], "旧消息")
    await bot.set_webhook("http://127.0.0.1:9/unreachable", drop_pending_updates=True)
    info = await bot.get_webhook_info()
    assert info.pending_update_count == 0
    await bot.delete_webhook()
    assert await bot.get_updates(timeout=0) == []
