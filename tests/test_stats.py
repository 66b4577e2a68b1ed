"""The three KPIs (三率) and the residents' menu, from tickets and survey answers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from models.db import utcnow
from models.stats import compute_kpis, demand_menu
from models.tables import (
    Compound,
    District,
    Endorsement,
    Survey,
    SurveyAnswer,
    Ticket,
    TicketStatus,
    User,
)

T0 = datetime(2026, 11, 1, 2, 0, tzinfo=UTC)


async def seed(session_factory) -> int:
    async with session_factory() as s, s.begin():
        d = District(code="heping", name="和平区")
        s.add(d)
        await s.flush()
        c = Compound(code="hp01", name="南湖春晓小区", district_id=d.id)
        author = User(telegram_id=1, chat_id=1)
        neighbours = [User(telegram_id=10 + i, chat_id=10 + i) for i in range(3)]
        s.add_all([c, author, *neighbours])
        await s.flush()

        def ticket(
            category: str, status: str, accepted_after: timedelta | None, urgent=False
        ) -> Ticket:
            due = T0 + (timedelta(hours=2) if urgent else timedelta(hours=24))
            return Ticket(author_id=author.id, compound_id=c.id, text_original="x", category=category,
                          tier="basic", status=status, urgent=urgent, created_at=T0,
                          response_due_at=due, resolution_due_at=T0 + timedelta(days=30),
                          accepted_at=T0 + accepted_after if accepted_after is not None else None)  # fmt: skip

        tickets = [
            ticket("water", TicketStatus.closed, timedelta(hours=3)),  # on time
            ticket("water", TicketStatus.resolved, timedelta(hours=30)),  # late
            ticket("roads", TicketStatus.in_progress, timedelta(hours=1), urgent=True),  # on time
            ticket("roads", TicketStatus.new, None),  # overdue, never accepted
            ticket("lighting", TicketStatus.withdrawn, None),  # not counted
            ticket("lighting", TicketStatus.merged, None),  # not counted
        ]
        s.add_all(tickets)
        await s.flush()
        s.add_all([Endorsement(ticket_id=tickets[2].id, user_id=n.id) for n in neighbours])
        surveys = [Survey(kind="ticket", ticket_id=tickets[0].id, user_id=author.id),
                   Survey(kind="ticket", ticket_id=tickets[1].id, user_id=author.id),
                   Survey(kind="ticket", ticket_id=tickets[2].id, user_id=author.id)]  # fmt: skip
        s.add_all(surveys)
        await s.flush()
        s.add_all([SurveyAnswer(survey_id=surveys[0].id, score=5),
                   SurveyAnswer(survey_id=surveys[1].id, score=2)])  # fmt: skip
        return c.id


async def test_three_rates_follow_the_brief(session_factory):
    compound_id = await seed(session_factory)
    async with session_factory() as s:
        kpis = await compute_kpis(session=s, compound_ids=[compound_id], now=utcnow())
    assert (kpis.response.numerator, kpis.response.denominator) == (2, 4)
    assert (kpis.resolution.numerator, kpis.resolution.denominator) == (2, 4)
    assert (kpis.satisfaction.numerator, kpis.satisfaction.denominator) == (1, 2)
    assert kpis.response.percent() == "50%"


async def test_a_ticket_not_yet_due_does_not_count_for_response(session_factory):
    compound_id = await seed(session_factory)
    async with session_factory() as s:
        kpis = await compute_kpis(
            session=s, compound_ids=[compound_id], now=T0 + timedelta(hours=1)
        )
    # Only the accepted ones count before their deadlines pass.
    assert kpis.response.denominator == 3


async def test_menu_counts_authors_and_endorsers_biggest_first(session_factory):
    compound_id = await seed(session_factory)
    async with session_factory() as s:
        menu = await demand_menu(session=s, compound_ids=[compound_id])
    assert menu == [("roads", 5), ("water", 2)]


async def test_no_answers_is_no_rate_not_zero(session_factory):
    async with session_factory() as s:
        kpis = await compute_kpis(session=s, compound_ids=[999])
    assert kpis.satisfaction.value is None and kpis.satisfaction.percent() == "—"
