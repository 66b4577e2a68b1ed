"""Rules on a demand before it is a ticket: duplicates, urgent categories, masking phones."""

from __future__ import annotations

import pytest

from models.demands import SIMILARITY_THRESHOLD, similarity, urgent_category
from models.privacy import mask_phones

# The examples SIMILARITY_THRESHOLD was tuned on: residents describing the same problem...
SAME = [
    ("3号楼下水道又堵了，味道贼大", "三号楼下水道堵了好几天了"),
    ("小区门口路灯不亮", "门口那几个路灯晚上都不亮"),
    ("想给我们楼加装电梯", "老楼能不能加装电梯啊"),
    ("垃圾站太臭了", "垃圾站味道太大了，夏天熏死人"),
]
# ...and different problems of the same category.
DIFFERENT = [
    ("3号楼下水道堵了", "小区路灯不亮"),
    ("想加装电梯", "电梯坏了好几天"),
    ("楼顶漏水", "外墙皮掉了砸到车"),
    ("暖气不热", "燃气管道老化"),
    ("垃圾站太臭", "垃圾分类没人管"),
]


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


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("有事打我电话13812345678", "有事打我电话138******78"),
        ("电话 +86 139-1234-5678 谢谢", "电话 139******78 谢谢"),
        ("座机024-23456789", "座机024******89"),
        ("3号楼2单元501室", "3号楼2单元501室"),
        ("2026年11月24日", "2026年11月24日"),
    ],
)
def test_phone_numbers_are_masked(text: str, masked: str) -> None:
    assert mask_phones(text) == masked
