"""The 回访 survey as residents see it in the chat: the scheduler's message, the taps, the
words, and presses that must not count (someone else's, stale)."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from sqlmodel import select

from bot.i18n import make_i18n
from bot.messages import render
from bot.settings import Settings
from models.db import utcnow
from models.tables import OutboxMessage, Survey, Ticket, TicketEvent, TicketStatus, User
from models.tickets import change_status
from scheduler.jobs.surveys import sweep_surveys
from tests.harness import ADMIN, NEIGHBOUR, RESIDENT, WORKER

SETTINGS = Settings(_env_file=None)


async def _resolved_ticket_surveyed(h) -> tuple[Ticket, tuple[int, object]]:
    """A resident's ticket, resolved by the worker, and the survey the scheduler sent."""
    token = (await h.send(ADMIN, "/invite hp01"))[-1].split("start=w_")[1].split()[0]
    await h.send(WORKER, f"/start w_{token}")
    await h.bind(RESIDENT, "hp01")
    h.nlu.teach("3号楼下水道堵了", "water", 0.95)
    await h.send(RESIDENT, "3号楼下水道堵了")
    await h.press(RESIDENT, "✅ 确认提交")
    async with h.factory() as s, s.begin():
        ticket = (await s.exec(select(Ticket))).one()
        worker = await h.user(WORKER)
        for target in (TicketStatus.accepted, TicketStatus.resolved):
            await change_status(session=s, ticket=ticket, target=target,
                                actor=await s.get(User, worker.id))  # fmt: skip
    tomorrow = (utcnow().astimezone(SETTINGS.tz) + timedelta(days=1)).date()
    at = datetime.combine(tomorrow, time(10, 0), tzinfo=SETTINGS.tz)
    assert await sweep_surveys(session_factory=h.factory, settings=SETTINGS, now=at) == 1
    async with h.factory() as s:
        row = (await s.exec(select(OutboxMessage).where(OutboxMessage.kind == "survey"))).one()
        assert row.chat_id == RESIDENT
        shown = await render(session=s, i18n=make_i18n(), language="zh", tz=SETTINGS.tz,
                             template=row.payload["template"], params=row.payload["params"])  # fmt: skip
    assert "问题解决了吗？" in shown.text and ticket.reference in shown.text
    return ticket, (h.next_message_id(), shown.reply_markup)


async def test_unresolved_tap_reopens_alerts_the_worker_and_takes_what_is_still_wrong(h):
    ticket, survey_message = await _resolved_ticket_surveyed(h)
    replies = await h.press_on(RESIDENT, survey_message, "❌ 未解决")
    assert any("诉求已重新打开" in r for r in replies)
    async with h.factory() as s:
        fresh = await s.get(Ticket, ticket.id)
        alerts = (await s.exec(select(OutboxMessage).where(OutboxMessage.kind == "alert"))).all()
    assert fresh.status == TicketStatus.in_progress
    survey_alerts = [a for a in alerts if a.payload["template"] == "worker_survey_alert"]
    assert [(a.chat_id, a.urgent) for a in survey_alerts] == [(WORKER, True)]

    replies = await h.send(RESIDENT, "楼下还是往上返水")
    assert any("已记入诉求" in r for r in replies)
    async with h.factory() as s:
        notes = (
            await s.exec(
                select(TicketEvent.note).where(
                    TicketEvent.ticket_id == ticket.id, TicketEvent.action == "commented"
                )
            )
        ).all()
    assert notes == ["楼下还是往上返水"]

    # The score after 未解决 is recorded too; a second tap on the first question is not.
    await h.press(RESIDENT, "2 不满意")
    again = await h.press_on(RESIDENT, survey_message, "✅ 已解决")
    assert any("已经回答过了" in r for r in again)
    async with h.factory() as s:
        survey = (await s.exec(select(Survey))).one()
        assert (await s.get(Ticket, ticket.id)).reopen_count == 1
    assert survey.state == "answered"


async def test_someone_elses_press_gets_a_polite_no_and_changes_nothing(h):
    ticket, survey_message = await _resolved_ticket_surveyed(h)
    await h.bind(NEIGHBOUR, "hp01")
    replies = await h.press_on(NEIGHBOUR, survey_message, "❌ 未解决")
    assert any("不是您的" in r for r in replies)
    async with h.factory() as s:
        assert (await s.get(Ticket, ticket.id)).status == TicketStatus.resolved
        assert (await s.exec(select(Survey))).one().state == "pending"


async def test_good_answer_closes_and_offers_an_optional_comment(h):
    ticket, survey_message = await _resolved_ticket_surveyed(h)
    await h.press_on(RESIDENT, survey_message, "✅ 已解决")
    replies = await h.press(RESIDENT, "5 非常满意")
    assert any("谢谢您的评价" in r for r in replies)
    assert "写评价" in h.buttons(RESIDENT)
    async with h.factory() as s:
        assert (await s.get(Ticket, ticket.id)).status == TicketStatus.closed
    # A new demand typed afterwards is a demand, not a comment.
    h.nlu.teach("楼道灯坏了", "lighting", 0.95)
    replies = await h.send(RESIDENT, "楼道灯坏了")
    assert any("【楼道照明】" in r or "照明" in r for r in replies)
