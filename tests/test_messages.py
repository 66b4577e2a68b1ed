"""Notification templates, rendered in the recipient's language when the outbox sends them."""

from __future__ import annotations

import pytest
from sqlmodel import select

from bot.i18n import make_i18n
from bot.messages import TEMPLATES, UnknownTemplate, render
from bot.settings import Settings
from models.registry import get_compound_by_code
from models.tables import PlanItem, Survey, Ticket, TicketStatus
from models.tickets import Classification, change_status, create_ticket
from models.users import get_or_create_user
from tests.conftest import load_demo_registry

TZ = Settings(_env_file=None).tz


@pytest.fixture
async def ticket_and_event(session_factory):
    await load_demo_registry(session_factory)
    async with session_factory() as s, s.begin():
        compound = await get_compound_by_code(session=s, code="hp01")
        author, _ = await get_or_create_user(session=s, telegram_id=1, chat_id=1)
        admin, _ = await get_or_create_user(session=s, telegram_id=9, chat_id=9, admin_ids={9})
        ticket = await create_ticket(session=s, author=author, compound_id=compound.id,
                                     text="楼顶漏水", normalized_text="楼顶漏水",
                                     classification=Classification(category="building"))  # fmt: skip
        event = await change_status(session=s, ticket=ticket, target=TicketStatus.accepted,
                                    actor=admin, note="明天上门，联系电话13912345678")  # fmt: skip
    return ticket, event


async def _render(session_factory, language: str, template: str, params: dict) -> str:
    async with session_factory() as s:
        rendered = await render(session=s, i18n=make_i18n(), language=language, tz=TZ,
                                template=template, params=params)  # fmt: skip
    return rendered.text


async def test_status_change_in_chinese_and_english_with_phone_masked(
    session_factory, ticket_and_event
):
    ticket, event = ticket_and_event
    params = {"ticket_id": ticket.id, "event_id": event.id}
    zh = await _render(session_factory, "zh", "ticket_status", params)
    en = await _render(session_factory, "en", "ticket_status", params)
    assert ticket.reference in zh and "已受理" in zh and "楼体维修与节能" in zh
    assert ticket.reference in en and "Accepted" in en and "Building" in en
    for text in (zh, en):
        assert "139******78" in text and "13912345678" not in text


async def test_every_template_renders_in_both_languages(session_factory, ticket_and_event):
    ticket, event = ticket_and_event
    async with session_factory() as s, s.begin():
        item = (await s.exec(select(PlanItem).where(PlanItem.compound_id == ticket.compound_id))).first()  # fmt: skip
        asked = Survey(kind="ticket", ticket_id=ticket.id, user_id=ticket.author_id)
        accept = Survey(kind="acceptance", compound_id=ticket.compound_id, user_id=ticket.author_id)
        s.add_all([asked, accept])
    params = {"ticket_id": ticket.id, "event_id": event.id, "text": "明天停水", "file_id": "f1",
              "month": "2026-11", "part": "text",
              "survey_id": asked.id, "reason": "overdue_resolution", "deadline": "response",
              "overdue": True, "overdue_ids": [ticket.id], "overdue_count": 1, "today_ids": [],
              "today_count": 0, "compound_id": ticket.compound_id,
              "compound_ids": [ticket.compound_id], "stage": "completed",
              "items": [{"id": item.id, "from_status": "planned", "from_progress": 0,
                         "status": "in_progress", "progress": 40}]}  # fmt: skip
    for name in TEMPLATES:
        own = {"survey_id": accept.id} if name == "survey_acceptance" else {}
        for language in ("zh", "en"):
            assert await _render(session_factory, language, name, {**params, **own})


async def test_unknown_template_or_missing_ticket_is_refused(session_factory, ticket_and_event):
    with pytest.raises(UnknownTemplate):
        await _render(session_factory, "zh", "no_such_template", {})
    with pytest.raises(UnknownTemplate):
        await _render(session_factory, "zh", "worker_new_ticket", {"ticket_id": 999999})


async def test_worker_alert_names_place_and_deadline(session_factory, ticket_and_event):
    ticket, _ = ticket_and_event
    text = await _render(session_factory, "zh", "worker_new_ticket", {"ticket_id": ticket.id})
    assert "南湖春晓小区" in text and "响应时限" in text and ticket.reference in text


async def test_a_long_demand_in_the_worker_alert_ends_with_an_ellipsis(
    session_factory, ticket_and_event
):
    ticket, _ = ticket_and_event
    async with session_factory() as s, s.begin():
        (await s.get(Ticket, ticket.id)).text_original = "楼顶漏水，墙皮都泡了。" * 100
    text = await _render(session_factory, "zh", "worker_new_ticket", {"ticket_id": ticket.id})
    [words] = [line for line in text.split("\n") if line.startswith("楼顶漏水")]
    assert len(words) == 500 and words.endswith("…")
