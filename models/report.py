"""The monthly report (月通报): last month's figures for a district (or the whole city) beside
the month before. Every rate comes from ``models.stats.compute_kpis``, the function the board
uses, so the board and the report cannot disagree. Rendering (text, chart, workbook) is in
bot/report_files.py; delivery in bot/messages.py (outbox) and bot/handlers/staff/."""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.db import utcnow
from models.stats import EMPTY_KPIS, KPIs, compute_kpis, demand_menu, overdue_tickets
from models.surveys import Acceptance, acceptance_results, compounds_with_acceptance
from models.tables import Compound, District, Survey, SurveyAnswer, Ticket

MONTH_PATTERN = re.compile(r"^\s*(\d{4})\s*[-/.年]\s*(\d{1,2})\s*月?\s*$")
TOP_DEMANDS = 10


@dataclass(frozen=True, slots=True, order=True)
class Month:
    year: int
    month: int

    @classmethod
    def parse(cls, text: str) -> Month | None:
        """``2026-11`` (also 2026-1, 2026/11, 2026年11月); None when it is no month."""
        match = MONTH_PATTERN.match(text)
        if match is None:
            return None
        year, month = int(match[1]), int(match[2])
        return cls(year, month) if 2000 <= year <= 2100 and 1 <= month <= 12 else None

    @classmethod
    def of(cls, moment: datetime, tz: ZoneInfo) -> Month:
        local = moment.astimezone(tz)
        return cls(local.year, local.month)

    def previous(self) -> Month:
        return Month(self.year - 1, 12) if self.month == 1 else Month(self.year, self.month - 1)

    def next(self) -> Month:
        return Month(self.year + 1, 1) if self.month == 12 else Month(self.year, self.month + 1)

    def start(self, tz: ZoneInfo) -> datetime:
        """Midnight of the 1st in ``tz``, as an aware UTC-comparable datetime."""
        return datetime(self.year, self.month, 1, tzinfo=tz)

    def bounds(self, tz: ZoneInfo) -> tuple[datetime, datetime]:
        """[start, end) of the month in local time."""
        return self.start(tz), self.next().start(tz)

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"


@dataclass(frozen=True, slots=True)
class Row:
    """One line of a table: a compound (key = its id) or a category (key = its id)."""

    key: Any
    name: str
    kpis: KPIs
    previous: KPIs


@dataclass(frozen=True, slots=True)
class Overdue:
    reference: str
    compound: str
    category: str
    status: str
    response_due_at: datetime
    resolution_due_at: datetime
    late_response: bool  # not accepted by the response deadline (else: not resolved in time)


@dataclass(frozen=True, slots=True)
class Comment:
    answered_at: datetime
    compound: str
    category: str | None  # None: a compound's acceptance survey
    score: int | None  # None: they wrote without giving a score
    text: str


@dataclass(frozen=True, slots=True)
class MonthlyReport:
    month: Month
    district: str | None  # None: the whole city
    generated_at: datetime
    total: KPIs
    previous_total: KPIs
    compounds: list[Row]
    categories: list[Row]
    overdue: list[Overdue]
    top_demands: list[tuple[str, int]]
    comments: list[Comment]
    # 民意验收 of the compounds in scope that have answers: (compound name, figures).
    acceptance: list[tuple[str, Acceptance]] = field(default_factory=list)

    @property
    def has_data(self) -> bool:
        """Anything happened in the month: a ticket, an answer, or a ticket still late."""
        return bool(self.total.tickets or self.total.satisfaction.denominator or self.overdue)


async def build_monthly_report(
    *,
    session: AsyncSession,
    compound_ids: Collection[int],
    district_id: int | None,
    month: Month,
    tz: ZoneInfo,
    now: datetime | None = None,
) -> MonthlyReport:
    """The report on ``month`` for the compounds in ``compound_ids`` (the recipient's scope,
    from models.users.worker_compound_ids); ``district_id`` only names it."""
    now = now or utcnow()
    start, end = month.bounds(tz)
    previous_start = month.previous().start(tz)
    ids = sorted(compound_ids)

    async def kpis(since: datetime, until: datetime, by: Any = None) -> Any:
        return await compute_kpis(
            session=session, compound_ids=ids, since=since, until=until, now=now, by=by
        )

    names = dict(
        (
            await session.exec(select(Compound.id, Compound.name).where(col(Compound.id).in_(ids)))
        ).all()
    )

    def rows(
        current: dict[Any, KPIs], before: dict[Any, KPIs], name: Any, *, biggest_first: bool
    ) -> list[Row]:
        found = [
            Row(k, name(k), current.get(k, EMPTY_KPIS), before.get(k, EMPTY_KPIS))
            for k in set(current) | set(before)
        ]
        if biggest_first:  # categories: what residents raise most comes first
            return sorted(found, key=lambda r: (-r.kpis.tickets, -r.previous.tickets, str(r.key)))
        return sorted(found, key=lambda r: (r.name, str(r.key)))  # compounds: by name

    at = min(now, end)
    late = await overdue_tickets(session=session, compound_ids=ids, at=at)
    answer_compound = func.coalesce(col(Ticket.compound_id), col(Survey.compound_id))
    comments = await session.exec(
        select(SurveyAnswer, Ticket.category, answer_compound)
        .join(Survey, col(Survey.id) == col(SurveyAnswer.survey_id))
        .join(Ticket, col(Ticket.id) == col(Survey.ticket_id), isouter=True)
        .where(
            answer_compound.in_(ids),
            col(SurveyAnswer.answered_at) >= start,
            col(SurveyAnswer.answered_at) < end,
            func.coalesce(col(SurveyAnswer.comment), "") != "",
        )
        .order_by(col(SurveyAnswer.answered_at), col(SurveyAnswer.id))
    )
    district = await session.get(District, district_id) if district_id is not None else None
    accepted = [
        (names.get(cid, "?"), await acceptance_results(session=session, compound_id=cid))
        for cid in await compounds_with_acceptance(session=session, compound_ids=ids)
    ]
    return MonthlyReport(
        acceptance=sorted(accepted, key=lambda pair: pair[0]),
        month=month,
        district=district.name if district else None,
        generated_at=now,
        total=await kpis(start, end),
        previous_total=await kpis(previous_start, start),
        compounds=rows(
            await kpis(start, end, "compound"),
            await kpis(previous_start, start, "compound"),
            lambda k: names.get(k, "?"),
            biggest_first=False,
        ),
        categories=rows(
            await kpis(start, end, "category"),
            await kpis(previous_start, start, "category"),
            lambda k: k,
            biggest_first=True,
        ),
        overdue=[
            Overdue(
                reference=t.reference or f"#{t.id}",
                compound=names.get(t.compound_id, "?"),
                category=t.category,
                status=t.status,
                response_due_at=t.response_due_at,
                resolution_due_at=t.resolution_due_at,
                late_response=t.response_due_at < at
                and (t.accepted_at is None or t.accepted_at >= at),
            )
            for t in late
        ],
        top_demands=(await demand_menu(session=session, compound_ids=ids, since=start, until=end))[
            :TOP_DEMANDS
        ],
        comments=[
            Comment(
                answered_at=answer.answered_at,
                compound=names.get(compound_id, "?"),
                category=category,
                score=answer.score,
                text=answer.comment or "",
            )
            for answer, category, compound_id in comments.all()
        ],
    )
