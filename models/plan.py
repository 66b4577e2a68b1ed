"""A compound's renovation plan as staff keep it: its stage and its plan items.

Every function checks scope here (``worker_compound_ids``): a button carries only ids, and a
press on another compound's item, forged or stale, raises ``OutOfScope`` and changes nothing.
The public board (bot/handlers/board.py) reads the same rows, so a change shows there at once.
"""

from __future__ import annotations

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.db import utcnow
from models.registry import search_compounds
from models.tables import Compound, District, PlanItem, PlanItemStatus, RenovationStage, User
from models.users import worker_compound_ids
from nlu.taxonomy import load_taxonomy

TITLE_MAX = 100


class OutOfScope(PermissionError):
    """The compound or item is not one this user may change (or does not exist)."""


class PlanItemInvalid(ValueError):
    """``reason``: category, title, duplicate or progress."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"plan item {reason}")
        self.reason = reason


async def compounds_in_scope(
    *, session: AsyncSession, user: User, district_id: int | None = None
) -> list[Compound]:
    """The compounds ``user`` may act on, by name (optionally one district's)."""
    ids = await worker_compound_ids(session=session, user=user)
    if not ids:
        return []
    statement = select(Compound).where(col(Compound.id).in_(ids)).order_by(col(Compound.name))
    if district_id is not None:
        statement = statement.where(Compound.district_id == district_id)
    return list((await session.exec(statement)).all())


async def districts_in_scope(*, session: AsyncSession, user: User) -> list[District]:
    ids = await worker_compound_ids(session=session, user=user)
    if not ids:
        return []
    statement = (
        select(District)
        .where(col(District.id).in_(select(Compound.district_id).where(col(Compound.id).in_(ids))))
        .order_by(col(District.id))
    )
    return list((await session.exec(statement)).all())


async def search_in_scope(
    *, session: AsyncSession, user: User, query: str, limit: int = 8
) -> list[Compound]:
    """Compounds matching a typed name or alias, among those ``user`` may act on."""
    ids = await worker_compound_ids(session=session, user=user)
    found = await search_compounds(session=session, query=query, limit=1000)
    return [c for c in found if c.id in ids][:limit]


async def compound_in_scope(*, session: AsyncSession, user: User, compound_id: int) -> Compound:
    compound = await session.get(Compound, compound_id)
    if compound is None or compound_id not in await worker_compound_ids(session=session, user=user):
        raise OutOfScope(f"compound {compound_id} is not in scope")
    return compound


async def item_in_scope(*, session: AsyncSession, user: User, item_id: int) -> PlanItem:
    """The item, if its compound (the stored one, not what a button claims) is in scope."""
    item = await session.get(PlanItem, item_id)
    if item is None:
        raise OutOfScope(f"plan item {item_id} does not exist")
    await compound_in_scope(session=session, user=user, compound_id=item.compound_id)
    return item


async def plan_items(*, session: AsyncSession, compound_id: int) -> list[PlanItem]:
    statement = (
        select(PlanItem).where(PlanItem.compound_id == compound_id).order_by(col(PlanItem.id))
    )
    return list((await session.exec(statement)).all())


async def update_item(
    *,
    session: AsyncSession,
    user: User,
    item_id: int,
    status: PlanItemStatus | None = None,
    progress: int | None = None,
    step: int | None = None,
) -> PlanItem:
    """Change an item's status and/or progress (``progress`` absolute, ``step`` relative,
    clamped to 0–100). Status and progress stay consistent: 100 % is done, done is 100 %,
    progress on a planned item starts it, and moving a done item back leaves it below 100 %."""
    item = await item_in_scope(session=session, user=user, item_id=item_id)
    if progress is not None and not 0 <= progress <= 100:
        raise PlanItemInvalid("progress")
    if step is not None:
        progress = min(100, max(0, item.progress + step))
    if status is not None:
        item.status = status
        if status == PlanItemStatus.done:
            item.progress = 100
        elif status == PlanItemStatus.planned:
            item.progress = 0
        elif item.progress == 100:
            item.progress = 90
    if progress is not None:
        item.progress = progress
        if progress == 100:
            item.status = PlanItemStatus.done
        elif progress > 0:
            item.status = PlanItemStatus.in_progress
        elif item.status == PlanItemStatus.done:
            item.status = PlanItemStatus.planned
    item.updated_at = utcnow()
    await _touch(session=session, compound_id=item.compound_id)
    await session.flush()
    return item


async def add_item(
    *, session: AsyncSession, user: User, compound_id: int, category: str, title: str
) -> PlanItem:
    await compound_in_scope(session=session, user=user, compound_id=compound_id)
    if category not in load_taxonomy():
        raise PlanItemInvalid("category")
    title = " ".join(title.split())
    if not title or len(title) > TITLE_MAX:
        raise PlanItemInvalid("title")
    same = await session.exec(
        select(PlanItem.id).where(
            PlanItem.compound_id == compound_id,
            PlanItem.category == category,
            PlanItem.title == title,
        )
    )
    if same.first() is not None:
        raise PlanItemInvalid("duplicate")
    item = PlanItem(compound_id=compound_id, category=category, title=title)
    session.add(item)
    await _touch(session=session, compound_id=compound_id)
    await session.flush()
    return item


async def set_stage(
    *, session: AsyncSession, user: User, compound_id: int, stage: RenovationStage
) -> Compound:
    compound = await compound_in_scope(session=session, user=user, compound_id=compound_id)
    compound.renovation_stage = RenovationStage(stage)
    if stage in (RenovationStage.completed, RenovationStage.accepted):
        compound.renovation_progress = 100
    compound.updated_at = utcnow()
    await session.flush()
    return compound


async def set_compound_progress(
    *, session: AsyncSession, user: User, compound_id: int, step: int
) -> Compound:
    """The board's 总进度, moved by ``step`` points (clamped to 0–100)."""
    compound = await compound_in_scope(session=session, user=user, compound_id=compound_id)
    compound.renovation_progress = min(100, max(0, compound.renovation_progress + step))
    compound.updated_at = utcnow()
    await session.flush()
    return compound


async def _touch(*, session: AsyncSession, compound_id: int) -> None:
    compound = await session.get(Compound, compound_id)
    if compound is not None:
        compound.updated_at = utcnow()
