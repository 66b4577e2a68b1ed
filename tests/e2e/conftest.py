"""End to end: the real bot process (`python -m bot`) against the sandbox over HTTP, with the
real Rasa model. Polling and webhook modes."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiohttp import ClientSession, web

from sandbox.app import SandboxServer
from sandbox.client import SandboxClient
from tests.conftest import ROOT, free_port

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


@dataclass
class BotProcess:
    process: subprocess.Popen[bytes]
    log: Path
    database_url: str

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")


def _prepare_database(env: dict[str, str]) -> None:
    for command in (["-m", "alembic", "upgrade", "head"],
                    ["-m", "models.registry", "import", "data/demo/compounds.csv",
                     "--plan", "data/demo/plan_items.csv"]):  # fmt: skip
        subprocess.run(
            [sys.executable, *command], env=env, cwd=ROOT, check=True, capture_output=True
        )


@pytest.fixture
def start_bot(
    sandbox: SandboxServer, nlu_proxy: SwitchableProxy, tmp_path: Path
) -> Callable[..., object]:
    """Start `python -m bot` against the sandbox: ``mode`` is "polling" or "webhook"."""

    @asynccontextmanager
    async def start(mode: str = "polling", **extra_env: str) -> AsyncIterator[BotProcess]:
        database_url = f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}"
        env = {
            **os.environ,
            "TELEGRAM_BOT_TOKEN": TOKEN,
            "TELEGRAM_API_BASE": sandbox.api_url,
            "DATABASE_URL": database_url,
            "RASA_URL": nlu_proxy.url,
            "ADMIN_IDS": str(ADMIN),
            "QUIET_HOURS_START": "00:00",  # the tests' notifications must not wait for morning
            "QUIET_HOURS_END": "00:00",
            **extra_env,
        }
        if mode == "webhook":
            port = free_port()
            env |= {"WEBHOOK_URL": f"http://127.0.0.1:{port}", "WEBHOOK_LISTEN_PORT": str(port),
                    "WEBHOOK_SECRET": "e2e-secret-token"}  # fmt: skip
        _prepare_database(env)
        log = tmp_path / f"bot-{mode}.log"
        with log.open("wb") as handle:
            process = subprocess.Popen([sys.executable, "-m", "bot"], env=env, cwd=ROOT,
                                       stdout=handle, stderr=subprocess.STDOUT)  # fmt: skip
        bot = BotProcess(process, log, database_url)
        try:
            for _ in range(200):  # ready once it asked the sandbox for commands and updates
                if process.poll() is not None:
                    raise AssertionError(f"the bot exited:\n{bot.output()}")
                if "Run polling" in bot.output() or "webhook listening" in bot.output():
                    break
                await asyncio.sleep(0.1)
            else:
                raise AssertionError(f"the bot did not start:\n{bot.output()}")
            yield bot
        finally:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()

    return start
