"""The sandbox's own speed: Bot API throughput and a user → bot → user round trip.

Starts the sandbox in-process on free loopback ports, drives it with a real aiogram bot over
HTTP, and writes ``bench/results/sandbox.md``. Bounded: a few thousand requests, seconds.

    .venv/bin/python -m bench.bench_sandbox      (or through `make bench`)
"""

from __future__ import annotations

import asyncio
import datetime as dt
import statistics
import time
from pathlib import Path

from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import TelegramRetryAfter

from sandbox.app import SandboxServer
from sandbox.client import SandboxClient
from sandbox.echo import make_bot, make_dispatcher

RESULTS = Path(__file__).resolve().parent / "results" / "sandbox.md"
USERS = 50
MESSAGES = 1000
CONCURRENCY = 8
ROUND_TRIPS = 100


def _plain_bot(api_url: str) -> Bot:
    """A bot that does not wait out 429s (the echo bot's does), to count them."""
    return Bot("42:bench", session=AiohttpSession(api=TelegramAPIServer.from_base(api_url)))


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def _throughput(server: SandboxServer, client: SandboxClient) -> dict[str, float]:
    """sendMessage as fast as CONCURRENCY workers go, faults off."""
    await client.set_faults(False)
    users = [(await client.create_user(f"居民{i}"))["id"] for i in range(USERS)]
    bot = _plain_bot(server.api_url)
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(MESSAGES):
        queue.put_nowait(users[i % USERS])
    latencies: list[float] = []

    async def worker() -> None:
        while not queue.empty():
            chat_id = queue.get_nowait()
            started = time.perf_counter()
            await bot.send_message(chat_id, "<b>通知</b>：明天上午9点停水。", parse_mode="HTML")
            latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    elapsed = time.perf_counter() - started
    await bot.session.close()
    await client.set_faults(True)
    return {
        "per_second": MESSAGES / elapsed,
        "p50_ms": _percentile(latencies, 0.5) * 1000,
        "p95_ms": _percentile(latencies, 0.95) * 1000,
    }


async def _flood(server: SandboxServer, client: SandboxClient) -> dict[str, int]:
    """Faults on: a naive broadcast of 100 messages as fast as possible."""
    await client.reset()
    users = [(await client.create_user(f"居民{i}"))["id"] for i in range(100)]
    bot = _plain_bot(server.api_url)
    sent = limited = 0
    for chat_id in users:
        try:
            await bot.send_message(chat_id, "群发通知")
            sent += 1
        except TelegramRetryAfter:
            limited += 1
    await bot.session.close()
    return {"sent": sent, "limited": limited}


async def _round_trips(server: SandboxServer, client: SandboxClient) -> dict[str, float]:
    """User sends text → echo bot (polling) answers → /wait returns; quiet period 0 and no
    flood limits, so the number is the sandbox's own latency."""
    await client.reset()
    await client.configure(quiet_period=0, faults=False)
    bot, dispatcher = make_bot(server.api_url), make_dispatcher()
    task = asyncio.create_task(dispatcher.start_polling(bot, handle_signals=False))
    user = (await client.create_user("王阿姨"))["id"]
    await client.wait(user, since=(await client.send_text(user, "预热"))["message_id"])
    timings: list[float] = []
    for i in range(ROUND_TRIPS):
        started = time.perf_counter()
        sent = await client.send_text(user, f"第{i}次")
        await client.wait(user, since=sent["message_id"])
        timings.append(time.perf_counter() - started)
    await dispatcher.stop_polling()
    await task
    await bot.session.close()
    return {
        "p50_ms": statistics.median(timings) * 1000,
        "p95_ms": _percentile(timings, 0.95) * 1000,
    }


async def run() -> str:
    async with (
        SandboxServer(api_port=0, web_port=None) as server,
        SandboxClient(server.api_url) as client,
    ):
        throughput = await _throughput(server, client)
        flood = await _flood(server, client)
        trips = await _round_trips(server, client)
    return "\n".join(
        [
            "# Sandbox benchmark",
            "",
            f"Run {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, in-process, loopback, 2 cores.",
            "",
            "| measure | value |",
            "| --- | --- |",
            f"| sendMessage throughput, faults off, {CONCURRENCY} concurrent, {MESSAGES} msgs "
            f"| {throughput['per_second']:.0f} msg/s |",
            f"| sendMessage latency p50 / p95 | {throughput['p50_ms']:.1f} / "
            f"{throughput['p95_ms']:.1f} ms |",
            f"| naive broadcast to 100 users, faults on | {flood['sent']} sent, "
            f"{flood['limited']} answered 429 |",
            f"| user → echo bot → user round trip (polling, faults off, quiet period 0), p50 / p95 "
            f"| {trips['p50_ms']:.1f} / {trips['p95_ms']:.1f} ms |",
            "",
        ]
    )


def main() -> None:
    report = asyncio.run(run())
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(report, encoding="utf-8")
    print(report)


if __name__ == "__main__":
    main()
