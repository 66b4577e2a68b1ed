"""Users, their roles, the compounds workers are responsible for, and worker invites."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.db import id_of, stored_ids, transaction, utcnow
from models.lifecycle import OPEN_STATUSES
from models.limits import checked, fitted
from models.tables import Compound, Role, Ticket, User, WorkerCompound, WorkerInvite

INVITE_LIFETIME = timedelta(days=7)
LAST_SEEN_RESOLUTION = timedelta(minutes=5)  # last_seen_at is refreshed at most this often


class InviteError(Exception):
    """An invite that cannot be used; ``reason`` is one of: unknown, used, expired."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"invite {reason}")
        self.reason = reason


async def get_or_create_user(
    *,
    session: AsyncSession,
    telegram_id: int,
    chat_id: int,
    first_name: str = "",
    username: str | None = None,
    language_code: str | None = None,
    admin_ids: frozenset[int] | set[int] = frozenset(),
    default_locale: str = "zh",
) -> tuple[User, bool]:
    """The user behind a Telegram account, created on first contact. Returns (user, created)."""
    user = (await session.exec(select(User).where(User.telegram_id == telegram_id))).first()
    created = user is None
    if user is None:
        language = "en" if (language_code or "").startswith("en") else default_locale
        user = User(telegram_id=telegram_id, chat_id=chat_id, language=language)
        session.add(user)
    # Telegram's names fit our columns today; were one longer, it is cut rather than refused.
    user.first_name = fitted(User.first_name, first_name) or ""
    user.username = fitted(User.username, username)
    user.last_seen_at = utcnow()
    if telegram_id in admin_ids:
        user.role = Role.city_staff  # bootstrap: the first staff come from the settings
    if not user.reachable:  # they wrote to us, so they no longer block the bot
        user.reachable, user.blocked_at = True, None
    await session.flush()
    return user, created


async def find_user(*, session: AsyncSession, telegram_id: int) -> User | None:
    return (await session.exec(select(User).where(User.telegram_id == telegram_id))).first()


def contact_is_news(
    user: User, *, first_name: str, username: str | None,
    admin_ids: frozenset[int] | set[int] = frozenset(), now: datetime | None = None,
) -> bool:  # fmt: skip
    """Whether a message from ``user`` changes what we keep about them. Most messages do not,
    so most updates write nothing before their handler runs."""
    return (
        user.first_name != fitted(User.first_name, first_name)
        or user.username != fitted(User.username, username)
        or not user.reachable
        or (user.telegram_id in admin_ids and user.role != Role.city_staff)
        or (now or utcnow()) - user.last_seen_at >= LAST_SEEN_RESOLUTION
    )


async def record_contact(
    *, factory: async_sessionmaker[AsyncSession], telegram_id: int, chat_id: int,
    first_name: str = "", username: str | None = None, language_code: str | None = None,
    admin_ids: frozenset[int] | set[int] = frozenset(), default_locale: str = "zh",
) -> tuple[User, bool]:  # fmt: skip
    """``get_or_create_user`` in a short transaction of its own, committed at once, so the
    caller's transaction takes no write lock for it (SQLite has one writer at a time). Returns
    the user (detached, as committed) and whether it was created. When two first messages of
    one person race, the second finds the account the first created."""
    for attempt in (1, 2):
        try:
            async with transaction(factory) as session:
                return await get_or_create_user(
                    session=session, telegram_id=telegram_id, chat_id=chat_id,
                    first_name=first_name, username=username, language_code=language_code,
                    admin_ids=admin_ids, default_locale=default_locale,
                )  # fmt: skip
        except IntegrityError:
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


async def set_reachable(*, session: AsyncSession, user: User, reachable: bool) -> None:
    user.reachable = reachable
    user.blocked_at = None if reachable else utcnow()
    await session.flush()


async def bind_compound(*, session: AsyncSession, user: User, compound: Compound) -> None:
    if user.compound_id != compound.id:
        user.building = user.unit = None  # they belonged to another compound's buildings
    user.compound_id = compound.id
    await session.flush()


async def set_address(*, session: AsyncSession, user: User, text: str) -> None:
    """楼栋单元 as the resident typed it: "3号楼2单元" is building "3号楼" and unit "2单元",
    anything else is the building. Raises TooLong (and changes nothing) if a part is too long."""
    building, found, unit = text.strip().partition("号楼")
    if found:
        building, unit = f"{building.strip()}号楼", unit.strip()
    else:
        building, unit = text.strip(), ""
    user.building, user.unit = (
        checked(User.building, building) or None,
        checked(User.unit, unit) or None,
    )
    await session.flush()


async def worker_compound_ids(*, session: AsyncSession, user: User) -> set[int]:
    """The compounds whose tickets this user may see and change: a worker's own, every compound
    of a district staff member's district, every compound for city staff. The one scope rule:
    every staff query and action goes through it."""
    if user.role == Role.city_staff:
        return set(stored_ids((await session.exec(select(Compound.id))).all()))
    if user.role == Role.district_staff:
        rows = await session.exec(
            select(Compound.id).where(Compound.district_id == user.district_id)
        )
        return set(stored_ids(rows.all()))
    if user.role != Role.worker:
        return set()
    rows = await session.exec(
        select(WorkerCompound.compound_id).where(WorkerCompound.worker_id == user.id)
    )
    return set(rows.all())


async def district_staff_of(*, session: AsyncSession, compound_id: int) -> list[User]:
    """Who oversees a compound above its workers: its district's staff (city staff when the
    district has none), for escalations and reports."""
    compound = await session.get(Compound, compound_id)
    if compound is None:
        return []
    district = (
        await session.exec(
            select(User).where(
                User.role == Role.district_staff, User.district_id == compound.district_id
            )
        )
    ).all()
    if district:
        return list(district)
    return list((await session.exec(select(User).where(User.role == Role.city_staff))).all())


async def workers_of_compound(*, session: AsyncSession, compound_id: int) -> list[User]:
    statement = (
        select(User)
        .join(WorkerCompound, col(WorkerCompound.worker_id) == col(User.id))
        .where(WorkerCompound.compound_id == compound_id)
    )
    return list((await session.exec(statement)).all())


async def create_invite(
    *,
    session: AsyncSession,
    created_by: User,
    compound_ids: list[int],
    now: datetime | None = None,
    lifetime: timedelta = INVITE_LIFETIME,
) -> WorkerInvite:
    if not Role(created_by.role).oversees:
        raise PermissionError("only district and city staff create worker invites")
    if not compound_ids:
        raise ValueError("an invite needs at least one compound")
    outside = set(compound_ids) - await worker_compound_ids(session=session, user=created_by)
    if outside:
        raise PermissionError(f"compounds {sorted(outside)} are outside the inviter's district")
    invite = WorkerInvite(
        token=secrets.token_urlsafe(16).replace("-", "x"),  # fits a deep link: w_<token>
        compound_ids=sorted(set(compound_ids)),
        created_by_id=created_by.id,
        expires_at=(now or utcnow()) + lifetime,
    )
    session.add(invite)
    await session.flush()
    return invite


async def redeem_invite(
    *, session: AsyncSession, token: str, user: User, now: datetime | None = None
) -> list[Compound]:
    """Make ``user`` a worker for the invite's compounds. Single use; raises InviteError."""
    now = now or utcnow()
    # Claimed by one conditional UPDATE, so two people opening the link at once cannot both
    # win: the second waits for the first one's row lock, then no longer matches (used_at set).
    claimed = await session.exec(
        update(WorkerInvite)
        .where(
            col(WorkerInvite.token) == token,
            col(WorkerInvite.used_at).is_(None),
            col(WorkerInvite.expires_at) > now,
        )
        .values(used_at=now, used_by_id=user.id)
        .execution_options(synchronize_session=False)
    )
    invite = (
        await session.exec(
            select(WorkerInvite)
            .where(WorkerInvite.token == token)
            .execution_options(populate_existing=True)
        )
    ).first()
    if invite is None:
        raise InviteError("unknown")
    if claimed.rowcount != 1:
        raise InviteError("used" if invite.used_at is not None else "expired")
    if not Role(user.role).oversees:
        user.role = Role.worker
    have = (
        await worker_compound_ids(session=session, user=user) if user.role == Role.worker else set()
    )
    for compound_id in invite.compound_ids:
        if compound_id not in have:
            session.add(WorkerCompound(worker_id=id_of(user), compound_id=compound_id))
    await session.flush()
    compounds = await session.exec(
        select(Compound).where(col(Compound.id).in_(invite.compound_ids))
    )
    return list(compounds.all())


# --- staff administration (district and city staff) ---------------------------------------


class NotManageable(PermissionError):
    """The worker or compound is outside what this staff member manages (or is gone)."""


async def _check_overseer(session: AsyncSession, by: User) -> set[int]:
    if not Role(by.role).oversees:
        raise NotManageable("only district and city staff manage workers")
    return await worker_compound_ids(session=session, user=by)


async def _compounds_of(*, session: AsyncSession, worker_id: int) -> list[Compound]:
    statement = (
        select(Compound)
        .join(WorkerCompound, col(WorkerCompound.compound_id) == col(Compound.id))
        .where(WorkerCompound.worker_id == worker_id)
        .order_by(col(Compound.name))
    )
    return list((await session.exec(statement)).all())


async def managed_workers(*, session: AsyncSession, by: User) -> list[tuple[User, list[Compound]]]:
    """The workers ``by`` manages, each with their compounds: district staff see the workers of
    their district's compounds, city staff every worker (also those with no compound left)."""
    scope = await _check_overseer(session, by)
    workers = (
        await session.exec(
            select(User)
            .where(User.role == Role.worker)
            .order_by(col(User.first_name), col(User.id))
        )
    ).all()
    out = []
    for worker in workers:
        compounds = await _compounds_of(session=session, worker_id=id_of(worker))
        if Role(by.role) == Role.city_staff or any(c.id in scope for c in compounds):
            out.append((worker, compounds))
    return out


async def managed_worker(
    *, session: AsyncSession, by: User, worker_id: int
) -> tuple[User, list[Compound]]:
    """One worker ``by`` manages, with their compounds; raises NotManageable otherwise."""
    scope = await _check_overseer(session, by)
    worker = await session.get(User, worker_id)
    if worker is None or worker.role != Role.worker:
        raise NotManageable(f"user {worker_id} is not a worker")
    compounds = await _compounds_of(session=session, worker_id=worker_id)
    if Role(by.role) != Role.city_staff and not any(c.id in scope for c in compounds):
        raise NotManageable(f"worker {worker_id} works outside this district")
    return worker, compounds


async def add_worker_compound(
    *, session: AsyncSession, by: User, worker_id: int, compound_id: int
) -> bool:
    """Make a worker responsible for one more compound of ``by``'s scope. False if already."""
    _worker, compounds = await managed_worker(session=session, by=by, worker_id=worker_id)
    if compound_id not in await worker_compound_ids(session=session, user=by):
        raise NotManageable(f"compound {compound_id} is outside this district")
    if any(c.id == compound_id for c in compounds):
        return False
    session.add(WorkerCompound(worker_id=worker_id, compound_id=compound_id))
    await session.flush()
    return True


async def remove_worker_compound(
    *, session: AsyncSession, by: User, worker_id: int, compound_id: int
) -> bool:
    """Take a compound from a worker; their open tickets there lose their assignee (so they
    show as unassigned to the compound's other workers). False if they did not have it."""
    await managed_worker(session=session, by=by, worker_id=worker_id)
    if compound_id not in await worker_compound_ids(session=session, user=by):
        raise NotManageable(f"compound {compound_id} is outside this district")
    link = await session.get(WorkerCompound, (worker_id, compound_id))
    if link is None:
        return False
    await session.delete(link)
    tickets = await session.exec(
        select(Ticket).where(
            Ticket.assignee_id == worker_id,
            Ticket.compound_id == compound_id,
            col(Ticket.status).in_(OPEN_STATUSES),
        )
    )
    for ticket in tickets.all():
        ticket.assignee_id = None
        ticket.version += 1
    await session.flush()
    return True


async def revoke_worker(*, session: AsyncSession, by: User, worker_id: int) -> User:
    """A worker back to resident: their compounds are gone and their open tickets unassigned.
    District staff may revoke only workers whose every compound is in their district."""
    worker, compounds = await managed_worker(session=session, by=by, worker_id=worker_id)
    scope = await worker_compound_ids(session=session, user=by)
    if any(c.id not in scope for c in compounds):
        raise NotManageable(f"worker {worker_id} also works outside this district")
    links = await session.exec(select(WorkerCompound).where(WorkerCompound.worker_id == worker_id))
    for link in links.all():
        await session.delete(link)
    tickets = await session.exec(
        select(Ticket).where(Ticket.assignee_id == worker_id, col(Ticket.status).in_(OPEN_STATUSES))
    )
    for ticket in tickets.all():
        ticket.assignee_id = None
        ticket.version += 1
    worker.role = Role.resident
    await session.flush()
    return worker
