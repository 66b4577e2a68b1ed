"""Holes found by trying the residents' side as a hostile or clumsy user would (issue "Safety
first"): the urgent path in every state, a failed reply, echoes, stale buttons, order."""

from __future__ import annotations

import asyncio

import pytest
from aiogram.exceptions import TelegramAPIError

from tests.harness import NEIGHBOUR, RESIDENT

GAS = "煤气味特别大"


def is_safety_reply(text: str) -> bool:
    return "119" in text and "120" in text


async def pick_compound(h, telegram_id: int, name: str = "南湖春晓") -> list[str]:
    await h.send(telegram_id, name)
    return await h.press(telegram_id, "南湖春晓小区")


# --- the urgent check reads every text first ----------------------------------------------


async def test_danger_typed_where_a_compound_name_is_expected_is_urgent(h):
    await h.send(RESIDENT, "/start")
    replies = await h.send(RESIDENT, GAS)
    assert is_safety_reply(replies[0])
    assert not any("没有找到" in r for r in replies)  # not taken as a compound name
    assert any("哪个小区" in r for r in replies)
    await pick_compound(h, RESIDENT)
    [ticket] = await h.tickets()
    assert ticket.urgent and ticket.text_original == GAS


async def test_danger_before_any_start_gets_the_safety_reply_at_once(h):
    replies = await h.send(RESIDENT, GAS)
    assert is_safety_reply(replies[0])
    after_binding = await pick_compound(h, RESIDENT)
    assert not any(is_safety_reply(r) for r in after_binding)  # said once, not twice
    assert any("已提交" in r for r in after_binding)
    [ticket] = await h.tickets()
    assert ticket.urgent


async def test_danger_after_the_nlu_cap_is_urgent(h):
    await h.bind(RESIDENT)
    long_story = "我们小区的楼道这几年一直没人管，" * 20 + "今天回家闻到" + GAS
    assert len(long_story) > 300
    replies = await h.send(RESIDENT, long_story)
    assert is_safety_reply(replies[0])
    [ticket] = await h.tickets()
    assert ticket.urgent


async def test_danger_after_a_long_open_draft_is_urgent(h):
    await h.bind(RESIDENT)
    first = "楼道窗户玻璃碎了好几块，" * 20
    h.nlu.teach(first, "building", 0.9)
    await h.send(RESIDENT, first)
    replies = await h.send(RESIDENT, "现在楼道里" + GAS)
    assert is_safety_reply(replies[0])
    [ticket] = await h.tickets()
    assert ticket.urgent and ticket.text_original.startswith(first)


async def test_danger_in_a_flood_gets_the_safety_reply_not_the_flood_note(h):
    await h.bind(RESIDENT)
    h.nlu.teach("楼道窗户碎了", "building", 0.9)
    for line in ["楼道窗户碎了", "一句", "两句", "三句", "四句", "五句"]:
        await h.send(RESIDENT, line)
    replies = await h.send(RESIDENT, GAS)
    assert replies and is_safety_reply(replies[0])
    assert not any("发得有点快" in r for r in replies)
    [ticket] = await h.tickets()
    assert ticket.urgent and "楼道窗户碎了" in ticket.text_original


async def test_a_danger_confirmed_by_button_is_urgent(h):
    """Words split over a flood are only urgent together: the confirmation checks again."""
    await h.bind(RESIDENT)
    h.nlu.teach("楼道窗户碎了", "building", 0.9)
    for line in ["楼道窗户碎了", "一句", "两句", "三句", "四句", "煤气", "味特别大"]:
        replies = await h.send(RESIDENT, line)
        assert not any(is_safety_reply(r) for r in replies)
    await h.press(RESIDENT, "全部类别")  # the fake NLU does not know the combined text
    replies = await h.press(RESIDENT, "楼体维修与节能")
    assert is_safety_reply(replies[0])
    [ticket] = await h.tickets()
    assert ticket.urgent and ticket.text_original.endswith("煤气\n味特别大")


async def test_an_edit_that_adds_a_danger_is_urgent(h):
    await h.bind(RESIDENT)
    h.nlu.teach("楼道窗户碎了", "building", 0.9)
    message_id = h.next_message_id()
    await h.send(RESIDENT, "楼道窗户碎了", message_id=message_id)
    replies = await h.edit(RESIDENT, "楼道窗户碎了，" + GAS, message_id=message_id)
    assert is_safety_reply(replies[0])
    [ticket] = await h.tickets()
    assert ticket.urgent
    assert ticket.text_original == "楼道窗户碎了，" + GAS  # the edit replaced its part


async def test_a_worker_typing_a_note_is_not_a_danger(h):
    from bot.staff_card import StaffTicketCb
    from models.tables import TicketStatus
    from tests.harness import ADMIN, WORKER

    token = (await h.send(ADMIN, "/invite hp01"))[-1].split("start=w_")[1].split()[0]
    await h.send(WORKER, f"/start w_{token}")
    await h.bind(RESIDENT)
    h.nlu.teach("楼道窗户碎了", "building", 0.9)
    await h.send(RESIDENT, "楼道窗户碎了")
    await h.press(RESIDENT, "✅ 确认提交")
    [ticket] = await h.tickets()
    await h.callback(WORKER, StaffTicketCb(id=ticket.id, v=ticket.version, a="reject").pack())
    await h.press(WORKER, "属于业主私有部位")
    replies = await h.send(WORKER, "上周煤气泄漏已由燃气公司处理，窗户属于业主自修")
    assert not any(is_safety_reply(r) for r in replies)
    [ticket] = await h.tickets()
    assert ticket.status == TicketStatus.rejected and not ticket.urgent


# --- commit, then talk --------------------------------------------------------------------


async def test_a_failed_confirmation_reply_keeps_the_ticket(h):
    await h.bind(RESIDENT)
    h.nlu.teach("路灯坏了", "lighting", 0.9)
    await h.send(RESIDENT, "路灯坏了")
    h.recorder.fail_next("SendMessage", 403, "Forbidden: bot was blocked by the user")
    with pytest.raises(TelegramAPIError):
        await h.press(RESIDENT, "✅ 确认提交")
    [ticket] = await h.tickets()
    assert ticket.text_original == "路灯坏了"


async def test_failed_replies_keep_an_urgent_ticket(h):
    await h.bind(RESIDENT)
    h.recorder.fail_next("SendMessage", 403, "Forbidden: bot was blocked by the user")
    h.recorder.fail_next("SendMessage", 502, "Bad Gateway")
    with pytest.raises(TelegramAPIError):
        await h.send(RESIDENT, GAS)
    [ticket] = await h.tickets()
    assert ticket.urgent


# --- what a resident typed is escaped and cut when echoed ---------------------------------


@pytest.mark.parametrize("typed", ["<script>alert(1)</script>", "3‹5号楼", "<b>", "查" * 4090])
async def test_a_typed_compound_name_is_echoed_safely(h, typed):
    await h.send(RESIDENT, "/start")
    replies = await h.send(RESIDENT, typed)
    [answer] = [r for r in replies if "没有找到" in r]
    assert len(answer) < 200
    assert "<script>" not in answer and "<b>" not in answer
    if typed.startswith("<script>"):
        assert "&lt;script&gt;" in answer


# --- stale buttons ------------------------------------------------------------------------


async def test_an_old_cancel_button_does_not_delete_the_new_draft(h):
    await h.bind(RESIDENT)
    h.nlu.teach("路灯坏了", "lighting", 0.9)
    h.nlu.teach("路灯坏了\n就在3号楼门口", "lighting", 0.9)
    await h.send(RESIDENT, "路灯坏了")
    old = h.last_markup(RESIDENT)
    await h.send(RESIDENT, "就在3号楼门口")
    replies = await h.press_on(RESIDENT, old, "✖️ 取消")
    assert any("过期" in r for r in replies)
    assert not any("已取消" in r for r in replies)
    await h.press(RESIDENT, "✅ 确认提交")  # the fresh view's button
    [ticket] = await h.tickets()
    assert ticket.text_original == "路灯坏了\n就在3号楼门口"


async def test_an_old_confirm_button_does_not_file_the_new_words(h):
    await h.bind(RESIDENT)
    h.nlu.teach("路灯坏了", "lighting", 0.9)
    h.nlu.teach("路灯坏了\n其实是下水道堵了", "water", 0.9)
    await h.send(RESIDENT, "路灯坏了")
    old = h.last_markup(RESIDENT)
    await h.send(RESIDENT, "其实是下水道堵了")
    replies = await h.press_on(RESIDENT, old, "✅ 确认提交")
    assert any("过期" in r for r in replies)
    assert await h.tickets() == []
    assert any("供水排水" in r for r in replies)  # the fresh question for the new words
    await h.press(RESIDENT, "✅ 确认提交")
    [ticket] = await h.tickets()
    assert ticket.category == "water"


async def test_an_old_endorse_button_does_not_drop_the_words_typed_since(h):
    await h.bind(RESIDENT)
    await h.bind(NEIGHBOUR)
    h.nlu.teach("3号楼下水道堵了", "water", 0.95)
    await h.send(RESIDENT, "3号楼下水道堵了")
    await h.press(RESIDENT, "✅ 确认提交")
    h.nlu.teach("三号楼下水道又堵了", "water", 0.95)
    h.nlu.teach("三号楼下水道又堵了\n另外路灯也坏了", "lighting", 0.9)
    await h.send(NEIGHBOUR, "三号楼下水道又堵了")
    await h.press(NEIGHBOUR, "✅ 确认提交")
    offer = h.last_markup(NEIGHBOUR)
    await h.send(NEIGHBOUR, "另外路灯也坏了")
    replies = await h.press_on(NEIGHBOUR, offer, "👍 我也反映")
    assert any("过期" in r for r in replies)
    from models.tables import Endorsement

    async with h.factory() as s:
        from sqlmodel import select

        assert (await s.exec(select(Endorsement))).all() == []
    await h.press(NEIGHBOUR, "✅ 确认提交")
    tickets = await h.tickets()
    assert tickets[-1].text_original == "三号楼下水道又堵了\n另外路灯也坏了"


async def test_an_old_district_keyboard_does_not_rebind(h):
    await h.send(RESIDENT, "/start")
    old = h.last_markup(RESIDENT)
    await pick_compound(h, RESIDENT)
    bound = (await h.user(RESIDENT)).compound_id
    replies = await h.press_on(RESIDENT, old, "按区选择")
    assert any("过期" in r and "南湖春晓小区" in r for r in replies)
    assert (await h.user(RESIDENT)).compound_id == bound


# --- order ----------------------------------------------------------------------------------


async def test_parts_are_kept_in_the_order_they_were_written(h):
    """Telegram's message ids give the order; the bot may handle the later one first."""
    await h.bind(RESIDENT)
    h.nlu.teach("楼道灯坏了", "lighting", 0.9)
    first, second, third = (h.next_message_id() for _ in range(3))
    await h.send(RESIDENT, "楼道灯坏了", message_id=first)
    await h.send(RESIDENT, "三单元五楼", message_id=third)
    await h.send(RESIDENT, "晚上漆黑一片", message_id=second)
    await h.press(RESIDENT, "全部类别")
    await h.press(RESIDENT, "照明")
    [ticket] = await h.tickets()
    assert ticket.text_original == "楼道灯坏了\n晚上漆黑一片\n三单元五楼"


async def test_parts_sent_at_once_are_all_kept(h):
    """Updates are handled concurrently; those of one chat must not overwrite each other."""
    await h.bind(RESIDENT)
    h.nlu.teach("楼道灯坏了", "lighting", 0.9)
    await h.send(RESIDENT, "楼道灯坏了")
    await asyncio.gather(*(h.send(RESIDENT, f"补充{i}") for i in range(5)))
    await h.press(RESIDENT, "全部类别")
    await h.press(RESIDENT, "照明")
    [ticket] = await h.tickets()
    assert ticket.text_original.split("\n") == ["楼道灯坏了"] + [f"补充{i}" for i in range(5)]
