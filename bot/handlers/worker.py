"""Community workers: the compounds they are responsible for and their open tickets."""

from __future__ import annotations

from html import escape

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.types import Message
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.filters import HasRole
from bot.i18n import _
from bot.texts import STATUS_LABELS
from models.lifecycle import OPEN_STATUSES
from models.privacy import public_snippet
from models.tables import Compound, Role, Ticket, User
from models.users import worker_compound_ids

router = Router(name=__name__)
router.message.filter(F.chat.type == "private")


@router.message(Command("tickets", "mycompounds"), ~HasRole(Role.worker))
async def not_worker(message: Message) -> None:
    await message.answer(_("抱歉，这个功能只对社区工作者开放。"))


@router.message(Command("mycompounds"), HasRole(Role.worker))
async def my_compounds(message: Message, session: AsyncSession, user: User) -> None:
    ids = await worker_compound_ids(session=session, user=user)
    names = (await session.exec(select(Compound.name).where(col(Compound.id).in_(ids)))).all()
    await message.answer(_("您负责的小区：{names}").format(names="、".join(names) or "—"))


@router.message(Command("tickets"), HasRole(Role.worker))
async def open_tickets(message: Message, session: AsyncSession, user: User) -> None:
    ids = await worker_compound_ids(session=session, user=user)
    tickets = (
        await session.exec(
            select(Ticket)
            .where(col(Ticket.compound_id).in_(ids), col(Ticket.status).in_(OPEN_STATUSES))
            .order_by(col(Ticket.urgent).desc(), col(Ticket.response_due_at))
            .limit(20)
        )
    ).all()
    if not tickets:
        await message.answer(_("您负责的小区目前没有待办诉求。"))
        return
    lines = [_("待办诉求（最多显示 20 条）：")]
    for ticket in tickets:
        flag = "🚨" if ticket.urgent else "•"
        lines.append(
            f"{flag} {ticket.reference} [{_(STATUS_LABELS[ticket.status])}] "  # type: ignore[index]
            f"{escape(public_snippet(ticket.text_original, 40))}"
        )
    await message.answer("\n".join(lines))
