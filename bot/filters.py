from __future__ import annotations

from typing import Any, ClassVar

from aiogram.filters import Filter
from aiogram.types import TelegramObject
from aiogram.utils.i18n import I18n

from bot.i18n import variants
from models.tables import Role, User


class HasRole(Filter):
    """Passes when the current user has one of ``roles``. Staff above a role pass its check
    (city staff pass a district staff check; both pass a worker check). Menus only: every
    action checks scope again in models/."""

    ABOVE: ClassVar[dict[Role, set[Role]]] = {
        Role.worker: {Role.district_staff, Role.city_staff},
        Role.district_staff: {Role.city_staff},
    }

    def __init__(self, *roles: Role) -> None:
        self.roles = frozenset(roles).union(*(self.ABOVE.get(role, set()) for role in roles))

    async def __call__(self, _event: TelegramObject, user: User | None = None, **_: Any) -> bool:
        return user is not None and user.role in self.roles


class MenuButton(Filter):
    """A tap on a main-menu button, in whichever language the user reads the menu."""

    def __init__(self, label: str) -> None:
        self.label = label

    async def __call__(self, event: TelegramObject, i18n: I18n, **_: Any) -> bool:
        text = getattr(event, "text", None)
        return text is not None and text in variants(i18n, self.label)
