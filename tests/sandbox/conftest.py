"""Fixtures for the sandbox's own tests: a sandbox on free ports, a real aiogram bot pointed at
it over HTTP, the control-API client, and the sandbox's echo bot polling in the background."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiogram import Bot
from sandbox_helpers import make_bot, polling

from sandbox.app import SandboxServer
from sandbox.client import SandboxClient
from sandbox.echo import make_dispatcher, retry_after_flood


@pytest.fixture
async def sandbox() -> AsyncIterator[SandboxServer]:
    async with SandboxServer(api_port=0, web_port=0, quiet_period=0.1) as server:
        yield server


@pytest.fixture
async def client(sandbox: SandboxServer) -> AsyncIterator[SandboxClient]:
    async with SandboxClient(sandbox.api_url) as control:
        yield control


@pytest.fixture
async def bot(sandbox: SandboxServer) -> AsyncIterator[Bot]:
    instance = make_bot(sandbox.api_url)
    yield instance
    await instance.session.close()


@pytest.fixture
async def echo_bot(bot: Bot, sandbox: SandboxServer) -> AsyncIterator[Bot]:
    """The sandbox's echo bot, polling (it waits out 429s, as a well-behaved bot does)."""
    bot.session.middleware(retry_after_flood)
    async with polling(bot, make_dispatcher(), sandbox.sandbox):
        yield bot
