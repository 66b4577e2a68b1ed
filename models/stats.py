"""The figures shown on a compound's board and in reports: the residents' "menu" (what they
asked for most), the three KPIs (三率) as 12345 hotlines report them, and overdue tickets.

``compute_kpis`` is the one KPI function: the board calls it for a compound, the monthly report
(models/report.py) for a period, whole and grouped by compound and by category."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, overload

from sqlalchemy import ColumnElement, case
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.db import utcnow
from models.lifecycle import COUNTED_STATUSES
from models.tables import Endorsement, Survey, SurveyAnswer, Ticket, TicketStatus

SATISFIED_SCORES = (4, 5)
Grouping = Literal["compound", "category"]
OPEN_STATUSES = (
    TicketStatus.new,
    TicketStatus.accepted,
    TicketStatus.planned,
    TicketStatus.in_progress,
)


@dataclass(frozen=True, slots=True)
class Rate:
    numerator: int
    denominator: int

    @property
    def value(self) -> float | None:
        return self.numerator / self.denominator if self.denominator else None

    def percent(self) -> str:
        return "—" if self.value is None else f"{self.value:.0%}"


EMPTY_RATE = Rate(0, 0)


@dataclass(frozen=True, slots=True)
class KPIs:
    response: Rate  # accepted within the response deadline
    resolution: Rate  # resolved or closed, over all tickets not withdrawn or merged
    satisfaction: Rate  # answers scoring 4–5, over all answers
    tickets: int = 0  # tickets counted (created in the period, not withdrawn or merged)


EMPTY_KPIS = KPIs(EMPTY_RATE, EMPTY_RATE, EMPTY_RATE)


def _sum(condition: Any) -> Any:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


@overload
async def compute_kpis(
    *, session: AsyncSession, compound_ids: Collection[int] | None = None,
    since: datetime | None = None, until: datetime | None = None, now: datetime | None = None,
    by: None = None,
) -> KPIs: ...  # fmt: skip


@overload
async def compute_kpis(
    *, session: AsyncSession, compound_ids: Collection[int] | None = None,
    since: datetime | None = None, until: datetime | None = None, now: datetime | None = None,
    by: Grouping,
) -> dict[Any, KPIs]: ...  # fmt: skip


async def compute_kpis(
    *,
    session: AsyncSession,
    compound_ids: Collection[int] | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    now: datetime | None = None,
    by: Grouping | None = None,
) -> KPIs | dict[Any, KPIs]:
    """The three rates of the tickets created in [since, until) and the survey answers given
    then, in ``compound_ids`` (everywhere when None). Whole (``by=None``), or per compound id
    or per category (``by``): a dict holding only the groups that have tickets or answers.
    Answers to a compound's acceptance survey (民意验收) belong to no category."""
    now = now or utcnow()
    ticket_key: Any = {None: None, "compound": Ticket.compound_id, "category": Ticket.category}[by]

    # A ticket counts for the response rate once it was accepted or its deadline has passed.
    response_due = (col(Ticket.accepted_at).is_not(None)) | (col(Ticket.response_due_at) <= now)
    on_time = col(Ticket.accepted_at) <= col(Ticket.response_due_at)
    resolved = col(Ticket.status).in_((TicketStatus.resolved, TicketStatus.closed))
    tickets = select(
        func.count(), _sum(response_due & on_time), _sum(response_due), _sum(resolved)
    ).where(col(Ticket.status).in_(COUNTED_STATUSES))
    if compound_ids is not None:
        tickets = tickets.where(col(Ticket.compound_id).in_(compound_ids))
    if since is not None:
        tickets = tickets.where(col(Ticket.created_at) >= since)
    if until is not None:
        tickets = tickets.where(col(Ticket.created_at) < until)

    answer_compound = func.coalesce(col(Ticket.compound_id), col(Survey.compound_id))
    answer_key: Any = {None: None, "compound": answer_compound, "category": Ticket.category}[by]
    # An answer counts once it has a score, or said 未解决 (never satisfied); a bare 已解决
    # tap waits for its score.
    answers = (
        select(func.count(), _sum(col(SurveyAnswer.score).in_(SATISFIED_SCORES)))
        .select_from(SurveyAnswer)
        .join(Survey)
        .join(Ticket, col(Ticket.id) == col(Survey.ticket_id), isouter=True)
        .where(col(SurveyAnswer.score).is_not(None) | (col(SurveyAnswer.resolved).is_(False)))
    )
    if compound_ids is not None:
        answers = answers.where(answer_compound.in_(compound_ids))
    if since is not None:
        answers = answers.where(col(SurveyAnswer.answered_at) >= since)
    if until is not None:
        answers = answers.where(col(SurveyAnswer.answered_at) < until)

    if by is None:
        n, on_time_n, due_n, resolved_n = (await session.exec(tickets)).one()
        answered, satisfied = (await session.exec(answers)).one()
        return KPIs(
            response=Rate(int(on_time_n), int(due_n)),
            resolution=Rate(int(resolved_n), int(n)),
            satisfaction=Rate(int(satisfied), int(answered)),
            tickets=int(n),
        )
    # add_columns gives SQLAlchemy's Select, which sqlmodel's exec() overloads do not list
    # (they stop at sqlmodel's own Select); it runs the same.
    ticket_rows = await session.exec(tickets.add_columns(ticket_key).group_by(ticket_key))  # type: ignore[call-overload]
    counts: dict[Any, list[int]] = {}
    for n, on_time_n, due_n, resolved_n, key in ticket_rows.all():
        counts[key] = [int(n), int(on_time_n), int(due_n), int(resolved_n), 0, 0]
    grouped_answers = answers.add_columns(answer_key).group_by(answer_key)
    if by == "category":
        grouped_answers = grouped_answers.where(col(Ticket.category).is_not(None))
    for answered, satisfied, key in (await session.exec(grouped_answers)).all():  # type: ignore[call-overload]
        counts.setdefault(key, [0, 0, 0, 0, 0, 0])[4:] = [int(answered), int(satisfied)]
    return {
        key: KPIs(
            response=Rate(c[1], c[2]),
            resolution=Rate(c[3], c[0]),
            satisfaction=Rate(c[5], c[4]),
            tickets=c[0],
        )
        for key, c in counts.items()
    }


async def demand_menu(
    *,
    session: AsyncSession,
    compound_ids: Collection[int],
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[tuple[str, int]]:
    """What residents asked for most (点菜): per category, the people who raised it —
    tickets' authors plus endorsers — biggest first. Withdrawn and merged tickets don't count.
    With a period: the tickets created in [since, until)."""
    scope: list[ColumnElement[bool]] = [
        col(Ticket.compound_id).in_(compound_ids),
        col(Ticket.status).in_(COUNTED_STATUSES),
    ]
    if since is not None:
        scope.append(col(Ticket.created_at) >= since)
    if until is not None:
        scope.append(col(Ticket.created_at) < until)
    tickets = select(Ticket.category, func.count().label("n")).where(*scope)
    endorsements = (
        select(Ticket.category, func.count().label("n"))
        .join(Endorsement, col(Endorsement.ticket_id) == col(Ticket.id))
        .where(*scope)
    )
    totals: dict[str, int] = {}
    for statement in (tickets, endorsements):
        for category, n in (await session.exec(statement.group_by(Ticket.category))).all():
            totals[category] = totals.get(category, 0) + int(n)
    return sorted(totals.items(), key=lambda item: (-item[1], item[0]))


async def overdue_tickets(
    *, session: AsyncSession, compound_ids: Collection[int], at: datetime
) -> list[Ticket]:
    """The tickets that were late at ``at``: not accepted by their response deadline, or not
    resolved by their resolution deadline (judged by when they were, so a report made later
    still shows the month as it ended). Rejected, withdrawn and merged tickets are never late."""
    late_response = (col(Ticket.response_due_at) < at) & (
        col(Ticket.accepted_at).is_(None) | (col(Ticket.accepted_at) >= at)
    )
    late_resolution = (col(Ticket.resolution_due_at) < at) & (
        col(Ticket.resolved_at).is_(None) | (col(Ticket.resolved_at) >= at)
    )
    statement = (
        select(Ticket)
        .where(
            col(Ticket.compound_id).in_(compound_ids),
            col(Ticket.created_at) < at,
            col(Ticket.status).in_((*OPEN_STATUSES, TicketStatus.resolved, TicketStatus.closed)),
            late_response | late_resolution,
        )
        .order_by(col(Ticket.response_due_at), col(Ticket.id))
    )
    return list((await session.exec(statement)).all())
