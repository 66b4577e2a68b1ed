"""What other residents see of a resident's words: every way of writing a phone number, WeChat
and QQ ids, e-mail addresses and ID-card numbers are masked, and texts are cut after masking."""

from __future__ import annotations

import re

import pytest

from models.privacy import cut, mask_private, public_snippet
from tests.harness import ADMIN, NEIGHBOUR, RESIDENT, WORKER


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        # mobile numbers, however they are written
        ("有事打我电话13812345678", "有事打我电话138******78"),
        ("电话139.1234.5678", "电话139******78"),
        ("电话139 1234 5678", "电话139******78"),
        ("电话139-1234-5678", "电话139******78"),
        ("电话１３９１２３４５６７８", "电话139******78"),
        ("电话１３９　１２３４　５６７８", "电话139******78"),
        ("电话 +86 139-1234-5678 谢谢", "电话 139******78 谢谢"),
        ("电话+8613912345678", "电话139******78"),
        ("电话8613912345678", "电话139******78"),
        ("电话0086 139 1234 5678", "电话139******78"),
        ("电话(+86)139 1234 5678", "电话139******78"),
        ("电话＋８６－１３９－１２３４－５６７８", "电话139******78"),
        # landlines
        ("座机024-23456789", "座机024******89"),
        ("座机(024)23456789", "座机024******89"),
        ("座机0411-8765432", "座机041******32"),
        # WeChat and QQ ids
        ("加我微信 wjg_1960 谢谢", "加我微信 w******0 谢谢"),
        ("微信号：wjg_1960", "微信号：w******0"),
        ("VX:wjg_1960", "VX:w******0"),
        ("vx：wjg_1960", "vx：w******0"),
        ("加V wjg_1960", "加V w******0"),
        ("WeChat: zhang-san_88", "WeChat: z**********8"),
        ("QQ 12345678", "QQ 1******8"),
        ("微信同号13912345678", "微信同号139******78"),
        # e-mail addresses
        ("邮箱 wjg1960@qq.com 发我", "邮箱 w******@qq.com 发我"),
        ("邮箱ｗｊｇ１９６０＠ｑｑ．ｃｏｍ", "邮箱w******@qq.com"),
        ("13912345678@163.com", "1**********@163.com"),
        # ID-card numbers: 18 digits (X last), grouped, and the old 15-digit form
        ("身份证210102196003071234", "身份证210*************34"),
        ("身份证 21010219600307123X 号", "身份证 210*************3X 号"),
        ("身份证 210102 19600307 1234", "身份证 210*************34"),
        ("老身份证210102600307123", "老身份证210**********23"),
    ],
)
def test_private_details_are_masked(text: str, masked: str) -> None:
    assert mask_private(text) == masked


@pytest.mark.parametrize(
    "text",
    [
        "3号楼2单元501室",
        "2026年11月24日",
        "订单 2026-11-24 10:30",
        "面积 139.5 平方米，花了 1500 元",
        "15 16 17 18 19 20 号楼都漏水",
        "加我微信吧，微信群里也说了",
    ],
)
def test_ordinary_numbers_and_words_are_left_alone(text: str) -> None:
    assert mask_private(text) == text


@pytest.mark.parametrize("start", range(68, 80))
def test_a_snippet_is_masked_before_it_is_cut(start: int) -> None:
    # Wherever the 80-character cut falls in the number, no more of it shows than its masked
    # form does (139******78); cutting the raw text first showed up to 10 digits in a row.
    text = "楼" * start + "13912345678" + "，麻烦尽快处理"
    snippet = public_snippet(text, 80)
    assert len(snippet) == 80 and snippet.endswith("…")
    assert len(re.sub(r"\D", "", snippet)) <= 5 and not re.search(r"\d{4}", snippet), snippet


def test_a_short_text_is_not_cut() -> None:
    assert public_snippet("电话13912345678", 80) == "电话139******78"


def test_a_cut_text_ends_with_an_ellipsis_and_only_a_cut_one() -> None:
    assert cut("楼道灯坏了", 5) == "楼道灯坏了"  # exactly the limit: whole, no mark
    assert cut("楼道灯坏了好几天", 5) == "楼道灯坏…"
    assert cut("楼道 灯坏了", 4) == "楼道…"  # no space left dangling before the mark


# --- what the bot shows other people ------------------------------------------------------


async def file_ticket(h, telegram_id: int, text: str) -> str:
    h.nlu.teach(text, "water", 0.95)
    await h.send(telegram_id, text)
    await h.press(telegram_id, "✅ 确认提交")
    return (await h.tickets())[-1].reference


async def test_the_duplicate_offer_masks_before_it_cuts(h):
    await h.bind(RESIDENT)
    await h.bind(NEIGHBOUR)
    head = "3号楼下水道又堵了，味道贼大。"
    contact = "有事打我电话"
    # The number starts at character 72: an 80-character cut of the raw text kept 8 digits.
    text = head + "。" * (72 - len(head) - len(contact)) + contact + "13912345678，微信 wjg_1960"
    await file_ticket(h, RESIDENT, text)
    h.nlu.teach("3号楼下水道又堵了，味道特别大", "water", 0.95)
    await h.send(NEIGHBOUR, "3号楼下水道又堵了，味道特别大")
    offer = "\n".join(await h.press(NEIGHBOUR, "✅ 确认提交"))
    assert "已有 1 位邻居反映过" in offer and "有事打我电话139****…" in offer
    assert not re.search(r"\d{4}", offer), offer


async def test_a_follower_sees_every_contact_detail_masked(h):
    await h.bind(RESIDENT)
    await h.bind(NEIGHBOUR)
    reference = await file_ticket(
        h,
        RESIDENT,
        "3号楼下水道堵了，联系我 139.1234.5678 或 wjg1960@qq.com，身份证210102196003071234",
    )
    await h.send(RESIDENT, "📋 我的诉求")
    await h.press_starting(RESIDENT, reference)
    await h.press(RESIDENT, "补充说明")
    await h.send(RESIDENT, "也可以加VX:wjg_1960，座机024 2345 6789")
    h.nlu.teach("3号楼下水道堵了，太臭了", "water", 0.95)
    await h.send(NEIGHBOUR, "3号楼下水道堵了，太臭了")
    await h.press(NEIGHBOUR, "✅ 确认提交")
    await h.press(NEIGHBOUR, "👍 我也反映")
    await h.send(NEIGHBOUR, "📋 我的诉求")
    detail = "\n".join(await h.press_starting(NEIGHBOUR, reference))
    for secret in ("1234", "wjg1960", "wjg_1960", "19600307", "2345 6789"):
        assert secret not in detail, secret
    assert "139******78" in detail and "w******@qq.com" in detail and "VX:w******0" in detail
    # The author sees what they wrote.
    await h.send(RESIDENT, "📋 我的诉求")
    own = "\n".join(await h.press_starting(RESIDENT, reference))
    assert "139.1234.5678" in own and "wjg1960@qq.com" in own


async def test_the_workers_list_masks_before_it_cuts(h):
    token = (await h.send(ADMIN, "/invite hp01"))[-1].split("start=w_")[1].split()[0]
    await h.send(WORKER, f"/start w_{token}")
    await h.bind(RESIDENT)
    text = "3号楼下水道堵了好几天了，味道太大，一楼都返水了，麻烦快来看，电话13912345678"
    assert text.index("139") == 33  # a 40-character cut of the raw text kept 7 digits
    reference = await file_ticket(h, RESIDENT, text)
    await h.send(WORKER, "/tickets")
    [row] = [b for b in h.buttons(WORKER) if b.startswith(reference)]
    assert "下水道" in row and "…" in row
    assert not re.search(r"\d{4}", row.replace(reference, "")), row
