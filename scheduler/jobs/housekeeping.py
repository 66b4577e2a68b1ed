"""Housekeeping: tickets filed under 其他 while Rasa was down are classified again once it is
back. Nobody is messaged; the ticket's history records the change and the model version.

Such tickets carry no NLU intent (the bot had none to store); after a pass they carry the
model's, so each ticket is looked at once.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.settings import Settings
from models.db import id_of
from models.tables import Ticket, TicketEvent
from nlu.client import NLUClient
from nlu.taxonomy import load_taxonomy
from scheduler.jobs.common import BATCH

OTHER = "other"


async def sweep_reclassify(
    *, session_factory: async_sessionmaker[AsyncSession], settings: Settings, now: datetime,
    nlu: NLUClient | None = None,
) -> int:  # fmt: skip
    """Returns how many tickets changed category."""
    own = nlu is None
    client = nlu or NLUClient(settings.rasa_url, timeout=settings.nlu_timeout_seconds)
    try:
        return await _reclassify(session_factory, settings, now, client)
    finally:
        if own:
            await client.close()


async def _reclassify(
    session_factory: async_sessionmaker[AsyncSession], settings: Settings, now: datetime,
    nlu: NLUClient,
) -> int:  # fmt: skip
    taxonomy = load_taxonomy()
    changed = 0
    async with session_factory() as session:
        ids = (
            await session.exec(
                select(Ticket.id)
                .where(
                    Ticket.category == OTHER,
                    col(Ticket.nlu_intent).is_(None),
                    Ticket.category_source != "worker",
                )
                .order_by(col(Ticket.id))
                .limit(BATCH)
            )
        ).all()
    for ticket_id in ids:
        async with session_factory() as session, session.begin():
            ticket = await session.get(Ticket, ticket_id)
            if ticket is None or ticket.category != OTHER or ticket.nlu_intent is not None:
                continue
            result = await nlu.interpret(ticket.text_original)
            if not result.available:
                return changed  # still down: try again next time
            ticket.nlu_intent, ticket.nlu_confidence = result.intent, result.confidence
            ticket.nlu_model_version = result.model_version
            category = result.category
            if (
                category is None
                or category == OTHER
                or result.confidence < settings.nlu_confidence_threshold
            ):
                continue
            ticket.category, ticket.tier = category, taxonomy.get(category).tier.id
            ticket.category_source, ticket.updated_at = "nlu", now
            ticket.version += 1
            session.add(
                TicketEvent(
                    ticket_id=id_of(ticket),
                    actor_id=None,
                    action="reclassified",
                    note=f"{OTHER} → {category} (model {result.model_version})",
                    created_at=now,
                )
            )
            changed += 1
    return changed
