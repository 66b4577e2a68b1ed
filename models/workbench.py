"""What staff see of tickets (工作台): the queue's counts, filtered and sorted lists, search,
similar open tickets, the ticket as staff may open it. Every function takes the staff user and
keeps to their scope (``models.users.worker_compound_ids``): a forged id outside it raises
``TicketPermissionError``, whatever the menu showed."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, UnaryExpression, and_, or_
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.db import id_of, utcnow
from models.demands import similarity
from models.lifecycle import OPEN_STATUSES
from models.tables import (
    Compound,
    Endorsement,
    Ticket,
    TicketAttachment,
    TicketStatus,
    User,
)
from models.tickets import TicketPermissionError
from models.users import worker_compound_ids

LOCAL_TZ = ZoneInfo("Asia/Shanghai")  # "due today" is the staff's day, not UTC's
PAGE_SIZE = 8
REFERENCE = re.compile(r"^\s*#?(\d{4}-\d{1,6})\s*$")


class Sort(StrEnum):
    deadline = "deadline"
    endorsements = "endorsements"
    newest = "newest"


@dataclass(frozen=True)
class TicketFilter:
    """What the queue shows. Empty fields do not filter. ``open_only`` unless a status is set."""

    status: str | None = None
    category: str | None = None
    compound_id: int | None = None
    urgent: bool = False
    overdue: bool = False
    unassigned: bool = False
    mine: bool = False
    due_today: bool = False
    words: str | None = None


@dataclass(frozen=True)
class QueueCounts:
    new: int
    overdue: int
    urgent: int
    due_today: int
    mine: int


@dataclass(frozen=True)
class Listed:
    ticket: Ticket
    endorsements: int


def _overdue(now: datetime) -> ColumnElement[bool]:
    """Past its response deadline while new, or past its resolution deadline while open."""
    return or_(
        and_(col(Ticket.status) == TicketStatus.new, col(Ticket.response_due_at) < now),
        and_(col(Ticket.status).in_(OPEN_STATUSES), col(Ticket.resolution_due_at) < now),
    )


def _today_bounds(now: datetime) -> tuple[datetime, datetime]:
    local = now.astimezone(LOCAL_TZ)
    start = local.replace(hour=0, minute=0, second=0, microsecond=0)
    return start, start + timedelta(days=1)


def _due_today(now: datetime) -> ColumnElement[bool]:
    start, end = _today_bounds(now)
    return or_(
        and_(
            col(Ticket.status) == TicketStatus.new,
            col(Ticket.response_due_at) >= start,
            col(Ticket.response_due_at) < end,
        ),
        and_(
            col(Ticket.status).in_(OPEN_STATUSES),
            col(Ticket.resolution_due_at) >= start,
            col(Ticket.resolution_due_at) < end,
        ),
    )


async def queue_counts(
    *, session: AsyncSession, user: User, now: datetime | None = None
) -> QueueCounts:
    """The line at the top of 待办: 新 · 超时 · 紧急 · 今日到期 · 我负责."""
    now = now or utcnow()
    scope = await worker_compound_ids(session=session, user=user)
    in_scope = col(Ticket.compound_id).in_(scope)
    open_ = col(Ticket.status).in_(OPEN_STATUSES)

    async def count(*conditions: ColumnElement[bool]) -> int:
        statement = select(func.count()).select_from(Ticket).where(in_scope, *conditions)
        return int((await session.exec(statement)).one())

    return QueueCounts(
        new=await count(col(Ticket.status) == TicketStatus.new),
        overdue=await count(_overdue(now)),
        urgent=await count(open_, col(Ticket.urgent).is_(True)),
        due_today=await count(_due_today(now)),
        mine=await count(open_, col(Ticket.assignee_id) == user.id),
    )


async def list_tickets(
    *, session: AsyncSession, user: User, filter: TicketFilter, sort: Sort = Sort.deadline,
    page: int = 0, page_size: int = PAGE_SIZE, now: datetime | None = None,
) -> tuple[list[Listed], int]:  # fmt: skip
    """One page of the tickets in ``user``'s scope matching ``filter``, and how many match.
    Urgent tickets come first whatever the sort."""
    now = now or utcnow()
    scope = await worker_compound_ids(session=session, user=user)
    conditions: list[ColumnElement[bool]] = [col(Ticket.compound_id).in_(scope)]
    if filter.status:
        conditions.append(col(Ticket.status) == filter.status)
    else:
        conditions.append(col(Ticket.status).in_(OPEN_STATUSES))
    if filter.category:
        conditions.append(col(Ticket.category) == filter.category)
    if filter.compound_id is not None:
        conditions.append(col(Ticket.compound_id) == filter.compound_id)
    if filter.urgent:
        conditions.append(col(Ticket.urgent).is_(True))
    if filter.overdue:
        conditions.append(_overdue(now))
    if filter.due_today:
        conditions.append(_due_today(now))
    if filter.unassigned:
        conditions.append(col(Ticket.assignee_id).is_(None))
    if filter.mine:
        conditions.append(col(Ticket.assignee_id) == user.id)
    if filter.words:
        reference = REFERENCE.match(filter.words)
        if reference:
            conditions.append(col(Ticket.reference) == reference.group(1))
        else:
            for word in filter.words.split():
                conditions.append(col(Ticket.text_original).contains(word))
    endorsements = (
        select(Endorsement.ticket_id, func.count().label("n"))
        .group_by(col(Endorsement.ticket_id))
        .subquery()
    )
    votes = func.coalesce(endorsements.c.n, 0)
    orders: dict[Sort, list[UnaryExpression[Any]]] = {
        Sort.deadline: [col(Ticket.resolution_due_at).asc(), col(Ticket.id).asc()],
        Sort.endorsements: [votes.desc(), col(Ticket.id).desc()],
        Sort.newest: [col(Ticket.created_at).desc(), col(Ticket.id).desc()],
    }
    order = orders[sort]
    total = (await session.exec(select(func.count()).select_from(Ticket).where(*conditions))).one()
    statement = (
        select(Ticket, votes)
        .outerjoin(endorsements, endorsements.c.ticket_id == col(Ticket.id))
        .where(*conditions)
        .order_by(col(Ticket.urgent).desc(), *order)
        .offset(page * page_size)
        .limit(page_size)
    )
    rows = (await session.exec(statement)).all()
    return [Listed(ticket, int(n)) for ticket, n in rows], int(total)


async def ticket_for_staff(*, session: AsyncSession, user: User, ticket_id: int) -> Ticket:
    """The ticket if it is in ``user``'s scope; raises TicketPermissionError otherwise (a forged
    or outdated id gets a refusal, never another compound's ticket)."""
    ticket = await session.get(Ticket, ticket_id)
    if ticket is None or ticket.compound_id not in await worker_compound_ids(
        session=session, user=user
    ):
        raise TicketPermissionError("not in this staff member's compounds")
    return ticket


async def similar_open_tickets(
    *, session: AsyncSession, ticket: Ticket, limit: int = 5, threshold: float = 55
) -> list[Ticket]:
    """Open tickets of the same compound and category saying much the same (merge candidates)."""
    statement = select(Ticket).where(
        col(Ticket.compound_id) == ticket.compound_id,
        col(Ticket.category) == ticket.category,
        col(Ticket.status).in_(OPEN_STATUSES),
        col(Ticket.id) != ticket.id,
    )
    candidates = (await session.exec(statement)).all()
    scored = [
        (similarity(ticket.text_normalized, other.text_normalized), other) for other in candidates
    ]
    scored.sort(key=lambda pair: -pair[0])
    return [other for score, other in scored if score >= threshold][:limit]


async def ticket_attachments(*, session: AsyncSession, ticket_id: int) -> list[TicketAttachment]:
    statement = (
        select(TicketAttachment)
        .where(TicketAttachment.ticket_id == ticket_id)
        .order_by(col(TicketAttachment.id))
    )
    return list((await session.exec(statement)).all())


async def ticket_by_reference(*, session: AsyncSession, user: User, reference: str) -> Ticket:
    """The ticket with this reference number if in ``user``'s scope, else
    TicketPermissionError."""
    ticket = (await session.exec(select(Ticket).where(Ticket.reference == reference))).first()
    if ticket is None:
        raise TicketPermissionError("no such reference")
    return await ticket_for_staff(session=session, user=user, ticket_id=id_of(ticket))


async def compounds_in_scope(*, session: AsyncSession, user: User) -> list[Compound]:
    scope = await worker_compound_ids(session=session, user=user)
    statement = select(Compound).where(col(Compound.id).in_(scope)).order_by(col(Compound.name))
    return list((await session.exec(statement)).all())
