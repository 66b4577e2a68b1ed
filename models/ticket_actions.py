"""What staff do to a ticket (政府接单): accept, assign, plan, start, resolve, reject, merge,
extend a deadline, reply, ask for details — and the residents' answers that staff must hear
of at once. Status changes go through ``models.tickets.change_status`` (the lifecycle decides);
each action writes an event with its note and reaches the author and every endorser through
the outbox.

Every staff action names the ticket version the worker's card showed. ``claim_version`` moves
it on atomically (one conditional UPDATE), so of two workers pressing at the same moment one
wins and the other gets ``StaleTicket`` with the fresh ticket — nothing is written twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models import outbox
from models.db import id_of, utcnow
from models.lifecycle import Actor, IllegalTransition
from models.limits import checked
from models.tables import (
    Endorsement,
    PlanItem,
    PlanItemStatus,
    Role,
    Ticket,
    TicketEvent,
    TicketStatus,
    User,
    WorkerCompound,
)
from models.tickets import (
    TicketPermissionError,
    actor_for,
    attach,
    change_status,
    followers,
    tell_workers,
)

REJECT_REASONS = ("not_in_scope", "duplicate", "private_property", "not_feasible", "other")
MAX_EXTENSION = timedelta(days=90)


class StaleTicket(Exception):
    """The ticket changed since the worker's card showed it."""

    def __init__(self, ticket: Ticket, changed_by: str | None) -> None:
        super().__init__(f"ticket {ticket.reference} changed (version {ticket.version})")
        self.ticket, self.changed_by = ticket, changed_by


class NoteRequired(ValueError):
    pass


async def claim_version(
    *, session: AsyncSession, ticket: Ticket, seen_version: int, note: str | None = None
) -> None:
    """Move the ticket's version from ``seen_version`` on, or raise StaleTicket. On PostgreSQL a
    second worker's UPDATE waits for the first transaction and then matches no row. ``note`` is
    checked against its column first (TooLong), so a refused note changes nothing."""
    checked(TicketEvent.note, note)
    result = await session.exec(
        update(Ticket)
        .where(col(Ticket.id) == ticket.id, col(Ticket.version) == seen_version)
        .values(version=seen_version + 1)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        await session.refresh(ticket)
        raise StaleTicket(ticket, await last_actor_name(session=session, ticket_id=id_of(ticket)))
    ticket.version = seen_version + 1


async def last_actor_name(*, session: AsyncSession, ticket_id: int) -> str | None:
    statement = (
        select(User.first_name)
        .join(TicketEvent, col(TicketEvent.actor_id) == col(User.id))
        .where(TicketEvent.ticket_id == ticket_id)
        .order_by(col(TicketEvent.id).desc())
        .limit(1)
    )
    return (await session.exec(statement)).first()


async def _staff_actor(*, session: AsyncSession, ticket: Ticket, user: User) -> Actor:
    actor = await actor_for(session=session, ticket=ticket, user=user)
    if actor not in (Actor.worker, Actor.admin):
        raise TicketPermissionError("only the compound's staff act on its tickets")
    return actor


async def _event(
    *, session: AsyncSession, ticket: Ticket, actor: User | None, action: str, note: str | None,
    now: datetime,
) -> TicketEvent:  # fmt: skip
    event = TicketEvent(
        ticket_id=id_of(ticket),
        actor_id=actor.id if actor else None,
        action=action,
        note=note,
        created_at=now,
    )
    session.add(event)
    ticket.updated_at = now
    await session.flush()
    return event


async def _tell_followers(
    *, session: AsyncSession, ticket: Ticket, event: TicketEvent, template: str = "ticket_news",
    skip: User | None = None, only_author: bool = False,
) -> None:  # fmt: skip
    people = await followers(session=session, ticket=ticket)
    for person in people:
        if skip is not None and person.id == skip.id:
            continue
        if only_author and person.id != ticket.author_id:
            continue
        await outbox.enqueue(
            session=session,
            recipient=person,
            kind="ticket_status",
            template=template,
            params={"ticket_id": ticket.id, "event_id": event.id},
            urgent=ticket.urgent,
            dedupe_key=f"{template}:{event.id}:{person.id}",
        )


def _required(note: str | None, what: str) -> str:
    if not note or not note.strip():
        raise NoteRequired(f"{what} needs a note")
    return note.strip()


# --- status changes -------------------------------------------------------------------------


async def transition(
    *, session: AsyncSession, ticket: Ticket, user: User, seen_version: int,
    target: TicketStatus, note: str | None = None, now: datetime | None = None,
) -> TicketEvent:  # fmt: skip
    """受理 / 开始处理 / 纳入计划 / 不予采纳 through the lifecycle, with an optional note."""
    await _staff_actor(session=session, ticket=ticket, user=user)
    await claim_version(session=session, ticket=ticket, seen_version=seen_version, note=note)
    return await change_status(
        session=session, ticket=ticket, target=target, actor=user, note=note or None, now=now
    )


async def resolve(
    *, session: AsyncSession, ticket: Ticket, user: User, seen_version: int, note: str,
    photo: tuple[str, str, str | None] | None = None, now: datetime | None = None,
) -> TicketEvent:  # fmt: skip
    """办结: a note is required; an optional "after" photo is attached and sent to the residents."""
    note = _required(note, "resolving")
    await _staff_actor(session=session, ticket=ticket, user=user)
    await claim_version(session=session, ticket=ticket, seen_version=seen_version, note=note)
    event = await change_status(
        session=session, ticket=ticket, target=TicketStatus.resolved, actor=user, note=note,
        now=now,
    )  # fmt: skip
    if photo is not None:
        attach(session=session, ticket=ticket, attachments=[photo])
        await session.flush()
        for person in await followers(session=session, ticket=ticket):
            await outbox.enqueue(
                session=session, recipient=person, kind="ticket_status",
                template="ticket_after_photo",
                params={"ticket_id": ticket.id, "file_id": photo[1]},
                urgent=ticket.urgent, dedupe_key=f"after:{event.id}:{person.id}",
            )  # fmt: skip
    return event


async def reject(
    *, session: AsyncSession, ticket: Ticket, user: User, seen_version: int, reason: str,
    note: str, now: datetime | None = None,
) -> TicketEvent:  # fmt: skip
    """不予采纳: a reason from the list and the worker's words, both shown to the residents."""
    if reason not in REJECT_REASONS:
        raise ValueError(f"unknown rejection reason {reason!r}")
    note = _required(note, "a rejection")
    return await transition(
        session=session, ticket=ticket, user=user, seen_version=seen_version,
        target=TicketStatus.rejected, note=note, now=now,
    )  # fmt: skip


async def plan(
    *, session: AsyncSession, ticket: Ticket, user: User, seen_version: int,
    plan_item_id: int | None = None, new_title: str | None = None, note: str | None = None,
    now: datetime | None = None,
) -> TicketEvent:  # fmt: skip
    """纳入计划: link the ticket to one of its compound's plan items, or create one."""
    await _staff_actor(session=session, ticket=ticket, user=user)
    if plan_item_id is not None:
        item = await session.get(PlanItem, plan_item_id)
        if item is None or item.compound_id != ticket.compound_id:
            raise TicketPermissionError("the plan item is not this compound's")
    else:
        title = _required(new_title, "a new plan item")
        item = PlanItem(
            compound_id=ticket.compound_id, category=ticket.category, title=title,
            status=PlanItemStatus.planned,
        )  # fmt: skip
        session.add(item)
        await session.flush()
    await claim_version(session=session, ticket=ticket, seen_version=seen_version)
    ticket.plan_item_id = item.id
    return await change_status(
        session=session, ticket=ticket, target=TicketStatus.planned, actor=user,
        note=note or item.title, now=now,
    )  # fmt: skip


# --- changes without a new status -----------------------------------------------------------


async def compound_workers(*, session: AsyncSession, compound_id: int) -> list[User]:
    statement = (
        select(User)
        .join(WorkerCompound, col(WorkerCompound.worker_id) == col(User.id))
        .where(WorkerCompound.compound_id == compound_id, User.role == Role.worker)
        .order_by(col(User.first_name))
    )
    return list((await session.exec(statement)).all())


async def assign(
    *, session: AsyncSession, ticket: Ticket, user: User, seen_version: int, worker_id: int,
    note: str | None = None, now: datetime | None = None,
) -> TicketEvent:  # fmt: skip
    """派给: a worker of the ticket's compound becomes responsible; they are told at once."""
    now = now or utcnow()
    await _staff_actor(session=session, ticket=ticket, user=user)
    workers = {
        w.id: w for w in await compound_workers(session=session, compound_id=ticket.compound_id)
    }
    worker = workers.get(worker_id)
    if worker is None:
        raise TicketPermissionError("assignees are workers of the ticket's compound")
    await claim_version(session=session, ticket=ticket, seen_version=seen_version)
    ticket.assignee_id = worker.id
    event = await _event(
        session=session,
        ticket=ticket,
        actor=user,
        action="assigned",
        note=note or worker.first_name,
        now=now,
    )
    if worker.id != user.id:
        await outbox.enqueue(
            session=session, recipient=worker, kind="alert", template="worker_assigned",
            params={"ticket_id": ticket.id, "event_id": event.id}, urgent=ticket.urgent,
            dedupe_key=f"assigned:{event.id}",
        )  # fmt: skip
    return event


async def extend_deadline(
    *, session: AsyncSession, ticket: Ticket, user: User, seen_version: int, days: int,
    reason: str, now: datetime | None = None,
) -> TicketEvent:  # fmt: skip
    """延期: the deadline now running (response while new, else resolution) moves by ``days``;
    the reason is in the history and the residents hear of it."""
    now = now or utcnow()
    reason = _required(reason, "an extension")
    if not timedelta(0) < timedelta(days=days) <= MAX_EXTENSION:
        raise ValueError("an extension is 1 to 90 days")
    await _staff_actor(session=session, ticket=ticket, user=user)
    await claim_version(session=session, ticket=ticket, seen_version=seen_version, note=reason)
    if ticket.status == TicketStatus.new:
        ticket.response_due_at = max(ticket.response_due_at, now) + timedelta(days=days)
    ticket.resolution_due_at = max(ticket.resolution_due_at, now) + timedelta(days=days)
    event = await _event(
        session=session, ticket=ticket, actor=user, action="extended", note=reason, now=now
    )
    await _tell_followers(session=session, ticket=ticket, event=event)
    return event


async def reply(
    *, session: AsyncSession, ticket: Ticket, user: User, seen_version: int, text: str,
    now: datetime | None = None,
) -> TicketEvent:  # fmt: skip
    """回复: words to the residents without a status change."""
    now = now or utcnow()
    text = _required(text, "a reply")
    await _staff_actor(session=session, ticket=ticket, user=user)
    await claim_version(session=session, ticket=ticket, seen_version=seen_version, note=text)
    event = await _event(
        session=session, ticket=ticket, actor=user, action="replied", note=text, now=now
    )
    await _tell_followers(session=session, ticket=ticket, event=event)
    return event


async def ask_for_details(
    *, session: AsyncSession, ticket: Ticket, user: User, seen_version: int, question: str,
    now: datetime | None = None,
) -> TicketEvent:  # fmt: skip
    """请补充: the author is asked; their answer (``add_comment``) is appended and alerts us."""
    now = now or utcnow()
    question = _required(question, "a question")
    await _staff_actor(session=session, ticket=ticket, user=user)
    await claim_version(session=session, ticket=ticket, seen_version=seen_version, note=question)
    event = await _event(
        session=session, ticket=ticket, actor=user, action="asked", note=question, now=now
    )
    await _tell_followers(
        session=session, ticket=ticket, event=event, template="ticket_question", only_author=True
    )
    return event


async def merge(
    *, session: AsyncSession, ticket: Ticket, user: User, seen_version: int, target_id: int,
    now: datetime | None = None,
) -> TicketEvent:  # fmt: skip
    """合并: ``ticket`` joins ``target`` (same compound). Its author and endorsers now follow the
    target, and are told where their demand went."""
    if target_id == ticket.id:
        raise ValueError("a ticket cannot be merged into itself")
    target = await session.get(Ticket, target_id)
    if target is None or target.compound_id != ticket.compound_id:
        raise TicketPermissionError("merge only within one compound")
    await _staff_actor(session=session, ticket=ticket, user=user)
    moving = await followers(session=session, ticket=ticket)
    await claim_version(session=session, ticket=ticket, seen_version=seen_version)
    event = await change_status(
        session=session, ticket=ticket, target=TicketStatus.merged, actor=user,
        merged_into=target, note=target.reference, now=now,
    )  # fmt: skip
    already = set(
        (
            await session.exec(
                select(Endorsement.user_id).where(Endorsement.ticket_id == target.id)
            )
        ).all()
    )
    for person in moving:
        if person.id != target.author_id and person.id not in already:
            session.add(Endorsement(ticket_id=id_of(target), user_id=id_of(person)))
    await session.flush()
    return event


async def bulk(
    *, session: AsyncSession, user: User, tickets: Sequence[tuple[Ticket, int]], action: str,
    note: str, target_id: int | None = None, now: datetime | None = None,
) -> tuple[list[Ticket], list[tuple[Ticket, str]]]:  # fmt: skip
    """One answer for many tickets (twenty "停水了" on one morning): reply, resolve, or merge
    into ``target_id``. Each resident still gets their own notification. Returns (done,
    skipped with the reason) — a ticket that cannot take the action is skipped, not fatal."""
    done: list[Ticket] = []
    skipped: list[tuple[Ticket, str]] = []
    for ticket, seen in tickets:
        try:
            async with session.begin_nested():
                if action == "reply":
                    await reply(session=session, ticket=ticket, user=user, seen_version=seen,
                                text=note, now=now)  # fmt: skip
                elif action == "resolve":
                    await resolve(session=session, ticket=ticket, user=user, seen_version=seen,
                                  note=note, now=now)  # fmt: skip
                elif action == "merge" and target_id is not None:
                    if ticket.id == target_id:
                        continue
                    await merge(session=session, ticket=ticket, user=user, seen_version=seen,
                                target_id=target_id, now=now)  # fmt: skip
                else:
                    raise ValueError(f"unknown bulk action {action!r}")
        except (StaleTicket, TicketPermissionError, IllegalTransition, ValueError) as error:
            await session.refresh(ticket)  # the savepoint's rollback expired it: read it again
            skipped.append((ticket, type(error).__name__))
            continue
        done.append(ticket)
    return done, skipped


# --- residents' side that staff must hear of ------------------------------------------------


async def tell_staff_of_resident_news(
    *, session: AsyncSession, ticket: Ticket, event: TicketEvent
) -> None:
    """A resident reopened, added details or photos, or chased up: the assigned worker (or all
    of the compound's workers) is alerted at once; quiet hours only hold non-urgent news."""
    await tell_workers(
        session, ticket, template="worker_ticket_news", kind="alert",
        dedupe=f"news:{event.id}", urgent=ticket.urgent, params={"event_id": event.id},
    )  # fmt: skip
