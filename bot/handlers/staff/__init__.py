"""The community workers' console: each part is a router of its own."""

from __future__ import annotations

from aiogram import Router

from bot.handlers.staff import admin, picker, plan

# Conversation states in which staff type (names, titles, numbers): not a report.
STAFF_STATES = frozenset(
    state.state for group in (picker.PickCompound, plan.PlanInput) for state in group.__all_states__
)


def routers() -> list[Router]:
    return [picker.router, plan.router, admin.router]
