"""Webhook mode over real HTTP: only requests carrying Telegram's secret token reach the bot.

The real bot process listens for updates; these tests post to it as an outsider would. No NLU
is needed (only /start), so Rasa is not started.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path

import pytest
from aiohttp import ClientSession

from sandbox.app import SandboxServer
from sandbox.client import SandboxClient
from tests.botproc import WEBHOOK_SECRET, bot_process
from tests.conftest import free_port

pytestmark = pytest.mark.e2e

STRANGER = 40004


def start_update(update_id: int) -> dict[str, object]:
    person = {"id": STRANGER, "is_bot": False, "first_name": "陌生人"}
    return {
        "update_id": update_id,
        "message": {
            "message_id": update_id,
            "date": int(time.time()),
            "chat": {"id": STRANGER, "type": "private", "first_name": "陌生人"},
            "from": person,
            "text": "/start",
            "entities": [{"type": "bot_command", "offset": 0, "length": 6}],
        },
    }


def users_in(database_url: str) -> list[int]:
    path = database_url.removeprefix("sqlite+aiosqlite:///")
    with sqlite3.connect(path) as db:
        return [row[0] for row in db.execute("SELECT telegram_id FROM app_user")]


async def test_updates_without_the_right_secret_are_refused(
    sandbox: SandboxServer, client: SandboxClient, tmp_path: Path
) -> None:
    await client.create_user(id=STRANGER, first_name="陌生人")
    dead_rasa = f"http://127.0.0.1:{free_port()}"
    async with (
        bot_process(api_url=sandbox.api_url, rasa_url=dead_rasa, workdir=tmp_path,
                    mode="webhook") as bot,
        ClientSession() as http,
    ):  # fmt: skip
        assert bot.webhook_url is not None
        refused = [{}, {"X-Telegram-Bot-Api-Secret-Token": "guessed"},
                   {"X-Telegram-Bot-Api-Secret-Token": ""}]  # fmt: skip
        for update_id, headers in enumerate(refused, start=1):
            async with http.post(bot.webhook_url, json=start_update(update_id),
                                 headers=headers) as response:  # fmt: skip
                assert response.status == 401, await response.text()
        await asyncio.sleep(1.0)  # time for any (wrongly) accepted update to be handled
        assert await client.messages(STRANGER) == []  # the bot said nothing
        assert STRANGER not in users_in(bot.database_url)  # and stored nothing

        # The same update with Telegram's secret is handled: the refusals were the secret's.
        async with http.post(bot.webhook_url, json=start_update(10),
                             headers={"X-Telegram-Bot-Api-Secret-Token": WEBHOOK_SECRET}) as response:  # fmt: skip
            assert response.status == 200
        replies = await client.wait(STRANGER, since=0, timeout=15)
        assert any("点菜" in message["text"] for message in replies)
        assert STRANGER in users_in(bot.database_url)
