"""Leases: one holder at a time, taken over when the holder stops renewing."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from models.leases import acquire_lease, release_lease

NOW = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
TTL = timedelta(seconds=30)


async def test_one_holder_until_the_lease_runs_out(session_factory):
    async with session_factory() as s:
        assert await acquire_lease(session=s, name="sender", holder="a", ttl=TTL, now=NOW)
        assert not await acquire_lease(session=s, name="sender", holder="b", ttl=TTL, now=NOW)
        # a renews in time: b still waits
        later = NOW + timedelta(seconds=20)
        assert await acquire_lease(session=s, name="sender", holder="a", ttl=TTL, now=later)
        assert not await acquire_lease(
            session=s, name="sender", holder="b", ttl=TTL, now=NOW + timedelta(seconds=40)
        )
        # a stopped renewing (killed): b takes over once it ran out
        gone = later + TTL + timedelta(seconds=1)
        assert await acquire_lease(session=s, name="sender", holder="b", ttl=TTL, now=gone)
        assert not await acquire_lease(session=s, name="sender", holder="a", ttl=TTL, now=gone)


async def test_release_hands_over_at_once(session_factory):
    async with session_factory() as s:
        assert await acquire_lease(session=s, name="scheduler", holder="a", ttl=TTL)
        await release_lease(session=s, name="scheduler", holder="a")
        assert await acquire_lease(session=s, name="scheduler", holder="b", ttl=TTL)


async def test_two_processes_asking_at_once_one_wins(session_factory):
    async def ask(holder: str) -> bool:
        async with session_factory() as s:
            return await acquire_lease(session=s, name="race", holder=holder, ttl=TTL, now=NOW)

    results = await asyncio.gather(*(ask(f"p{i}") for i in range(5)))
    assert sum(results) == 1
