"""The 回访 end to end: a ticket resolved in the sandbox, ``python -m scheduler run-due`` a day
later, the resident taps 未解决 and the worker is alerted — as a newcomer watches it in the web
chat (README: "Watching the follow-up", docs/followup-survey.png)."""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime, time, timedelta

import pytest

from bot.settings import Settings
from tests.botproc import ROOT
from tests.browser import (
    ARTIFACTS,
    assert_newest_message_in_view,
    needs_chromium,
    open_web_chat,
)
from tests.e2e.phone import Phone
from tests.e2e.test_conversations import recruit_worker, report

pytestmark = [*needs_chromium, pytest.mark.e2e, pytest.mark.rasa]


def run_due(database_url: str, at: datetime) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "scheduler", "run-due", "--at", f"{at:%Y-%m-%d %H:%M}"],
        env={"PATH": "/usr/bin:/bin", "DATABASE_URL": database_url,
             "RASA_URL": "http://127.0.0.1:9"},
        cwd=ROOT, capture_output=True, text=True, check=True, timeout=120,
    )  # fmt: skip
    return result.stdout


async def test_resolved_then_run_due_then_unresolved_alerts_the_worker(start_bot, sandbox, client):
    """王阿姨 answers the 回访 in the web chat (Debian's chromium): the README's screenshot."""
    from playwright.async_api import async_playwright, expect

    async with start_bot() as bot, async_playwright() as playwright:
        worker = await recruit_worker(client)
        wang = await Phone(client, 10001).open("王阿姨")
        await wang.say("/start c_hp01")
        ref = await report(wang, "3号楼下水道又堵了，味儿贼大")
        assert ref in "\n".join(await worker.wait_for(timeout=20))
        await worker.tap("查看与处理")
        await worker.tap("受理")
        await worker.tap("不加说明")
        await worker.tap("办结")
        await worker.say("已疏通")
        told = ""
        while "已办结" not in told:  # 已受理 and 已办结 arrive one by one or together
            told += "\n".join(await wang.wait_for(timeout=20))

        tz = Settings(_env_file=None).tz
        tomorrow = datetime.now(tz).date() + timedelta(days=1)
        printed = run_due(bot.database_url, datetime.combine(tomorrow, time(10, 0)))
        assert "surveys" in printed

        survey = "\n".join(await wang.wait_for(timeout=20))
        assert "问题解决了吗？" in survey and ref in survey
        async with open_web_chat(playwright, sandbox.web_url) as page:
            pane = page.get_by_test_id("chat-pane-10001")
            bot_messages = pane.locator("[data-testid=message][data-from=bot]")
            question = bot_messages.filter(has_text="问题解决了吗？").last
            await expect(question).to_contain_text(ref, timeout=15_000)
            await question.get_by_test_id("inline-button").filter(has_text="❌ 未解决").click()
            await expect(bot_messages.last).to_contain_text("重新打开", timeout=15_000)
            await assert_newest_message_in_view(pane)
            ARTIFACTS.mkdir(exist_ok=True)
            await page.screenshot(path=str(ARTIFACTS / "followup-survey.png"))
        alert = "\n".join(await worker.wait_for(timeout=20))
        assert ref in alert and "未解决" in alert
        assert "已记入诉求" in "\n".join(await wang.say("还是堵，水漫到楼道了"))
