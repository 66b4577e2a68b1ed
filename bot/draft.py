"""The demand a resident is writing, before it becomes a ticket: a typed model kept in the
conversation's FSM data (so it survives restarts with Redis storage).

Its ``token`` (id and revision) goes into every button shown for it. Each new question about
the draft (a proposal after more words) raises the revision, so a press on a keyboard shown
for an older draft, or for this one before a newer question replaced it, is stale and never
acts on what the resident is writing now. (Words sent in a flood get no new question: the
keyboard on screen stays current and acts on all of them.)
"""

from __future__ import annotations

import secrets

from aiogram.fsm.context import FSMContext
from pydantic import BaseModel, Field

from bot.attachments import Attachment

STATE_KEY = "draft"


def _new_id() -> str:
    return secrets.token_hex(4)


class DraftPart(BaseModel):
    message_id: int
    text: str


class Draft(BaseModel):
    id: str = Field(default_factory=_new_id)
    revision: int = 0  # grows with every new question, so buttons shown before it are stale
    parts: list[DraftPart] = Field(default_factory=list)
    attachments: list[Attachment] = Field(default_factory=list)
    location: tuple[float, float] | None = None
    waiting_for_compound: bool = False  # typed before the resident chose their compound
    urgent_reason: str | None = None  # set once any part matched the urgent patterns
    safety_reply_sent: bool = False
    # What the NLU made of the whole text, and the category the resident settled on.
    available: bool = True  # False: NLU was down, the resident picks from every category
    proposed: str | None = None  # the NLU's category (None when the intent was no category)
    normalized: str | None = None
    intent: str | None = None
    confidence: float | None = None
    model_version: str | None = None
    ranking: list[str] = Field(default_factory=list)
    category: str | None = None

    @property
    def text(self) -> str:
        """The parts in the order they were written (Telegram's message ids grow), whatever
        the order they were handled in."""
        return "\n".join(part.text for part in sorted(self.parts, key=lambda p: p.message_id))

    @property
    def token(self) -> str:
        return f"{self.id}.{self.revision}"

    @property
    def urgent(self) -> bool:
        return self.urgent_reason is not None

    def add_text(self, message_id: int, text: str) -> None:
        """A new part, or an edited one (same message id) in place."""
        self.parts = [part for part in self.parts if part.message_id != message_id]
        self.parts.append(DraftPart(message_id=message_id, text=text))

    def new_question(self) -> str:
        """The token for the buttons of a new question; older buttons become stale."""
        self.revision += 1
        self.category = None
        return self.token

    def add_attachment(self, attachment: Attachment) -> None:
        self.attachments.append(attachment)


async def load_draft(state: FSMContext) -> Draft | None:
    raw = (await state.get_data()).get(STATE_KEY)
    return Draft.model_validate(raw) if raw else None


async def save_draft(state: FSMContext, draft: Draft) -> None:
    await state.update_data({STATE_KEY: draft.model_dump(mode="json")})


async def drop_draft(state: FSMContext) -> None:
    await state.update_data({STATE_KEY: None})
