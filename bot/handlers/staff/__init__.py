"""Staff features, one router per module; ``routers()`` lists them for bot/handlers."""

from aiogram import Router

from bot.handlers.staff import notices


def routers() -> tuple[Router, ...]:
    return (notices.router,)
