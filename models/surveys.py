"""Surveys (问效于民): the 回访 after a ticket is resolved and the 民意验收 after a compound's
renovation is completed. The scheduler opens and chases them; the bot records the answers.

A ticket survey is answered in taps: 已解决 / 未解决, then a score 1–5, then optionally words.
Only its author's answer moves the ticket: 未解决 or a score of 1–2 reopens it (and alerts its
worker at once, day or night), a good answer closes it; endorsers' answers count for 满意率.
Every function here leaves the session consistent and queues its messages in the outbox.

A ticket is surveyed again after each resolution (reopened, then resolved again): ticket
surveys leave ``compound_id`` empty, so the table's unique key does not bind them, and "asked
since the last resolution" is the rule. Acceptance surveys are once per compound and resident.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import insert
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models import outbox
from models.db import id_of, utcnow
from models.tables import (
    Compound,
    Endorsement,
    PlanItem,
    Survey,
    SurveyAnswer,
    SurveyKind,
    SurveyState,
    Ticket,
    TicketEvent,
    TicketStatus,
    User,
)
from models.tickets import change_status
from models.users import district_staff_of, workers_of_compound

LOW_SCORES = (1, 2)  # reopen the ticket
ESCALATE_AFTER_REOPENS = 2
NO_ANSWER_NOTE = "未回复"


class SurveyClosed(Exception):
    """A press on a survey that is not this user's, expired, or already answered that far."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason  # foreign / expired / answered


@dataclass(frozen=True, slots=True)
class Outcome:
    reopened: bool = False  # the ticket went back to its workers
    closed: bool = False


# --- opening and chasing (the scheduler) --------------------------------------------------


async def responsible_workers(*, session: AsyncSession, ticket: Ticket) -> list[User]:
    """Its assignee, or every worker of its compound when nobody took it yet."""
    if ticket.assignee_id is not None:
        assignee = await session.get(User, ticket.assignee_id)
        if assignee is not None:
            return [assignee]
    return await workers_of_compound(session=session, compound_id=ticket.compound_id)


async def open_ticket_surveys(
    *, session: AsyncSession, tickets: list[Ticket], now: datetime, expiry: timedelta,
    not_before: datetime | None = None,
) -> int:  # fmt: skip
    """Ask the author and every endorser of resolved tickets; returns how many were asked.
    Someone already asked since a ticket was (last) resolved is not asked again. Set-wise:
    a few queries per batch of tickets, whatever its size."""
    if not tickets:
        return 0
    by_id = {t.id: t for t in tickets}
    earliest = min(t.resolved_at or now for t in tickets)
    asked = {
        (ticket_id, user_id)
        for ticket_id, user_id, created in (
            await session.exec(
                select(Survey.ticket_id, Survey.user_id, Survey.created_at).where(
                    Survey.kind == SurveyKind.ticket,
                    col(Survey.ticket_id).in_(by_id),
                    col(Survey.created_at) >= earliest,
                )
            )
        ).all()
        if created >= (by_id[ticket_id].resolved_at or now)
    }
    endorsements = (
        await session.exec(
            select(Endorsement.ticket_id, Endorsement.user_id).where(
                col(Endorsement.ticket_id).in_(by_id)
            )
        )
    ).all()
    wanted = [(t.id, t.author_id) for t in tickets] + [tuple(e) for e in endorsements]
    wanted = [(t, u) for t, u in dict.fromkeys(wanted) if (t, u) not in asked]  # author first
    people = {
        u.id: u
        for u in (
            await session.exec(select(User).where(col(User.id).in_({u for _, u in wanted})))
        ).all()
    }
    # Core inserts: building ORM objects costs more than the database at this size.
    rows = [
        {"kind": SurveyKind.ticket, "ticket_id": ticket_id, "user_id": user_id,
         "state": SurveyState.pending, "sent_at": now, "expires_at": now + expiry,
         "created_at": now}
        for ticket_id, user_id in wanted
        if user_id in people
    ]  # fmt: skip
    if not rows:
        return 0
    created = (
        await session.exec(
            insert(Survey).returning(
                col(Survey.id), col(Survey.user_id), sort_by_parameter_order=True
            ),
            params=rows,
        )
    ).all()
    await outbox.enqueue_many(
        session=session,
        messages=[
            (people[user_id], {"kind": "survey", "template": "survey_ticket",
                               "params": {"survey_id": survey_id},
                               "dedupe_key": f"survey:{survey_id}", "not_before": not_before})
            for survey_id, user_id in created
        ],
    )  # fmt: skip
    return len(created)


async def remind(*, session: AsyncSession, survey: Survey, now: datetime,
                 not_before: datetime | None = None) -> None:  # fmt: skip
    survey.reminded_at = now
    user = await session.get(User, survey.user_id)
    if user is not None:
        template = "survey_ticket" if survey.kind == SurveyKind.ticket else "survey_acceptance"
        await outbox.enqueue(
            session=session, recipient=user, kind="survey", template=template,
            params={"survey_id": survey.id, "reminder": True},
            dedupe_key=f"survey-reminder:{survey.id}", not_before=not_before,
        )  # fmt: skip


async def expire(*, session: AsyncSession, survey: Survey, now: datetime) -> bool:
    """No answer in time: the survey ends; an author's resolved ticket is closed as 未回复
    (no answer is not satisfaction). Returns True when the ticket was closed."""
    survey.state = SurveyState.expired
    if survey.kind != SurveyKind.ticket or survey.ticket_id is None:
        return False
    ticket = await session.get(Ticket, survey.ticket_id)
    if ticket is None or ticket.author_id != survey.user_id:
        return False
    if ticket.status != TicketStatus.resolved:
        return False
    await change_status(
        session=session, ticket=ticket, target=TicketStatus.closed, actor=None,
        note=NO_ANSWER_NOTE, now=now, notify=False,
    )  # fmt: skip
    return True


async def close_answered(*, session: AsyncSession, ticket: Ticket, now: datetime) -> None:
    """The author said 已解决 but never scored: closed when the survey ends."""
    await change_status(
        session=session, ticket=ticket, target=TicketStatus.closed, actor=None, now=now,
        notify=False,
    )  # fmt: skip


# --- answers (the bot) --------------------------------------------------------------------


async def _answer_of(session: AsyncSession, survey: Survey) -> SurveyAnswer | None:
    return (
        await session.exec(select(SurveyAnswer).where(SurveyAnswer.survey_id == survey.id))
    ).first()


def _check(*, survey: Survey | None, user: User) -> Survey:
    if survey is None or survey.user_id != user.id:
        raise SurveyClosed("foreign")
    if survey.state == SurveyState.expired:
        raise SurveyClosed("expired")
    return survey


async def answer_resolved(
    *, session: AsyncSession, survey: Survey | None, user: User, resolved: bool,
    now: datetime | None = None,
) -> Outcome:  # fmt: skip
    """The first tap: 已解决 / 未解决. A second tap on the same question changes nothing."""
    survey, now = _check(survey=survey, user=user), now or utcnow()
    if await _answer_of(session, survey) is not None:
        raise SurveyClosed("answered")
    session.add(SurveyAnswer(survey_id=id_of(survey), resolved=resolved, answered_at=now))
    survey.state = SurveyState.answered
    await session.flush()
    if not resolved:
        return await _not_satisfied(
            session=session, survey=survey, user=user, now=now, reason="unresolved"
        )
    return Outcome()


async def answer_score(
    *, session: AsyncSession, survey: Survey | None, user: User, score: int,
    now: datetime | None = None,
) -> Outcome:  # fmt: skip
    """The second tap: 1–5. A good score from the author closes the ticket; 1–2 reopens it."""
    survey, now = _check(survey=survey, user=user), now or utcnow()
    if not 1 <= score <= 5:
        raise ValueError("a score is 1–5")
    answer = await _answer_of(session, survey)
    if answer is None or answer.score is not None:
        raise SurveyClosed("answered" if answer else "foreign")
    answer.score, answer.answered_at = score, now
    await session.flush()
    if score in LOW_SCORES and answer.resolved is not False:
        return await _not_satisfied(
            session=session, survey=survey, user=user, now=now, reason="low_score"
        )
    if answer.resolved and score not in LOW_SCORES:
        ticket = await session.get(Ticket, survey.ticket_id)
        if ticket and ticket.author_id == user.id and ticket.status == TicketStatus.resolved:
            await change_status(
                session=session, ticket=ticket, target=TicketStatus.closed, actor=None,
                note=None, now=now, notify=False,
            )  # fmt: skip
            return Outcome(closed=True)
    return Outcome()


async def _not_satisfied(
    *, session: AsyncSession, survey: Survey, user: User, now: datetime, reason: str
) -> Outcome:
    ticket = await session.get(Ticket, survey.ticket_id)
    if ticket is None:
        return Outcome()
    reopened = False
    if ticket.author_id == user.id and ticket.status == TicketStatus.resolved:
        await change_status(
            session=session, ticket=ticket, target=TicketStatus.in_progress, actor=user,
            note=None, now=now,
        )  # fmt: skip
        reopened = True
    # "At once": urgent, so quiet hours do not hold it back.
    for worker in await responsible_workers(session=session, ticket=ticket):
        await outbox.enqueue(
            session=session, recipient=worker, kind="alert", template="worker_survey_alert",
            params={"ticket_id": ticket.id, "survey_id": survey.id, "reason": reason},
            urgent=True, dedupe_key=f"survey-alert:{survey.id}:{worker.id}",
        )  # fmt: skip
    if reopened and ticket.reopen_count >= ESCALATE_AFTER_REOPENS:
        await escalate(session=session, ticket=ticket, reason="reopened",
                       key=f"reopened:{ticket.id}:{ticket.reopen_count}")  # fmt: skip
    return Outcome(reopened=reopened)


async def escalate(*, session: AsyncSession, ticket: Ticket, reason: str, key: str,
                   not_before: datetime | None = None) -> int:  # fmt: skip
    """Tell the district staff above the ticket's compound; once per ``key``."""
    count = 0
    for staff in await district_staff_of(session=session, compound_id=ticket.compound_id):
        queued = await outbox.enqueue(
            session=session, recipient=staff, kind="escalation", template="staff_escalation",
            params={"ticket_id": ticket.id, "reason": reason},
            dedupe_key=f"escalate:{key}:{staff.id}", not_before=not_before,
        )  # fmt: skip
        count += queued is not None
    return count


async def answer_comment(
    *, session: AsyncSession, survey: Survey | None, user: User, text: str
) -> bool:
    """Words after the taps. When the answer sent the ticket back, they also go into the
    ticket (what is still wrong), for its workers. Returns True when they went into it."""
    survey = _check(survey=survey, user=user)
    answer = await _answer_of(session, survey)
    if answer is None:
        raise SurveyClosed("foreign")
    answer.comment = ((answer.comment + "\n") if answer.comment else "") + text[:2000]
    went_back = answer.resolved is False or answer.score in LOW_SCORES
    if went_back and survey.ticket_id is not None:
        session.add(
            TicketEvent(
                ticket_id=survey.ticket_id, actor_id=user.id, action="commented", note=text[:2000]
            )
        )
    await session.flush()
    return went_back and survey.ticket_id is not None


# --- acceptance (民意验收) ----------------------------------------------------------------


async def raised_items(*, session: AsyncSession, compound_id: int, user_id: int) -> list[PlanItem]:
    """The plan items of a compound in the categories this resident raised (wrote or
    endorsed a ticket about), in plan order."""
    endorsed = select(Endorsement.ticket_id).where(Endorsement.user_id == user_id)
    categories = select(Ticket.category).where(
        Ticket.compound_id == compound_id,
        (col(Ticket.author_id) == user_id) | col(Ticket.id).in_(endorsed),
    )
    statement = (
        select(PlanItem)
        .where(PlanItem.compound_id == compound_id, col(PlanItem.category).in_(categories))
        .order_by(col(PlanItem.id))
    )
    return list((await session.exec(statement)).all())


async def open_acceptance_surveys(
    *, session: AsyncSession, compound: Compound, now: datetime, expiry: timedelta,
    not_before: datetime | None = None,
) -> int:  # fmt: skip
    """Ask every resident of a completed compound once (the survey's unique key)."""
    asked = select(Survey.user_id).where(
        Survey.kind == SurveyKind.acceptance, Survey.compound_id == compound.id
    )
    residents = (
        await session.exec(
            select(User).where(
                User.compound_id == compound.id, User.role == "resident",
                col(User.id).not_in(asked),
            )
        )
    ).all()  # fmt: skip
    for resident in residents:
        survey = Survey(
            kind=SurveyKind.acceptance, compound_id=compound.id, user_id=id_of(resident),
            sent_at=now, expires_at=now + expiry, created_at=now,
        )  # fmt: skip
        session.add(survey)
        await session.flush()
        await outbox.enqueue(
            session=session, recipient=resident, kind="survey", template="survey_acceptance",
            params={"survey_id": survey.id}, dedupe_key=f"survey:{survey.id}",
            not_before=not_before,
        )  # fmt: skip
    return len(residents)


async def answer_acceptance(
    *, session: AsyncSession, survey: Survey | None, user: User, item_id: int, score: int,
    now: datetime | None = None,
) -> PlanItem | None:  # fmt: skip
    """Score the whole renovation (``item_id`` 0) or one plan item. Returns the next item to
    ask about, or None when the survey is complete."""
    survey, now = _check(survey=survey, user=user), now or utcnow()
    if (
        survey.kind != SurveyKind.acceptance
        or survey.compound_id is None  # never, for an acceptance survey
        or not 1 <= score <= 5
    ):
        raise SurveyClosed("foreign")
    answer = await _answer_of(session, survey)
    items = await raised_items(
        session=session,
        compound_id=survey.compound_id,
        user_id=id_of(user),
    )
    if item_id == 0:
        if answer is not None:
            raise SurveyClosed("answered")
        answer = SurveyAnswer(survey_id=id_of(survey), score=score, answered_at=now)
        session.add(answer)
        survey.state = SurveyState.answered
    else:
        if answer is None or item_id not in {i.id for i in items}:
            raise SurveyClosed("foreign")
        if str(item_id) in answer.item_scores:
            raise SurveyClosed("answered")
        answer.item_scores = {**answer.item_scores, str(item_id): score}  # a new dict: saved
    await session.flush()
    return next((i for i in items if str(i.id) not in answer.item_scores), None)


@dataclass(frozen=True, slots=True)
class Acceptance:
    answers: int
    overall: float | None  # mean of 1–5
    items: dict[int, tuple[float, int]]  # plan item id → (mean, answers)


async def compounds_with_acceptance(
    *, session: AsyncSession, compound_ids: Collection[int]
) -> list[int]:
    """Which of ``compound_ids`` have 民意验收 answers (for the monthly report)."""
    statement = (
        select(Survey.compound_id)
        .join(SurveyAnswer, col(SurveyAnswer.survey_id) == col(Survey.id))
        .where(Survey.kind == SurveyKind.acceptance, col(Survey.compound_id).in_(compound_ids))
        .distinct()
    )
    return sorted(cid for cid in (await session.exec(statement)).all() if cid is not None)


async def acceptance_results(*, session: AsyncSession, compound_id: int) -> Acceptance:
    """民意验收 figures for the compound board and the monthly report."""
    rows = (
        await session.exec(
            select(SurveyAnswer)
            .join(Survey, col(Survey.id) == col(SurveyAnswer.survey_id))
            .where(Survey.kind == SurveyKind.acceptance, Survey.compound_id == compound_id)
        )
    ).all()
    scores = [r.score for r in rows if r.score is not None]
    per_item: dict[int, list[int]] = {}
    for row in rows:
        for key, value in (row.item_scores or {}).items():
            per_item.setdefault(int(key), []).append(int(value))
    return Acceptance(
        answers=len(scores),
        overall=sum(scores) / len(scores) if scores else None,
        items={k: (sum(v) / len(v), len(v)) for k, v in per_item.items()},
    )
