"""The whole bot under load, on this machine: the real bot process, the sandbox with Telegram's
limits switched on, and the real NLU model.

- round trip: a resident's demand → the bot's category proposal (NLU included), one at a time;
- at once: 30, then 100 residents who never talked to the bot start at the same moment (their
  first contact writes their account and binds their compound), then all report a demand at the
  same moment; the time to each one's first answer, and how many were told "系统正在维护";
- broadcast: notifications queued in the outbox for many residents → delivered, within
  Telegram's limits (the sandbox answers 429 past them: the count should stay at zero).

Bounded (a few hundred messages, about a minute) and loopback only. Writes bench/results/bot.md.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

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
AT_ONCE = (30, 100)
TARGET_P95_MS = {30: 500, 100: 1500}  # issue #13, on 2 cores
DOWN_TEXT = "系统正在维护"
BOUND_TEXT = "已为您绑定小区"
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


async def _first_answer(client: SandboxClient, user_id: int, text: str) -> float | None:
    """Seconds until the bot's first message after ``text`` (the sandbox's quiet period is 0
    here, so the wait ends with it), or None if nothing came within 30 s."""
    started = time.perf_counter()
    sent = await client.send_text(user_id, text)
    raw = await client.wait_raw(user_id, since=sent["message_id"], timeout=30)
    return None if raw["timed_out"] else time.perf_counter() - started


async def _settle(client: SandboxClient, user_ids: list[int], texts: tuple[str, ...]) -> None:
    """Wait until every chat shows one of ``texts`` (the end of the answer), at most 60 s."""
    deadline = time.perf_counter() + 60
    waiting = set(user_ids)
    while waiting and time.perf_counter() < deadline:
        for user_id in list(waiting):
            if any(t in m.get("text", "") for m in await client.messages(user_id) for t in texts):
                waiting.discard(user_id)
        await asyncio.sleep(0.2)


def _cpu_seconds(pid: int) -> float:
    """CPU time a process has used so far (Linux): user + system."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _wave(
    client: SandboxClient, messages: dict[int, str], bot_pid: int
) -> tuple[list[float | None], float]:
    """Everyone sends their message at the same moment: first-answer times, and the bot's CPU
    time per message (what the bot itself costs, whatever else runs on the machine)."""
    cpu = _cpu_seconds(bot_pid)
    times = await asyncio.gather(*(_first_answer(client, i, t) for i, t in messages.items()))
    return list(times), (_cpu_seconds(bot_pid) - cpu) / len(messages)


async def _at_once(client: SandboxClient, bot_pid: int, first_id: int, n: int) -> dict[str, Any]:
    """``n`` new residents start at the same moment, then report at the same moment."""
    ids = list(range(first_id, first_id + n))
    for user_id in ids:
        await client.create_user(f"居民{user_id}", id=user_id)
    # Telegram's global 30 messages/s would hold the 31st first answer a second whatever the
    # bot does: switched off here, so this measures the bot (database, NLU), not Telegram.
    await client.configure(quiet_period=0, faults=False)
    try:
        start = await _wave(client, dict.fromkeys(ids, "/start c_hp01"), bot_pid)
        await _settle(client, ids, (BOUND_TEXT, DOWN_TEXT))
        demands = {i: DEMANDS[k % len(DEMANDS)] for k, i in enumerate(ids)}
        report = await _wave(client, demands, bot_pid)
        await _settle(client, ids, ("您反映的是", "请选择", DOWN_TEXT))
    finally:
        await client.configure(quiet_period=0.05, faults=True)
    told_down = 0
    for user_id in ids:
        if any(DOWN_TEXT in m.get("text", "") for m in await client.messages(user_id)):
            told_down += 1
    return {"start": start, "report": report, "down": told_down}


def _at_once_rows(n: int, result: dict[str, Any]) -> list[str]:
    rows = []
    for wave, (times, cpu) in (("first contact (/start c_hp01)", result["start"]),
                               ("then a demand each", result["report"])):  # fmt: skip
        answered = [t * 1000 for t in times if t is not None]
        missing = len(times) - len(answered)
        p50 = statistics.median(answered) if answered else float("inf")
        p95 = _percentile(answered, 95) if answered else float("inf")
        verdict = "✅" if not missing and p95 <= TARGET_P95_MS[n] else "❌"
        rows.append(
            f"| {n} at once, {wave}: first answer p50 / p95 | {p50:.0f} / {p95:.0f} ms"
            + (f", {missing} without an answer" if missing else "")
            + f" (target p95 ≤ {TARGET_P95_MS[n]} ms {verdict}; bot CPU {cpu * 1000:.1f} ms each) |"
        )
    rows.append(f"| {n} at once: residents told “{DOWN_TEXT}” | {result['down']} |")
    return rows


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

    load_before = os.getloadavg()[0]

    rasa_server = await asyncio.to_thread(rasa.start, port=_free_port())
    try:
        async with SandboxServer(api_port=0, web_port=0, quiet_period=0.05) as sandbox, \
                SandboxClient(sandbox.api_url) as client:  # fmt: skip
            with tempfile.TemporaryDirectory() as workdir:
                async with bot_process(api_url=sandbox.api_url, rasa_url=rasa_server.url,
                                       workdir=Path(workdir)) as bot:  # fmt: skip
                    for user_id in range(50001, 50001 + ROUND_TRIPS):
                        await _bind(client, user_id)
                    round_trips = [
                        await _report(client, 50001 + i, DEMANDS[i % len(DEMANDS)])
                        for i in range(ROUND_TRIPS)
                    ]
                    # Before the residents at once: the sandbox's peak rate counts since start.
                    broadcast_time, broadcast = await _broadcast(bot.database_url, client, 60001)
                    at_once = {
                        n: await _at_once(client, bot.process.pid, 70001 + 1000 * k, n)
                        for k, n in enumerate(AT_ONCE)
                    }
                    locked = bot.output().count("database is locked")
    finally:
        rasa.stop(rasa_server)
    load_after = os.getloadavg()[0]
    ms = [t * 1000 for t in round_trips]
    lines = [
        "# Bot benchmark",
        "",
        f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {machine()}; load average "
        f"{load_before:.1f} before, {load_after:.1f} after (anything above 0 is other work "
        "sharing the cores, and it slows every figure below).",
        "The real bot process (polling) on SQLite, the sandbox with Telegram's limits on, the",
        "real Rasa model; all on loopback. One-at-a-time times include the sandbox's 50 ms quiet",
        "period before it reports an answer. For residents at once, the time is to the first",
        "message of the answer, and Telegram's 30 messages/s is switched off (it alone would hold",
        "the 100th first answer past 3 s): this measures the bot, the database and NLU.",
        "",
        "| measure | value |",
        "| --- | --- |",
        f"| demand → category proposal, {ROUND_TRIPS} one at a time, p50 / p95 | "
        f"{statistics.median(ms):.0f} / {_percentile(ms, 95):.0f} ms |",
        *(row for n, result in at_once.items() for row in _at_once_rows(n, result)),
        f"| “database is locked” in the bot's log | {locked} |",
        f"| outbox broadcast to {BROADCAST} residents: all delivered in | {broadcast_time:.1f} s "
        f"({BROADCAST / broadcast_time:.1f} msg/s; peak {broadcast['peak_1s']} in one second) |",
        f"| 429 Too Many Requests during the broadcast | {broadcast['too_many_requests']} |",
        "",
        "Targets: the broadcast stays within Telegram's 30 messages/s with no 429; a resident "
        "waits well under the 2 s NLU budget for a proposal; residents at once (issue #13, on 2 "
        "cores): nobody is told the system is down, first answer p95 ≤ 500 ms for 30 and "
        "≤ 1.5 s for 100.",
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
