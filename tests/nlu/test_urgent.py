"""Urgent patterns over nlu/tests/urgent_cases.yml: every urgent case caught, no near miss flagged.

The cases go through ``urgent_in``, the check the bot runs on a message: normalised, place names
masked ("XX小区", "A市A5区"), over the whole text."""

from __future__ import annotations

import pytest

from nlu.normalize import normalize
from nlu.trainingdata import urgent_cases
from nlu.urgent import find_urgent, is_urgent, urgent_in

CASES = urgent_cases()


def test_the_cases_file_exists_and_has_both_lists() -> None:
    assert len(CASES.urgent) >= 50
    assert len(CASES.not_urgent) >= 10


@pytest.mark.parametrize("text", CASES.urgent)
def test_every_urgent_case_is_caught(text: str) -> None:
    assert urgent_in(text) is not None, f"missed urgent message: {text}"


# A false alarm costs a worker a glance at night; a near miss written down here must not cost
# even that (a message that is new and borderline may).
@pytest.mark.parametrize("text", CASES.not_urgent)
def test_no_near_miss_is_flagged(text: str) -> None:
    match = urgent_in(text)
    assert match is None, f"false alarm: {text} ({match})"


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
        # formal letters: the reason picks the advice (the gas line, keep off the wires, the
        # elevator's alarm button)
        ("施工方在挖排水管沟时把天然气管线挖断了，现场能听见呼呼的声音", "gas"),
        ("某小区燃气报警器一直鸣叫，住户已自行开窗", "gas"),
        ("临时电线破皮后泡在积水里，已有居民被电麻", "electric"),
        ("电梯突然停在8楼与9楼之间，轿厢内困有两名老人", "elevator"),
        ("外墙面砖成片坠落，已砸坏楼下停放的车辆", "collapse"),
        ("围挡被大风刮倒，压住一名路过的居民", "injury"),
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
        # formal: a hazard, a device, a drill, a repaired past, a question
        "关于某小区电动车楼道充电存在严重火灾隐患的反映",
        "请问燃气泄漏报警器是否必须安装",
        "建议社区定期组织燃气泄漏和火灾应急演练",
        "施工方将供水管道挖破，已于当日修复，但路面至今未恢复",
        "请问我楼被鉴定为C级危房，能否纳入改造计划",
    ],
)
def test_fears_past_events_and_ordinary_demands_are_not_urgent(text: str) -> None:
    assert not is_urgent(text)
