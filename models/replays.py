"""Replays of spooled updates (bot/spool.py): each is handled once, even across a crash."""

from __future__ import annotations

from sqlmodel.ext.asyncio.session import AsyncSession

from models.tables import ReplayedUpdate


async def first_replay(*, session: AsyncSession, update_id: int) -> bool:
    """Mark ``update_id`` as replayed in this transaction. False if an earlier, committed
    replay already handled it."""
    if await session.get(ReplayedUpdate, update_id) is not None:
        return False
    session.add(ReplayedUpdate(update_id=update_id))
    await session.flush()
    return True
