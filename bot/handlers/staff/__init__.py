"""The staff's side of the bot (政府接单): a router per feature. Registered before the
residents' routers, so staff typing outside a flow search tickets instead of filing demands."""

from __future__ import annotations

from aiogram import Router

from bot.compound_picker import PickCompound
from bot.handlers.staff import (
    admin,
    menu,
    monthly_report,
    notices,
    picker,
    plan,
    tickets,
    workbench,
)
from bot.staff_card import StaffFlow

# Conversation states in which staff type (notes, searches, names, titles, numbers): danger
# words there are not a report.
STAFF_STATES = frozenset(
    state.state
    for group in (
        StaffFlow,
        workbench.StaffSearch,
        PickCompound,
        plan.PlanInput,
        notices.Compose,
    )
    for state in group.__all_states__
    if state.state is not None  # always set once the group is declared
)


def routers() -> list[Router]:
    # The pickers and typed inputs of plan/admin before the workbench's free-text search.
    return [
        menu.router(),
        monthly_report.router(),  # /report 2026-11 (staff) before the resident's /report
        picker.router(),
        plan.router(),
        admin.router(),
        notices.router(),
        tickets.router(),
        workbench.router(),
    ]
