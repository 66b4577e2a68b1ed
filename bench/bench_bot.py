"""The whole bot under load, on this machine: the real bot process, the sandbox with Telegram's
limits switched on, and the real NLU model.

- round trip: a resident's demand → the bot's category proposal (NLU included), one at a time;
- burst: many residents report at the same moment;
- broadcast: notifications queued in the outbox for many residents → delivered, within
  Telegram's limits (the sandbox answers 429 past them: the count should stay at zero).

Bounded (a few hundred messages, about a minute) and loopback only. Writes bench/results/bot.md.
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from nlu.evaluate import machine
from sandbox.app import SandboxServer
from sandbox.client import SandboxClient

RESULTS = Path(__file__).resolve().parent / "results" / "bot.md"
DEMANDS = [
    "3号楼下水道又堵了，味儿贼大",
    "楼道灯坏了好几天，晚上黑咕隆咚的",
    "暖气片拔凉拔凉的，屋里才十五度",
    "小区门口的路坑坑洼洼，一下雨全是水",
    "能不能给我们老楼加装个电梯",
    "垃圾站好几天没人清了，苍蝇乱飞",
]
ROUND_TRIPS = 40
BURST = 30
BROADCAST = 300


def _percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


async def _bind(client: SandboxClient, user_id: int) -> None:
    await client.create_user(f"居民{user_id}", id=user_id)
    sent = await client.send_text(user_id, "/start c_hp01")
    await client.wait(user_id, since=sent["message_id"], timeout=30)


async def _report(client: SandboxClient, user_id: int, text: str) -> float:
    started = time.perf_counter()
    sent = await client.send_text(user_id, text)
    raw = await client.wait_raw(user_id, since=sent["message_id"], timeout=30)
    if raw["timed_out"]:
        raise RuntimeError(f"no answer to {user_id} within 30 s")
    # wait_raw lets the chat settle for the sandbox's quiet period; take the first answer's time.
    return time.perf_counter() - started


async def _broadcast(database_url: str, client: SandboxClient, first_id: int) -> tuple[float, dict]:
    from sqlmodel import select

    from models import outbox
    from models.db import make_engine, make_session_factory
    from models.tables import OutboxMessage, OutboxState, User

    ids = range(first_id, first_id + BROADCAST)
    for user_id in ids:
        await client.create_user(f"居民{user_id}", id=user_id)
    engine = make_engine(database_url)
    factory = make_session_factory(engine)
    async with factory() as s, s.begin():
        users = [User(telegram_id=i, chat_id=i) for i in ids]
        s.add_all(users)
        await s.flush()
        before = (await client.stats())["too_many_requests"]
        started = time.perf_counter()
        for user in users:
            await outbox.enqueue(session=s, recipient=user, kind="notice", template="notice",
                                 params={"text": "明天 9:00–17:00 停水，请提前储水。"})  # fmt: skip
    while True:
        async with factory() as s:
            left = (await s.exec(select(OutboxMessage.id).where(
                OutboxMessage.state != OutboxState.sent))).all()  # fmt: skip
        if not left:
            break
        await asyncio.sleep(0.2)
    elapsed = time.perf_counter() - started
    await engine.dispose()
    stats = await client.stats()
    return elapsed, {"too_many_requests": stats["too_many_requests"] - before,
                     "peak_1s": stats["delivered_per_second"]["peak_1s"]}  # fmt: skip


async def _run() -> str:
    from nlu import server as rasa
    from tests.botproc import bot_process

    rasa_server = await asyncio.to_thread(rasa.start, port=_free_port())
    try:
        async with SandboxServer(api_port=0, web_port=0, quiet_period=0.05) as sandbox, \
                SandboxClient(sandbox.api_url) as client:  # fmt: skip
            with tempfile.TemporaryDirectory() as workdir:
                async with bot_process(api_url=sandbox.api_url, rasa_url=rasa_server.url,
                                       workdir=Path(workdir)) as bot:  # fmt: skip
                    for user_id in range(50001, 50001 + ROUND_TRIPS + BURST):
                        await _bind(client, user_id)
                    round_trips = [
                        await _report(client, 50001 + i, DEMANDS[i % len(DEMANDS)])
                        for i in range(ROUND_TRIPS)
                    ]
                    started = time.perf_counter()
                    burst = await asyncio.gather(*(
                        _report(client, 50001 + ROUND_TRIPS + i, DEMANDS[i % len(DEMANDS)])
                        for i in range(BURST)
                    ))  # fmt: skip
                    burst_total = time.perf_counter() - started
                    broadcast_time, broadcast = await _broadcast(bot.database_url, client, 60001)
    finally:
        rasa.stop(rasa_server)
    ms = [t * 1000 for t in round_trips]
    burst_ms = [t * 1000 for t in burst]
    lines = [
        "# Bot benchmark",
        "",
        f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {machine()}.",
        "The real bot process (polling), the sandbox with Telegram's limits on, the real Rasa",
        "model; all on loopback. Times include the sandbox's 50 ms quiet period before it reports",
        "an answer.",
        "",
        "| measure | value |",
        "| --- | --- |",
        f"| demand → category proposal, {ROUND_TRIPS} one at a time, p50 / p95 | "
        f"{statistics.median(ms):.0f} / {_percentile(ms, 95):.0f} ms |",
        f"| {BURST} residents reporting at once: all answered in | {burst_total:.1f} s "
        f"(p50 {statistics.median(burst_ms):.0f} ms, p95 {_percentile(burst_ms, 95):.0f} ms) |",
        f"| outbox broadcast to {BROADCAST} residents: all delivered in | {broadcast_time:.1f} s "
        f"({BROADCAST / broadcast_time:.1f} msg/s; peak {broadcast['peak_1s']} in one second) |",
        f"| 429 Too Many Requests during the broadcast | {broadcast['too_many_requests']} |",
        "",
        "Targets: the broadcast stays within Telegram's 30 messages/s with no 429; a resident "
        "waits well under the 2 s NLU budget for a proposal.",
    ]
    return "\n".join(lines) + "\n"


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main() -> None:
    report = asyncio.run(_run())
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(report, encoding="utf-8")
    print(report)


if __name__ == "__main__":
    main()
