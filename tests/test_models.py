"""Tickets, endorsements, users and invites — on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.lifecycle import IllegalTransition
from models.registry import get_compound_by_code
from models.tables import (
    OutboxMessage,
    Role,
    TicketEvent,
    TicketStatus,
    User,
    WorkerCompound,
    WorkerInvite,
)
from models.tickets import (
    Classification,
    TicketPermissionError,
    TooSoon,
    change_status,
    create_ticket,
    endorse,
    remind,
)
from models.users import InviteError, create_invite, get_or_create_user, redeem_invite
from tests.conftest import load_demo_registry

NOW = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)  # 10:00 in Shenyang


@pytest.fixture
async def world(session_factory: async_sessionmaker[AsyncSession]) -> dict[str, object]:
    await load_demo_registry(session_factory)
    async with session_factory() as s, s.begin():
        compound = await get_compound_by_code(session=s, code="hp01")
        resident, _ = await get_or_create_user(
            session=s, telegram_id=1001, chat_id=1001, first_name="王阿姨"
        )
        neighbour, _ = await get_or_create_user(
            session=s, telegram_id=1002, chat_id=1002, first_name="老李"
        )
        worker, _ = await get_or_create_user(
            session=s, telegram_id=2001, chat_id=2001, first_name="小张"
        )
        outsider, _ = await get_or_create_user(
            session=s, telegram_id=2002, chat_id=2002, first_name="别区"
        )
        worker.role = outsider.role = Role.worker
        for u in (resident, neighbour):
            u.compound_id = compound.id
        s.add(WorkerCompound(worker_id=worker.id, compound_id=compound.id))
    return {"compound": compound, "resident": resident, "neighbour": neighbour,
            "worker": worker, "outsider": outsider}  # fmt: skip


async def _ticket(s: AsyncSession, world: dict, *, urgent: bool = False):
    author = await s.get(User, world["resident"].id)
    return await create_ticket(
        session=s, author=author, compound_id=world["compound"].id,
        text="3号楼下水道堵了，电话13812345678", normalized_text="3号楼下水道堵了",
        classification=Classification(category="water", confidence=0.93), urgent=urgent, now=NOW,
    )  # fmt: skip


async def test_create_ticket_sets_reference_deadlines_event_and_tells_workers(
    session_factory, world
):
    async with session_factory() as s, s.begin():
        ticket = await _ticket(s, world)
    async with session_factory() as s:
        assert ticket.reference == f"2611-{ticket.id:04d}"
        assert ticket.tier == "basic" and ticket.status == TicketStatus.new
        # one working day: the close (18:00) of Wednesday
        assert ticket.response_due_at == datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
        events = (await s.exec(select(TicketEvent).where(TicketEvent.ticket_id == ticket.id))).all()
        assert [e.action for e in events] == ["created"]
        queued = (await s.exec(select(OutboxMessage))).all()
        assert [(m.chat_id, m.payload["template"], m.urgent) for m in queued] == [
            (2001, "worker_new_ticket", False)
        ]


async def test_urgent_ticket_has_two_hour_deadline_and_urgent_alert(session_factory, world):
    async with session_factory() as s, s.begin():
        ticket = await _ticket(s, world, urgent=True)
    assert ticket.urgent and ticket.response_due_at == NOW + timedelta(hours=2)
    async with session_factory() as s:
        alert = (await s.exec(select(OutboxMessage))).one()
        assert alert.urgent and alert.kind == "alert"


async def test_status_change_writes_event_and_tells_author_and_endorsers(session_factory, world):
    async with session_factory() as s, s.begin():
        ticket = await _ticket(s, world)
        assert await endorse(
            session=s, ticket=ticket, user=await s.get(User, world["neighbour"].id)
        )
        assert not await endorse(
            session=s, ticket=ticket, user=await s.get(User, world["neighbour"].id)
        )
        assert not await endorse(
            session=s, ticket=ticket, user=await s.get(User, world["resident"].id)
        )
        worker = await s.get(User, world["worker"].id)
        await change_status(session=s, ticket=ticket, target=TicketStatus.accepted, actor=worker,
                            note="明天派人疏通", now=NOW + timedelta(hours=1))  # fmt: skip
    async with session_factory() as s:
        assert ticket.status == TicketStatus.accepted and ticket.assignee_id == world["worker"].id
        status_msgs = (
            await s.exec(select(OutboxMessage).where(OutboxMessage.kind == "ticket_status"))
        ).all()
        assert sorted(m.chat_id for m in status_msgs) == [1001, 1002]
        last = (await s.exec(select(TicketEvent).order_by(TicketEvent.id.desc()))).first()
        assert (last.action, last.from_status, last.to_status, last.note) == (
            "accepted",
            "new",
            "accepted",
            "明天派人疏通",
        )


async def test_news_of_an_urgent_ticket_ignores_quiet_hours(session_factory, world):
    async with session_factory() as s, s.begin():
        urgent = await _ticket(s, world, urgent=True)
        normal = await _ticket(s, world)
        worker = await s.get(User, world["worker"].id)
        for ticket in (urgent, normal):
            await change_status(
                session=s, ticket=ticket, target=TicketStatus.accepted, actor=worker
            )
    async with session_factory() as s:
        news = (
            await s.exec(select(OutboxMessage).where(OutboxMessage.kind == "ticket_status"))
        ).all()
    assert sorted((m.payload["params"]["ticket_id"], m.urgent) for m in news) == sorted(
        [(urgent.id, True), (normal.id, False)]
    )


async def test_illegal_or_unauthorised_change_changes_nothing(session_factory, world):
    async with session_factory() as s, s.begin():
        ticket = await _ticket(s, world)
    async with session_factory() as s, s.begin():
        ticket = await s.merge(ticket)
        with pytest.raises(IllegalTransition):
            await change_status(session=s, ticket=ticket, target=TicketStatus.accepted,
                                actor=await s.get(User, world["resident"].id))  # fmt: skip
        with pytest.raises(TicketPermissionError):  # a worker of another compound
            await change_status(session=s, ticket=ticket, target=TicketStatus.accepted,
                                actor=await s.get(User, world["outsider"].id))  # fmt: skip
        with pytest.raises(IllegalTransition):
            await change_status(session=s, ticket=ticket, target=TicketStatus.closed,
                                actor=await s.get(User, world["worker"].id))  # fmt: skip
        assert ticket.status == TicketStatus.new
        events = (await s.exec(select(TicketEvent).where(TicketEvent.ticket_id == ticket.id))).all()
        assert len(events) == 1


async def test_reopen_counts_and_withdraw_by_author(session_factory, world):
    async with session_factory() as s, s.begin():
        ticket = await _ticket(s, world)
        worker = await s.get(User, world["worker"].id)
        author = await s.get(User, world["resident"].id)
        for target in (TicketStatus.accepted, TicketStatus.in_progress, TicketStatus.resolved):
            await change_status(session=s, ticket=ticket, target=target, actor=worker)
        await change_status(session=s, ticket=ticket, target=TicketStatus.in_progress, actor=author,
                            note="还是堵")  # fmt: skip
        assert ticket.reopen_count == 1 and ticket.resolved_at is None
        await change_status(session=s, ticket=ticket, target=TicketStatus.withdrawn, actor=author)
        assert ticket.status == TicketStatus.withdrawn and ticket.closed_at is not None


async def test_remind_once_per_day(session_factory, world):
    async with session_factory() as s, s.begin():
        ticket = await _ticket(s, world)
        author = await s.get(User, world["resident"].id)
        await remind(session=s, ticket=ticket, user=author, now=NOW)
        with pytest.raises(TooSoon):
            await remind(session=s, ticket=ticket, user=author, now=NOW + timedelta(hours=23))
        await remind(session=s, ticket=ticket, user=author, now=NOW + timedelta(hours=24))
        reminders = (
            await s.exec(select(OutboxMessage).where(OutboxMessage.kind == "worker_reminder"))
        ).all()
        assert len(reminders) == 2


async def test_invite_is_single_use_and_expires(session_factory, world):
    async with session_factory() as s, s.begin():
        admin, _ = await get_or_create_user(session=s, telegram_id=9, chat_id=9, admin_ids={9})
        assert admin.role == Role.city_staff
        invite = await create_invite(session=s, created_by=admin,
                                     compound_ids=[world["compound"].id], now=NOW)  # fmt: skip
        old = await create_invite(session=s, created_by=admin, compound_ids=[world["compound"].id],
                                  now=NOW - timedelta(days=8))  # fmt: skip
        newcomer, _ = await get_or_create_user(session=s, telegram_id=3001, chat_id=3001)
        compounds = await redeem_invite(session=s, token=invite.token, user=newcomer, now=NOW)
        assert newcomer.role == Role.worker and [c.code for c in compounds] == ["hp01"]
        other, _ = await get_or_create_user(session=s, telegram_id=3002, chat_id=3002)
        with pytest.raises(InviteError, match="used"):
            await redeem_invite(session=s, token=invite.token, user=other, now=NOW)
        with pytest.raises(InviteError, match="expired"):
            await redeem_invite(session=s, token=old.token, user=other, now=NOW)
        with pytest.raises(InviteError, match="unknown"):
            await redeem_invite(session=s, token="nope", user=other, now=NOW)
        assert other.role == Role.resident
        with pytest.raises(PermissionError):
            await create_invite(session=s, created_by=newcomer, compound_ids=[1])


async def test_two_people_opening_one_invite_at_once_only_one_becomes_a_worker(
    session_factory, world
):
    """Two sessions redeem the same link at the same moment: the first holds the invite, the
    second waits for it and is told it was used. Nothing of the second one's is kept."""
    async with session_factory() as s, s.begin():
        admin, _ = await get_or_create_user(session=s, telegram_id=9, chat_id=9, admin_ids={9})
        invite = await create_invite(session=s, created_by=admin,
                                     compound_ids=[world["compound"].id], now=NOW)  # fmt: skip
        first, _ = await get_or_create_user(session=s, telegram_id=3001, chat_id=3001)
        second, _ = await get_or_create_user(session=s, telegram_id=3002, chat_id=3002)
    async with session_factory() as a, session_factory() as b:
        await a.begin()
        await b.begin()
        user_a, user_b = await a.get(User, first.id), await b.get(User, second.id)
        await redeem_invite(session=a, token=invite.token, user=user_a, now=NOW)
        # The second person opens the link while the first one's redemption is not committed.
        racer = asyncio.create_task(
            redeem_invite(session=b, token=invite.token, user=user_b, now=NOW)
        )
        await asyncio.sleep(0.5)
        assert not racer.done()  # it waits for the first one: they really overlap
        await a.commit()
        with pytest.raises(InviteError, match="used"):
            await racer
        await b.commit()  # whatever the second session holds, nothing of the invite's is in it
    async with session_factory() as s:
        stored = (await s.exec(select(WorkerInvite).where(WorkerInvite.id == invite.id))).one()
        assert stored.used_by_id == first.id
        roles = {u.telegram_id: u.role for u in (await s.exec(select(User))).all()}
        assert roles[3001] == Role.worker and roles[3002] == Role.resident
        posts = (await s.exec(select(WorkerCompound.worker_id))).all()
        assert first.id in posts and second.id not in posts
