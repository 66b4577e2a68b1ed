"""All handlers as one router tree. Order matters: urgent messages first, whatever the state;
commands and flows with a state come before the resident's free-text catch-all in ``report``;
``fallback`` answers what is left."""

from aiogram import Router

from bot.handlers import (
    board,
    common,
    fallback,
    group,
    mytickets,
    onboarding,
    plan_question,
    preferences,
    report,
    staff,
    survey,
)

STAFF_STATES = staff.STAFF_STATES


def root_router() -> Router:
    router = Router(name="root")
    routers = (
        report.urgent_router,  # before every state and flow: see bot/safety.py
        group.router,
        common.router,
        onboarding.router,
        *staff.routers(),  # before mytickets (alerts open the staff card) and report
        mytickets.router,
        survey.router,
        board.router,
        plan_question.router,
        preferences.router,
        report.router,
        fallback.router,
    )
    for child in routers:
        # A process builds one dispatcher, the tests build many: free each router from the
        # tree it joined before.
        child._parent_router = None
    router.include_routers(*routers)
    return router
