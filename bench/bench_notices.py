"""A notice to 10,000 residents through the sandbox with Telegram's limits on.

1. The real bot process sends it: delivery rate against the configured outbox rate, 429s,
   residents left without it.
2. The same broadcast, with the bot killed (``kill -9``) half-way and started again: how many
   residents end with exactly one copy, with two (the batch in flight at the kill), with none.

The notice is created as a worker's would be (models.notices.create_notice) and goes out
through the notice dispatcher and the outbox sender of the bot process. Loopback only.
Writes bench/results/notices.md. ``NOTICE_BENCH_RESIDENTS`` changes the size (default 10,000).
"""

from __future__ import annotations

import asyncio
import os
import signal
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from nlu.evaluate import machine
from sandbox.app import SandboxServer

RESULTS = Path(__file__).resolve().parent / "results" / "notices.md"
RESIDENTS = int(os.environ.get("NOTICE_BENCH_RESIDENTS", "10000"))
RATE = 28.0  # the outbox's default OUTBOX_GLOBAL_RATE


async def _seed(database_url: str, first_id: int, count: int, text: str) -> None:
    """``count`` residents of 南湖春晓小区 and a city staff member's notice to them, due now."""
    from models import notices
    from models.db import make_engine, make_session_factory
    from models.registry import get_compound_by_code
    from models.tables import Role, User

    engine = make_engine(database_url)
    async with make_session_factory(engine)() as s, s.begin():
        compound = await get_compound_by_code(session=s, code="hp01")
        boss = User(telegram_id=first_id - 1, chat_id=first_id - 1, role=Role.city_staff)
        s.add(boss)
        s.add_all(
            User(telegram_id=i, chat_id=i, compound_id=compound.id, building="3号楼")
            for i in range(first_id, first_id + count)
        )
        await s.flush()
        audience = notices.Audience(compound_ids=[compound.id])
        await notices.create_notice(session=s, author=boss, text=text, audience=audience)
    await engine.dispose()


def _copies(server: SandboxServer, first_id: int, count: int, text: str) -> list[int]:
    """Copies of the notice in each resident's chat (read from the sandbox's memory)."""
    out = []
    for user_id in range(first_id, first_id + count):
        chat = server.sandbox.chats[user_id]
        out.append(sum(1 for m in chat.messages.values()
                       if m.sender == "bot" and text in (m.message.text or "")))  # fmt: skip
    return out


async def _until(predicate, timeout: float) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        await asyncio.sleep(0.5)
    return predicate()


async def _run_case(*, kill_half_way: bool, first_id: int) -> dict[str, float | int]:
    from tests.botproc import bot_process

    text = f"【压测 {first_id}】明天 9:00–17:00 3号楼停水，请提前储水。"
    async with SandboxServer(api_port=0, web_port=0, quiet_period=0.05) as server:
        for user_id in range(first_id, first_id + RESIDENTS):
            server.sandbox.create_user(id=user_id, first_name=f"居民{user_id}")
        with tempfile.TemporaryDirectory() as workdir:
            database_url = f"sqlite+aiosqlite:///{Path(workdir) / 'bench.db'}"
            start = lambda: bot_process(  # noqa: E731
                api_url=server.api_url, rasa_url="http://127.0.0.1:9", workdir=Path(workdir),
                mode="polling", DATABASE_URL=database_url,
            )  # fmt: skip
            delivered = lambda: server.sandbox.stats.delivered  # noqa: E731
            first_at: list[float] = []
            restart_gap = 0.0
            async with start() as bot:
                await _seed(database_url, first_id, RESIDENTS, text)
                await _until(lambda: delivered() > 0, 120)
                first_at.append(time.monotonic())
                if kill_half_way:
                    await _until(lambda: delivered() >= RESIDENTS // 2, RESIDENTS / 10)
                    os.kill(bot.process.pid, signal.SIGKILL)
                    killed_at = time.monotonic()
                else:
                    await _until(lambda: delivered() >= RESIDENTS, RESIDENTS / 10)
                last_at = time.monotonic()
            if kill_half_way:
                async with start():
                    before = delivered()
                    await _until(lambda: delivered() > before, 120)
                    restart_gap = time.monotonic() - killed_at
                    await _until(
                        lambda: min(_copies(server, first_id, RESIDENTS, text)) > 0,
                        RESIDENTS / 10,
                    )
                    last_at = time.monotonic()
                    await asyncio.sleep(3)  # anything still in flight lands
        copies = _copies(server, first_id, RESIDENTS, text)
        stats = server.sandbox.stats.view()
    elapsed = last_at - first_at[0] - restart_gap
    return {
        "elapsed": elapsed,
        "rate": sum(copies) / elapsed if elapsed else 0.0,
        "too_many": stats["too_many_requests"],
        "peak": stats["delivered_per_second"]["peak_1s"],
        "one": sum(1 for c in copies if c == 1),
        "twice": sum(1 for c in copies if c == 2),
        "more": sum(1 for c in copies if c > 2),
        "lost": sum(1 for c in copies if c == 0),
        "restart_gap": restart_gap,
    }


async def _run() -> str:
    plain = await _run_case(kill_half_way=False, first_id=200_001)
    killed = await _run_case(kill_half_way=True, first_id=300_001)
    n = f"{RESIDENTS:,}"
    lines = [
        "# Notice broadcast benchmark",
        "",
        f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {machine()}; the CPU was shared with",
        "other agents' builds and tests during the run, so rates are a lower bound.",
        "The real bot process (polling, SQLite), the sandbox with Telegram's limits on (30",
        f"messages/s, 429 past them), one notice to {n} residents of one compound, created as",
        "a worker's would be and sent by the notice dispatcher and the outbox sender.",
        "",
        "| measure | plain | killed (`kill -9`) half-way and restarted |",
        "| --- | --- | --- |",
        f"| delivery rate (configured {RATE:.0f}/s) | {plain['rate']:.1f} msg/s "
        f"({plain['rate'] / RATE:.0%}) | {killed['rate']:.1f} msg/s excluding the restart |",
        f"| sending time | {plain['elapsed']:.0f} s | {killed['elapsed']:.0f} s + "
        f"{killed['restart_gap']:.0f} s from the kill to the first message after the restart |",
        f"| peak in one second | {plain['peak']} | {killed['peak']} |",
        f"| 429 Too Many Requests | {plain['too_many']} | {killed['too_many']} |",
        f"| residents with exactly one copy | {plain['one']:,} | {killed['one']:,} |",
        f"| residents with two copies (in flight at the kill) | {plain['twice']} | "
        f"{killed['twice']} |",
        f"| residents with more than two / none (lost) | {plain['more']} / {plain['lost']} | "
        f"{killed['more']} / {killed['lost']} |",
        "",
        "Targets: rate ≥ 95% of the configured outbox rate, no 429, nothing lost; after a",
        "`kill -9` every resident has one copy, or two for at most the batch in flight (the",
        "sender claims 30 rows at a time). The gap after the restart is mostly the start-up",
        "of a new bot process and the outbox-sender lease (15 s) of the killed one running out.",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    report = asyncio.run(_run())
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(report, encoding="utf-8")
    print(report)


if __name__ == "__main__":
    main()
