"""Rules about a resident's demand before it becomes a ticket: which category an urgent
message goes to, and which open tickets of the compound say the same thing."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

import jieba
from rapidfuzz import fuzz
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.lifecycle import OPEN_STATUSES
from models.tables import Ticket

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

# Words that say nothing about *what* is wrong; left out when comparing two demands.
_FILLER = frozenset(
    "的 了 吗 呢 啊 呀 吧 哦 嘛 是 在 有 没 没有 不 也 都 就 还 又 很 太 贼 老 咱 我 我们 你 你们 "
    "他 她 它 这 那 这个 那个 一下 一直 已经 现在 今天 昨天 怎么 咋 咋整 啥 什么 请 麻烦 "
    "能 能不能 可以 给 让 把 被 和 跟 与 及 小区 楼 号楼 单元 室 问题 反映 社区 领导 "
    "谢谢 好 好几天 天".split()
)
# Tuned on the pairs in tests/test_demands.py. The match is only offered ("已有 N 位邻居反映过")
# and the resident may still submit separately, so the threshold favours finding duplicates.
SIMILARITY_THRESHOLD = 55
_WORD = re.compile(r"[\u4e00-\u9fffA-Za-z]")


@cache
def _tokens(text: str) -> str:
    words = (w.strip() for w in jieba.lcut(text))
    return " ".join(sorted({w for w in words if _WORD.search(w) and w not in _FILLER}))


def warm_up() -> None:
    """Load jieba's dictionary now (about a second) rather than on a resident's first report."""
    jieba.initialize()


def similarity(a: str, b: str) -> float:
    """0–100: how much two normalised demands say the same thing, word order aside."""
    return fuzz.token_set_ratio(_tokens(a), _tokens(b))


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
        if (score := similarity(normalized_text, ticket.text_normalized)) >= threshold
    ]
    found.sort(key=lambda s: -s.score)
    return found[:limit]
