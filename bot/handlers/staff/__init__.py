"""Handlers for district and city staff. ``routers()`` lists them in the order they join the
tree; they come before ``report.router``, whose ``/report`` is the resident's."""

from aiogram import Router

from bot.handlers.staff import monthly_report


def routers() -> list[Router]:
    return [monthly_report.router]
