"""The two aiohttp sites: the Bot API + control API, and the web chat (same control API,
same origin, so the page needs no CORS)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path
from typing import Self

from aiohttp import web

from sandbox import botapi, control
from sandbox.botapi import MAX_UPLOAD, SANDBOX_KEY
from sandbox.core import Sandbox

STATIC_DIR = Path(__file__).parent / "static"
log = logging.getLogger("sandbox")


async def _on_shutdown(app: web.Application) -> None:
    sb = app[SANDBOX_KEY]
    sb.close_subscribers()
    if sb.webhook_task is not None:
        sb.webhook_task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await sb.webhook_task
        sb.webhook_task = None


def create_api_app(sb: Sandbox) -> web.Application:
    """`/bot<token>/<method>`, `/file/bot<token>/<path>` and the control API `/sandbox/...`."""
    app = web.Application(client_max_size=MAX_UPLOAD + 1024 * 1024)
    app[SANDBOX_KEY] = sb
    botapi.add_routes(app)
    control.add_routes(app)
    app.on_shutdown.append(_on_shutdown)
    return app


async def _index(_request: web.Request) -> web.FileResponse:
    return web.FileResponse(
        STATIC_DIR / "index.html",
        headers={"Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-cache"},
    )


def create_web_app(sb: Sandbox) -> web.Application:
    """The web chat: static page at `/` plus the same control API under `/sandbox/`."""
    app = web.Application(client_max_size=MAX_UPLOAD + 1024 * 1024)
    app[SANDBOX_KEY] = sb
    app.router.add_get("/", _index)
    app.router.add_static("/static/", STATIC_DIR, append_version=False)
    control.add_routes(app)
    app.on_shutdown.append(_on_shutdown)
    return app


class SandboxServer:
    """Both sites in the running event loop; port 0 picks a free port.

    async with SandboxServer(api_port=0, web_port=0) as server:
        server.api_url, server.web_url, server.sandbox
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        api_port: int = 8081,
        web_port: int | None = 8080,
        faults: bool = True,
        quiet_period: float = 0.3,
    ) -> None:
        self.host = host
        self.api_port = api_port
        self.web_port = web_port
        self.sandbox = Sandbox(faults=faults, quiet_period=quiet_period)
        self._runners: list[web.AppRunner] = []
        self.api_url = ""
        self.web_url = ""

    async def _serve(self, app: web.Application, port: int) -> str:
        runner = web.AppRunner(app, shutdown_timeout=1.0, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, self.host, port)
        await site.start()
        self._runners.append(runner)
        bound_host, bound_port = runner.addresses[0][:2]
        return f"http://{bound_host}:{bound_port}"

    async def start(self) -> None:
        self.api_url = await self._serve(create_api_app(self.sandbox), self.api_port)
        if self.web_port is not None:
            self.web_url = await self._serve(create_web_app(self.sandbox), self.web_port)

    async def stop(self) -> None:
        for runner in reversed(self._runners):
            await runner.cleanup()
        self._runners.clear()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()
