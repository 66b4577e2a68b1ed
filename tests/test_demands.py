"""Rules on a demand before it is a ticket: duplicates and urgent categories."""

from __future__ import annotations

import pytest

from models.demands import SIMILARITY_THRESHOLD, similarity, urgent_category

# The examples SIMILARITY_THRESHOLD was tuned on: residents describing the same problem...
SAME = [
    ("3号楼下水道又堵了，味道贼大", "三号楼下水道堵了好几天了"),
    ("小区门口路灯不亮", "门口那几个路灯晚上都不亮"),
    ("想给我们楼加装电梯", "老楼能不能加装电梯啊"),
    ("垃圾站太臭了", "垃圾站味道太大了，夏天熏死人"),
    ("小区门口那几个路灯晚上都不亮，黑咕隆咚的", "门口路灯不亮好多天了，晚上走路害怕"),
]
# ...and different problems of the same category.
DIFFERENT = [
    ("3号楼下水道堵了", "小区路灯不亮"),
    ("楼顶漏水", "外墙皮掉了砸到车"),
    ("暖气不热", "燃气管道老化"),
    ("垃圾站太臭", "垃圾分类没人管"),
]


# Known limits of a word-overlap measure, pinned so a change to it is noticed: a synonym
# paraphrase is missed, and two different elevator demands are offered as one (one extra tap).
MISSED = [("楼顶漏水，家里墙都湿了", "顶楼漏雨，屋里墙面发霉")]
OFFERED_THOUGH_DIFFERENT = [("想加装电梯", "电梯坏了好几天")]


def test_known_limits_of_the_measure() -> None:
    assert all(similarity(a, b) < SIMILARITY_THRESHOLD for a, b in MISSED)
    assert all(similarity(a, b) >= SIMILARITY_THRESHOLD for a, b in OFFERED_THOUGH_DIFFERENT)


@pytest.mark.parametrize(("a", "b"), SAME)
def test_same_problem_is_similar(a: str, b: str) -> None:
    assert similarity(a, b) >= SIMILARITY_THRESHOLD


@pytest.mark.parametrize(("a", "b"), DIFFERENT)
def test_different_problems_are_not(a: str, b: str) -> None:
    assert similarity(a, b) < SIMILARITY_THRESHOLD


def test_urgent_category_prefers_a_confident_nlu_answer() -> None:
    assert urgent_category("gas", "heating_gas") == "heating_gas"
    assert urgent_category("fire", None) == "fire_safety"
    assert urgent_category("elevator", None) == "elevator"
    assert urgent_category(None, None) == "other"
