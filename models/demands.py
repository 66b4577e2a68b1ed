"""Rules about a resident's demand before it becomes a ticket: which category an urgent
message goes to, and which open tickets of the compound say the same thing."""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.lifecycle import OPEN_STATUSES
from models.tables import Ticket
from nlu.normalize import normalize
from nlu.places import mask_places

ROOT = Path(__file__).resolve().parent.parent

# Where an urgent message belongs when NLU cannot say (unavailable, or a non-category intent).
URGENT_REASON_CATEGORY = {
    "gas": "heating_gas",
    "fire": "fire_safety",
    "electric": "power_telecom",
    "flood": "water",
    "collapse": "building",
    "elevator": "elevator",
    "injury": "construction",
    "emergency": "fire_safety",
}

# Duplicate detection ("已有 N 位邻居反映过"): two demands of the same compound and category say
# the same thing when their character n-gram vectors are close once domain synonyms are merged
# (漏雨/漏水/渗水, 楼顶/顶楼/房顶, 发霉/长毛...: nlu/lexicon/synonyms.yml) and words that say
# nothing about *what* is wrong are dropped. Character n-grams need no segmentation and catch
# shared words in any order; IDF weights from the NLU training data make 漏/霉/梯 count more than
# 了/的/楼. Place names are masked first (nlu/places.py): within one compound they add nothing.
LEXICON = ROOT / "nlu" / "lexicon" / "synonyms.yml"
# The threshold is chosen on these pairs (tests/test_demands.py checks it), never on the
# held-out pair set (nlu/tests/duplicate_pairs.yml, scored by the eval).
TUNING_PAIRS = ROOT / "nlu" / "lexicon" / "duplicate_pairs_tuning.yml"
# Cosine similarity x 100 at which a match is offered. The resident may still submit separately,
# so a wrong offer costs one tap; a missed one splits the neighbours' voices. On the 121 tuning
# pairs: precision 0.904, recall 0.904 (at 6: 0.885 / 0.945; at 12: 0.909 / 0.822).
SIMILARITY_THRESHOLD = 8
_FILLER = re.compile(
    "|".join(
        sorted(
            (
                "小区 号楼 单元 问题 反映 投诉 请求 关于 希望 建议 麻烦 谢谢 领导 社区 一下 "
                "一直 已经 现在 今天 昨天 好几天 好多天 能不能 可不可以 可以 怎么 "
                "咋整 咋办 啥时候 什么 有人 "
                "我们 我家 咱们 俺们 家里 屋里 这个 那个 还是 就是 真是 实在 特别 非常 严重 "
                "的 了 吗 呢 啊 呀 吧 哦 嘛 是 在 有 也 都 就 还 又 很 太 贼 咱 俺 我 你 他 她 它 "
                "这 那 请 给 让 把 被 和 跟 与 及 个 些 么 啦 哈 呗 某"
            ).split(),
            key=len,
            reverse=True,
        )
    )
)
_NOT_TEXT = re.compile(r"[^\u4e00-\u9fffA-Za-z0-9]+")


@cache
def _lexicon() -> dict[str, Any]:
    return yaml.safe_load(LEXICON.read_text("utf-8")) or {}


@cache
def _synonyms() -> tuple[re.Pattern[str] | None, dict[str, str]]:
    groups = _lexicon().get("groups") or {}
    canonical = {str(v): str(key) for key, variants in groups.items() for v in variants}
    if not canonical:
        return None, {}
    variants = sorted(canonical, key=len, reverse=True)
    return re.compile("|".join(map(re.escape, variants))), canonical


@cache
def canonical(text: str) -> str:
    """What of a demand is compared: places masked, synonyms merged, filler and punctuation out."""
    text = mask_places(normalize(text)).lower()
    pattern, canonical_of = _synonyms()
    if pattern is not None:
        text = pattern.sub(lambda m: canonical_of[m.group(0)], text)
    text = _FILLER.sub(" ", text)
    return _NOT_TEXT.sub(" ", text).strip()


def _ngrams(text: str) -> dict[str, float]:
    """Characters, and character pairs at half weight: a paraphrase shares the characters of its
    key words more often than their order (on the tuning pairs half-weight pairs found more
    paraphrases at the same precision than full-weight ones)."""
    grams: defaultdict[str, float] = defaultdict(float)
    for chunk in text.split():
        for char in chunk:
            grams[char] += 1
        for i in range(len(chunk) - 1):
            grams[chunk[i : i + 2]] += 0.5
    return grams


@cache
def _idf() -> dict[str | None, tuple[dict[str, float], float]]:
    """IDF of character 1-2-grams over the NLU training examples of each category (and of all
    of them, under None), with the weight of an n-gram never seen. Two demands are compared
    within one category, where the category's own words (灯 for lighting, 梯 for elevators) say
    nothing about which demand it is: weighed by the category's IDF they count little, and the
    words of the problem itself (漏, 霉, 不亮, 装 against 坏) decide."""
    from nlu.trainingdata import training_examples

    texts: dict[str | None, list[str]] = {None: []}
    for e in training_examples():
        text = canonical(e.text)
        texts[None].append(text)
        texts.setdefault(e.intent, []).append(text)
    weights: dict[str | None, tuple[dict[str, float], float]] = {}
    for category, items in texts.items():
        document_frequency: Counter[str] = Counter()
        for text in items:
            document_frequency.update(set(_ngrams(text)))
        n = len(items)
        idf = {g: math.log((1 + n) / (1 + df)) + 1 for g, df in document_frequency.items()}
        weights[category] = (idf, math.log(1 + n) + 1)
    return weights


def _vector(text: str, category: str | None) -> dict[str, float]:
    weights = _idf()
    idf, unseen = weights.get(category) or weights[None]
    grams = _ngrams(canonical(text))
    return {g: (1 + math.log(c) if c >= 1 else c) * idf.get(g, unseen) for g, c in grams.items()}


def warm_up() -> None:
    """Read the lexicon and the IDF weights now rather than on a resident's first report."""
    _idf()


def similarity(a: str, b: str, *, category: str | None = None) -> float:
    """0–100: how much two demands of ``category`` say the same thing (cosine of their n-gram
    vectors, weighed by the category's IDF; by the IDF of all demands without a category)."""
    va, vb = _vector(a, category), _vector(b, category)
    dot = sum(w * vb.get(g, 0.0) for g, w in va.items())
    norm = math.sqrt(sum(w * w for w in va.values())) * math.sqrt(sum(w * w for w in vb.values()))
    score = 100.0 * dot / norm if norm else 0.0
    for first, second in _lexicon().get("contrasts") or []:
        a_says = (first in va, second in va)
        b_says = (first in vb, second in vb)
        if a_says in ((True, False), (False, True)) and b_says == a_says[::-1]:
            score /= 2  # "想加装电梯" and "电梯坏了": a new thing is not a broken one
    return score


def urgent_category(reason: str | None, confident_category: str | None) -> str:
    """An urgent ticket is created without questions: NLU's category when it is sure,
    otherwise the one the danger itself points to."""
    return confident_category or URGENT_REASON_CATEGORY.get(reason or "", "other")


@dataclass(frozen=True, slots=True)
class SimilarTicket:
    ticket: Ticket
    score: float


async def find_similar_open_tickets(
    *,
    session: AsyncSession,
    compound_id: int,
    category: str,
    normalized_text: str,
    exclude_author_id: int | None = None,
    threshold: float = SIMILARITY_THRESHOLD,
    limit: int = 3,
) -> list[SimilarTicket]:
    statement = select(Ticket).where(
        Ticket.compound_id == compound_id,
        Ticket.category == category,
        col(Ticket.status).in_(OPEN_STATUSES),
    )
    if exclude_author_id is not None:
        statement = statement.where(Ticket.author_id != exclude_author_id)
    found = [
        SimilarTicket(ticket, score)
        for ticket in (await session.exec(statement)).all()
        if (score := similarity(normalized_text, ticket.text_normalized, category=category))
        >= threshold
    ]
    found.sort(key=lambda s: -s.score)
    return found[:limit]
