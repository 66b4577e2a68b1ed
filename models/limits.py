"""How much text a column holds, read from the column itself (models/tables.py states it once).

PostgreSQL refuses a value longer than its VARCHAR and SQLite stores it anyway, so text that
people type is checked here first (``checked``: the handler then asks for something shorter)
and text that arrives from Telegram is cut to fit (``fitted``: nobody typed it for us).
A free-text column without a VARCHAR length may still carry a limit in ``info["max_length"]``.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Column


class TooLong(ValueError):
    """Text longer than its column allows; ``limit`` and ``length`` count characters."""

    def __init__(self, field: str, limit: int, length: int) -> None:
        super().__init__(f"{field}: {length} characters, at most {limit}")
        self.field, self.limit, self.length = field, limit, length


def _column(attribute: Any) -> Column[Any]:
    """The table column behind a model attribute such as ``User.building``."""
    column: Column[Any] = attribute.property.columns[0]
    return column


def max_length(attribute: Any) -> int | None:
    """The most characters the column holds; None when it has no limit."""
    column = _column(attribute)
    length = getattr(column.type, "length", None) or column.info.get("max_length")
    return int(length) if length else None


def checked(attribute: Any, value: str | None) -> str | None:
    """``value`` unchanged if it fits the column, else raise TooLong."""
    limit = max_length(attribute)
    if value is not None and limit is not None and len(value) > limit:
        raise TooLong(_column(attribute).key, limit, len(value))
    return value


def fitted(attribute: Any, value: str | None) -> str | None:
    """``value`` cut to the column's length, for text that comes from Telegram, not a person."""
    limit = max_length(attribute)
    if value is None or limit is None:
        return value
    return value[:limit]
