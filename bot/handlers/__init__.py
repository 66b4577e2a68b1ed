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
    modules = (
        group,
        common,
        onboarding,
        admin,
        worker,
        mytickets,
        board,
        preferences,
        report,
        fallback,
    )
    for module in modules:
        # A process builds one dispatcher, the tests build many: free each module's router
        # from the tree it joined before.
        module.router._parent_router = None
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
