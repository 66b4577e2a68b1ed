"""Place names are masked before classification (nlu/places.py): where a demand is does not
decide what it is about."""

from __future__ import annotations

import pytest

from nlu.client import _basics
from nlu.normalize import for_nlu
from nlu.places import find_places, mask_places
from nlu.trainingdata import Item, normalized_items


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        # compound names full of category words
        ("绿地之窗小区停水了", "某某某某某某停水了"),
        ("水岸花园楼道灯坏了", "某某某某楼道灯坏了"),
        ("电力小区停电了", "某某某某停电了"),
        ("我家住在金色家园，暖气不热", "我家住在某某某某，暖气不热"),
        # the compound registry (data/demo/compounds.csv): names, aliases, districts, roads
        ("北陵花园门口垃圾多", "某某某某门口垃圾多"),
        (
            "沈阳市和平区南湖街道文化路12号南湖春晓小区",
            "某某某某某某某某某某某某某12号某某某某某某",
        ),
        # anonymised places of public letters
        ("关于A市A5区绿地之窗小区3栋用水问题的反映", "关于某某某某某某某某某某某3栋用水问题的反映"),
        (
            "请求解决A区某小区配套幼儿园迟迟不开园的问题",
            "请求解决某某某某某配套幼儿园迟迟不开园的问题",
        ),
        ("投诉XX物业违规收取停车费", "投诉某某物业违规收取停车费"),
    ],
)
def test_place_names_are_masked_character_for_character(text: str, masked: str) -> None:
    assert mask_places(text) == masked
    assert len(mask_places(text)) == len(text)  # entity offsets still hold


@pytest.mark.parametrize(
    "text",
    [
        "我们小区门口的路坑坑洼洼",
        "咨询老旧小区水电分离改造能否享受免费政策",
        "小区花园里的树该修剪了",
        "楼下花园没人管",
        "幼儿园门口",
        "去超市买菜",
        "菜市场太吵",
        "3号楼2单元楼道灯坏了",
        "本小区",
    ],
)
def test_ordinary_words_are_not_places(text: str) -> None:
    assert mask_places(text) == text


def test_the_model_is_trained_and_asked_with_the_same_masking() -> None:
    trained = normalized_items([Item("intent", "water", ("[南湖春晓小区](compound)停水了",))])
    assert trained[0].lines == ("[某某某某某某](compound)停水了",)
    assert for_nlu("水岸花園樓道燈壞了") == "某某某某楼道灯坏了"  # normalised, then masked


def test_the_client_still_reports_the_compound_of_the_registry() -> None:
    basics = _basics("南湖春晓小区3号楼停水了")
    assert basics["normalized"] == "南湖春晓小区3号楼停水了"
    assert for_nlu("南湖春晓小区3号楼停水了") == "某某某某某某3号楼停水了"  # what Rasa gets
    [compound] = basics["compounds"]
    assert (compound.entity, compound.value, compound.start, compound.end) == (
        "compound", "南湖春晓小区", 0, 6,
    )  # fmt: skip
    assert [p.kind for p in find_places("绿地之窗小区停水了")] == ["pattern"]  # not a registry name
