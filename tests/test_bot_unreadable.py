"""Text the model cannot read (English, pinyin) is still a demand (issue #14, point 7)."""

from __future__ import annotations

import pytest

from nlu.language import small_talk, unreadable
from tests.harness import RESIDENT


@pytest.mark.parametrize("text", ["The stairwell light is broken", "louxia shuiguan huai le"])
async def test_english_or_pinyin_gets_the_category_buttons_and_keeps_the_words(h, text):
    await h.bind(RESIDENT)
    # what Rasa answers to words it cannot read: a confident conversation intent
    h.nlu.teach(text, "greet", 0.95)
    replies = await h.send(RESIDENT, text)
    assert any("中文" in r for r in replies)  # descriptions in Chinese are understood best
    assert not any("您好" in r for r in replies)  # not answered with the greeting
    await h.press(RESIDENT, "照明")
    [ticket] = await h.tickets()
    assert ticket.category == "lighting"
    assert ticket.text_original == text


async def test_a_real_greeting_in_english_still_gets_the_greeting(h):
    await h.bind(RESIDENT)
    h.nlu.teach("Hello!", "greet", 0.95)
    replies = await h.send(RESIDENT, "Hello!")
    assert any("您好" in r for r in replies)
    assert await h.tickets() == []


@pytest.mark.parametrize(
    ("text", "intent"),
    [("Hi", "greet"), ("nihao", "greet"), ("Thanks!", "goodbye"), ("xiexie", "goodbye"),
     ("Hello, the elevator is broken", None), ("楼道灯坏了", None)],
)  # fmt: skip
def test_only_a_greeting_or_thanks_is_small_talk(text: str, intent: str | None) -> None:
    assert small_talk(text) == intent


def test_chinese_is_readable_and_latin_letters_alone_are_not() -> None:
    assert unreadable("The stairwell light is broken")
    assert not unreadable("3号楼 stairwell 灯坏了")
    assert not unreadable("3-2-501")
