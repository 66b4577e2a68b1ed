"""Telegram HTML parse mode: entities, errors, and rendering back to safe HTML."""

from __future__ import annotations

import pytest

from sandbox.entities import EntityParseError, detect_entities, parse_html, render_html


def test_allowed_tags_become_entities() -> None:
    text, entities = parse_html(
        "<b>粗</b><strong>粗</strong><i>斜</i><em>斜</em><u>下</u><ins>下</ins><s>删</s>"
        '<del>删</del><tg-spoiler>秘</tg-spoiler><span class="tg-spoiler">秘</span>'
        '<blockquote>引</blockquote><pre><code class="language-python">x</code></pre>'
    )
    assert text == "粗粗斜斜下下删删秘秘引x"
    kinds = [(e["type"], e["offset"]) for e in entities]
    assert kinds == [
        ("bold", 0), ("bold", 1), ("italic", 2), ("italic", 3), ("underline", 4),
        ("underline", 5), ("strikethrough", 6), ("strikethrough", 7), ("spoiler", 8),
        ("spoiler", 9), ("blockquote", 10), ("pre", 11),
    ]  # fmt: skip
    assert entities[-1]["language"] == "python"


def test_character_references_and_links() -> None:
    text, entities = parse_html('&lt;b&gt; &amp; &quot; &#21704; <a href="tg://user?id=7">人</a>')
    assert text == '<b> & " 哈 人'
    assert entities == [
        {
            "type": "text_mention",
            "user": {"id": 7, "is_bot": False, "first_name": ""},
            "offset": 10,
            "length": 1,
        }
    ]


def test_offsets_are_utf16() -> None:
    text, entities = parse_html("😀😀<b>中</b>")
    assert text == "😀😀中"
    assert entities == [{"type": "bold", "offset": 4, "length": 1}]


@pytest.mark.parametrize(
    ("source", "error"),
    [
        ("<b>x", 'Can\'t find end tag corresponding to start tag "b"'),
        ("<p>x</p>", 'Unsupported start tag "p" at byte offset 0'),
        ("中<b>x</i>", 'Unmatched end tag at byte offset 7, expected "</b>", found "</i>"'),
        ("x</b>", "Unexpected end tag at byte offset 1"),
        ("<b x", "Unclosed start tag at byte offset 0"),
        ('<span class="x">y</span>', 'Tag "span" must have class "tg-spoiler"'),
    ],
)
def test_errors_read_like_telegrams(source: str, error: str) -> None:
    with pytest.raises(EntityParseError) as raised:
        parse_html(source)
    assert str(raised.value) == error


def test_render_escapes_everything_but_entities() -> None:
    text, entities = parse_html(
        '<b>注意</b> &lt;script&gt; <a href="javascript:alert(1)">x</a>\n<code>a&amp;b</code>'
    )
    html = render_html(text, entities)
    assert html == "<b>注意</b> &lt;script&gt; <span>x</span><br><code>a&amp;b</code>"


def test_user_text_gets_command_and_url_entities() -> None:
    assert detect_entities("/start 看 https://example.org/a") == [
        {"type": "bot_command", "offset": 0, "length": 6},
        {"type": "url", "offset": 9, "length": 21},
    ]
