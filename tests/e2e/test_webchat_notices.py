"""李姐 publishes a notice to one building in the sandbox web chat (Debian's chromium): the
resident of that building receives it, the neighbour in another building does not, and her
report counts the delivery. Saves the screenshot shown in the README."""

from __future__ import annotations

import pytest

from tests.browser import ARTIFACTS, needs_chromium, open_web_chat
from tests.e2e.phone import Phone
from tests.e2e.test_notice_delivery import resident

pytestmark = [*needs_chromium, pytest.mark.e2e, pytest.mark.rasa]

LI, WANG, SUN = 20002, 10001, 10003


async def invite_token(database_url: str) -> str:
    """A worker invite for 南湖春晓小区, made by a city staff member (no phone of their own)."""
    from models.db import make_engine, make_session_factory
    from models.registry import get_compound_by_code
    from models.tables import Role, User
    from models.users import create_invite

    engine = make_engine(database_url)
    async with make_session_factory(engine)() as s, s.begin():
        boss = User(telegram_id=99999, chat_id=99999, role=Role.city_staff, first_name="张主任")
        s.add(boss)
        await s.flush()
        compound = await get_compound_by_code(session=s, code="hp01")
        invite = await create_invite(session=s, created_by=boss, compound_ids=[compound.id])
        token = invite.token
    await engine.dispose()
    return token


async def test_li_publishes_a_notice_in_the_web_chat(start_bot, sandbox, client):
    from playwright.async_api import async_playwright, expect

    async with start_bot() as bot, async_playwright() as playwright:
        await resident(client, WANG, "王阿姨", "3号楼2单元")
        li = await Phone(client, LI).open("李姐（社区工作者）")
        await li.say(f"/start w_{await invite_token(bot.database_url)}")
        await resident(client, SUN, "孙姐", "5号楼1单元")
        async with open_web_chat(playwright, sandbox.web_url) as page:
            pane = page.get_by_test_id(f"chat-pane-{LI}")
            bot_messages = pane.locator("[data-testid=message][data-from=bot]")

            async def tap(label: str) -> None:
                button = pane.get_by_test_id("inline-button").filter(has_text=label).last
                await expect(button).to_be_visible(timeout=15_000)
                await button.click()

            await pane.get_by_test_id("message-input").fill("/notice")
            await pane.get_by_test_id("send-button").click()
            await tap("按楼栋/单元")
            await tap("⬜ 3号楼")
            await tap("完成")
            await tap("下一步")
            await expect(bot_messages.last).to_contain_text("第 2 步", timeout=15_000)
            await pane.get_by_test_id("message-input").fill("明天 9:00–17:00 3号楼停水，请提前储水")
            await pane.get_by_test_id("send-button").click()
            await tap("不需要附件")
            await tap("停水停电")
            await tap("普通")
            await tap("立即发送")
            await expect(bot_messages.last).to_contain_text("收件人：1 位居民", timeout=15_000)
            await tap("✅ 发布")
            await expect(bot_messages.last).to_contain_text("已发送完毕", timeout=30_000)
            await expect(bot_messages.last).to_contain_text("已送达 1 / 1")
            wang_pane = page.get_by_test_id(f"chat-pane-{WANG}")
            await expect(
                wang_pane.locator("[data-testid=message][data-from=bot]").last
            ).to_contain_text("3号楼停水")
            sun_pane = page.get_by_test_id(f"chat-pane-{SUN}")
            await expect(sun_pane).not_to_contain_text("3号楼停水")
            await page.wait_for_timeout(2500)  # the "已发布" toast fades
            ARTIFACTS.mkdir(exist_ok=True)
            await page.screenshot(path=str(ARTIFACTS / "notice-journey.png"))
