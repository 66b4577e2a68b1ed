"""Users, their roles, the compounds workers are responsible for, and worker invites."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.db import transaction, utcnow
from models.tables import Compound, Role, User, WorkerCompound, WorkerInvite

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
    user.first_name, user.username, user.last_seen_at = first_name, username, utcnow()
    if telegram_id in admin_ids:
        user.role = Role.admin  # bootstrap: admins come from the settings
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
        user.first_name != first_name
        or user.username != username
        or not user.reachable
        or (user.telegram_id in admin_ids and user.role != Role.admin)
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


async def worker_compound_ids(*, session: AsyncSession, user: User) -> set[int]:
    """The compounds whose tickets this user may see and change. Admins see every compound."""
    if user.role == Role.admin:
        return set((await session.exec(select(Compound.id))).all())  # type: ignore[arg-type]
    if user.role != Role.worker:
        return set()
    rows = await session.exec(
        select(WorkerCompound.compound_id).where(WorkerCompound.worker_id == user.id)
    )
    return set(rows.all())


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
    if created_by.role != Role.admin:
        raise PermissionError("only admins create worker invites")
    if not compound_ids:
        raise ValueError("an invite needs at least one compound")
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
    invite = (await session.exec(select(WorkerInvite).where(WorkerInvite.token == token))).first()
    if invite is None:
        raise InviteError("unknown")
    if invite.used_at is not None:
        raise InviteError("used")
    if invite.expires_at <= now:
        raise InviteError("expired")
    invite.used_at, invite.used_by_id = now, user.id
    if user.role != Role.admin:
        user.role = Role.worker
    have = (
        await worker_compound_ids(session=session, user=user) if user.role == Role.worker else set()
    )
    for compound_id in invite.compound_ids:
        if compound_id not in have:
            session.add(WorkerCompound(worker_id=user.id, compound_id=compound_id))  # type: ignore[arg-type]
    await session.flush()
    compounds = await session.exec(
        select(Compound).where(col(Compound.id).in_(invite.compound_ids))
    )
    return list(compounds.all())
