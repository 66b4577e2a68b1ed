"""The real bot process (`python -m bot`) pointed at a sandbox, for end-to-end tests and benchmarks."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "777000:e2e-token"
WEBHOOK_SECRET = "e2e-secret-token"


@dataclass
class BotProcess:
    process: subprocess.Popen[bytes]
    log: Path
    database_url: str
    webhook_url: str | None = None  # where the bot listens in webhook mode

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _prepare_database(env: dict[str, str]) -> None:
    for command in (["-m", "alembic", "upgrade", "head"],
                    ["-m", "models.registry", "import", "data/demo/compounds.csv",
                     "--plan", "data/demo/plan_items.csv"]):  # fmt: skip
        subprocess.run(
            [sys.executable, *command], env=env, cwd=ROOT, check=True, capture_output=True
        )


@asynccontextmanager
async def bot_process(
    *, api_url: str, rasa_url: str, workdir: Path, mode: str = "polling",
    admin_ids: list[int] = (), **extra_env: str,  # type: ignore[assignment]
) -> AsyncIterator[BotProcess]:  # fmt: skip
    """A fresh database with the demo registry, then the bot, until the block ends."""
    database_url = f"sqlite+aiosqlite:///{workdir / 'bot.db'}"
    env = {
        **os.environ,
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_API_BASE": api_url,
        "DATABASE_URL": database_url,
        "RASA_URL": rasa_url,
        "ADMIN_IDS": ",".join(map(str, admin_ids)),
        "QUIET_HOURS_START": "00:00",  # notifications must not wait for the morning
        "QUIET_HOURS_END": "00:00",
        **extra_env,
    }
    if mode == "webhook":
        port = _free_port()
        env |= {"WEBHOOK_URL": f"http://127.0.0.1:{port}", "WEBHOOK_LISTEN_PORT": str(port),
                "WEBHOOK_SECRET": WEBHOOK_SECRET}  # fmt: skip
    _prepare_database(env)
    log = workdir / f"bot-{mode}.log"
    with log.open("wb") as handle:
        process = subprocess.Popen([sys.executable, "-m", "bot"], env=env, cwd=ROOT,
                                   stdout=handle, stderr=subprocess.STDOUT)  # fmt: skip
    webhook_url = env["WEBHOOK_URL"] + "/telegram/webhook" if mode == "webhook" else None
    bot = BotProcess(process, log, database_url, webhook_url)
    try:
        for _ in range(1200):  # ready once it polls or listens (slow on a busy machine)
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
