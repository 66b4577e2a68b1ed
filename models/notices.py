"""Notices (社区公告): staff broadcast to residents, scheduled, tracked, recallable.

A notice is created ``scheduled`` (for now or a later time). ``start_due`` turns a due one
into ``sending``: it resolves the audience at that moment and writes one outbox row per
resident with the dedupe key ``notice:<notice>:<user>``, so doing it twice (two processes, a
crash between the rows and the state) never queues anyone twice. The outbox sender delivers
them within Telegram's limits and quiet hours; ``progress`` reads the rows back for the
author's live report, and ``finish_if_done`` moves the notice to ``sent``.

Scope is checked here, not only in menus: a worker addresses their compounds, district staff
their district, city staff everything (``models.users.worker_compound_ids``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from pydantic import BaseModel, Field
from sqlalchemy import ColumnElement, case, delete, func, or_, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.db import id_of, stored_ids, utcnow
from models.tables import (
    Compound,
    Endorsement,
    Notice,
    NoticeAck,
    NoticeCompound,
    NoticeKind,
    NoticeState,
    OutboxMessage,
    OutboxState,
    Role,
    Ticket,
    User,
)
from models.users import worker_compound_ids

# Telegram allows 4,096 characters in a message and 1,024 in a caption; the notice's header
# and footer take the rest.
MAX_TEXT = 3800
MAX_CAPTION = 900
RECALL_WINDOW = timedelta(hours=48)  # Telegram deletes a bot's messages for 48 hours
OUTBOX_KIND = "notice"
TEMPLATE = "notice"


class NoticeError(Exception):
    """A notice that cannot be created or changed; ``reason`` names why."""

    def __init__(self, reason: str, **details: object) -> None:
        super().__init__(reason)
        self.reason, self.details = reason, details


class Audience(BaseModel):
    """Who a notice is for: residents of compounds (or of a district, or everyone), narrowed
    to buildings or units of one compound, or to residents who raised a category."""

    compound_ids: list[int] = Field(default_factory=list)
    district_id: int | None = None  # the whole district (district or city staff)
    everything: bool = False  # every compound (city staff)
    buildings: list[str] = Field(default_factory=list)  # "3号楼" or "3号楼|2单元"; one compound
    category: str | None = None  # residents who reported or endorsed this category

    @property
    def is_empty(self) -> bool:
        return not (self.compound_ids or self.district_id or self.everything)


def dedupe_key(*, notice_id: int, user_id: int) -> str:
    return f"{OUTBOX_KIND}:{notice_id}:{user_id}"


def _rows_of(notice_id: int) -> ColumnElement[bool]:
    return col(OutboxMessage.dedupe_key).like(f"{OUTBOX_KIND}:{notice_id}:%")


# --- audience ---------------------------------------------------------------------------


async def check_scope(*, session: AsyncSession, author: User, audience: Audience) -> set[int]:
    """The compounds ``audience`` reaches, after checking ``author`` may address them all."""
    role = Role(author.role)
    if not role.is_staff:
        raise NoticeError("not_staff")
    allowed = await worker_compound_ids(session=session, user=author)
    if audience.everything:
        if role != Role.city_staff:
            raise NoticeError("scope")
        return allowed
    if audience.district_id is not None:
        if role == Role.worker or (
            role == Role.district_staff and audience.district_id != author.district_id
        ):
            raise NoticeError("scope")
        rows = await session.exec(
            select(Compound.id).where(Compound.district_id == audience.district_id)
        )
        return set(stored_ids(rows.all()))
    wanted = set(audience.compound_ids)
    if not wanted:
        raise NoticeError("empty_audience")
    if not wanted <= allowed:
        raise NoticeError("scope")
    if audience.buildings and len(wanted) != 1:
        raise NoticeError("buildings_need_one_compound")
    return wanted


def _audience_filter(audience: Audience, compound_ids: set[int]) -> list[ColumnElement[bool]]:
    where = [col(User.role) == Role.resident, col(User.compound_id).in_(compound_ids)]
    if audience.buildings:
        whole = [b for b in audience.buildings if "|" not in b]
        units = [tuple(b.split("|", 1)) for b in audience.buildings if "|" in b]
        alternatives: list[ColumnElement[bool]] = [col(User.building).in_(whole)] if whole else []
        alternatives += [(col(User.building) == b) & (col(User.unit) == u) for b, u in units]
        where.append(or_(*alternatives))
    if audience.category:
        authors = select(Ticket.author_id).where(
            Ticket.category == audience.category, col(Ticket.compound_id).in_(compound_ids)
        )
        endorsers = (
            select(Endorsement.user_id)
            .join(Ticket, col(Ticket.id) == col(Endorsement.ticket_id))
            .where(Ticket.category == audience.category, col(Ticket.compound_id).in_(compound_ids))
        )
        where.append(col(User.id).in_(authors) | col(User.id).in_(endorsers))
    return where


@dataclass(frozen=True, slots=True)
class Reach:
    """How an audience splits: who gets a message, who only sees the list, who is skipped."""

    total: int
    pushed: int
    opted_out: int  # notifications off (non-urgent notices): 社区公告 list only
    blocked: int  # blocked the bot: skipped


async def count_audience(
    *, session: AsyncSession, author: User, audience: Audience, urgent: bool
) -> Reach:
    compound_ids = await check_scope(session=session, author=author, audience=audience)
    statement = select(
        func.count(),
        func.sum(case((col(User.reachable).is_(False), 1), else_=0)),
        func.sum(
            case(
                (col(User.reachable).is_(True) & col(User.notifications_enabled).is_(False), 1),
                else_=0,
            )
        ),
    ).where(*_audience_filter(audience, compound_ids))
    total, blocked, off = (await session.exec(statement)).one()
    blocked, off = int(blocked or 0), 0 if urgent else int(off or 0)
    return Reach(total=total, pushed=total - blocked - off, opted_out=off, blocked=blocked)


async def buildings_of(*, session: AsyncSession, compound_id: int) -> list[tuple[str, str | None]]:
    """The (building, unit) pairs residents of a compound gave, for the building picker."""
    rows = await session.exec(
        select(col(User.building), col(User.unit))
        .where(User.compound_id == compound_id, col(User.building).is_not(None))
        .distinct()
    )
    pairs = [(building, unit) for building, unit in rows.all() if building is not None]
    return sorted(pairs, key=lambda r: (_natural(r[0]), _natural(r[1] or "")))


def _natural(text: str) -> tuple[int, str]:
    digits = "".join(c for c in text if c.isdigit())
    return (int(digits) if digits else 10**9, text)


async def categories_of(*, session: AsyncSession, compound_ids: set[int]) -> list[str]:
    """Categories residents of these compounds raised, most raised first."""
    rows = await session.exec(
        select(Ticket.category, func.count())
        .where(col(Ticket.compound_id).in_(compound_ids))
        .group_by(Ticket.category)
        .order_by(func.count().desc())
    )
    return [category for category, _count in rows.all()]


# --- composing ----------------------------------------------------------------------------


def check_text(text: str, *, with_attachment: bool) -> None:
    limit = MAX_CAPTION if with_attachment else MAX_TEXT
    if not text.strip():
        raise NoticeError("empty_text")
    if len(text) > limit:
        raise NoticeError("too_long", length=len(text), limit=limit)


async def create_notice(
    *,
    session: AsyncSession,
    author: User,
    audience: Audience,
    text: str,
    kind: NoticeKind = NoticeKind.general,
    urgent: bool = False,
    ask_ack: bool = False,
    attachment: tuple[str, str] | None = None,  # (photo / document, file_id)
    scheduled_at: datetime | None = None,  # None: now
    correction_of: Notice | None = None,
    now: datetime | None = None,
) -> Notice:
    """A scheduled notice (due at once when ``scheduled_at`` is None). Raises NoticeError:
    scope, empty_audience (nobody to tell), empty_text, too_long, in_the_past."""
    now = now or utcnow()
    compound_ids = await check_scope(session=session, author=author, audience=audience)
    check_text(text, with_attachment=attachment is not None)
    if scheduled_at is not None and scheduled_at < now - timedelta(minutes=1):
        raise NoticeError("in_the_past")
    reach = await count_audience(session=session, author=author, audience=audience, urgent=urgent)
    if reach.total == 0:
        raise NoticeError("empty_audience")
    notice = Notice(
        author_id=id_of(author),
        compound_id=next(iter(compound_ids)) if len(compound_ids) == 1 else None,
        audience_spec=audience.model_dump(mode="json"),
        kind=kind,
        text=text,
        urgent=urgent,
        ask_ack=ask_ack and NoticeKind(kind).may_ask_ack,
        attachment_kind=attachment[0] if attachment else None,
        attachment_file_id=attachment[1] if attachment else None,
        correction_of_id=correction_of.id if correction_of else None,
        scheduled_at=scheduled_at or now,
        state=NoticeState.scheduled,
    )
    session.add(notice)
    await session.flush()
    for compound_id in sorted(compound_ids):
        session.add(NoticeCompound(notice_id=id_of(notice), compound_id=compound_id))
    await session.flush()
    return notice


async def _own_notice(*, session: AsyncSession, author: User, notice_id: int) -> Notice:
    notice = await session.get(Notice, notice_id)
    if notice is None:
        raise NoticeError("unknown")
    if notice.author_id != author.id and Role(author.role) != Role.city_staff:
        raise NoticeError("not_yours")
    return notice


async def edit_scheduled(
    *,
    session: AsyncSession,
    author: User,
    notice_id: int,
    version: int,
    text: str,
    kind: NoticeKind,
    urgent: bool,
    ask_ack: bool,
    scheduled_at: datetime | None,
    attachment: tuple[str, str] | None,
    audience: Audience,
    now: datetime | None = None,
) -> Notice:
    """Change a notice that has not started. ``version`` is the one the author edited: a
    notice changed or started since then raises NoticeError("changed" / "started")."""
    now = now or utcnow()
    notice = await _own_notice(session=session, author=author, notice_id=notice_id)
    compound_ids = await check_scope(session=session, author=author, audience=audience)
    check_text(text, with_attachment=attachment is not None)
    result = await session.exec(
        update(Notice)
        .where(
            col(Notice.id) == notice_id,
            col(Notice.state) == NoticeState.scheduled,
            col(Notice.version) == version,
        )
        .values(
            text=text,
            kind=kind,
            urgent=urgent,
            ask_ack=ask_ack and NoticeKind(kind).may_ask_ack,
            scheduled_at=scheduled_at or now,
            audience_spec=audience.model_dump(mode="json"),
            attachment_kind=attachment[0] if attachment else None,
            attachment_file_id=attachment[1] if attachment else None,
            compound_id=next(iter(compound_ids)) if len(compound_ids) == 1 else None,
            version=version + 1,
        )
    )
    await session.refresh(notice)
    if result.rowcount != 1:
        raise NoticeError("started" if notice.state != NoticeState.scheduled else "changed")
    await session.exec(delete(NoticeCompound).where(col(NoticeCompound.notice_id) == notice_id))
    for compound_id in sorted(compound_ids):
        session.add(NoticeCompound(notice_id=notice_id, compound_id=compound_id))
    await session.flush()
    return notice


async def cancel_notice(
    *, session: AsyncSession, author: User, notice_id: int, now: datetime | None = None
) -> Notice:
    """Cancel a scheduled notice; one that has started raises NoticeError("started")."""
    notice = await _own_notice(session=session, author=author, notice_id=notice_id)
    result = await session.exec(
        update(Notice)
        .where(col(Notice.id) == notice_id, col(Notice.state) == NoticeState.scheduled)
        .values(
            state=NoticeState.cancelled, cancelled_at=now or utcnow(), version=Notice.version + 1
        )
    )
    await session.refresh(notice)
    if result.rowcount != 1:
        raise NoticeError("started")
    return notice


# --- sending --------------------------------------------------------------------------------


async def due_notice_ids(*, session: AsyncSession, now: datetime) -> list[int]:
    rows = await session.exec(
        select(Notice.id)
        .where(Notice.state == NoticeState.scheduled, col(Notice.scheduled_at) <= now)
        .order_by(col(Notice.scheduled_at))
    )
    return stored_ids(rows.all())


async def start_notice(
    *, session: AsyncSession, notice_id: int, now: datetime | None = None
) -> Notice | None:
    """scheduled → sending: write one outbox row per resident to push to. None when another
    process started it first (or it was cancelled). Idempotent per recipient."""
    now = now or utcnow()
    result = await session.exec(
        update(Notice)
        .where(col(Notice.id) == notice_id, col(Notice.state) == NoticeState.scheduled)
        .values(state=NoticeState.sending, started_at=now, version=Notice.version + 1)
    )
    if result.rowcount != 1:
        return None
    notice = await session.get(Notice, notice_id)
    assert notice is not None
    await session.refresh(notice)
    audience = Audience.model_validate(notice.audience_spec)
    author = await session.get_one(User, notice.author_id)
    try:
        compound_ids = await check_scope(session=session, author=author, audience=audience)
    except NoticeError:  # the author lost these compounds since: nothing goes out
        notice.state, notice.cancelled_at = NoticeState.cancelled, now
        await session.flush()
        return notice
    users = (
        await session.exec(select(User).where(*_audience_filter(audience, compound_ids)))
    ).all()
    existing = set(
        (await session.exec(select(OutboxMessage.dedupe_key).where(_rows_of(notice_id)))).all()
    )
    total = pushed = opted_out = blocked = 0
    for user in users:
        total += 1
        if not user.reachable:
            blocked += 1
            continue
        if not notice.urgent and not user.notifications_enabled:
            opted_out += 1
            continue
        pushed += 1
        key = dedupe_key(notice_id=notice_id, user_id=id_of(user))
        if key in existing:
            continue
        session.add(
            OutboxMessage(
                chat_id=user.chat_id,
                user_id=user.id,
                kind=OUTBOX_KIND,
                urgent=notice.urgent,
                payload={"template": TEMPLATE, "params": {"notice_id": notice_id}},
                dedupe_key=key,
                next_attempt_at=now,
            )
        )
    notice.recipients_total, notice.pushed = total, pushed
    notice.opted_out, notice.blocked = opted_out, blocked
    await session.flush()
    return notice


@dataclass(frozen=True, slots=True)
class Progress:
    total: int  # residents reached (list included)
    pushed: int  # messages to send
    delivered: int
    blocked: int  # skipped as blocked, or blocked the bot while sending
    failed: int
    waiting: int  # still in the outbox (quiet hours included)
    recalled: int
    acks: int

    @property
    def done(self) -> bool:
        return self.waiting == 0


async def progress(*, session: AsyncSession, notice: Notice) -> Progress:
    is_blocked = col(OutboxMessage.last_error).like("blocked:%")
    rows = await session.exec(
        select(
            OutboxMessage.state,
            func.sum(case((is_blocked, 1), else_=0)),
            func.count(),
        )
        .where(_rows_of(id_of(notice)))
        .group_by(OutboxMessage.state)
    )
    counts: dict[str, tuple[int, int]] = {
        state: (int(blocked or 0), int(n)) for state, blocked, n in rows.all()
    }
    parked_blocked, parked = counts.get(OutboxState.parked, (0, 0))
    acks = (
        await session.exec(
            select(func.count()).select_from(NoticeAck).where(NoticeAck.notice_id == notice.id)
        )
    ).one()
    return Progress(
        total=notice.recipients_total,
        pushed=notice.pushed,
        delivered=counts.get(OutboxState.sent, (0, 0))[1]
        + counts.get(OutboxState.recalled, (0, 0))[1],
        blocked=notice.blocked + parked_blocked,
        failed=parked - parked_blocked,
        waiting=counts.get(OutboxState.pending, (0, 0))[1]
        + counts.get(OutboxState.claimed, (0, 0))[1],
        recalled=counts.get(OutboxState.recalled, (0, 0))[1],
        acks=int(acks),
    )


async def finish_if_done(
    *, session: AsyncSession, notice: Notice, now: datetime | None = None
) -> Progress:
    """sending → sent once nothing is left in the outbox; the counts are kept on the notice."""
    current = await progress(session=session, notice=notice)
    notice.delivered, notice.failed = current.delivered, current.failed
    if current.done and notice.state == NoticeState.sending:
        notice.state, notice.sent_at = NoticeState.sent, now or utcnow()
    await session.flush()
    return current


async def active_notice_ids(*, session: AsyncSession, now: datetime | None = None) -> list[int]:
    """Notices whose report may still change: sending, or recalled lately (their messages
    are being deleted: 10,000 take minutes at Telegram's pace)."""
    recent = (now or utcnow()) - timedelta(hours=2)
    rows = await session.exec(
        select(Notice.id).where(
            (col(Notice.state) == NoticeState.sending) | (col(Notice.recalled_at) > recent)
        )
    )
    return stored_ids(rows.all())


# --- after sending ----------------------------------------------------------------------------


async def recall_notice(
    *, session: AsyncSession, author: User, notice_id: int, now: datetime | None = None
) -> Notice:
    """撤回: stop what is not sent yet and mark the sent messages for deletion (done by the
    notice dispatcher). Only within Telegram's 48 hours. Raises NoticeError."""
    now = now or utcnow()
    notice = await _own_notice(session=session, author=author, notice_id=notice_id)
    if notice.state not in (NoticeState.sending, NoticeState.sent):
        raise NoticeError("not_sent")
    if notice.recalled_at is not None:
        raise NoticeError("already_recalled")
    if notice.started_at and now - notice.started_at > RECALL_WINDOW:
        raise NoticeError("too_old")
    notice.recalled_at = now
    notice.version += 1
    await session.exec(
        update(OutboxMessage)
        .where(
            _rows_of(notice_id),
            col(OutboxMessage.state).in_([OutboxState.pending, OutboxState.claimed]),
        )
        .values(state=OutboxState.parked, last_error="recalled before sending", claimed_at=None)
    )
    if notice.state == NoticeState.sending:
        notice.state, notice.sent_at = NoticeState.sent, now
    await session.flush()
    return notice


async def messages_to_delete(
    *, session: AsyncSession, notice_id: int, limit: int
) -> list[OutboxMessage]:
    rows = await session.exec(
        select(OutboxMessage)
        .where(
            _rows_of(notice_id),
            OutboxMessage.state == OutboxState.sent,
            col(OutboxMessage.telegram_message_id).is_not(None),
        )
        .order_by(col(OutboxMessage.id))
        .limit(limit)
    )
    return list(rows.all())


async def acknowledge(*, session: AsyncSession, notice_id: int, user: User) -> bool:
    """收到: True the first time; False if already acknowledged or not askable."""
    notice = await session.get(Notice, notice_id)
    if notice is None or not notice.ask_ack or notice.recalled_at is not None:
        return False
    found = await session.exec(
        select(NoticeAck.id).where(NoticeAck.notice_id == notice_id, NoticeAck.user_id == user.id)
    )
    if found.first() is not None:
        return False
    session.add(NoticeAck(notice_id=notice_id, user_id=id_of(user)))
    await session.flush()
    return True


async def unacknowledged(
    *, session: AsyncSession, notice: Notice
) -> list[tuple[str, str | None, str | None, int]]:
    """Households to knock on: (compound, building, unit, count) of residents who got the
    notice and did not press 收到, by place."""
    acked = select(NoticeAck.user_id).where(NoticeAck.notice_id == notice.id)
    rows = await session.exec(
        select(Compound.name, User.building, User.unit, func.count())
        .select_from(OutboxMessage)
        .join(User, col(User.id) == col(OutboxMessage.user_id))
        .join(Compound, col(Compound.id) == col(User.compound_id))
        .where(
            _rows_of(id_of(notice)),
            OutboxMessage.state == OutboxState.sent,
            col(User.id).not_in(acked),
        )
        .group_by(Compound.name, col(User.building), col(User.unit))
        .order_by(Compound.name, col(User.building), col(User.unit))
    )
    return [(name, building, unit, int(n)) for name, building, unit, n in rows.all()]


# --- lists ------------------------------------------------------------------------------------


# A compound's notices a resident may page through; older ones drop off the list.
LIST_WINDOW = 200


async def notices_for_resident(
    *, session: AsyncSession, user: User, offset: int = 0, limit: int = 5
) -> tuple[list[tuple[Notice, bool]], int]:
    """The notices whose audience includes ``user`` (sending or sent), newest first:
    (notice, received by push), and the total. A notice for 3号楼 is not listed to 5号楼, nor
    one for the residents who raised a category to the others."""
    if user.compound_id is None:
        return [], 0
    reached = select(NoticeCompound.notice_id).where(NoticeCompound.compound_id == user.compound_id)
    candidates = (
        await session.exec(
            select(Notice)
            .where(
                col(Notice.state).in_([NoticeState.sending, NoticeState.sent]),
                col(Notice.recalled_at).is_(None),
                Notice.audience != "workers",
                (col(Notice.compound_id) == user.compound_id) | col(Notice.id).in_(reached),
            )
            .order_by(
                func.coalesce(Notice.sent_at, Notice.started_at).desc(), col(Notice.id).desc()
            )
            .limit(LIST_WINDOW)
        )
    ).all()
    mine = await _addressed_to(
        session=session, user=user, compound_id=user.compound_id, candidates=candidates
    )
    found = mine[offset : offset + limit]
    keys = {dedupe_key(notice_id=id_of(n), user_id=id_of(user)): n.id for n in found}
    pushed = set(
        (
            await session.exec(
                select(OutboxMessage.dedupe_key).where(
                    col(OutboxMessage.dedupe_key).in_(keys),
                    col(OutboxMessage.state).in_([OutboxState.sent]),
                )
            )
        ).all()
    )
    shown = [(n, dedupe_key(notice_id=id_of(n), user_id=id_of(user)) in pushed) for n in found]
    return shown, len(mine)


async def _addressed_to(
    *, session: AsyncSession, user: User, compound_id: int, candidates: Sequence[Notice]
) -> list[Notice]:
    """``candidates`` whose audience includes ``user``, by the rule the sender resolves
    audiences with (``_audience_filter``): one query per distinct audience, not per notice."""
    verdicts: dict[str, bool] = {}
    kept = []
    for notice in candidates:
        audience = Audience.model_validate(notice.audience_spec)
        if not (audience.buildings or audience.category):
            kept.append(notice)  # the whole compound (or district, or city)
            continue
        key = audience.model_dump_json()
        if key not in verdicts:
            where = _audience_filter(audience, {compound_id})
            found = await session.exec(select(User.id).where(col(User.id) == user.id, *where))
            verdicts[key] = found.first() is not None
        if verdicts[key]:
            kept.append(notice)
    return kept


async def notices_of_author(*, session: AsyncSession, author: User, limit: int = 8) -> list[Notice]:
    rows = await session.exec(
        select(Notice)
        .where(Notice.author_id == author.id, Notice.state != NoticeState.draft)
        .order_by(col(Notice.id).desc())
        .limit(limit)
    )
    return list(rows.all())


async def addressable_compounds(*, session: AsyncSession, author: User) -> list[Compound]:
    """The compounds ``author`` may send notices to, by code (the audience step's buttons)."""
    scope = await worker_compound_ids(session=session, user=author)
    rows = await session.exec(
        select(Compound).where(col(Compound.id).in_(scope)).order_by(col(Compound.code))
    )
    return list(rows.all())


async def names_of_compounds(*, session: AsyncSession, compound_ids: Iterable[int]) -> list[str]:
    """The names of the compounds ``compound_ids``, by name (an audience as the author reads it)."""
    rows = await session.exec(
        select(Compound.name)
        .where(col(Compound.id).in_(list(compound_ids)))
        .order_by(col(Compound.name))
    )
    return list(rows.all())


async def compound_names(*, session: AsyncSession, notice_id: int) -> list[str]:
    rows = await session.exec(
        select(Compound.name)
        .join(NoticeCompound, col(NoticeCompound.compound_id) == col(Compound.id))
        .where(NoticeCompound.notice_id == notice_id)
        .order_by(Compound.name)
    )
    return list(rows.all())
