"""Notices end to end: the real bot process(es) against the sandbox, over HTTP.

- 李姐 sends a notice to one building: exactly its residents receive it, and her report
  updates itself to the final count;
- two bot processes share one database (as behind a webhook load balancer): one outbox
  sender is active at a time, so a broadcast stays within Telegram's 30 messages/s (no 429),
  and when the active one is killed the other takes over and nothing is lost.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time

import pytest

from sandbox.client import SandboxClient
from tests.botproc import bot_process
from tests.e2e.conftest import ADMIN
from tests.e2e.phone import Phone
from tests.e2e.test_conversations import recruit_worker

pytestmark = [pytest.mark.e2e, pytest.mark.rasa]


async def resident(client: SandboxClient, user_id: int, name: str, address: str) -> Phone:
    phone = await Phone(client, user_id).open(name)
    await phone.say("/start c_hp01")
    await phone.say("⚙️ 设置")
    await phone.tap("填写楼栋单元")
    replies = await phone.say(address)
    while not any("楼栋单元：" in r for r in replies):  # the summary may lag behind 已保存
        replies = await phone.wait_for(timeout=15)
    return phone


async def test_li_sends_a_notice_to_one_building_and_exactly_its_residents_get_it(
    start_bot, client
):
    async with start_bot():
        li = await recruit_worker(client)
        wang = await resident(client, 10001, "王阿姨", "3号楼2单元")
        zhao = await resident(client, 10002, "赵大爷", "3号楼1单元")
        sun = await resident(client, 10003, "孙姐", "5号楼1单元")
        await li.say("/notice")
        await li.tap("🏢 按楼栋/单元")
        await li.tap("⬜ 3号楼")
        await li.tap("✔️ 完成")
        await li.tap("下一步 ➡️")
        await li.say("明天 9:00–17:00 3号楼停水，请提前储水")
        await li.tap("不需要附件 ➡️")
        await li.tap("🚱 停水停电")
        await li.tap("普通")
        preview = "\n".join(await li.tap("⚡ 立即发送"))
        while "✅ 发布" not in li.buttons():  # the preview comes in two messages
            preview += "\n".join(await li.wait_for(timeout=15))
        assert "明天 9:00–17:00 3号楼停水" in preview and "收件人：2 位居民" in preview
        await li.tap("✅ 发布")
        for phone in (wang, zhao):
            got = "\n".join(await phone.wait_for(timeout=15))
            assert "社区公告 · 停水停电" in got and "3号楼停水" in got
            assert "✅ 收到" in phone.buttons()
        await asyncio.sleep(3)
        assert not any("社区公告 ·" in (m.get("text") or "") for m in await client.messages(10003))
        await wang.tap("✅ 收到")
        deadline, report = time.monotonic() + 20, ""
        while "已发送完毕" not in report and time.monotonic() < deadline:
            await asyncio.sleep(1)  # the report is one message, edited in place
            texts = [m.get("text") or "" for m in await client.messages(li.user_id)]
            report = next((t for t in reversed(texts) if "#1" in t), "")
        assert "已送达 2 / 2 · 屏蔽 0 · 失败 0" in report
        listing = "\n".join(await sun.say("📢 社区公告"))
        assert "3号楼停水" not in listing  # 5号楼: neither pushed nor listed to her
        # 撤回: the notice disappears from the residents' chats (deleteMessage).
        li._take(await client.messages(li.user_id))  # the report as it reads now
        await li.tap("↩️ 撤回")
        await li.tap("↩️ 确认撤回")
        deadline, still = time.monotonic() + 20, True
        while still and time.monotonic() < deadline:
            await asyncio.sleep(1)
            texts = [m.get("text") or "" for u in (10001, 10002) for m in await client.messages(u)]
            still = any("3号楼停水" in t for t in texts)
        assert not still


async def _enqueue_broadcast(database_url: str, first_id: int, count: int) -> None:
    from models import outbox
    from models.db import make_engine, make_session_factory
    from models.tables import User

    engine = make_engine(database_url)
    factory = make_session_factory(engine)
    async with factory() as s, s.begin():
        users = [User(telegram_id=i, chat_id=i) for i in range(first_id, first_id + count)]
        s.add_all(users)
        await s.flush()
        for user in users:
            await outbox.enqueue(session=s, recipient=user, kind="notice", template="notice",
                                 params={"text": "明天停水"}, dedupe_key=f"t:{user.id}")  # fmt: skip
    await engine.dispose()


async def _lease_holder(database_url: str) -> str | None:
    from models.db import make_engine, make_session_factory
    from models.tables import Lease

    engine = make_engine(database_url)
    async with make_session_factory(engine)() as s:
        lease = await s.get(Lease, "outbox-sender")
    await engine.dispose()
    return lease.holder if lease else None


async def test_two_bot_processes_one_sender_within_the_limits(sandbox, client, nlu_proxy, tmp_path):
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'shared.db'}"
    first, count = 70001, 240
    for user_id in range(first, first + count):
        await client.create_user(f"居民{user_id}", id=user_id)

    def start(name: str):  # type: ignore[no-untyped-def]
        workdir = tmp_path / name
        workdir.mkdir()
        return bot_process(api_url=sandbox.api_url, rasa_url=nlu_proxy.url, workdir=workdir,
                           mode="webhook", admin_ids=[ADMIN], DATABASE_URL=database_url)  # fmt: skip

    async with start("a") as a, start("b") as b:
        before = (await client.stats())["too_many_requests"]
        await _enqueue_broadcast(database_url, first, count)
        delivered: dict[int, int] = {}
        killed = False
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            delivered = _received(sandbox, first, count)
            if not killed and sum(delivered.values()) >= count // 3:
                holder = await _lease_holder(database_url)
                victim = next(p for p in (a, b) if holder and holder.endswith(f":{p.process.pid}"))
                os.kill(victim.process.pid, signal.SIGKILL)  # the active sender dies mid-way
                killed = True
            if killed and all(delivered.get(u) for u in range(first, first + count)):
                break
            await asyncio.sleep(0.5)
        stats = await client.stats()
    assert killed
    assert stats["too_many_requests"] - before == 0
    assert stats["delivered_per_second"]["peak_1s"] <= 30
    missing = [u for u in range(first, first + count) if not delivered.get(u)]
    assert missing == []
    twice = [u for u, n in delivered.items() if n > 1]
    assert len(twice) <= 30  # at most the batch in flight when the sender died


def _received(sandbox, first: int, count: int) -> dict[int, int]:
    """How many copies of the broadcast each chat holds (read from the sandbox's state)."""
    out: dict[int, int] = {}
    for user_id in range(first, first + count):
        chat = sandbox.sandbox.chats.get(user_id)
        if chat is None:
            continue
        out[user_id] = sum(
            1
            for m in chat.messages.values()
            if m.sender == "bot" and "明天停水" in (m.message.text or "")
        )
    return out
