"""The scheduler's jobs: one line each. A job is a sweep over our own tables,
``async def sweep(*, session_factory, settings, now) -> int`` (how much it did), idempotent
through the outbox's dedupe keys: a double run or a restart sends nothing twice.

``coalesce``: runs missed while the scheduler was down (or busy) collapse into one, since a
sweep catches up on everything due anyway. ``misfire_grace_time``: how late a missed run may
still start — a product decision per job, given beside it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from bot.settings import Settings
from scheduler.jobs.deadlines import sweep_deadlines, sweep_digest
from scheduler.jobs.housekeeping import sweep_reclassify
from scheduler.jobs.monthly_report import sweep_monthly_reports
from scheduler.jobs.progress import sweep_progress_digest, sweep_stage_changes
from scheduler.jobs.surveys import sweep_surveys

Sweep = Callable[..., Awaitable[int]]


@dataclass(frozen=True, slots=True)
class Job:
    id: str  # fixed: added with replace_existing, so restarts never multiply it
    sweep: Sweep
    trigger: Callable[[Settings], BaseTrigger]
    misfire_grace_time: int  # seconds
    coalesce: bool = True


def _cron(**fields: Any) -> Callable[[Settings], BaseTrigger]:
    return lambda settings: CronTrigger(timezone=settings.tz, **fields)


def _every(**interval: Any) -> Callable[[Settings], BaseTrigger]:
    return lambda settings: IntervalTrigger(timezone=settings.tz, **interval)


def _digest_time(settings: Settings) -> BaseTrigger:
    at = settings.digest_time
    return CronTrigger(hour=at.hour, minute=at.minute, timezone=settings.tz)


def _survey_hours(settings: Settings) -> BaseTrigger:
    return CronTrigger(hour=f"{settings.survey_hour}-20", minute=0, timezone=settings.tz)


JOBS: tuple[Job, ...] = (
    # Deadlines: every 10 minutes, so "2 h before" and "at the deadline" are at most 10 minutes
    # late; a missed run is simply covered by the next one (grace: one interval).
    Job("deadlines", sweep_deadlines, _every(minutes=10), misfire_grace_time=600),
    # The morning digest at 08:30: still worth sending until 10:30, not at noon.
    Job("digest", sweep_digest, _digest_time, misfire_grace_time=2 * 3600),
    # 回访: hourly from 10:00 to 20:00, so surveys go out at 10:00 and a scheduler that was
    # down at 10:00 catches up within the hour; never in the evening (grace: 1 h).
    Job("surveys", sweep_surveys, _survey_hours, misfire_grace_time=3600),
    # Stage changes are news "at once": every 5 minutes; a missed run, the next one.
    Job("stages", sweep_stage_changes, _every(minutes=5), misfire_grace_time=300),
    # The weekly progress digest, Mondays 10:00; if missed, still fine the same day.
    Job("progress", sweep_progress_digest, _cron(day_of_week="mon", hour=10), 8 * 3600),
    # Re-classification after a Rasa outage: no hurry, every 15 minutes.
    Job("reclassify", sweep_reclassify, _every(minutes=15), misfire_grace_time=900),
    # 月通报: the 1st at 09:00. The sweep itself catches up until the 7th, so a missed run
    # waits for the next hourly one (grace: 1 h, coalesced).
    Job("monthly_report", sweep_monthly_reports, _cron(day="1-7", minute=0), 3600),
)


async def run_due(*, session_factory: Any, settings: Settings, now: datetime) -> dict[str, int]:
    """Every sweep once, as of ``now`` (``python -m scheduler run-due``), in the order above."""
    return {
        job.id: await job.sweep(session_factory=session_factory, settings=settings, now=now)
        for job in JOBS
    }
