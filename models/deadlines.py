"""Deadlines as 12345 hotlines count them: in working days, following China's public holidays
and adjusted workdays (调休), ending at the close of the last working day — so a deadline never
lands at 05:57 on a Sunday.

Urgent tickets are answered within hours, day or night. Holidays come from the
``chinese-calendar`` package, which knows the years the State Council has announced; beyond
them a working day is simply Monday to Friday (logged once).

Deadlines are computed once, when a ticket is created or planned, and stored on the ticket:
staff may extend them, so everything after that reads the ticket's columns.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo

import chinese_calendar

from models.config import ModelSettings

log = logging.getLogger(__name__)


@cache
def _warn_beyond(year: int) -> None:
    log.warning(
        "deadlines: no holiday calendar for %d in chinese-calendar %s; counting Monday to "
        "Friday as working days",
        year,
        getattr(chinese_calendar, "__version__", "?"),
    )


def is_workday(day: date) -> bool:
    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError:  # a year the package does not cover yet
        _warn_beyond(day.year)
        return day.weekday() < 5


def add_working_days(start: datetime, days: int, *, tz: ZoneInfo, day_end: time) -> datetime:
    """The close (``day_end``, local) of the ``days``-th working day after ``start``'s day,
    in UTC. The day of ``start`` itself does not count, as on the hotlines."""
    day = start.astimezone(tz).date()
    counted = 0
    while counted < days:
        day += timedelta(days=1)
        if is_workday(day):
            counted += 1
    return datetime.combine(day, day_end, tzinfo=tz).astimezone(start.tzinfo)


def end_of(day: date, *, tz: ZoneInfo, day_end: time) -> datetime:
    """The close of ``day`` (a plan item's date), or of the first working day after it."""
    while not is_workday(day):
        day += timedelta(days=1)
    return datetime.combine(day, day_end, tzinfo=tz).astimezone(ZoneInfo("UTC"))


def response_due(created: datetime, *, urgent: bool, settings: ModelSettings) -> datetime:
    if urgent:
        return created + timedelta(hours=settings.response_hours_urgent)
    return add_working_days(
        created, settings.response_working_days, tz=settings.tz, day_end=settings.workday_end
    )


def resolution_due(
    created: datetime, *, tier: str, urgent: bool, settings: ModelSettings
) -> datetime:
    days = (
        settings.urgent_resolution_working_days
        if urgent
        else settings.resolution_working_days.get(tier, settings.resolution_working_days["none"])
    )
    return add_working_days(created, days, tz=settings.tz, day_end=settings.workday_end)


def planned_due(due_date: date, *, settings: ModelSettings) -> datetime:
    """A ticket planned into a plan item is due when the item is (its date's working close)."""
    return end_of(due_date, tz=settings.tz, day_end=settings.workday_end)
