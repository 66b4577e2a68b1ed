"""我的诉求, 小区改造, 社区公告, 设置 — and what other residents may see."""

from __future__ import annotations

import re
from datetime import timedelta

from models.db import utcnow
from models.tables import Notice, NoticeState, Ticket, TicketStatus, User
from models.tickets import change_status
from tests.harness import NEIGHBOUR, RESIDENT


async def file_ticket(h, telegram_id: int, text: str, category: str = "water") -> Ticket:
    h.nlu.teach(text, category, 0.95)
    await h.send(telegram_id, text)
    await h.press(telegram_id, "✅ 确认提交")
    return (await h.tickets())[-1]


async def test_my_tickets_paginates_and_shows_history(h):
    await h.bind(RESIDENT)
    for i in range(7):
        await file_ticket(
            h, RESIDENT, f"第{i}个问题：{'楼顶漏水' if i % 2 else '路灯坏了'}", "other"
        )
    listing = "\n".join(await h.send(RESIDENT, "📋 我的诉求"))
    assert "共 7 条" in listing and "第 1/2 页" in listing
    assert "▶️" in h.buttons(RESIDENT)
    page2 = "\n".join(await h.press(RESIDENT, "▶️"))
    assert "第 2/2 页" in page2
    first = (await h.tickets())[0]
    detail = "\n".join(await h.press_starting(RESIDENT, first.reference))
    # the ticket pressed, not just the headings every ticket's page has
    assert f"诉求 {first.reference}" in detail and "内容：第0个问题：路灯坏了" in detail
    assert "类别：其他" in detail and "状态：<b>已提交</b>" in detail
    assert re.search(r"^受理时限：\d{4}-\d\d-\d\d \d\d:\d\d$", detail, re.M)
    history = detail.split("办理记录</b>\n", 1)[1].splitlines()
    assert len(history) == 1 and re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d 提交", history[0])
    assert {"补充说明", "催办", "撤回"} <= set(h.buttons(RESIDENT))


async def test_add_details_withdraw_and_chase_up_once_a_day(h):
    await h.bind(RESIDENT)
    ticket = await file_ticket(h, RESIDENT, "暖气片不热，屋里才十五度", "heating_gas")
    await h.send(RESIDENT, "📋 我的诉求")
    await h.press_starting(RESIDENT, ticket.reference)
    await h.press(RESIDENT, "补充说明")
    assert any("已补充" in r for r in await h.send(RESIDENT, "卧室的暖气片最凉"))
    await h.send(RESIDENT, "📋 我的诉求")
    detail = "\n".join(await h.press_starting(RESIDENT, ticket.reference))
    assert "补充说明：卧室的暖气片最凉" in detail
    await h.press(RESIDENT, "催办")
    # A message that stays in the chat, not a toast that is gone before it is read.
    assert h.recorder.sent()[-1].text == f"已催办诉求 {ticket.reference}，社区工作人员会尽快处理。"
    assert any("24 小时内只能催办一次" in r for r in await h.press(RESIDENT, "催办"))
    await h.press(RESIDENT, "撤回")
    assert any("已撤回" in r for r in await h.press(RESIDENT, "确定撤回"))
    [saved] = await h.tickets()
    assert saved.status == TicketStatus.withdrawn


async def test_neighbour_sees_neither_author_nor_phone(h):
    await h.bind(RESIDENT)
    await h.bind(NEIGHBOUR)
    ticket = await file_ticket(h, RESIDENT, "3号楼下水道堵了，有事打我13812345678", "water")
    h.nlu.teach("三号楼下水道又堵了", "water", 0.95)
    await h.send(NEIGHBOUR, "三号楼下水道又堵了")
    offer = "\n".join(await h.press(NEIGHBOUR, "✅ 确认提交"))
    assert "138******78" in offer and "13812345678" not in offer and "居民" not in offer
    await h.press(NEIGHBOUR, "👍 我也反映")
    await h.send(NEIGHBOUR, "📋 我的诉求")
    detail = "\n".join(await h.press_starting(NEIGHBOUR, ticket.reference))
    assert "13812345678" not in detail and "138******78" in detail
    assert "1 位邻居附议" in detail
    author = await h.user(RESIDENT)
    assert author.first_name not in detail


async def test_other_residents_cannot_open_a_ticket_they_do_not_follow(h):
    await h.bind(RESIDENT)
    await h.bind(NEIGHBOUR)
    ticket = await file_ticket(h, RESIDENT, "楼道窗户碎了", "building")
    from aiogram.types import CallbackQuery, Chat, Message
    from aiogram.types import User as TgUser

    from bot.keyboards import TicketCb

    message = Message(message_id=1, date=0, chat=Chat(id=NEIGHBOUR, type="private"), text="x")
    query = CallbackQuery(id="q1", from_user=TgUser(id=NEIGHBOUR, is_bot=False, first_name="n"),
                          chat_instance="c", message=message, data=TicketCb(id=ticket.id).pack())  # fmt: skip
    before = len(h.recorder.requests)
    await h._feed(callback_query=query)
    answers = [r.method for r in h.recorder.requests[before:]]
    assert [type(a).__name__ for a in answers] == ["AnswerCallbackQuery"]
    assert answers[0].text == "找不到这条诉求。"


async def test_board_shows_plan_menu_and_kpis(h):
    await h.bind(RESIDENT)
    await file_ticket(h, RESIDENT, "楼道窗户碎了", "building")
    board = "\n".join(await h.send(RESIDENT, "🏘 小区改造"))
    assert "南湖春晓小区" in board and "施工中" in board and "45%" in board
    assert "更换小区老旧供水管网" in board  # a plan item of hp01
    assert "楼体维修与节能：1" in board
    assert "响应率" in board and "解决率" in board and "满意率 —" in board
    # Each rate in plain words, with the deadlines the settings give.
    assert "响应率：反映后按时被社区受理的比例（紧急的 2 小时内，其他 1 个工作日内）。" in board
    assert "解决率：已办结的诉求占全部诉求的比例" in board
    assert "满意率：回访时打 4 分或 5 分的占全部评价的比例" in board
    assert "“—”表示还没有可以统计的诉求或评价。" in board  # no survey answer yet
    # A bar drawn with solid blocks on a thin track, not with shade characters (hatching).
    assert "总进度：████▁▁▁▁▁▁ 45%" in board and not set("▓▒░") & set(board)


async def test_resident_reopening_a_resolved_ticket_is_told_in_a_message(h):
    await h.bind(RESIDENT)
    ticket = await file_ticket(h, RESIDENT, "楼道灯不亮", "lighting")
    async with h.factory() as s, s.begin():
        saved = await s.get(Ticket, ticket.id)
        admin = User(telegram_id=9999, chat_id=9999, role="city_staff")
        s.add(admin)
        for target in (TicketStatus.accepted, TicketStatus.resolved):
            await change_status(session=s, ticket=saved, target=target, actor=admin)
    await h.send(RESIDENT, "📋 我的诉求")
    await h.press_starting(RESIDENT, ticket.reference)
    await h.press(RESIDENT, "不满意，重新处理")
    assert h.recorder.sent()[-1].text == (
        f"诉求 {ticket.reference} 已重新打开，社区工作人员已收到通知，会重新处理。"
    )
    [saved] = await h.tickets()
    assert saved.status == TicketStatus.in_progress and saved.reopen_count == 1


async def test_notices_of_the_compound_only(h):
    await h.bind(RESIDENT)
    me = await h.user(RESIDENT)
    async with h.factory() as s, s.begin():
        s.add(Notice(author_id=me.id, compound_id=me.compound_id, text="明天 9:00–17:00 停水",
                     state=NoticeState.sent, sent_at=utcnow() - timedelta(hours=1)))  # fmt: skip
        s.add(Notice(author_id=me.id, compound_id=me.compound_id + 1, text="别的小区停电",
                     state=NoticeState.sent, sent_at=utcnow()))  # fmt: skip
    shown = "\n".join(await h.send(RESIDENT, "📢 社区公告"))
    assert "明天 9:00–17:00 停水" in shown and "别的小区停电" not in shown


async def test_a_long_notice_is_cut_with_an_ellipsis_and_a_short_one_is_not(h):
    await h.bind(RESIDENT)
    me = await h.user(RESIDENT)
    long_text = "小区供暖管线改造说明：" + "施工期间请注意安全，" * 80
    async with h.factory() as s, s.begin():
        for text, hours in ((long_text, 2), ("今晚停电检修", 1)):
            s.add(Notice(author_id=me.id, compound_id=me.compound_id, text=text,
                         state=NoticeState.sent, sent_at=utcnow() - timedelta(hours=hours)))  # fmt: skip
    shown = "\n".join(await h.send(RESIDENT, "📢 社区公告"))
    assert "今晚停电检修\n" in shown + "\n" and "今晚停电检修…" not in shown
    [cut_notice] = [line for line in shown.split("\n") if line.startswith("小区供暖管线改造说明")]
    assert len(cut_notice) == 600 and cut_notice.endswith("…")


async def test_settings_address_notifications_and_language(h):
    await h.bind(RESIDENT)
    shown = "\n".join(await h.send(RESIDENT, "⚙️ 设置"))
    assert "南湖春晓小区" in shown and "进展通知：开启" in shown
    await h.press(RESIDENT, "填写楼栋单元")
    await h.send(RESIDENT, "3号楼2单元")
    me = await h.user(RESIDENT)
    assert (me.building, me.unit) == ("3号楼", "2单元")
    await h.press(RESIDENT, "关闭通知")
    assert not (await h.user(RESIDENT)).notifications_enabled
    await h.press(RESIDENT, "切换语言")
    await h.press(RESIDENT, "English")
    shown = "\n".join(await h.send(RESIDENT, "⚙️ Settings"))
    assert "Language: English" in shown and "Progress updates: Off" in shown


async def test_english_menu_buttons_work(h):
    await h.send(RESIDENT, "/start c_hp01", language_code="en")
    me = await h.user(RESIDENT)
    assert me.language == "en"
    board = "\n".join(await h.send(RESIDENT, "🏘 Renovation", language_code="en"))
    assert "南湖春晓小区" in board
