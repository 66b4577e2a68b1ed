"""The staff rules in models/ on both databases: plan updates in scope, worker administration."""

from __future__ import annotations

import pytest
from sqlmodel import select

from models.plan import OutOfScope, PlanItemInvalid, add_item, set_stage, update_item
from models.tables import (
    Compound,
    District,
    PlanItem,
    PlanItemStatus,
    Role,
    User,
    WorkerCompound,
)
from models.users import (
    NotManageable,
    managed_workers,
    remove_worker_compound,
    revoke_worker,
)
from tests.conftest import load_demo_registry


async def _setup(s):
    by_code = {c.code: c for c in (await s.exec(select(Compound))).all()}
    heping = (await s.exec(select(District).where(District.code == "heping"))).one()
    worker = User(telegram_id=1, chat_id=1, first_name="李姐", role=Role.worker)
    district = User(telegram_id=2, chat_id=2, role=Role.district_staff, district_id=heping.id)
    s.add_all([worker, district])
    await s.flush()
    for code in ("hp01", "sh01"):
        s.add(WorkerCompound(worker_id=worker.id, compound_id=by_code[code].id))
    await s.flush()
    return by_code, worker, district


async def test_plan_updates_keep_status_and_progress_consistent(session_factory):
    await load_demo_registry(session_factory)
    async with session_factory() as s, s.begin():
        by_code, worker, _ = await _setup(s)
        item = await add_item(session=s, user=worker, compound_id=by_code["hp01"].id,
                              category="greening", title="  补种  行道树 ")  # fmt: skip
        assert item.title == "补种 行道树" and item.status == PlanItemStatus.planned
        with pytest.raises(PlanItemInvalid):
            await add_item(session=s, user=worker, compound_id=by_code["hp01"].id,
                           category="greening", title="补种 行道树")  # fmt: skip
        await update_item(session=s, user=worker, item_id=item.id, step=10)
        assert (item.status, item.progress) == (PlanItemStatus.in_progress, 10)
        await update_item(session=s, user=worker, item_id=item.id, progress=100)
        assert item.status == PlanItemStatus.done
        await update_item(
            session=s, user=worker, item_id=item.id, status=PlanItemStatus.in_progress
        )
        assert item.progress == 90
        await update_item(session=s, user=worker, item_id=item.id, step=-100)
        assert (item.status, item.progress) == (PlanItemStatus.in_progress, 0)
        other = (
            await s.exec(select(PlanItem).where(PlanItem.compound_id == by_code["dd01"].id))
        ).first()
        with pytest.raises(OutOfScope):
            await update_item(session=s, user=worker, item_id=other.id, progress=50)
        with pytest.raises(OutOfScope):
            await set_stage(
                session=s, user=worker, compound_id=by_code["dd01"].id, stage="accepted"
            )
        with pytest.raises(OutOfScope):
            await update_item(session=s, user=worker, item_id=10**6, progress=5)


async def test_district_staff_remove_their_compound_but_cannot_revoke_a_shared_worker(
    session_factory,
):
    await load_demo_registry(session_factory)
    async with session_factory() as s, s.begin():
        by_code, worker, district = await _setup(s)
        [(listed, compounds)] = await managed_workers(session=s, by=district)
        assert listed.id == worker.id and {c.code for c in compounds} == {"hp01", "sh01"}
        with pytest.raises(NotManageable):  # sh01 is another district's
            await remove_worker_compound(session=s, by=district, worker_id=worker.id,
                                         compound_id=by_code["sh01"].id)  # fmt: skip
        with pytest.raises(NotManageable):  # they also work in 沈河区
            await revoke_worker(session=s, by=district, worker_id=worker.id)
        assert await remove_worker_compound(session=s, by=district, worker_id=worker.id,
                                            compound_id=by_code["hp01"].id)  # fmt: skip
        assert await managed_workers(session=s, by=district) == []
        with pytest.raises(NotManageable):  # no longer one of theirs at all
            await revoke_worker(session=s, by=district, worker_id=worker.id)
        with pytest.raises(NotManageable):  # workers do not manage workers
            await revoke_worker(session=s, by=worker, worker_id=worker.id)
    async with session_factory() as s:
        links = (await s.exec(select(WorkerCompound))).all()
        assert [link.compound_id for link in links] == [by_code["sh01"].id]
