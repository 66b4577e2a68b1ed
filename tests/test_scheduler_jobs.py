"""The job registry: fixed ids, no duplicates on restart, deliberate misfire handling, and a
cron run missed while no scheduler was active is caught up."""

from __future__ import annotations

from datetime import datetime

from bot.settings import Settings
from scheduler.jobs import JOBS
from scheduler.service import build_scheduler, missed_while_away

SETTINGS = Settings(_env_file=None)


async def test_every_job_has_a_fixed_id_and_adding_them_again_replaces_them():
    scheduler = build_scheduler(SETTINGS)
    scheduler.start(paused=True)
    try:
        for job in JOBS:  # what a restart with a persistent job store would do
            scheduler.add_job(print, job.trigger(SETTINGS), id=job.id, replace_existing=True)
        jobs = scheduler.get_jobs()
    finally:
        scheduler.shutdown(wait=False)
    assert sorted(j.id for j in jobs) == sorted(job.id for job in JOBS)
    assert len({job.id for job in JOBS}) == len(JOBS)


def test_coalesce_and_misfire_grace_are_set_per_job():
    scheduler = build_scheduler(SETTINGS)
    got = {j.id: (j.coalesce, j.misfire_grace_time) for j in scheduler.get_jobs()}
    assert got == {job.id: (True, job.misfire_grace_time) for job in JOBS}
    assert str(scheduler.timezone) == "Asia/Shanghai"


def test_a_digest_missed_while_away_runs_when_a_scheduler_becomes_active():
    digest = next(job for job in JOBS if job.id == "digest")
    at = lambda h, m: datetime(2026, 12, 2, h, m, tzinfo=SETTINGS.tz)  # noqa: E731
    assert missed_while_away(digest, SETTINGS, at(9, 0))  # 08:30 passed half an hour ago
    assert not missed_while_away(digest, SETTINGS, at(8, 0))  # not yet
    assert not missed_while_away(digest, SETTINGS, at(12, 0))  # too late to be useful
