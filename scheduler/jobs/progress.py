"""Progress pushes (两公开): residents hear of their compound's renovation without asking.

- a compound's stage change reaches its residents at once (every few minutes); when the stage
  becomes 已竣工 every resident also gets the 民意验收 acceptance survey;
- plan item progress and status are batched into one weekly digest per compound, for the
  residents who raised an item's category or follow the compound; nothing changed, no message.

What residents were last told is kept beside the figures (``announced_*``) and updated in the
same transaction as the messages, so a rerun finds nothing new to tell; a compound or item seen
for the first time is taken as told.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.settings import Settings
from models import outbox
from models.db import stored_ids
from models.surveys import open_acceptance_surveys
from models.tables import (
    Compound,
    Endorsement,
    PlanItem,
    RenovationStage,
    Role,
    Ticket,
    User,
)
from scheduler.jobs.common import BATCH, in_batches, not_before


async def audience(
    *, session: AsyncSession, compound_id: int, categories: set[str] | None = None
) -> list[User]:
    """Residents following the compound (bound to it), and — for ``categories`` — everyone who
    raised one of them there (wrote or endorsed a ticket)."""
    condition = (col(User.compound_id) == compound_id) & (col(User.role) == Role.resident)
    if categories:
        tickets = select(Ticket.id).where(
            Ticket.compound_id == compound_id, col(Ticket.category).in_(categories)
        )
        authors = select(Ticket.author_id).where(
            Ticket.compound_id == compound_id, col(Ticket.category).in_(categories)
        )
        endorsers = select(Endorsement.user_id).where(col(Endorsement.ticket_id).in_(tickets))
        condition = condition | col(User.id).in_(authors) | col(User.id).in_(endorsers)
    statement = select(User).where(condition).order_by(col(User.id))
    return list((await session.exec(statement)).all())


async def sweep_stage_changes(
    *, session_factory: async_sessionmaker[AsyncSession], settings: Settings, now: datetime
) -> int:
    """Tell residents of every compound whose stage changed. Returns messages + surveys."""
    changed = (col(Compound.announced_stage).is_(None)) | (
        col(Compound.announced_stage) != col(Compound.renovation_stage)
    )
    wait = not_before(now, settings)
    expiry = timedelta(days=settings.survey_expiry_days)

    async def fetch(session: AsyncSession, after: int | None) -> list[int]:
        statement = select(Compound.id).where(changed).order_by(col(Compound.id)).limit(BATCH)
        if after is not None:
            statement = statement.where(col(Compound.id) > after)
        return stored_ids((await session.exec(statement)).all())

    async def handle(session: AsyncSession, compound_id: int) -> int:
        compound = await session.get(Compound, compound_id)
        if compound is None:
            return 0
        before, stage = compound.announced_stage, compound.renovation_stage
        compound.announced_stage = stage
        if before is None:
            return 0  # first seen: nothing to announce
        count = 0
        for resident in await audience(session=session, compound_id=compound_id):
            message = await outbox.enqueue(
                session=session, recipient=resident, kind="progress", template="compound_stage",
                params={"compound_id": compound.id, "stage": stage},
                dedupe_key=f"stage:{compound.id}:{before}>{stage}:{now:%Y%m%d%H%M}:{resident.id}",
                not_before=wait,
            )  # fmt: skip
            count += message is not None
        if stage == RenovationStage.completed:
            count += await open_acceptance_surveys(
                session=session, compound=compound, now=now, expiry=expiry, not_before=wait
            )
        return count

    return await in_batches(session_factory, fetch, handle)


async def sweep_progress_digest(
    *, session_factory: async_sessionmaker[AsyncSession], settings: Settings, now: datetime
) -> int:
    """One digest per compound of what its plan items did since the last one."""
    changed = (
        col(PlanItem.announced_status).is_(None)
        | col(PlanItem.announced_progress).is_(None)
        | (col(PlanItem.announced_status) != col(PlanItem.status))
        | (col(PlanItem.announced_progress) != col(PlanItem.progress))
    )
    wait = not_before(now, settings)

    async def fetch(session: AsyncSession, after: int | None) -> list[int]:
        statement = (
            select(PlanItem.compound_id)
            .where(changed)
            .distinct()
            .order_by(col(PlanItem.compound_id))
            .limit(BATCH)
        )
        if after is not None:
            statement = statement.where(col(PlanItem.compound_id) > after)
        return stored_ids((await session.exec(statement)).all())

    async def handle(session: AsyncSession, compound_id: int) -> int:
        items = (
            await session.exec(
                select(PlanItem)
                .where(PlanItem.compound_id == compound_id, changed)
                .order_by(col(PlanItem.id))
            )
        ).all()
        news = []
        for item in items:
            if item.announced_status is not None and item.announced_progress is not None:
                news.append(
                    {"id": item.id, "from_status": item.announced_status,
                     "from_progress": item.announced_progress,
                     "status": item.status, "progress": item.progress}
                )  # fmt: skip
            item.announced_status, item.announced_progress = item.status, item.progress
        if not news:
            return 0
        count = 0
        categories = {i.category for i in items if i.id in {n["id"] for n in news}}
        for resident in await audience(
            session=session, compound_id=compound_id, categories=categories
        ):
            message = await outbox.enqueue(
                session=session, recipient=resident, kind="progress", template="progress_digest",
                params={"compound_id": compound_id, "items": news},
                dedupe_key=f"progress:{compound_id}:{now:%Y%m%d%H%M}:{resident.id}",
                not_before=wait,
            )  # fmt: skip
            count += message is not None
        return count

    return await in_batches(session_factory, fetch, handle)
