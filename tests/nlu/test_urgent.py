"""Urgent patterns over nlu/tests/urgent_cases.yml: every urgent case caught, few false alarms."""

from __future__ import annotations

import pytest

from nlu.normalize import normalize
from nlu.trainingdata import urgent_cases
from nlu.urgent import find_urgent, is_urgent

CASES = urgent_cases()
# A false alarm costs a worker a glance; a miss may cost a life. Keep false alarms rare anyway.
MAX_FALSE_ALARM_RATE = 0.10


def test_the_cases_file_exists_and_has_both_lists() -> None:
    assert len(CASES.urgent) >= 50
    assert len(CASES.not_urgent) >= 10


@pytest.mark.parametrize("text", CASES.urgent)
def test_every_urgent_case_is_caught(text: str) -> None:
    assert is_urgent(text), f"missed urgent message: {text}"


def test_false_alarms_on_near_misses_stay_rare() -> None:
    false_alarms = [t for t in CASES.not_urgent if is_urgent(t)]
    assert len(false_alarms) <= MAX_FALSE_ALARM_RATE * len(CASES.not_urgent), false_alarms


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("煤氣洩漏了", "gas"),  # traditional characters, normalised first
        ("楼道里冒黑烟", "fire"),
        ("电线掉地上了", "electric"),
        ("水管爆了，屋里全是水", "flood"),
        ("阳台要塌了", "collapse"),
        ("我被困电梯里了", "elevator"),
        ("工地砸伤人了", "injury"),
    ],
)
def test_each_kind_of_emergency_has_its_reason(text: str, reason: str) -> None:
    match = find_urgent(normalize(text))
    assert match is not None and match.reason == reason


@pytest.mark.parametrize(
    "text",
    [
        "楼道里停满电动车，怕着火",  # a fear, not a fire
        "上回电梯困人的事到现在也没个说法",  # a past event
        "热水器打不着火",
        "想加装电梯",
        "燃气改造啥时候开始",
        "外墙保温起鼓了",
    ],
)
def test_fears_past_events_and_ordinary_demands_are_not_urgent(text: str) -> None:
    assert not is_urgent(text)
