"""The staff's side of the bot (政府接单): a router per feature. Registered before the
residents' routers, so staff typing outside a flow search tickets instead of filing demands."""

from aiogram import Router

from bot.handlers.staff import menu, tickets, workbench

# Conversation states in which staff type notes or searches: danger words there are no report.
STAFF_STATES = frozenset(
    state.state
    for group in (tickets.StaffFlow, workbench.StaffSearch)
    for state in group.__all_states__
)


def routers() -> list[Router]:
    return [menu.router, tickets.router, workbench.router]
