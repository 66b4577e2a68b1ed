"""What file a resident's message carries, as the ticket stores it: (kind, file_id, unique id)."""

from __future__ import annotations

from aiogram.types import Message

Attachment = tuple[str, str, str | None]


def attachment_of(message: Message) -> Attachment | None:
    if message.photo:
        best = message.photo[-1]  # Telegram lists sizes smallest first
        return ("photo", best.file_id, best.file_unique_id)
    for kind in ("voice", "video", "document"):
        media = getattr(message, kind)
        if media is not None:
            return (kind, media.file_id, media.file_unique_id)
    return None
