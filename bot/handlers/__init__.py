"""All handlers as one router tree. Order matters: urgent messages first, whatever the state;
commands and flows with a state come before the resident's free-text catch-all in ``report``;
``fallback`` answers what is left."""

from aiogram import Router

from bot.handlers import (
    admin,
    board,
    common,
    fallback,
    group,
    mytickets,
    onboarding,
    preferences,
    report,
    worker,
)
from bot.handlers.staff import notices as staff_notices
from bot.handlers.staff import routers as staff_routers

# Conversation states in which staff type notes: danger words there are not a report.
STAFF_STATES = frozenset(
    state.state
    for state in (*mytickets.StatusNote.__all_states__, *staff_notices.Compose.__all_states__)
)


def root_router() -> Router:
    router = Router(name="root")
    routers = (
        report.urgent_router,  # before every state and flow: see bot/safety.py
        group.router,
        common.router,
        onboarding.router,
        admin.router,
        worker.router,
        mytickets.router,
        board.router,
        preferences.router,
        *staff_routers(),
        report.router,
        fallback.router,
    )
    for child in routers:
        # A process builds one dispatcher, the tests build many: free each router from the
        # tree it joined before.
        child._parent_router = None
    router.include_routers(*routers)
    return router
