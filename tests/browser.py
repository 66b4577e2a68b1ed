"""Debian's chromium for Playwright (which cannot download browsers here)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
# Without the background-networking flags chromium keeps trying to reach Google's servers.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]

needs_chromium = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="needs Debian's chromium at /usr/bin/chromium (make browser-deps installs it)",
    ),
]

# A laptop's screen, the smallest the web chat is made for.
SMALL_SCREEN = {"width": 1280, "height": 720}
# Not the bot's zone (Asia/Shanghai): a page showing the browser's time would show another hour.
ELSEWHERE = "America/New_York"


# The window most tests use: wide enough for the three phones side by side.
DESKTOP = {"width": 1280, "height": 900}


@asynccontextmanager
async def open_web_chat(
    playwright: Any, url: str, *, viewport: dict[str, int] = DESKTOP, timezone_id: str | None = None
) -> AsyncIterator[Any]:
    """The web chat at ``url`` in Debian's chromium: the page, closed afterwards. A block that
    ends normally also asserts that the page raised no JavaScript error meanwhile."""
    browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
    try:
        context = await browser.new_context(viewport=viewport, timezone_id=timezone_id)
        page = await context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        await page.goto(url)
        yield page
        assert errors == []
    finally:
        await browser.close()


async def assert_newest_message_in_view(pane: Any) -> None:
    """The newest message of a web-chat pane is in view in the message list, which ends where
    the reply keyboard (if any) begins: all of it, or, if it is taller than the list, its end
    (the text's last lines and its buttons), as Telegram shows it. Measured after two animation
    frames, when the page has laid out and scrolled."""
    await pane.page.evaluate(
        "() => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)))"
    )
    newest = await pane.get_by_test_id("message").last.bounding_box()
    shown = await pane.get_by_test_id("message-list").bounding_box()
    assert newest and shown
    top, bottom = newest["y"], newest["y"] + newest["height"]
    shown_top, shown_bottom = shown["y"], shown["y"] + shown["height"]
    where = f"newest message {top:.0f}–{bottom:.0f}, list {shown_top:.0f}–{shown_bottom:.0f}"
    assert shown_top - 0.5 <= bottom <= shown_bottom + 0.5, where
    assert top >= shown_top - 0.5 or newest["height"] > shown["height"], where
    keyboard = pane.get_by_test_id("reply-keyboard")
    if await keyboard.is_visible():
        below = await keyboard.bounding_box()
        assert below and shown_bottom <= below["y"] + 0.5, f"{where}, keyboard from {below}"


async def shown_time(message: Any) -> str:
    return await message.get_by_test_id("message-time").inner_text()


def bot_clock(unix_seconds: int) -> str:
    """A message's time as the web chat must show it: HH:MM in the bot's zone."""
    return datetime.fromtimestamp(unix_seconds, ZoneInfo("Asia/Shanghai")).strftime("%H:%M")
