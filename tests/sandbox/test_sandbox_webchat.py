"""The web chat in Debian's chromium (Playwright): a user chats with the echo bot."""

from __future__ import annotations

import io
import re
from pathlib import Path

from aiogram import Bot
from aiogram.types import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    ReplyKeyboardMarkup,
)
from PIL import Image

from sandbox.app import SandboxServer
from sandbox.client import SandboxClient
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

pytestmark = needs_chromium


async def test_web_chat_conversation(
    sandbox: SandboxServer, client: SandboxClient, echo_bot: Bot, tmp_path: Path
) -> None:
    from playwright.async_api import async_playwright, expect

    await client.create_user("王阿姨", id=1001)
    async with async_playwright() as playwright:
        async with open_web_chat(
            playwright, sandbox.web_url, viewport={"width": 1280, "height": 860}
        ) as page:
            # a user added through the page gets a pane of their own
            await page.get_by_test_id("add-user-name").fill("李师傅")
            await page.get_by_test_id("add-user-button").click()
            await expect(page.locator(".chat-pane")).to_have_count(2)

            pane = page.get_by_test_id("chat-pane-1001")
            await pane.get_by_test_id("message-input").fill("楼道的灯坏了，晚上很黑。")
            await pane.get_by_test_id("send-button").click()
            answer = pane.locator("[data-testid=message][data-from=bot]").last
            await expect(answer).to_contain_text("收到：楼道的灯坏了，晚上很黑。")
            await expect(answer.locator("b")).to_have_text("收到")  # HTML rendered

            await answer.get_by_test_id("inline-button").filter(has_text="好的").click()
            await expect(answer).to_contain_text("✅ 已确认")  # edited in place
            await expect(answer).to_have_attribute("data-edited", "true")
            await expect(pane.get_by_test_id("toast")).to_have_text("已确认 ✅")

            # the reply keyboard under the input, and a shared location
            await pane.get_by_test_id("message-input").fill("/start")
            await pane.get_by_test_id("send-button").click()
            await pane.get_by_test_id("reply-button").filter(has_text="帮助").click()
            await expect(pane.get_by_test_id("message").last).to_contain_text("我会重复你说的话")
            await pane.get_by_test_id("location-button").click()
            await pane.get_by_test_id("location-send").click()
            await expect(pane.get_by_test_id("message").last).to_contain_text("位置已收到")

            # a photo from disk
            photo = tmp_path / "photo.jpg"
            buffer = io.BytesIO()
            Image.new("RGB", (120, 80), (90, 140, 200)).save(buffer, "JPEG")
            photo.write_bytes(buffer.getvalue())
            await pane.get_by_test_id("photo-input").set_input_files(str(photo))
            await expect(pane.get_by_test_id("message").last).to_contain_text(
                "照片已收到（120×80）"
            )

            ARTIFACTS.mkdir(exist_ok=True)
            await page.screenshot(path=str(ARTIFACTS / "sandbox-webchat.png"))

    texts = [m.get("text") or m.get("caption") for m in await client.messages(1001)]
    assert texts[0] == "楼道的灯坏了，晚上很黑。"
    assert texts[-1] == "照片已收到（120×80）"


async def test_a_laptop_screen_keeps_the_newest_message_and_every_button_in_reach(
    sandbox: SandboxServer, client: SandboxClient, bot: Bot
) -> None:
    """At 1280×720, in a browser set to New York: a long chat, then a message that brings a big
    reply keyboard, then an edit that adds buttons. The newest message stays in view above the
    keyboard, every button can be pressed, and times are the bot's (Asia/Shanghai)."""
    from playwright.async_api import async_playwright, expect

    await client.set_faults(False)  # the bot below sends faster than Telegram's 1/s per chat
    await client.create_user("王阿姨", id=1001)
    for n in range(1, 13):
        await bot.send_message(
            1001, f"第 {n} 条：" + "楼道的灯坏了，晚上很黑，老人上下楼不方便。" * 3
        )
    async with async_playwright() as playwright:
        async with open_web_chat(
            playwright, sandbox.web_url, viewport=SMALL_SCREEN, timezone_id=ELSEWHERE
        ) as page:
            pane = page.get_by_test_id("chat-pane-1001")
            await expect(pane.get_by_test_id("message")).to_have_count(12)
            await assert_newest_message_in_view(pane)

            rows = [[KeyboardButton(text=f"{row}号楼"), KeyboardButton(text=f"{row}号楼北")]
                    for row in range(1, 13)]  # fmt: skip
            asked = await bot.send_message(
                1001, "请选择楼栋：", reply_markup=ReplyKeyboardMarkup(keyboard=rows)
            )
            await expect(pane.get_by_test_id("reply-button")).to_have_count(24)
            await assert_newest_message_in_view(pane)
            # The keyboard scrolls inside its area; the phone stays on the screen.
            phone = await pane.bounding_box()
            assert phone and phone["y"] + phone["height"] <= SMALL_SCREEN["height"]
            await pane.get_by_test_id("reply-button").last.click()  # no force: it is reachable
            await expect(pane.get_by_test_id("message").last).to_have_text(re.compile("12号楼北"))
            await assert_newest_message_in_view(pane)

            buttons = InlineKeyboardMarkup(
                inline_keyboard=[[InlineKeyboardButton(text=f"{n}单元", callback_data=f"u{n}")
                                  for n in (row, row + 1)] for row in (1, 3, 5)]
            )  # fmt: skip
            await bot.edit_message_reply_markup(
                chat_id=1001, message_id=asked.message_id, reply_markup=buttons
            )
            sent = await bot.send_message(1001, "请选择单元：", reply_markup=buttons)
            await bot.edit_message_text("请选择单元（共 6 个）：", chat_id=1001,
                                        message_id=sent.message_id, reply_markup=buttons)  # fmt: skip
            newest = pane.get_by_test_id("message").last
            await expect(newest).to_have_attribute("data-edited", "true")
            await expect(newest.get_by_test_id("inline-button")).to_have_count(6)
            await assert_newest_message_in_view(pane)

            stored = {m["message_id"]: m for m in await client.messages(1001)}
            assert await shown_time(newest) == bot_clock(stored[sent.message_id]["date"])

            # Someone who scrolled up to read stays there while a message grows below.
            messages = pane.get_by_test_id("message-list")
            await messages.hover()
            await page.mouse.wheel(0, -800)
            await page.wait_for_timeout(400)
            reading = await messages.evaluate("list => list.scrollTop")
            await bot.edit_message_reply_markup(chat_id=1001, message_id=sent.message_id)
            await expect(newest.get_by_test_id("inline-button")).to_have_count(0)
            await page.wait_for_timeout(100)
            assert await messages.evaluate("list => list.scrollTop") == reading
