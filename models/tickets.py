"""Tickets: creating them, moving them through the lifecycle, endorsing them.

Handlers and scheduler jobs call these functions; each one leaves the session consistent and
queues the notifications its change causes (through the outbox, in the same transaction).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models import deadlines, outbox
from models.config import ModelSettings, get_model_settings
from models.db import id_of, utcnow
from models.lifecycle import OPEN_STATUSES, Actor, check_transition
from models.limits import checked
from models.privacy import public_snippet
from models.tables import (
    Endorsement,
    PlanItem,
    Role,
    Ticket,
    TicketAttachment,
    TicketEvent,
    TicketStatus,
    User,
)
from models.users import worker_compound_ids, workers_of_compound
from nlu.taxonomy import load_taxonomy
from nlu.urgent import urgent_in

REMIND_INTERVAL = timedelta(hours=24)  # 催办: once per 24 h
REFERENCE_TZ = ZoneInfo("Asia/Shanghai")


class TicketPermissionError(PermissionError):
    pass


@dataclass(frozen=True, slots=True)
class Classification:
    category: str
    source: str = "nlu"  # nlu / resident / worker
    intent: str | None = None
    confidence: float | None = None
    model_version: str | None = None


def make_reference(ticket_id: int, created_at: datetime) -> str:
    """Short enough to read out on the phone: year+month, then the ticket's number."""
    return f"{created_at.astimezone(REFERENCE_TZ):%y%m}-{ticket_id:04d}"


async def create_ticket(
    *,
    session: AsyncSession,
    author: User,
    compound_id: int,
    text: str,
    normalized_text: str,
    classification: Classification,
    urgent: bool = False,
    building: str | None = None,
    unit: str | None = None,
    latitude: float | None = None,
    longitude: float | None = None,
    attachments: Sequence[tuple[str, str, str | None]] = (),
    now: datetime | None = None,
    settings: ModelSettings | None = None,
) -> Ticket:
    """Create a ticket and tell the compound's workers (at once, day or night, when urgent).
    Its deadlines are set here, in working days (models/deadlines.py)."""
    now = now or utcnow()
    settings = settings or get_model_settings()
    # Whatever path the demand took (a button, a resumed draft), danger words in its text
    # make it urgent: the rule is checked here, where every ticket is born.
    urgent = urgent or urgent_in(text) is not None
    category = load_taxonomy().get(classification.category)
    ticket = Ticket(
        author_id=id_of(author),
        compound_id=compound_id,
        text_original=text,
        text_normalized=normalized_text,
        category=category.id,
        tier=category.tier.id,
        category_source=classification.source,
        nlu_intent=classification.intent,
        nlu_confidence=classification.confidence,
        nlu_model_version=classification.model_version,
        urgent=urgent,
        building=building or author.building,
        unit=unit or author.unit,
        latitude=latitude,
        longitude=longitude,
        response_due_at=deadlines.response_due(now, urgent=urgent, settings=settings),
        resolution_due_at=deadlines.resolution_due(
            now, tier=category.tier.id, urgent=urgent, settings=settings
        ),
        created_at=now,
        updated_at=now,
    )
    session.add(ticket)
    await session.flush()
    ticket.reference = make_reference(id_of(ticket), now)
    attach(session=session, ticket=ticket, attachments=attachments)
    session.add(
        TicketEvent(
            ticket_id=id_of(ticket),
            actor_id=author.id,
            action="created",
            to_status=TicketStatus.new,
            created_at=now,
        )
    )
    await tell_workers(
        session, ticket, template="worker_new_ticket", kind="alert" if urgent else None,
        dedupe=f"new:{ticket.id}", urgent=urgent,
    )  # fmt: skip
    await session.flush()
    return ticket


def attach(
    *, session: AsyncSession, ticket: Ticket, attachments: Sequence[tuple[str, str, str | None]]
) -> None:
    for kind, file_id, file_unique_id in attachments:
        session.add(
            TicketAttachment(
                ticket_id=id_of(ticket), kind=kind, file_id=file_id, file_unique_id=file_unique_id
            )
        )


async def tell_workers(
    session: AsyncSession, ticket: Ticket, *, template: str, dedupe: str,
    kind: str | None = None, urgent: bool = False, params: dict[str, object] | None = None,
) -> None:  # fmt: skip
    """Queue ``template`` about ``ticket`` for its assigned worker, or, while nobody is
    assigned, every worker of its compound."""
    workers = await workers_of_compound(session=session, compound_id=ticket.compound_id)
    if ticket.assignee_id is not None:
        workers = [w for w in workers if w.id == ticket.assignee_id] or workers
    for worker in workers:
        await outbox.enqueue(
            session=session,
            recipient=worker,
            kind=kind or template,
            template=template,
            params={"ticket_id": ticket.id, **(params or {})},
            urgent=urgent,
            dedupe_key=f"{dedupe}:{worker.id}",
        )


async def actor_for(*, session: AsyncSession, ticket: Ticket, user: User | None) -> Actor:
    """The part ``user`` plays for ``ticket``; None is the system. Raises if they have none."""
    if user is None:
        return Actor.system
    if Role(user.role).is_staff and ticket.compound_id in await worker_compound_ids(
        session=session, user=user
    ):
        return Actor.admin if Role(user.role).oversees else Actor.worker
    if user.id == ticket.author_id:
        return Actor.author
    raise TicketPermissionError("this ticket is not yours to change")


async def followers(*, session: AsyncSession, ticket: Ticket) -> list[User]:
    """Who hears about a ticket's changes: its author and every endorser."""
    endorser_ids = select(Endorsement.user_id).where(Endorsement.ticket_id == ticket.id)
    statement = select(User).where(
        (col(User.id) == ticket.author_id) | col(User.id).in_(endorser_ids)
    )
    return list((await session.exec(statement)).all())


async def change_status(
    *,
    session: AsyncSession,
    ticket: Ticket,
    target: TicketStatus,
    actor: User | None,
    note: str | None = None,
    merged_into: Ticket | None = None,
    now: datetime | None = None,
    notify: bool = True,
) -> TicketEvent:
    """Move ``ticket`` to ``target`` if the lifecycle allows ``actor`` to, record the event and
    tell the author and endorsers (unless ``notify`` is False: a survey closing the ticket they
    just answered about). Raises IllegalTransition / TicketPermissionError / TooLong (the
    note), changing nothing."""
    now = now or utcnow()
    checked(TicketEvent.note, note)
    role = await actor_for(session=session, ticket=ticket, user=actor)
    transition = check_transition(ticket.status, target, role, note)
    if target == TicketStatus.merged and (merged_into is None or merged_into.id == ticket.id):
        raise ValueError("a merge needs another ticket to merge into")
    merged_into_id = merged_into.id if merged_into is not None else None
    source = ticket.status
    ticket.status, ticket.updated_at = target, now
    if target == TicketStatus.accepted:
        ticket.accepted_at = now
        if actor is not None and role == Actor.worker:
            ticket.assignee_id = actor.id
    elif target == TicketStatus.planned:
        await _plan_deadline(session, ticket)
    elif target == TicketStatus.resolved:
        ticket.resolved_at = now
    elif target in (TicketStatus.closed, TicketStatus.rejected, TicketStatus.withdrawn):
        ticket.closed_at = now
    elif target == TicketStatus.merged:
        ticket.merged_into_id, ticket.closed_at = merged_into_id, now
    if transition.action == "reopened":
        ticket.reopen_count += 1
        ticket.resolved_at = None
    event = TicketEvent(
        ticket_id=id_of(ticket),
        actor_id=actor.id if actor else None,
        action=transition.action,
        from_status=source,
        to_status=target,
        note=note,
        created_at=now,
    )
    session.add(event)
    await session.flush()
    if role in (Actor.author, Actor.system) and transition.action == "reopened":
        await tell_workers(
            session, ticket, template="worker_ticket_news", kind="alert",
            dedupe=f"news:{event.id}", urgent=ticket.urgent, params={"event_id": event.id},
        )  # fmt: skip
    for person in await followers(session=session, ticket=ticket) if notify else ():
        if actor is not None and person.id == actor.id:
            continue  # they know: they did it
        await outbox.enqueue(
            session=session,
            recipient=person,
            kind="ticket_status",
            template="ticket_status",
            params={"ticket_id": ticket.id, "event_id": event.id},
            urgent=ticket.urgent,  # news of a gas leak does not wait for the morning
            dedupe_key=f"status:{event.id}:{person.id}",
        )
    return event


async def _plan_deadline(session: AsyncSession, ticket: Ticket) -> None:
    """A ticket planned into its compound's renovation plan is due when the plan item is."""
    item = (
        await session.exec(
            select(PlanItem)
            .where(
                PlanItem.compound_id == ticket.compound_id,
                PlanItem.category == ticket.category,
                col(PlanItem.due_date).is_not(None),
            )
            .order_by(col(PlanItem.due_date))
        )
    ).first()
    if item is not None and item.due_date is not None:
        ticket.resolution_due_at = deadlines.planned_due(
            item.due_date, settings=get_model_settings()
        )


async def endorse(*, session: AsyncSession, ticket: Ticket, user: User) -> bool:
    """A neighbour's +1 (我也反映). Returns False when they had already endorsed or wrote it."""
    if user.id == ticket.author_id:
        return False
    exists = await session.exec(
        select(Endorsement.id).where(
            Endorsement.ticket_id == ticket.id, Endorsement.user_id == user.id
        )
    )
    if exists.first() is not None:
        return False
    session.add(Endorsement(ticket_id=id_of(ticket), user_id=id_of(user)))
    session.add(TicketEvent(ticket_id=id_of(ticket), actor_id=user.id, action="endorsed"))
    await session.flush()
    return True


async def endorsement_count(*, session: AsyncSession, ticket_id: int) -> int:
    result = await session.exec(
        select(func.count()).select_from(Endorsement).where(Endorsement.ticket_id == ticket_id)
    )
    return int(result.one())


async def ticket_events(*, session: AsyncSession, ticket_id: int) -> list[TicketEvent]:
    statement = (
        select(TicketEvent)
        .where(TicketEvent.ticket_id == ticket_id)
        .order_by(col(TicketEvent.created_at), col(TicketEvent.id))
    )
    return list((await session.exec(statement)).all())


class TooSoon(Exception):
    """催办 again within 24 hours; ``next_allowed`` says when it is possible."""

    def __init__(self, next_allowed: datetime) -> None:
        super().__init__(f"next reminder possible at {next_allowed.isoformat()}")
        self.next_allowed = next_allowed


async def add_comment(
    *,
    session: AsyncSession,
    ticket: Ticket,
    author: User,
    text: str | None,
    attachments: Sequence[tuple[str, str, str | None]] = (),
) -> TicketEvent:
    """补充说明: the author adds words or photos to their open ticket. Raises
    TicketPermissionError, or TooLong when the words do not fit a note; nothing is added then."""
    checked(TicketEvent.note, text)
    if ticket.author_id != author.id:
        raise TicketPermissionError("only the author adds to a ticket")
    if ticket.status not in OPEN_STATUSES:
        raise TicketPermissionError("the ticket is no longer open")
    attach(session=session, ticket=ticket, attachments=attachments)
    event = TicketEvent(
        ticket_id=id_of(ticket),
        actor_id=author.id,
        action="commented",
        note=text or None,
    )
    session.add(event)
    ticket.updated_at = utcnow()
    await session.flush()
    # The worker hears at once (an answer to 请补充, a new photo): quiet hours only for
    # non-urgent tickets.
    await tell_workers(
        session, ticket, template="worker_ticket_news", kind="alert",
        dedupe=f"news:{event.id}", urgent=ticket.urgent, params={"event_id": event.id},
    )  # fmt: skip
    return event


async def remind(
    *, session: AsyncSession, ticket: Ticket, user: User, now: datetime | None = None
) -> TicketEvent:
    """催办: the author asks for progress, at most once per 24 h; the workers are told."""
    now = now or utcnow()
    if ticket.author_id != user.id:
        raise TicketPermissionError("only the author sends reminders")
    if ticket.status not in OPEN_STATUSES:
        raise TicketPermissionError("the ticket is no longer open")
    if ticket.last_reminded_at and now - ticket.last_reminded_at < REMIND_INTERVAL:
        raise TooSoon(ticket.last_reminded_at + REMIND_INTERVAL)
    ticket.last_reminded_at = now
    event = TicketEvent(
        ticket_id=id_of(ticket), actor_id=user.id, action="reminded", created_at=now
    )
    session.add(event)
    await session.flush()
    await tell_workers(session, ticket, template="worker_reminder", dedupe=f"remind:{event.id}")
    return event


async def tickets_followed_by(
    *, session: AsyncSession, user: User, offset: int = 0, limit: int = 5
) -> tuple[list[Ticket], int]:
    """The tickets a resident wrote or endorsed, newest activity first, and how many in all."""
    endorsed = select(Endorsement.ticket_id).where(Endorsement.user_id == user.id)
    condition = (col(Ticket.author_id) == user.id) | col(Ticket.id).in_(endorsed)
    total = (await session.exec(select(func.count()).select_from(Ticket).where(condition))).one()
    statement = (
        select(Ticket)
        .where(condition)
        .order_by(col(Ticket.updated_at).desc(), col(Ticket.id).desc())
        .offset(offset)
        .limit(limit)
    )
    return list((await session.exec(statement)).all()), int(total)


async def can_view(*, session: AsyncSession, ticket: Ticket, user: User) -> bool:
    """Its author, its endorsers, and the staff responsible for its compound."""
    if user.id == ticket.author_id:
        return True
    if ticket.compound_id in await worker_compound_ids(session=session, user=user):
        return True
    endorsed = await session.exec(
        select(Endorsement.id).where(
            Endorsement.ticket_id == ticket.id, Endorsement.user_id == user.id
        )
    )
    return endorsed.first() is not None


async def ticket_photos(*, session: AsyncSession, ticket: Ticket, viewer: User) -> list[str]:
    """The photos attached to a ticket (its own and those added later), oldest first, for its
    author and the staff responsible for it; endorsers see none (they could show who wrote
    it)."""
    try:
        actor = await actor_for(session=session, ticket=ticket, user=viewer)
    except TicketPermissionError:
        return []
    if actor not in (Actor.author, Actor.worker, Actor.admin):
        return []
    statement = (
        select(TicketAttachment.file_id)
        .where(TicketAttachment.ticket_id == ticket.id, TicketAttachment.kind == "photo")
        .order_by(col(TicketAttachment.id))
    )
    return list((await session.exec(statement)).all())


def snippet(text: str, length: int = 12) -> str:
    """The start of a demand, on one line, for a button beside its reference."""
    return public_snippet(" ".join(text.split()), length)
