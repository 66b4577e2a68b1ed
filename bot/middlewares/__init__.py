"""Per-update objects for handlers: the database session, the current user, the locale,
and the flood guard. Registered in bot.app.create_dispatcher."""

from bot.middlewares.database import DatabaseMiddleware
from bot.middlewares.throttling import ThrottlingMiddleware
from bot.middlewares.user import UserMiddleware

__all__ = ["DatabaseMiddleware", "ThrottlingMiddleware", "UserMiddleware"]
