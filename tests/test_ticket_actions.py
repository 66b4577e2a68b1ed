"""Staff actions on tickets (models/ticket_actions.py) on SQLite and PostgreSQL: scope,
notes, notifications, merge and concurrency."""

from __future__ import annotations

import asyncio

import pytest
from sqlmodel import select

from models.tables import (
    Endorsement,
    OutboxMessage,
    Role,
    Ticket,
    TicketEvent,
    TicketStatus,
    User,
    WorkerCompound,
)
from models.ticket_actions import (
    NoteRequired,
    StaleTicket,
    ask_for_details,
    assign,
    bulk,
    extend_deadline,
    merge,
    reject,
    reply,
    resolve,
    transition,
)
from models.tickets import TicketPermissionError, add_comment, endorse
from tests import test_models
from tests.test_models import NOW, _ticket

world = test_models.world  # the same people and compound as the model tests


async def _outbox(s, template: str) -> list[OutboxMessage]:
    rows = (await s.exec(select(OutboxMessage))).all()
    return [r for r in rows if r.payload.get("template") == template]


async def test_accept_with_a_note_reaches_author_and_endorsers(session_factory, world):
    async with session_factory() as s, s.begin():
        ticket = await _ticket(s, world)
        await endorse(session=s, ticket=ticket, user=await s.get(User, world["neighbour"].id))
    async with session_factory() as s, s.begin():
        ticket = await s.get(Ticket, ticket.id)
        worker = await s.get(User, world["worker"].id)
        await transition(session=s, ticket=ticket, user=worker, seen_version=1,
                         target=TicketStatus.accepted, note="明天上午派人疏通")  # fmt: skip
    async with session_factory() as s:
        ticket = await s.get(Ticket, ticket.id)
        assert ticket.status == TicketStatus.accepted and ticket.version == 2
        events = (await s.exec(select(TicketEvent).where(TicketEvent.action == "accepted"))).all()
        assert [e.note for e in events] == ["明天上午派人疏通"]
        told = {r.user_id for r in await _outbox(s, "ticket_status")}
        assert told == {world["resident"].id, world["neighbour"].id}


async def test_a_worker_of_another_compound_changes_nothing(session_factory, world):
    async with session_factory() as s, s.begin():
        ticket = await _ticket(s, world)
    ticket_id = ticket.id
    async with session_factory() as s:
        ticket = await s.get(Ticket, ticket_id)
        outsider = await s.get(User, world["outsider"].id)
        with pytest.raises(TicketPermissionError):
            await reply(session=s, ticket=ticket, user=outsider, seen_version=1, text="hi")
        await s.rollback()
    async with session_factory() as s:
        assert (await s.get(Ticket, ticket_id)).version == 1
        assert (
            await s.exec(select(TicketEvent).where(TicketEvent.action == "replied"))
        ).all() == []


async def test_resolve_needs_a_note_and_sends_the_after_photo(session_factory, world):
    async with session_factory() as s, s.begin():
        ticket = await _ticket(s, world)
        worker = await s.get(User, world["worker"].id)
        with pytest.raises(NoteRequired):
            await resolve(session=s, ticket=ticket, user=worker, seen_version=1, note="  ")
        await transition(session=s, ticket=ticket, user=worker, seen_version=1,
                         target=TicketStatus.accepted)  # fmt: skip
        await resolve(session=s, ticket=ticket, user=worker, seen_version=2, note="已疏通",
                      photo=("photo", "after-file", "u1"))  # fmt: skip
    async with session_factory() as s:
        [photo] = await _outbox(s, "ticket_after_photo")
        assert photo.user_id == world["resident"].id
        assert photo.payload["params"]["file_id"] == "after-file"


async def test_two_workers_at_once_one_wins(session_factory, world):
    async with session_factory() as s, s.begin():
        ticket = await _ticket(s, world)
        second, _ = (await s.exec(select(User).where(User.id == world["outsider"].id))).one(), None
        s.add(WorkerCompound(worker_id=second.id, compound_id=world["compound"].id))

    async def act(worker_id: int, note: str) -> str:
        async with session_factory() as s:
            try:
                async with s.begin():
                    t = await s.get(Ticket, ticket.id)
                    worker = await s.get(User, worker_id)
                    await reply(session=s, ticket=t, user=worker, seen_version=1, text=note)
                    await asyncio.sleep(0.2)  # hold the transaction: the other must wait or lose
                return "won"
            except StaleTicket as stale:
                return f"stale:{stale.changed_by}"

    results = await asyncio.gather(act(world["worker"].id, "甲"), act(world["outsider"].id, "乙"))
    assert sorted(r.split(":")[0] for r in results) == ["stale", "won"]
    async with session_factory() as s:
        replies = (await s.exec(select(TicketEvent).where(TicketEvent.action == "replied"))).all()
        assert len(replies) == 1
        assert (await s.get(Ticket, ticket.id)).version == 2


async def test_merge_moves_followers_and_refuses_itself(session_factory, world):
    async with session_factory() as s, s.begin():
        first = await _ticket(s, world)
        neighbour = await s.get(User, world["neighbour"].id)
        worker = await s.get(User, world["worker"].id)
        from models.tickets import Classification, create_ticket

        second = await create_ticket(
            session=s, author=neighbour, compound_id=world["compound"].id, text="下水道又堵了",
            normalized_text="下水道又堵了", classification=Classification(category="water"),
            now=NOW,
        )  # fmt: skip
        with pytest.raises(ValueError):
            await merge(session=s, ticket=second, user=worker, seen_version=1,
                        target_id=second.id)  # fmt: skip
        await merge(session=s, ticket=second, user=worker, seen_version=1, target_id=first.id)
    async with session_factory() as s:
        second = await s.get(Ticket, second.id)
        assert second.status == TicketStatus.merged and second.merged_into_id == first.id
        endorsers = (
            await s.exec(select(Endorsement.user_id).where(Endorsement.ticket_id == first.id))
        ).all()
        assert list(endorsers) == [world["neighbour"].id]


async def test_extend_reply_ask_and_the_answer_alerts_the_worker(session_factory, world):
    async with session_factory() as s, s.begin():
        ticket = await _ticket(s, world)
        worker = await s.get(User, world["worker"].id)
        due = ticket.resolution_due_at
        await extend_deadline(session=s, ticket=ticket, user=worker, seen_version=1, days=5,
                              reason="等物业答复", now=NOW)  # fmt: skip
        assert (ticket.resolution_due_at - due).days == 5
        await ask_for_details(session=s, ticket=ticket, user=worker, seen_version=2,
                              question="是几单元？")  # fmt: skip
        await assign(session=s, ticket=ticket, user=worker, seen_version=3, worker_id=worker.id)
        author = await s.get(User, world["resident"].id)
        await add_comment(session=s, ticket=ticket, author=author, text="三单元")
    async with session_factory() as s:
        [question] = await _outbox(s, "ticket_question")
        assert question.user_id == world["resident"].id
        news = await _outbox(s, "worker_ticket_news")
        assert [n.user_id for n in news] == [world["worker"].id]
        assert {r.user_id for r in await _outbox(s, "ticket_news")} == {world["resident"].id}


async def test_reject_needs_a_listed_reason_and_words(session_factory, world):
    async with session_factory() as s, s.begin():
        ticket = await _ticket(s, world)
        worker = await s.get(User, world["worker"].id)
        with pytest.raises(ValueError):
            await reject(session=s, ticket=ticket, user=worker, seen_version=1, reason="because",
                         note="x")  # fmt: skip
        with pytest.raises(NoteRequired):
            await reject(session=s, ticket=ticket, user=worker, seen_version=1,
                         reason="private_property", note="")  # fmt: skip
        await reject(session=s, ticket=ticket, user=worker, seen_version=1,
                     reason="private_property", note="属于业主自家管道")  # fmt: skip
        assert ticket.status == TicketStatus.rejected


async def test_bulk_reply_tells_each_resident_and_skips_stale(session_factory, world):
    async with session_factory() as s, s.begin():
        tickets = [await _ticket(s, world) for _ in range(3)]
        worker = await s.get(User, world["worker"].id)
        done, skipped = await bulk(
            session=s,
            user=worker,
            action="reply",
            note="已联系自来水公司，预计下午恢复",
            tickets=[(tickets[0], 1), (tickets[1], 1), (tickets[2], 7)],
        )
        assert [t.id for t in done] == [tickets[0].id, tickets[1].id]
        assert [(t.id, why) for t, why in skipped] == [(tickets[2].id, "StaleTicket")]
    async with session_factory() as s:
        assert len(await _outbox(s, "ticket_news")) == 2


async def test_bulk_resolve_skips_a_ticket_not_yet_accepted(session_factory, world):
    async with session_factory() as s, s.begin():
        new, accepted = await _ticket(s, world), await _ticket(s, world)
        new_id, accepted_id = new.id, accepted.id
        worker = await s.get(User, world["worker"].id)
        await transition(session=s, ticket=accepted, user=worker, seen_version=1,
                         target=TicketStatus.accepted)  # fmt: skip
        done, skipped = await bulk(session=s, user=worker, action="resolve", note="已统一处理",
                                   tickets=[(new, 1), (accepted, 2)])  # fmt: skip
        assert done == [accepted] and skipped == [(new, "IllegalTransition")]
        assert skipped[0][0].reference  # shown to the worker: readable after the rollback
    async with session_factory() as s:
        assert (await s.get(Ticket, new_id)).status == TicketStatus.new
        assert (await s.get(Ticket, accepted_id)).status == TicketStatus.resolved


def test_roles_know_who_oversees() -> None:
    assert Role.district_staff.oversees and Role.city_staff.oversees
    assert not Role.worker.oversees and Role.worker.is_staff and not Role.resident.is_staff
