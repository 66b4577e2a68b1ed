"""Text longer than where it is kept gets a polite answer and the person stays in the same
step; nothing is stored. On both databases: PostgreSQL refuses a VARCHAR too long (which
would be answered as an outage) where SQLite silently stores it."""

from __future__ import annotations

from aiogram.types import CallbackQuery, Chat, Message
from aiogram.types import User as TgUser
from sqlmodel import select

from bot.keyboards import TicketCb
from models.limits import TooLong, checked, fitted, max_length
from models.tables import TicketEvent, TicketStatus, User
from models.users import get_or_create_user
from tests.harness import ADMIN, RESIDENT, _texts

POLITE = "最多只能写 {limit} 个字"


async def file_ticket(h, text: str = "3号楼下水道堵了") -> int:
    await h.bind(RESIDENT)
    h.nlu.teach(text, "water", 0.95)
    await h.send(RESIDENT, text)
    await h.press(RESIDENT, "✅ 确认提交")
    return (await h.tickets())[-1].id


async def open_ticket(h, telegram_id: int, ticket_id: int) -> list[str]:
    """Tapping a ticket's button (as in a notification) as ``telegram_id``."""
    message = Message(message_id=1, date=0, chat=Chat(id=telegram_id, type="private"), text="…")
    query = CallbackQuery(id=f"q{telegram_id}", chat_instance="c", message=message,
                          from_user=TgUser(id=telegram_id, is_bot=False, first_name="x"),
                          data=TicketCb(id=ticket_id).pack())  # fmt: skip
    return _texts(await h._feed(callback_query=query))


async def notes(h, action: str) -> list[str | None]:
    async with h.factory() as s:
        events = await s.exec(select(TicketEvent).where(TicketEvent.action == action))
        return [e.note for e in events.all()]


# --- the rule -----------------------------------------------------------------------------


def test_limits_come_from_the_columns() -> None:
    assert max_length(User.building) == User.__table__.c.building.type.length
    assert max_length(TicketEvent.note) == TicketEvent.__table__.c.note.info["max_length"]
    limit = max_length(User.unit)
    assert checked(User.unit, "单" * limit) == "单" * limit
    try:
        checked(User.unit, "单" * (limit + 1))
    except TooLong as error:
        assert (error.field, error.limit, error.length) == ("unit", limit, limit + 1)
    else:
        raise AssertionError("too long a unit was accepted")
    assert fitted(User.username, "u" * 500) == "u" * max_length(User.username)


async def test_long_telegram_names_are_cut_to_fit(session) -> None:
    # Telegram allows 64 characters of first name and 32 of username; a longer one (another
    # client, a future change) is cut, never refused: the person did not type it for us.
    user, _ = await get_or_create_user(
        session=session, telegram_id=7, chat_id=7, first_name="名" * 300, username="u" * 300
    )
    await session.commit()
    await session.refresh(user)
    assert user.first_name == "名" * max_length(User.first_name)
    assert user.username == "u" * max_length(User.username)


async def test_a_long_telegram_name_does_not_stop_the_conversation(h_db) -> None:
    replies = await h_db.send(RESIDENT, "/start c_hp01", first_name="王" * 300)
    assert any("南湖春晓小区" in r for r in replies)
    assert (await h_db.user(RESIDENT)).first_name == "王" * max_length(User.first_name)


# --- 设置: building and unit --------------------------------------------------------------


async def test_too_long_an_address_is_refused_politely_and_asked_again(h_db) -> None:
    await h_db.bind(RESIDENT)
    await h_db.send(RESIDENT, "⚙️ 设置")
    await h_db.press(RESIDENT, "填写楼栋单元")
    limit = max_length(User.unit)
    replies = await h_db.send(RESIDENT, "3号楼" + "二" * (limit + 1) + "单元")
    assert any(POLITE.format(limit=limit) in r for r in replies), replies
    me = await h_db.user(RESIDENT)
    assert (me.building, me.unit) == (None, None)
    too_long_building = "南边那栋挨着锅炉房的老楼" * 4
    replies = await h_db.send(RESIDENT, too_long_building)
    assert any(POLITE.format(limit=max_length(User.building)) in r for r in replies), replies
    assert (await h_db.user(RESIDENT)).building is None
    # Still in the same step: a shorter answer is saved.
    assert any("已保存" in r for r in await h_db.send(RESIDENT, "3号楼2单元"))
    me = await h_db.user(RESIDENT)
    assert (me.building, me.unit) == ("3号楼", "2单元")


async def test_the_polite_answer_is_in_the_residents_language(h) -> None:
    await h.send(RESIDENT, "/start c_hp01", language_code="en")
    await h.send(RESIDENT, "⚙️ Settings", language_code="en")
    await h.press(RESIDENT, "Set building and entrance")
    replies = await h.send(RESIDENT, "楼" * 100, language_code="en")
    limit = max_length(User.building)
    assert any(f"at most {limit} characters and yours has 100" in r for r in replies), replies


# --- 我的诉求: 补充说明 ---------------------------------------------------------------------


async def test_too_long_a_comment_is_refused_politely_and_asked_again(h_db) -> None:
    await file_ticket(h_db)
    reference = (await h_db.tickets())[-1].reference
    await h_db.send(RESIDENT, "📋 我的诉求")
    await h_db.press_starting(RESIDENT, reference)
    await h_db.press(RESIDENT, "补充说明")
    limit = max_length(TicketEvent.note)
    replies = await h_db.send(RESIDENT, "水" * (limit + 1))
    assert any(POLITE.format(limit=limit) in r for r in replies), replies
    assert await notes(h_db, "commented") == []
    assert any("已补充" in r for r in await h_db.send(RESIDENT, "水" * limit))
    assert await notes(h_db, "commented") == ["水" * limit]


# --- staff: the reason for 不予采纳 ---------------------------------------------------------


async def test_too_long_a_rejection_reason_is_refused_politely_and_asked_again(h_db) -> None:
    ticket_id = await file_ticket(h_db)
    await open_ticket(h_db, ADMIN, ticket_id)
    await h_db.press(ADMIN, "不予采纳")
    await h_db.press(ADMIN, "其他原因")
    limit = max_length(TicketEvent.note)
    replies = await h_db.send(ADMIN, "不" * (limit + 1))
    assert any(POLITE.format(limit=limit) in r for r in replies), replies
    [ticket] = await h_db.tickets()
    assert ticket.status == TicketStatus.new and await notes(h_db, "rejected") == []
    await h_db.send(ADMIN, "不在本次改造范围内")
    [ticket] = await h_db.tickets()
    assert ticket.status == TicketStatus.rejected
    assert await notes(h_db, "rejected") == ["不在本次改造范围内"]
