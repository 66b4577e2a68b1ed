"""Where a compound's renovation stands, for a resident who asks ("什么时候开始改造？",
"改造到哪一步了"): its stage and the next one, the planned year, the plan items by status, and
the planned finish when it is known. The board (小区改造) shows the same rows in full."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlmodel.ext.asyncio.session import AsyncSession

from models.plan import plan_items
from models.tables import Compound, PlanItemStatus, RenovationStage

# The stages in the order a renovation goes through them: the enum declares them in that order.
STAGES = tuple(RenovationStage)
NOT_STARTED = (RenovationStage.surveying, RenovationStage.planning)


@dataclass(frozen=True, slots=True)
class RenovationStatus:
    compound: Compound
    stage: RenovationStage
    items: int  # plan items, whatever their status
    items_done: int
    items_in_progress: int
    # The latest due date of the unfinished items, when every one of them has a date: an
    # item without one could end later, so no finish is promised then.
    planned_finish: date | None

    @property
    def next_stage(self) -> RenovationStage | None:
        following = STAGES.index(self.stage) + 1
        return STAGES[following] if following < len(STAGES) else None

    @property
    def started(self) -> bool:
        """The works have begun (施工中 or later)."""
        return self.stage not in NOT_STARTED


async def renovation_status(*, session: AsyncSession, compound_id: int) -> RenovationStatus | None:
    """The compound's renovation as it stands now; None if there is no such compound."""
    compound = await session.get(Compound, compound_id)
    if compound is None:
        return None
    items = await plan_items(session=session, compound_id=compound_id)
    unfinished = [item for item in items if item.status != PlanItemStatus.done]
    dates = [item.due_date for item in unfinished if item.due_date is not None]
    return RenovationStatus(
        compound=compound,
        stage=RenovationStage(compound.renovation_stage),
        items=len(items),
        items_done=len(items) - len(unfinished),
        items_in_progress=sum(item.status == PlanItemStatus.in_progress for item in unfinished),
        planned_finish=max(dates) if dates and len(dates) == len(unfinished) else None,
    )
