"""End to end: the real bot process (`python -m bot`) against the sandbox over HTTP, with the
real Rasa model. Polling and webhook modes."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from aiohttp import ClientSession, web

from sandbox.app import SandboxServer
from sandbox.client import SandboxClient
from tests.botproc import bot_process
from tests.conftest import free_port

TOKEN = "777000:e2e-token"
ADMIN = 30003


@pytest.fixture
async def sandbox() -> AsyncIterator[SandboxServer]:
    async with SandboxServer(
        api_port=free_port(), web_port=free_port(), quiet_period=0.3
    ) as server:
        yield server


@pytest.fixture
async def client(sandbox: SandboxServer) -> AsyncIterator[SandboxClient]:
    async with SandboxClient(sandbox.api_url) as control:
        yield control


class SwitchableProxy:
    """Stands between the bot and Rasa so a test can take NLU away mid-conversation."""

    def __init__(self, upstream: str) -> None:
        self.upstream, self.up = upstream.rstrip("/"), True
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._runner: web.AppRunner | None = None

    async def _forward(self, request: web.Request) -> web.StreamResponse:
        if not self.up:
            raise web.HTTPServiceUnavailable(text="NLU is down")
        async with ClientSession() as session, session.request(
            request.method, self.upstream + request.path_qs, data=await request.read(),
            headers={"Content-Type": request.content_type},
        ) as upstream:  # fmt: skip
            return web.Response(body=await upstream.read(), status=upstream.status,
                                content_type=upstream.content_type)  # fmt: skip

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._forward)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        if self._runner:
            await self._runner.cleanup()


@pytest.fixture
async def nlu_proxy(rasa_url: str) -> AsyncIterator[SwitchableProxy]:
    proxy = SwitchableProxy(rasa_url)
    await proxy.start()
    yield proxy
    await proxy.stop()


@pytest.fixture
def start_bot(
    sandbox: SandboxServer, nlu_proxy: SwitchableProxy, tmp_path: Path
) -> Callable[..., object]:
    """Start `python -m bot` against the sandbox: ``mode`` is "polling" or "webhook"."""

    def start(mode: str = "polling", **extra_env: str):  # type: ignore[no-untyped-def]
        return bot_process(api_url=sandbox.api_url, rasa_url=nlu_proxy.url, workdir=tmp_path,
                           mode=mode, admin_ids=[ADMIN], **extra_env)  # fmt: skip

    return start
