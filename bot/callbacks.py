"""What a button press carries, typed for the handlers."""

from __future__ import annotations

from aiogram.types import CallbackQuery, Message


class MessageGone(Exception):
    """The message under a pressed button is no longer there to edit or answer under."""


def pressed_on(callback: CallbackQuery) -> Message:
    """The message whose button was pressed.

    Our buttons are all on messages the bot sent to private chats, which Telegram hands back
    whole. It sends an ``InaccessibleMessage`` instead only when that message was deleted in
    the meantime, and ``None`` only for inline-mode messages, which the bot never sends; both
    raise MessageGone rather than fail later on a missing attribute.
    """
    if not isinstance(callback.message, Message):
        raise MessageGone(f"callback {callback.id}: message {callback.message!r}")
    return callback.message
