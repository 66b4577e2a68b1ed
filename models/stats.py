"""The figures shown on a compound's board and in reports: the residents' "menu" (what they
asked for most) and the three KPIs (三率) as 12345 hotlines report them."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.db import utcnow
from models.lifecycle import COUNTED_STATUSES
from models.tables import Endorsement, Survey, SurveyAnswer, Ticket, TicketStatus

SATISFIED_SCORES = (4, 5)


@dataclass(frozen=True, slots=True)
class Rate:
    numerator: int
    denominator: int

    @property
    def value(self) -> float | None:
        return self.numerator / self.denominator if self.denominator else None

    def percent(self) -> str:
        return "—" if self.value is None else f"{self.value:.0%}"


@dataclass(frozen=True, slots=True)
class KPIs:
    response: Rate  # accepted within the response deadline
    resolution: Rate  # resolved or closed, over all tickets not withdrawn or merged
    satisfaction: Rate  # answers scoring 4–5, over all answers


async def compute_kpis(
    *,
    session: AsyncSession,
    compound_ids: Collection[int] | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    now: datetime | None = None,
) -> KPIs:
    now = now or utcnow()
    scope = [col(Ticket.status).in_(COUNTED_STATUSES)]
    if compound_ids is not None:
        scope.append(col(Ticket.compound_id).in_(compound_ids))
    if since is not None:
        scope.append(col(Ticket.created_at) >= since)
    if until is not None:
        scope.append(col(Ticket.created_at) < until)

    async def count(*conditions: object) -> int:
        statement = select(func.count()).select_from(Ticket).where(*scope, *conditions)
        return int((await session.exec(statement)).one())

    # A ticket counts for the response rate once it was accepted or its deadline has passed.
    response_due = (col(Ticket.accepted_at).is_not(None)) | (col(Ticket.response_due_at) <= now)
    on_time = col(Ticket.accepted_at) <= col(Ticket.response_due_at)
    resolved = col(Ticket.status).in_((TicketStatus.resolved, TicketStatus.closed))

    # An answer counts once it has a score, or said 未解决 (never satisfied); a bare 已解决
    # tap waits for its score.
    answers = (
        select(func.count())
        .select_from(SurveyAnswer)
        .join(Survey)
        .where(col(SurveyAnswer.score).is_not(None) | (col(SurveyAnswer.resolved).is_(False)))
    )
    if compound_ids is not None:
        answers = answers.join(Ticket, col(Ticket.id) == col(Survey.ticket_id), isouter=True).where(
            col(Ticket.compound_id).in_(compound_ids) | col(Survey.compound_id).in_(compound_ids)
        )
    if since is not None:
        answers = answers.where(col(SurveyAnswer.answered_at) >= since)
    if until is not None:
        answers = answers.where(col(SurveyAnswer.answered_at) < until)
    satisfied = answers.where(col(SurveyAnswer.score).in_(SATISFIED_SCORES))
    return KPIs(
        response=Rate(await count(response_due, on_time), await count(response_due)),
        resolution=Rate(await count(resolved), await count()),
        satisfaction=Rate(
            int((await session.exec(satisfied)).one()), int((await session.exec(answers)).one())
        ),
    )


async def demand_menu(*, session: AsyncSession, compound_id: int) -> list[tuple[str, int]]:
    """What residents asked for most (点菜): per category, the people who raised it —
    tickets' authors plus endorsers — biggest first. Withdrawn and merged tickets don't count."""
    tickets = (
        select(Ticket.category, func.count().label("n"))
        .where(Ticket.compound_id == compound_id, col(Ticket.status).in_(COUNTED_STATUSES))
        .group_by(Ticket.category)
    )
    endorsements = (
        select(Ticket.category, func.count().label("n"))
        .join(Endorsement, col(Endorsement.ticket_id) == col(Ticket.id))
        .where(Ticket.compound_id == compound_id, col(Ticket.status).in_(COUNTED_STATUSES))
        .group_by(Ticket.category)
    )
    totals: dict[str, int] = {}
    for statement in (tickets, endorsements):
        for category, n in (await session.exec(statement)).all():
            totals[category] = totals.get(category, 0) + int(n)
    return sorted(totals.items(), key=lambda item: (-item[1], item[0]))
