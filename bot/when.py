"""Times a worker types for a scheduled notice: "明天 8:00", "后天下午3点", "12月3日 14:30",
"2026-12-03 14:30", "20:00" (today) — or, as the English prompt suggests, "tomorrow 8:00" and
"12/3 14:30" — in the bot's time zone."""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta

DAY_WORDS = {"今天": 0, "今日": 0, "明天": 1, "明日": 1, "后天": 2, "大后天": 3,
             "today": 0, "tomorrow": 1, "day after tomorrow": 2}  # fmt: skip
_DAY = re.compile(r"大后天|今天|今日|明天|明日|后天|today|day after tomorrow|tomorrow", re.I)
_ISO = re.compile(r"(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})")
_MONTH_DAY = re.compile(r"(\d{1,2})\s*月\s*(\d{1,2})\s*[日号]?|(\d{1,2})/(\d{1,2})(?!\d)")
_CLOCK = re.compile(
    r"(上午|早上|中午|下午|晚上)?\s*(\d{1,2})\s*(?:[:：点时]\s*(\d{1,2})?\s*分?|(?=\s*$))"
)


def parse_when(text: str, *, now: datetime) -> datetime | None:
    """An aware datetime in ``now``'s zone, or None when the text names no time."""
    text = text.strip().replace("半", "30")
    day: date | None = None
    rest = text
    if found := _DAY.search(text):
        day = now.date() + timedelta(days=DAY_WORDS[found.group().lower()])
        rest = text[found.end() :]
    elif found := _ISO.search(text):
        day = _date(int(found[1]), int(found[2]), int(found[3]))
        rest = text[found.end() :]
    elif found := _MONTH_DAY.search(text):
        month, dom = (found[1], found[2]) if found[1] else (found[3], found[4])
        day = _date(now.year, int(month), int(dom))
        if day is not None and day < now.date():
            day = _date(now.year + 1, int(month), int(dom))
        rest = text[found.end() :]
    clock = _CLOCK.search(rest.strip())
    if clock is None:
        return None
    part, hour, minute = clock[1], int(clock[2]), int(clock[3] or 0)
    if part in ("下午", "晚上") and hour < 12:
        hour += 12
    if part == "中午" and hour < 6:
        hour += 12
    if not (0 <= hour <= 23 and 0 <= minute <= 59):
        return None
    if day is None:
        day = now.date()
    if day is None:
        return None
    return datetime.combine(day, time(hour, minute), tzinfo=now.tzinfo)


def _date(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None
