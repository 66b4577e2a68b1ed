"""Leases: at most one process holds a named role at a time, on SQLite and PostgreSQL alike.

A holder renews its lease well before it runs out (every ttl/3, say); a process that died
stops renewing and another takes over once ``expires_at`` has passed. Acquiring is one
conditional UPDATE (or an INSERT that may lose a race on the primary key), so two processes
asking at once cannot both win.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from models.db import utcnow
from models.tables import Lease


async def acquire_lease(
    *, session: AsyncSession, name: str, holder: str, ttl: timedelta,
    now: datetime | None = None,
) -> bool:  # fmt: skip
    """Take or renew lease ``name`` for ``holder``; True when ``holder`` holds it now.
    Commits (a lease must be visible to the other processes at once)."""
    now = now or utcnow()
    result = await session.exec(
        update(Lease)
        .where(
            col(Lease.name) == name,
            (col(Lease.holder) == holder) | (col(Lease.expires_at) <= now),
        )
        .values(holder=holder, expires_at=now + ttl)
    )
    if result.rowcount == 1:
        await session.commit()
        return True
    if await session.get(Lease, name) is not None:
        await session.rollback()
        return False  # held by someone else, and not yet run out
    session.add(Lease(name=name, holder=holder, expires_at=now + ttl, acquired_at=now))
    try:
        await session.commit()
    except IntegrityError:  # another process inserted it first
        await session.rollback()
        return False
    return True


async def release_lease(*, session: AsyncSession, name: str, holder: str) -> None:
    """Give the lease up at once (a clean shutdown), so a standby need not wait it out."""
    await session.exec(
        update(Lease)
        .where(col(Lease.name) == name, col(Lease.holder) == holder)
        .values(expires_at=utcnow())
    )
    await session.commit()
