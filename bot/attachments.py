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


async def send_photos(message: Message, file_ids: list[str]) -> None:
    """A ticket's photos under its detail view: one photo, or albums of up to ten."""
    from aiogram.types import InputMediaPhoto

    if len(file_ids) == 1:
        await message.answer_photo(file_ids[0])
        return
    for start in range(0, len(file_ids), 10):
        chunk = file_ids[start : start + 10]
        if len(chunk) == 1:
            await message.answer_photo(chunk[0])
        else:
            await message.answer_media_group([InputMediaPhoto(media=f) for f in chunk])
