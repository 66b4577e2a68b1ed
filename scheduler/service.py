"""The scheduler process: one active instance, any number of standbys.

Whoever holds the lock runs APScheduler's ``AsyncIOScheduler`` (Asia/Shanghai); the others
wait and try again every ``scheduler_poll_seconds``. On PostgreSQL the lock is a session
advisory lock held on a dedicated connection: when the active process dies (even ``kill -9``)
its connection closes and the server frees the lock at once. On SQLite it is a lease row
(models/leases.py) renewed every third of ``scheduler_lease_seconds``; a dead holder's lease
runs out. Never one scheduler per bot replica: the bot does not start one.

Jobs live in memory (the real state is in our tables). A cron job whose time passed within its
``misfire_grace_time`` while no scheduler was active runs once when one becomes active.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from datetime import datetime, timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.settings import Settings
from models.db import make_engine, make_session_factory, utcnow
from models.leases import acquire_lease, release_lease
from scheduler.jobs import JOBS, Job

log = logging.getLogger("scheduler")
LOCK_NAME = "scheduler"
ADVISORY_KEY = 0x64_69_61_6E_63_61_69  # "diancai"


class PostgresLock:
    """``pg_try_advisory_lock`` on a connection of its own, in autocommit (never idle in a
    transaction for hours)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.conn: AsyncConnection | None = None

    async def acquire(self) -> bool:
        if self.conn is None:
            conn = await self.engine.connect()
            self.conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
        got = await self.conn.scalar(text("SELECT pg_try_advisory_lock(:k)"), {"k": ADVISORY_KEY})
        return bool(got)

    async def keep(self) -> bool:
        """Still ours while the connection lives."""
        if self.conn is None:  # never acquired, or already found lost
            return False
        try:
            await self.conn.scalar(text("SELECT 1"))
        except Exception:
            log.exception("scheduler: lock connection lost")
            self.conn = None
            return False
        return True

    async def release(self) -> None:
        if self.conn is not None:
            try:
                await self.conn.scalar(text("SELECT pg_advisory_unlock(:k)"), {"k": ADVISORY_KEY})
            finally:
                await self.conn.close()
                self.conn = None


class LeaseLock:
    def __init__(
        self, factory: async_sessionmaker[AsyncSession], holder: str, ttl: timedelta
    ) -> None:
        self.factory, self.holder, self.ttl = factory, holder, ttl

    async def acquire(self) -> bool:
        async with self.factory() as session:
            return await acquire_lease(
                session=session, name=LOCK_NAME, holder=self.holder, ttl=self.ttl
            )

    async def keep(self) -> bool:
        try:
            return await self.acquire()
        except Exception:
            log.exception("scheduler: lease renewal failed")
            return False

    async def release(self) -> None:
        async with self.factory() as session:
            await release_lease(session=session, name=LOCK_NAME, holder=self.holder)


# What the jobs need, set when this process becomes active (jobs take only their id).
_context: dict[str, object] = {}


async def run_job(job_id: str) -> int:
    job = next(j for j in JOBS if j.id == job_id)
    started = utcnow()
    done = await job.sweep(
        session_factory=_context["session_factory"], settings=_context["settings"], now=started
    )
    log.info("scheduler: %s did %d in %.1f s", job_id, done, (utcnow() - started).total_seconds())
    return done


def build_scheduler(settings: Settings) -> AsyncIOScheduler:
    scheduler = AsyncIOScheduler(timezone=settings.tz)
    for job in JOBS:
        scheduler.add_job(
            run_job, job.trigger(settings), args=[job.id], id=job.id, name=job.id,
            replace_existing=True, coalesce=job.coalesce,
            misfire_grace_time=job.misfire_grace_time, max_instances=1,
        )  # fmt: skip
    return scheduler


def missed_while_away(job: Job, settings: Settings, now: datetime) -> bool:
    """A cron run that fell in the last ``misfire_grace_time``: no scheduler ran it."""
    trigger = job.trigger(settings)
    if not isinstance(trigger, CronTrigger):
        return False  # interval jobs come round soon enough
    since = now - timedelta(seconds=job.misfire_grace_time)
    fire = trigger.get_next_fire_time(None, since.astimezone(settings.tz))
    return fire is not None and fire <= now


async def serve(settings: Settings, *, stop: asyncio.Event | None = None) -> None:
    """Wait for the lock, then schedule until stopped or the lock is lost; then wait again."""
    stop = stop or asyncio.Event()
    engine = make_engine(settings.database_url)
    factory = make_session_factory(engine)
    holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
    ttl = timedelta(seconds=settings.scheduler_lease_seconds)
    lock: PostgresLock | LeaseLock = (
        PostgresLock(engine)
        if engine.dialect.name == "postgresql"
        else LeaseLock(factory, holder, ttl)
    )
    renew = min(settings.scheduler_poll_seconds, settings.scheduler_lease_seconds / 3)
    _context.update(session_factory=factory, settings=settings)
    announced = False
    try:
        while not stop.is_set():
            try:
                active = await lock.acquire()
            except Exception:
                log.exception("scheduler: cannot reach the database")
                active = False
            if not active:
                if not announced:
                    log.info("scheduler %s: standby (another instance is active)", holder)
                    announced = True
                await _sleep(stop, settings.scheduler_poll_seconds)
                continue
            log.info("scheduler %s: active", holder)
            announced = False
            await _run_active(settings, lock, stop, renew)
    finally:
        try:
            await lock.release()
        except Exception:
            log.exception("scheduler: release failed")
        await engine.dispose()


async def _run_active(
    settings: Settings, lock: PostgresLock | LeaseLock, stop: asyncio.Event, renew: float
) -> None:
    scheduler = build_scheduler(settings)
    scheduler.start()
    now = utcnow()
    for job in JOBS:
        if missed_while_away(job, settings, now):
            log.info("scheduler: %s was missed while no scheduler was active; running it", job.id)
            scheduler.modify_job(job.id, next_run_time=datetime.now(settings.tz))
    try:
        while not stop.is_set():
            await _sleep(stop, renew)
            if not stop.is_set() and not await lock.keep():
                log.error("scheduler: lost the lock; back to standby")
                return
    finally:
        scheduler.shutdown(wait=False)


async def _sleep(stop: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(stop.wait(), seconds)
    except TimeoutError:
        pass
