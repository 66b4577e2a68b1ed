"""Place names are masked before classification: where a demand is says nothing about what it is.

Formal letters start with an address ("关于A市A5区绿地之窗小区3栋用水问题的反映") and compound
names are full of category words (绿地之窗, 水岸花园, 电力小区, 北陵花园): left in, they pull the
classifier towards greening, water or power. Every place name found here is replaced, character
for character, by "某" ("绿地之窗小区停水了" → "某某某某某某停水了"), in training
(``trainingdata.normalized_items``) and at run time (``normalize.for_nlu``), so the model learns
and sees the same thing. The length is kept so that entity offsets still refer to the unmasked
text; the ``compound`` entity of a registry name is reported by the client from the spans found
here (``client.py``).

What is found (by patterns, no model):

- the compound registry (``data/demo/compounds.csv``: names, aliases, the districts, street
  offices and roads of the addresses);
- anonymised places: ``A市``, ``A5区``, ``B3街道``, ``XX小区``, ``某某花园``;
- names before a compound suffix (小区, 花园, 家园, 新村, 公寓, 苑, 华府, 山庄...), two to six
  characters back to a word that cannot be part of a name ("关于", "我们", punctuation),
  unless the name is a generic word ("老旧小区", "我们小区", "楼下花园" are kept);
- ``X市`` / ``X区`` / ``X县`` / ``X街道`` / ``X路`` right after another place ("沈阳市和平区",
  "A5区人民路").
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

MASK = "某"

_HAN = "\u4e00-\u9fff"
# Suffixes that end a compound's name. 园 alone (幼儿园, 公园) and 里 (家里) are left out.
_COMPOUND_SUFFIX = (
    "小区|花园|家园|嘉园|佳园|新村|公寓|新城|新苑|名苑|雅苑|华苑|花苑|苑|华府|府邸|山庄|庄园|"
    "公馆|花城|雅居|家属院|家属楼|宿舍|大院|东区|西区|南区|北区|东院|西院|南院|北院"
)
_COMPOUND = re.compile(f"(?:{_COMPOUND_SUFFIX})")
# Characters that never belong to a place name: the name starts after the last of them.
_STOP = set("的在住是了和与及对把被给向从到这那个我你他她们咱俺请问就都也还又很说要想让")
_STOP |= set(" ,.!?;:，。！？；：、()（）[]【】《》“”\"'\n\t")
# Words that, found at the start of a candidate name, are not part of it.
_LEADING = re.compile(
    "^(?:关于|有关|投诉|反映|咨询|请求|要求|解决|举报|建议|希望|位于|居住|居住在|住在|我是|本人|"
    "业主|居民|市民|请问|问下|问一下|尊敬的|领导|您好|你好|在|于|对|为|将|致|给)+"
)
# Candidate names that are ordinary words: "老旧小区", "楼下花园", "安置小区" stay as they are.
_GENERIC = re.compile(
    "^(?:老旧|老|旧|新建|新|本|该|此|整个|全|各|周边|附近|对面|隔壁|周围|一个|多个|其他|其它|同一|"
    "商品房|回迁|安置|动迁|单位|职工|开放式|封闭式?|无物业|弃管|无主|居民|住宅|城中村|棚户区|"
    "所在|所住|整|每个|两个|几个|楼下|楼前|楼后|门口|后面|前面|中心|街心|社区|空中|屋顶|楼顶|"
    "小|大|老式|高档|普通|农村|城市|市区|这种|那种|一些|有的|部分|上述|涉事|问题|我家|家|"
    "共有|公共|公有|私人|里面|里|内|外|区|东|西|南|北|一期|二期|三期|[一二三四五六七八九十\\d]+期)+$"
)
# Anonymised places of public letters: A市, A5区, B3街道, C2路, XX小区, 某某花园.
_ANONYMISED = re.compile(
    rf"(?:[A-Z][0-9]{{0,3}}|X{{1,3}}|x{{1,3}}|某{{1,3}}|\*{{1,3}})"
    rf"(?:省|市|区|县|镇|乡|街道|社区|村|路|街|大道|{_COMPOUND_SUFFIX})"
    # the company's name, not the company: "XX物业" keeps 物业
    r"|(?:X{1,3}|x{1,3}|某某)(?=物业|公司|开发|房地产|集团|置业|地产)"
)
# A city at the start of the text or of an address: "沈阳市和平区...", "关于长沙市...".
_CITY = re.compile(
    rf"(?:(?<![{_HAN}])|(?<=于)|(?<=在)|(?<=是))[{_HAN}]{{2,3}}(?:市|省)(?!场|民|政|区域|容|值|面|内|中心)"
)
_NOT_CITY = set("超菜夜早集城股门上开闹花鱼街黑都互去")
# After a place: the administrative unit or road that follows ("沈阳市和平区", "A5区人民路").
_FOLLOWING = re.compile(rf"^[{_HAN}A-Za-z0-9]{{1,5}}?(?:省|市|区|县|镇|乡|街道|大街|大道|路|街)")
_ADMINISTRATIVE = re.compile("(?:省|市|(?<![小社东西南北园])区|县|镇|乡|街道)$")
# Anything with these words right after it is not a place (市场, 市民, 区域...).
_NOT_AFTER = re.compile("^(?:场|民|政|容|值|面|内|中心|域|别|间|委|里|府)")


@dataclass(frozen=True, slots=True)
class Place:
    start: int
    end: int
    kind: str  # "registry" (a name of the compound registry) or "pattern"

    @property
    def text_span(self) -> tuple[int, int]:
        return self.start, self.end


@cache
def registry_names(csv_path: Path | None = None) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(compound names and aliases, districts / street offices / roads of their addresses)."""
    from nlu.model import COMPOUNDS_CSV

    path = csv_path or COMPOUNDS_CSV
    compounds: set[str] = set()
    areas: set[str] = set()
    if not path.exists():
        return (), ()
    with path.open(encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            compounds.add(row["name"].strip())
            compounds.update(a.strip() for a in (row.get("aliases") or "").split("|"))
            district = (row.get("district_name") or "").strip()
            areas.add(district)
            address = (row.get("address") or "").strip().removeprefix(district)
            for part in re.findall(rf"[{_HAN}]+?(?:街道|大街|路|街|镇)", address):
                areas.add(part)
    compounds.discard("")
    areas = {a for a in areas if len(a) >= 2}
    by_length = lambda names: tuple(sorted(names, key=lambda n: (-len(n), n)))  # noqa: E731
    return by_length(compounds), by_length(areas)


@cache
def _registry_patterns() -> tuple[re.Pattern[str] | None, re.Pattern[str] | None]:
    compounds, areas = registry_names()
    make = lambda names: re.compile("|".join(map(re.escape, names))) if names else None  # noqa: E731
    return make(compounds), make(areas)


def _free(taken: list[bool], start: int, end: int) -> bool:
    return not any(taken[start:end])


def _take(places: list[Place], taken: list[bool], start: int, end: int, kind: str) -> None:
    places.append(Place(start, end, kind))
    for i in range(start, end):
        taken[i] = True


def _named_before_suffix(text: str, taken: list[bool], suffix_start: int) -> int | None:
    """Start of the name in front of a compound suffix at ``suffix_start``, or None."""
    start = suffix_start
    bounded = False  # the name starts at a word boundary, not just where the window ends
    while start > 0 and suffix_start - start < 6:
        ch = text[start - 1]
        if taken[start - 1] or ch in _STOP or not re.match(rf"[{_HAN}A-Za-z0-9]", ch):
            bounded = True
            break
        start -= 1
    bounded = bounded or start == 0
    name = text[start:suffix_start]
    leading = _LEADING.match(name)
    if leading:
        start += leading.end()
        name = text[start:suffix_start]
    elif not bounded:
        return None  # "物业公司撤离后小区": six characters of a sentence, not a name
    if len(name) < 2 or _GENERIC.match(name) or re.fullmatch(r"[\d]+", name):
        return None
    if "小区" in name or "社区" in name:
        return None
    return start


def find_places(text: str) -> list[Place]:
    """Place names in normalised ``text``, in order, without overlaps."""
    places: list[Place] = []
    taken = [False] * len(text)
    compounds, areas = _registry_patterns()
    for pattern, kind in ((compounds, "registry"), (areas, "pattern")):
        if pattern is None:
            continue
        for m in pattern.finditer(text):
            if _free(taken, m.start(), m.end()):
                _take(places, taken, m.start(), m.end(), kind)
    for m in _ANONYMISED.finditer(text):
        if _free(taken, m.start(), m.end()) and not _NOT_AFTER.match(text[m.end() :]):
            _take(places, taken, m.start(), m.end(), "pattern")
    for m in _CITY.finditer(text):
        name = m.group()[:-1]
        if (
            _free(taken, m.start(), m.end())
            and not _LEADING.match(name)
            and not _STOP & set(name)
            and name[-1] not in _NOT_CITY
        ):
            _take(places, taken, m.start(), m.end(), "pattern")
    for m in _COMPOUND.finditer(text):
        if not _free(taken, m.start(), m.end()):
            continue
        start = _named_before_suffix(text, taken, m.start())
        if start is not None:
            _take(places, taken, start, m.end(), "pattern")
    _take_following(text, places, taken)
    return sorted(places, key=lambda p: p.start)


def _take_following(text: str, places: list[Place], taken: list[bool]) -> None:
    """Units and roads right after a place found so far: "沈阳市和平区", "A5区人民路12号";
    again after each one taken, so a chain of them is found whole."""
    changed = True
    while changed:
        changed = False
        for place in sorted(places, key=lambda p: p.start):
            if not _ADMINISTRATIVE.search(text[place.start : place.end]):
                continue  # only after a city, district or street office, not after a compound
            rest = text[place.end :]
            following = _FOLLOWING.match(rest)
            if (
                following
                and not _STOP & set(following.group())
                and not _NOT_AFTER.match(rest[following.end() :])
            ):
                start, end = place.end, place.end + following.end()
                if _free(taken, start, end):
                    _take(places, taken, start, end, "pattern")
                    changed = True


def mask_places(text: str) -> str:
    """``text`` with every place name replaced by as many "某" as it has characters."""
    chars = list(text)
    for place in find_places(text):
        chars[place.start : place.end] = MASK * (place.end - place.start)
    return "".join(chars)
