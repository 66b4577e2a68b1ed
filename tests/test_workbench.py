"""The workers' console (工作台) through the real dispatcher: menu, queue, card, actions,
stale cards, forged buttons, search, templates and bulk answers."""

from __future__ import annotations

from aiogram.methods import EditMessageText, SendMessage
from aiogram.types import ReplyKeyboardMarkup
from sqlmodel import select

from bot.staff_card import StaffTicketCb
from models.tables import OutboxMessage, Ticket, TicketEvent, TicketStatus
from tests.harness import ADMIN, NEIGHBOUR, RESIDENT, WORKER
from tests.test_staff import file_ticket, make_worker

OTHER_WORKER = 2002


async def outbox(h, template: str) -> list[OutboxMessage]:
    async with h.factory() as s:
        rows = (await s.exec(select(OutboxMessage))).all()
    return [r for r in rows if r.payload.get("template") == template]


def reply_keyboard_labels(h, chat_id: int) -> list[str]:
    for method in reversed(h.recorder.sent("SendMessage")):
        if method.chat_id == chat_id and isinstance(method.reply_markup, ReplyKeyboardMarkup):
            return [b.text for row in method.reply_markup.keyboard for b in row]
    raise AssertionError("no reply keyboard")


async def test_staff_get_their_own_menu_help_and_commands(h):
    await make_worker(h, WORKER, "hp01")
    replies = await h.send(WORKER, "/start")
    assert any("工作台怎么用" in r for r in replies)
    labels = reply_keyboard_labels(h, WORKER)
    assert "📥 待办" in labels and "📝 我要反映" not in labels
    scoped = [c for c in h.recorder.sent("SetMyCommands") if getattr(c.scope, "chat_id", None)]
    assert any(any(cmd.command == "queue" for cmd in c.commands) for c in scoped)
    await h.send(WORKER, "/language")
    await h.press(WORKER, "English")
    en = "\n".join(await h.send(WORKER, "/help"))
    assert "workbench" in en.lower() and "工作台" not in en


async def test_queue_counts_list_and_card(h):
    await make_worker(h, WORKER, "hp01")
    ticket = await file_ticket(h)
    replies = await h.send(WORKER, "📥 待办")
    assert any("新 1" in r and "超时 0" in r for r in replies)
    card = "\n".join(await h.press_starting(WORKER, ticket.reference))
    assert "供水排水" in card and "响应时限" in card and "剩余" in card and "办理记录" in card
    assert {"受理", "不予采纳", "派给", "回复", "请补充"} <= set(h.buttons(WORKER))


async def test_accept_with_a_note_redraws_the_card_and_tells_the_resident(h):
    await make_worker(h, WORKER, "hp01")
    ticket = await file_ticket(h)
    await h.callback(WORKER, StaffTicketCb(id=ticket.id, v=ticket.version).pack())
    await h.press(WORKER, "受理")
    replies = await h.send(WORKER, "明天上午派人疏通")
    assert any("已受理" in r for r in replies)
    assert "开始处理" in h.buttons(WORKER) and "受理" not in h.buttons(WORKER)
    [news] = await outbox(h, "ticket_status")
    assert news.chat_id == RESIDENT
    async with h.factory() as s:
        [event] = (await s.exec(select(TicketEvent).where(TicketEvent.action == "accepted"))).all()
        assert event.note == "明天上午派人疏通"


async def test_ask_for_details_and_the_answer_alerts_the_worker(h):
    await make_worker(h, WORKER, "hp01")
    ticket = await file_ticket(h)
    await h.callback(WORKER, StaffTicketCb(id=ticket.id, v=ticket.version).pack())
    await h.press(WORKER, "请补充")
    await h.send(WORKER, "是几单元？")
    [question] = await outbox(h, "ticket_question")
    assert question.chat_id == RESIDENT
    # The resident answers through the question's 补充说明 button.
    from bot.keyboards import TicketCb

    await h.callback(RESIDENT, TicketCb(id=ticket.id, action="add").pack())
    await h.send(RESIDENT, "三单元")
    [alert] = await outbox(h, "worker_ticket_news")
    assert alert.chat_id == WORKER and alert.urgent is False


async def test_resolve_needs_words_and_takes_an_after_photo(h):
    from aiogram.types import PhotoSize

    await make_worker(h, WORKER, "hp01")
    ticket = await file_ticket(h)
    await h.callback(WORKER, StaffTicketCb(id=ticket.id, v=ticket.version).pack())
    await h.press(WORKER, "受理")
    await h.press(WORKER, "不加说明")
    await h.press(WORKER, "办结")
    photo = [PhotoSize(file_id="after", file_unique_id="a", width=10, height=10)]
    replies = await h.send(WORKER, photo=photo)  # no caption: no words
    assert any("需要写说明" in r for r in replies)
    await h.send(WORKER, photo=photo, caption="已疏通，恢复正常")
    [saved] = await h.tickets()
    assert saved.status == TicketStatus.resolved
    [after] = await outbox(h, "ticket_after_photo")
    assert after.chat_id == RESIDENT and after.payload["params"]["file_id"] == "after"


async def test_a_stale_card_answers_with_the_fresh_one_before_asking_for_text(h):
    await make_worker(h, WORKER, "hp01")
    await make_worker(h, OTHER_WORKER, "hp01")
    ticket = await file_ticket(h)
    await h.callback(WORKER, StaffTicketCb(id=ticket.id, v=ticket.version).pack())
    old_card = h.last_markup(WORKER)
    await h.callback(OTHER_WORKER, StaffTicketCb(id=ticket.id, v=ticket.version).pack())
    await h.press(OTHER_WORKER, "受理")
    await h.press(OTHER_WORKER, "不加说明")
    before = len(h.recorder.requests)
    replies = await h.press_on(WORKER, old_card, "回复")
    assert any("刚被" in r and "更新" in r for r in replies)
    asked = [m.method for m in h.recorder.requests[before:] if isinstance(m.method, SendMessage)]
    assert not any("请输入" in m.text for m in asked)  # no text asked for on a stale card
    redrawn = [
        m.method for m in h.recorder.requests[before:] if isinstance(m.method, EditMessageText)
    ]
    assert redrawn and "已受理" in redrawn[-1].text


async def test_a_forged_button_for_another_compound_changes_nothing(h):
    await make_worker(h, WORKER, "tx01")  # not the ticket's compound
    ticket = await file_ticket(h)  # in hp01
    for action in ("view", "accept", "reject"):
        replies = await h.callback(
            WORKER, StaffTicketCb(id=ticket.id, v=ticket.version, a=action).pack()
        )
        assert any("不在您负责的小区" in r for r in replies)
    [saved] = await h.tickets()
    assert saved.status == TicketStatus.new and saved.version == ticket.version


async def test_a_ticket_cannot_be_merged_into_itself(h):
    await make_worker(h, WORKER, "hp01")
    ticket = await file_ticket(h)
    replies = await h.callback(
        WORKER, StaffTicketCb(id=ticket.id, v=ticket.version, a="merge", x=str(ticket.id)).pack()
    )
    assert any("不能这样操作" in r for r in replies)
    [saved] = await h.tickets()
    assert saved.status == TicketStatus.new


async def test_typing_a_reference_opens_the_ticket_and_words_search(h):
    await make_worker(h, WORKER, "hp01")
    ticket = await file_ticket(h)
    card = "\n".join(await h.send(WORKER, ticket.reference))
    assert ticket.reference in card and "办理记录" in card
    assert len(await h.tickets()) == 1  # not filed as a new demand
    await h.send(WORKER, "下水道")
    assert any(b.startswith(ticket.reference) for b in h.buttons(WORKER))
    await h.send(WORKER, "电梯")
    assert not any(b.startswith(ticket.reference) for b in h.buttons(WORKER))


async def test_a_response_template_can_be_sent_as_is(h):
    await make_worker(h, WORKER, "hp01")
    ticket = await file_ticket(h)
    await h.callback(WORKER, StaffTicketCb(id=ticket.id, v=ticket.version).pack())
    await h.press(WORKER, "回复")
    template = next(b for b in h.buttons(WORKER) if b.startswith("📝 已联系自来水公司"))
    await h.press(WORKER, template)
    await h.press(WORKER, "✅ 就用这条")
    async with h.factory() as s:
        [event] = (await s.exec(select(TicketEvent).where(TicketEvent.action == "replied"))).all()
    assert event.note.startswith("已联系自来水公司")


async def test_bulk_reply_reaches_each_resident(h):
    await make_worker(h, WORKER, "hp01")
    first = await file_ticket(h, RESIDENT, "停水了")
    second = await file_ticket(h, NEIGHBOUR, "5号楼井盖丢了晚上危险")
    await h.send(WORKER, "📥 待办")
    await h.press(WORKER, "☑️ 多选")
    await h.press_starting(WORKER, first.reference)
    await h.press_starting(WORKER, second.reference)
    await h.press(WORKER, "批量回复")
    replies = await h.send(WORKER, "已联系自来水公司，预计下午三点恢复")
    assert any("2 条成功" in r for r in replies)
    told = sorted(r.chat_id for r in await outbox(h, "ticket_news"))
    assert told == sorted([RESIDENT, NEIGHBOUR])


async def test_the_queue_pages_through_many_tickets(h):
    await make_worker(h, WORKER, "hp01")
    await file_ticket(h)
    async with h.factory() as s, s.begin():
        template = (await s.exec(select(Ticket))).one()
        for i in range(40):
            s.add(Ticket(**{**template.model_dump(exclude={"id", "reference"}),
                            "reference": f"2612-{i + 100:04d}"}))  # fmt: skip
    replies = await h.send(WORKER, "📥 待办")
    assert any("共 41 条，第 1/6 页" in r for r in replies)
    await h.press(WORKER, "▶️")
    assert "◀️" in h.buttons(WORKER)


async def test_the_queue_filters_by_a_category_picked_from_its_list(h):
    await make_worker(h, WORKER, "hp01")
    ticket = await file_ticket(h)
    await h.send(WORKER, "📥 待办")
    await h.press(WORKER, "类别▾")
    assert {"供水排水", "道路"} <= set(h.buttons(WORKER))
    await h.press(WORKER, "道路")
    assert not any(b.startswith(ticket.reference) for b in h.buttons(WORKER))
    await h.press(WORKER, "类别▾")
    await h.press(WORKER, "供水排水")
    assert any(b.startswith(ticket.reference) for b in h.buttons(WORKER))


async def test_a_city_staff_member_sees_every_compound(h):
    await file_ticket(h)
    replies = await h.send(ADMIN, "📥 待办")
    assert any("新 1" in r for r in replies)


async def test_assign_plan_and_extend_from_the_card(h):
    await make_worker(h, WORKER, "hp01")
    ticket = await file_ticket(h)
    await h.callback(WORKER, StaffTicketCb(id=ticket.id, v=ticket.version, a="open").pack())
    await h.press(WORKER, "派给")
    worker_name = next(b for b in h.buttons(WORKER))
    await h.press(WORKER, worker_name)
    [saved] = await h.tickets()
    assert saved.assignee_id == (await h.user(WORKER)).id
    await h.press(WORKER, "延期")
    await h.press(WORKER, "7 天")
    await h.send(WORKER, "等自来水公司排期")
    [extended] = await h.tickets()
    assert (extended.response_due_at - saved.response_due_at).days == 7
    await h.press(WORKER, "受理")
    await h.press(WORKER, "不加说明")
    await h.press(WORKER, "纳入计划")
    await h.press(WORKER, "➕ 新建计划项")
    await h.send(WORKER, "3号楼排水管更换")
    [planned] = await h.tickets()
    assert planned.status == TicketStatus.planned and planned.plan_item_id is not None
    news = await outbox(h, "ticket_news")
    assert any(n.chat_id == RESIDENT for n in news)  # the extension reached the resident
