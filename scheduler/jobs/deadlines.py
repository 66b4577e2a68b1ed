"""Deadline chasing. The deadlines are read from the ticket (staff may have extended them),
never recomputed here.

- ``deadline_warning_hours`` (2 h) before a deadline and at it, the ticket's assignee (or every
  worker of its compound) is reminded; at the deadline the district staff are told it is
  overdue. A new deadline (an extension) is chased afresh: the dedupe keys carry it.
- every morning (``digest_time``, 08:30) each worker gets what is overdue and due today.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.settings import Settings
from models import outbox
from models.db import id_of, stored_ids
from models.lifecycle import OPEN_STATUSES
from models.surveys import escalate, responsible_workers
from models.tables import Role, Ticket, TicketStatus, User
from models.users import worker_compound_ids
from scheduler.jobs.common import BATCH, in_batches, local_day, next_day_start, not_before

DIGEST_LIST = 15  # tickets named per section of the digest; the rest are counted


def _due(ticket: Ticket) -> list[tuple[str, datetime]]:
    """The deadlines still running: response until accepted, resolution while open."""
    out = []
    if ticket.status == TicketStatus.new:
        out.append(("response", ticket.response_due_at))
    if ticket.status in OPEN_STATUSES:
        out.append(("resolution", ticket.resolution_due_at))
    return out


async def sweep_deadlines(
    *, session_factory: async_sessionmaker[AsyncSession], settings: Settings, now: datetime
) -> int:
    """Queue the reminders and escalations due by ``now``. Returns how many were queued."""
    horizon = now + timedelta(hours=settings.deadline_warning_hours)
    near = ((col(Ticket.status) == TicketStatus.new) & (col(Ticket.response_due_at) <= horizon)) | (
        col(Ticket.resolution_due_at) <= horizon
    )

    async def fetch(session: AsyncSession, after: int | None) -> list[int]:
        statement = (
            select(Ticket.id)
            .where(col(Ticket.status).in_(OPEN_STATUSES), near)
            .order_by(col(Ticket.id))
            .limit(BATCH)
        )
        if after is not None:
            statement = statement.where(col(Ticket.id) > after)
        return stored_ids((await session.exec(statement)).all())

    async def handle(session: AsyncSession, ticket_id: int) -> int:
        ticket = await session.get(Ticket, ticket_id)
        if ticket is None:
            return 0
        wait = not_before(now, settings, urgent=ticket.urgent)
        queued = 0
        for kind, due in _due(ticket):
            if due > horizon:
                continue
            overdue = due <= now
            stamp = f"{due:%Y%m%d%H%M}"  # an extended deadline is a new one
            for worker in await responsible_workers(session=session, ticket=ticket):
                message = await outbox.enqueue(
                    session=session, recipient=worker, kind="deadline",
                    template="worker_deadline",
                    params={"ticket_id": ticket.id, "deadline": kind, "overdue": overdue},
                    urgent=ticket.urgent, not_before=wait,
                    dedupe_key=f"{'overdue' if overdue else 'due-soon'}:{kind}:{ticket.id}"
                    f":{stamp}:{worker.id}",
                )  # fmt: skip
                queued += message is not None
            if overdue:
                queued += await escalate(
                    session=session, ticket=ticket, reason=f"overdue_{kind}",
                    key=f"overdue-{kind}:{ticket.id}:{stamp}", not_before=wait,
                )  # fmt: skip
        return queued

    return await in_batches(session_factory, fetch, handle)


async def sweep_digest(
    *, session_factory: async_sessionmaker[AsyncSession], settings: Settings, now: datetime
) -> int:
    """The workers' morning digest. Returns how many digests were queued."""
    today = local_day(now, settings)
    end_of_today = next_day_start(today, settings)
    queued = 0
    async with session_factory() as session, session.begin():
        workers = (await session.exec(select(User).where(User.role == Role.worker))).all()
        for worker in workers:
            compounds = await worker_compound_ids(session=session, user=worker)
            if not compounds:
                continue
            tickets = (
                await session.exec(
                    select(Ticket)
                    .where(
                        col(Ticket.compound_id).in_(compounds),
                        col(Ticket.status).in_(OPEN_STATUSES),
                        (
                            (col(Ticket.status) == TicketStatus.new)
                            & (col(Ticket.response_due_at) < end_of_today)
                        )
                        | (col(Ticket.resolution_due_at) < end_of_today),
                    )
                    .order_by(col(Ticket.urgent).desc(), col(Ticket.id))
                )
            ).all()
            overdue: list[int] = []
            due_today: list[int] = []
            for ticket in tickets:
                dues = [due for _kind, due in _due(ticket) if due < end_of_today]
                (overdue if min(dues) <= now else due_today).append(id_of(ticket))
            if not overdue and not due_today:
                continue  # nothing to say: no message
            message = await outbox.enqueue(
                session=session, recipient=worker, kind="digest", template="worker_digest",
                params={
                    "overdue_ids": overdue[:DIGEST_LIST], "overdue_count": len(overdue),
                    "today_ids": due_today[:DIGEST_LIST], "today_count": len(due_today),
                },
                dedupe_key=f"digest:{today.isoformat()}:{worker.id}",
                not_before=not_before(now, settings),
            )  # fmt: skip
            queued += message is not None
    return queued
