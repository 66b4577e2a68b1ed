"""Demo people for the local sandbox: a community worker and an admin, ready to use."""

from __future__ import annotations

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.db import id_of
from models.registry import get_compound_by_code
from models.tables import Role, User, WorkerCompound
from models.users import get_or_create_user


async def seed_demo_staff(
    *,
    session: AsyncSession,
    worker_id: int,
    worker_name: str,
    admin_id: int,
    admin_name: str,
    compound_codes: list[str],
) -> None:
    """Idempotent: the worker is responsible for ``compound_codes``; the admin is an admin."""
    worker, _ = await get_or_create_user(
        session=session, telegram_id=worker_id, chat_id=worker_id, first_name=worker_name
    )
    worker.role = Role.worker
    have = set(
        (
            await session.exec(
                select(WorkerCompound.compound_id).where(WorkerCompound.worker_id == worker.id)
            )
        ).all()
    )
    for code in compound_codes:
        compound = await get_compound_by_code(session=session, code=code)
        if compound is not None and compound.id not in have:
            session.add(WorkerCompound(worker_id=id_of(worker), compound_id=id_of(compound)))
    admin, _ = await get_or_create_user(
        session=session, telegram_id=admin_id, chat_id=admin_id, first_name=admin_name
    )
    admin.role = Role.city_staff
    await session.flush()


async def staff_ids(*, session: AsyncSession) -> list[int]:
    rows = await session.exec(select(User.telegram_id).where(User.role != Role.resident))
    return list(rows.all())
