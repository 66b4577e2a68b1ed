"""A newcomer in the sandbox web chat (Debian's chromium) reports a demand to the real bot."""

from __future__ import annotations

import re

import pytest

from tests.browser import (
    ARTIFACTS,
    ELSEWHERE,
    SMALL_SCREEN,
    assert_newest_message_in_view,
    bot_clock,
    needs_chromium,
    open_web_chat,
    shown_time,
)

pytestmark = [*needs_chromium, pytest.mark.e2e, pytest.mark.rasa]


async def test_resident_reports_a_demand_in_the_web_chat(start_bot, sandbox, client):
    from playwright.async_api import async_playwright, expect

    await client.create_user("王阿姨", id=10001)
    await client.create_user("李姐（社区工作者）", id=10002)
    async with start_bot(), async_playwright() as playwright:
        async with open_web_chat(playwright, sandbox.web_url) as page:
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
            # (The confirmation names the reference too: wait for the list itself.)
            listing = bot_messages.filter(has_text="我的诉求（共 1 条）").last
            await expect(listing).to_contain_text(re.search(r"\d{4}-\d{4}", text).group())
            await assert_newest_message_in_view(pane)

            ARTIFACTS.mkdir(exist_ok=True)
            await page.screenshot(path=str(ARTIFACTS / "resident-journey.png"))


async def test_on_a_laptop_screen_the_newest_answer_is_never_behind_the_keyboard(
    start_bot, sandbox, client
):
    """1280×720, a browser in New York: picking a compound by district edits one message into
    ever more buttons, binding it brings the reply keyboard, a confirmed demand answers above
    it. Each time the newest message is in view, and its time is the bot's (Asia/Shanghai),
    the zone of the deadline the bot writes into it."""
    from playwright.async_api import async_playwright, expect

    await client.create_user("王阿姨", id=10001)
    async with start_bot(), async_playwright() as playwright:
        async with open_web_chat(
            playwright, sandbox.web_url, viewport=SMALL_SCREEN, timezone_id=ELSEWHERE
        ) as page:
            pane = page.get_by_test_id("chat-pane-10001")
            newest = pane.get_by_test_id("message").last

            async def tap(label: str) -> None:
                await newest.get_by_test_id("inline-button").filter(has_text=label).click()

            await pane.get_by_test_id("message-input").fill("/start")
            await pane.get_by_test_id("send-button").click()
            await expect(newest).to_contain_text("哪个小区", timeout=15_000)
            await tap("按区选择")  # the question is edited into the districts' buttons
            await expect(newest).to_contain_text("请选择您所在的区")
            await assert_newest_message_in_view(pane)
            await tap("和平区")  # and again, into the district's compounds
            await expect(newest.get_by_test_id("inline-button").first).to_have_text("南湖春晓小区")
            await expect(newest).to_have_attribute("data-edited", "true")
            await assert_newest_message_in_view(pane)

            await tap("南湖春晓小区")  # bound: the answer brings the main menu under the input
            await expect(newest).to_contain_text("已为您绑定小区", timeout=15_000)
            await expect(pane.get_by_test_id("reply-button").first).to_be_visible()
            await assert_newest_message_in_view(pane)

            await pane.get_by_test_id("message-input").fill("我们3号楼下水道又堵了，味儿贼大")
            await pane.get_by_test_id("send-button").click()
            await expect(newest).to_contain_text("【供水排水】", timeout=15_000)
            await assert_newest_message_in_view(pane)
            await tap("确认提交")
            await expect(newest).to_contain_text("已提交", timeout=15_000)
            await expect(pane.get_by_test_id("reply-button").first).to_be_visible()
            await assert_newest_message_in_view(pane)

            message_id = int(await newest.get_attribute("data-message-id"))
            sent = {m["message_id"]: m for m in await client.messages(10001)}[message_id]
            assert await shown_time(newest) == bot_clock(sent["date"])


async def test_the_workers_workbench_in_the_web_chat(start_bot, sandbox, client):
    """李姐 at 8:00: her queue with its counts, then a ticket's card with its actions."""
    from playwright.async_api import async_playwright, expect

    from tests.e2e.phone import Phone
    from tests.e2e.test_conversations import recruit_worker, report

    async with start_bot(), async_playwright() as playwright:
        await recruit_worker(client)  # 李姐, id 20002, worker of 南湖春晓小区
        wang = await Phone(client, 10001).open("王阿姨")
        await wang.say("/start c_hp01")
        ref = await report(wang, "我们3号楼下水道又堵了，味儿贼大，咋整啊")
        zhao = await Phone(client, 10006).open("赵大爷")
        await zhao.say("/start c_hp01")
        await report(zhao, "小区门口那几个路灯晚上都不亮，黑咕隆咚的")
        async with open_web_chat(playwright, sandbox.web_url) as page:
            pane = page.get_by_test_id("chat-pane-20002")
            bot_messages = pane.locator("[data-testid=message][data-from=bot]")
            await pane.get_by_test_id("reply-button").filter(has_text="待办").click()
            await expect(bot_messages.last).to_contain_text("新 2", timeout=15_000)
            await bot_messages.last.get_by_test_id("inline-button").filter(has_text=ref).click()
            await expect(bot_messages.last).to_contain_text("办理记录", timeout=15_000)
            card = bot_messages.last
            for action in ("受理", "派给", "回复", "请补充"):
                await expect(
                    card.get_by_test_id("inline-button").filter(has_text=action).first
                ).to_be_visible()
            ARTIFACTS.mkdir(exist_ok=True)
            await page.screenshot(path=str(ARTIFACTS / "workbench.png"))


async def test_a_question_about_the_renovation_gets_a_short_answer(start_bot, sandbox, client):
    """王阿姨 asks in her own words when the works start: a few lines from the board (stage,
    progress, the next step), and a button to the whole board. Saves the README's screenshot."""
    from playwright.async_api import async_playwright, expect

    from tests.e2e.phone import Phone

    async with start_bot(), async_playwright() as playwright:
        wang = await Phone(client, 10001).open("王阿姨")
        await wang.say("/start c_hp01")
        async with open_web_chat(playwright, sandbox.web_url) as page:
            pane = page.get_by_test_id("chat-pane-10001")
            newest = pane.locator("[data-testid=message][data-from=bot]").last
            await pane.get_by_test_id("message-input").fill("我们小区啥时候开始改造啊？")
            await pane.get_by_test_id("send-button").click()
            await expect(newest).to_contain_text("南湖春晓小区 的改造", timeout=15_000)
            # the demo registry: 南湖春晓小区 is under construction, 45 %
            await expect(newest).to_contain_text("现在：施工中，已经开工。")
            await expect(newest).to_contain_text("45%")
            await expect(newest).not_to_contain_text("满意率")  # not the whole board
            await assert_newest_message_in_view(pane)
            ARTIFACTS.mkdir(exist_ok=True)
            await page.screenshot(path=str(ARTIFACTS / "plan-question.png"))
            await newest.get_by_test_id("inline-button").filter(has_text="查看完整改造公示").click()
            await expect(newest).to_contain_text("满意率", timeout=15_000)
