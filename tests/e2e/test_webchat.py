"""A newcomer in the sandbox web chat (Debian's chromium) reports a demand to the real bot."""

from __future__ import annotations

import re

import pytest

from tests.browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, needs_chromium

pytestmark = [*needs_chromium, pytest.mark.e2e, pytest.mark.rasa]


async def test_resident_reports_a_demand_in_the_web_chat(start_bot, sandbox, client):
    from playwright.async_api import async_playwright, expect

    await client.create_user("王阿姨", id=10001)
    await client.create_user("李姐（社区工作者）", id=10002)
    async with start_bot(), async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
        )
        try:
            page = await browser.new_page(viewport={"width": 1280, "height": 900})
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            await page.goto(sandbox.web_url)
            pane = page.get_by_test_id("chat-pane-10001")
            bot_messages = pane.locator("[data-testid=message][data-from=bot]")

            async def say(text: str) -> None:
                await pane.get_by_test_id("message-input").fill(text)
                await pane.get_by_test_id("send-button").click()

            await say("/start")
            await expect(bot_messages.last).to_contain_text("哪个小区", timeout=15_000)
            await say("南湖春晓")
            await pane.get_by_test_id("inline-button").filter(has_text="南湖春晓小区").last.click()
            await expect(bot_messages.last).to_contain_text("已为您绑定小区", timeout=15_000)

            await say("我们3号楼下水道又堵了，味儿贼大，咋整啊")
            proposal = bot_messages.last
            await expect(proposal).to_contain_text("【供水排水】", timeout=15_000)
            await proposal.get_by_test_id("inline-button").filter(has_text="确认提交").click()
            await expect(bot_messages.last).to_contain_text("已提交", timeout=15_000)
            text = await bot_messages.last.inner_text()
            assert re.search(r"编号\s*\d{4}-\d{4}", text), text
            # The reply keyboard (main menu) is under the input: the ticket is in 我的诉求.
            await pane.get_by_test_id("reply-button").filter(has_text="我的诉求").click()
            await expect(bot_messages.last).to_contain_text(re.search(r"\d{4}-\d{4}", text).group())

            ARTIFACTS.mkdir(exist_ok=True)
            await page.screenshot(path=str(ARTIFACTS / "resident-journey.png"))
            assert errors == []
        finally:
            await browser.close()
