"""All handlers as one router tree. Order matters: commands and flows with a state come
before the resident's free-text catch-all in ``report``; ``fallback`` answers what is left."""

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


def root_router() -> Router:
    router = Router(name="root")
    router.include_routers(
        group.router,
        common.router,
        onboarding.router,
        admin.router,
        worker.router,
        mytickets.router,
        board.router,
        preferences.router,
        report.router,
        fallback.router,
    )
    return router
