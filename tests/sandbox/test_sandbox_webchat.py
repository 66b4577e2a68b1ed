"""The web chat in Debian's chromium (Playwright): a user chats with the echo bot."""

from __future__ import annotations

import io
from pathlib import Path

from aiogram import Bot
from PIL import Image

from sandbox.app import SandboxServer
from sandbox.client import SandboxClient
from tests.browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, needs_chromium

pytestmark = needs_chromium


async def test_web_chat_conversation(
    sandbox: SandboxServer, client: SandboxClient, echo_bot: Bot, tmp_path: Path
) -> None:
    from playwright.async_api import async_playwright, expect

    await client.create_user("王阿姨", id=1001)
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
        )
        try:
            page = await browser.new_page(viewport={"width": 1280, "height": 860})
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            await page.goto(sandbox.web_url)

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
            assert errors == []
        finally:
            await browser.close()

    texts = [m.get("text") or m.get("caption") for m in await client.messages(1001)]
    assert texts[0] == "楼道的灯坏了，晚上很黑。"
    assert texts[-1] == "照片已收到（120×80）"
