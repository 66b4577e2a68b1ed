"""回访: the day after a ticket is resolved, from ``survey_hour`` (10:00), its author and its
endorsers are asked; a reminder after ``survey_reminder_days``; no answer after
``survey_expiry_days`` ends the survey and closes the ticket as 未回复."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.settings import Settings
from models import surveys
from models.db import stored_ids
from models.tables import Survey, SurveyKind, SurveyState, Ticket, TicketStatus
from scheduler.jobs.common import (
    BATCH,
    day_start,
    in_batches,
    in_whole_batches,
    local_day,
    not_before,
)


async def sweep_surveys(
    *, session_factory: async_sessionmaker[AsyncSession], settings: Settings, now: datetime
) -> int:
    """Open due surveys, remind, expire. Returns how many surveys were touched."""
    return (
        await open_due(session_factory=session_factory, settings=settings, now=now)
        + await remind_due(session_factory=session_factory, settings=settings, now=now)
        + await expire_due(session_factory=session_factory, settings=settings, now=now)
    )


async def open_due(
    *, session_factory: async_sessionmaker[AsyncSession], settings: Settings, now: datetime
) -> int:
    local = now.astimezone(settings.tz)
    if local.time() < time(settings.survey_hour):
        return 0  # not before 10:00
    # Resolved before today (local): "the day after". Who was already asked since the last
    # resolution is sorted out per batch (models/surveys.py): an anti-join here would rescan
    # every survey for every batch.
    resolved_before = day_start(local_day(now, settings), settings)
    expiry = timedelta(days=settings.survey_expiry_days)
    wait = not_before(now, settings)

    async def fetch(session: AsyncSession, after: int | None) -> list[int]:
        statement = (
            select(Ticket.id)
            .where(
                Ticket.status == TicketStatus.resolved,
                col(Ticket.resolved_at) < resolved_before,
            )
            .order_by(col(Ticket.id))
            .limit(BATCH)
        )
        if after is not None:
            statement = statement.where(col(Ticket.id) > after)
        return stored_ids((await session.exec(statement)).all())

    async def handle(session: AsyncSession, ticket_ids: list[int]) -> int:
        tickets = (await session.exec(select(Ticket).where(col(Ticket.id).in_(ticket_ids)))).all()
        return await surveys.open_ticket_surveys(
            session=session, tickets=list(tickets), now=now, expiry=expiry, not_before=wait
        )

    return await in_whole_batches(session_factory, fetch, handle)


async def remind_due(
    *, session_factory: async_sessionmaker[AsyncSession], settings: Settings, now: datetime
) -> int:
    cutoff = now - timedelta(days=settings.survey_reminder_days)
    wait = not_before(now, settings)

    async def fetch(session: AsyncSession, after: int | None) -> list[int]:
        statement = (
            select(Survey.id)
            .where(
                Survey.state == SurveyState.pending,
                col(Survey.reminded_at).is_(None),
                col(Survey.sent_at) <= cutoff,
                col(Survey.expires_at) > now,
            )
            .order_by(col(Survey.id))
            .limit(BATCH)
        )
        if after is not None:
            statement = statement.where(col(Survey.id) > after)
        return stored_ids((await session.exec(statement)).all())

    async def handle(session: AsyncSession, survey_id: int) -> int:
        survey = await session.get(Survey, survey_id)
        if survey is None:
            return 0
        await surveys.remind(session=session, survey=survey, now=now, not_before=wait)
        return 1

    return await in_batches(session_factory, fetch, handle)


async def expire_due(
    *,
    session_factory: async_sessionmaker[AsyncSession],
    settings: Settings,  # noqa: ARG001 - every sweep takes the same keywords
    now: datetime,
) -> int:
    async def fetch(session: AsyncSession, after: int | None) -> list[int]:
        statement = (
            select(Survey.id)
            .where(Survey.state == SurveyState.pending, col(Survey.expires_at) <= now)
            .order_by(col(Survey.id))
            .limit(BATCH)
        )
        if after is not None:
            statement = statement.where(col(Survey.id) > after)
        return stored_ids((await session.exec(statement)).all())

    async def handle(session: AsyncSession, survey_id: int) -> int:
        survey = await session.get(Survey, survey_id)
        if survey is None:
            return 0
        await surveys.expire(session=session, survey=survey, now=now)
        return 1

    expired = await in_batches(session_factory, fetch, handle)
    # An author who tapped 已解决 but gave no score: the ticket is closed all the same.
    async with session_factory() as session, session.begin():
        tickets = (
            await session.exec(
                select(Ticket)
                .join(Survey, col(Survey.ticket_id) == col(Ticket.id))
                .where(
                    Survey.kind == SurveyKind.ticket,
                    Survey.state == SurveyState.answered,
                    col(Survey.user_id) == col(Ticket.author_id),
                    col(Survey.expires_at) <= now,
                    col(Survey.created_at) >= col(Ticket.resolved_at),
                    Ticket.status == TicketStatus.resolved,
                )
                .limit(BATCH)
            )
        ).all()
        for ticket in tickets:
            await surveys.close_answered(session=session, ticket=ticket, now=now)
    return expired + len(tickets)
