"""Deadlines in working days, as 12345 hotlines count them (China's holidays and 调休)."""

from __future__ import annotations

from datetime import UTC, date, datetime

from bot.settings import Settings
from models import deadlines

SETTINGS = Settings(_env_file=None)
TZ = SETTINGS.tz


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=TZ).astimezone(UTC)


def shown(moment: datetime) -> str:
    return f"{moment.astimezone(TZ):%a %Y-%m-%d %H:%M}"


def test_a_friday_evening_ticket_is_due_at_the_close_of_monday_not_on_sunday():
    due = deadlines.response_due(local(2026, 11, 27, 5, 57), urgent=False, settings=SETTINGS)
    assert shown(due) == "Mon 2026-11-30 18:00"
    saturday = deadlines.response_due(local(2026, 11, 28, 5, 57), urgent=False, settings=SETTINGS)
    assert shown(saturday) == "Mon 2026-11-30 18:00"


def test_urgent_tickets_are_answered_within_two_hours_day_or_night():
    created = local(2026, 11, 29, 3, 0)  # a Sunday night
    assert deadlines.response_due(created, urgent=True, settings=SETTINGS) == local(
        2026, 11, 29, 5, 0
    )


def test_national_day_holidays_are_skipped_and_adjusted_workdays_count():
    # 2026: 1–7 October off; Saturday 10 October is a working day (调休).
    due = deadlines.add_working_days(
        local(2026, 9, 30, 10, 0), 1, tz=TZ, day_end=SETTINGS.workday_end
    )
    assert shown(due) == "Thu 2026-10-08 18:00"
    sat = deadlines.add_working_days(
        local(2026, 10, 9, 10, 0), 1, tz=TZ, day_end=SETTINGS.workday_end
    )
    assert shown(sat) == "Sat 2026-10-10 18:00"


def test_basic_tier_has_fifteen_working_days():
    due = deadlines.resolution_due(local(2026, 11, 2, 9, 0), tier="basic", urgent=False,
                                   settings=SETTINGS)  # fmt: skip
    assert shown(due) == "Mon 2026-11-23 18:00"


def test_a_planned_ticket_is_due_with_its_plan_item_on_a_working_day():
    assert shown(deadlines.planned_due(date(2026, 10, 3), settings=SETTINGS)) == (
        "Thu 2026-10-08 18:00"
    )


def test_beyond_the_calendar_weekends_are_the_only_days_off():
    # chinese-calendar 1.11 knows up to 2026; 2027's holidays are not announced in it.
    due = deadlines.add_working_days(local(2027, 1, 1, 10, 0), 1, tz=TZ,
                                     day_end=SETTINGS.workday_end)  # fmt: skip
    assert shown(due) == "Mon 2027-01-04 18:00"
