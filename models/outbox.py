"""The outbox: every message the bot sends on its own initiative goes through here.

Callers ``enqueue`` in the same transaction as the change that caused the message, so a
notification exists exactly when its cause was committed. The sender (bot/outbox.py) claims
due rows, renders and sends them, and records the outcome with the functions below.

A payload names a message template and its parameters (``{"template": ..., "params": ...}``);
the bot renders it in the recipient's language when it is sent.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import insert, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.db import utcnow
from models.tables import OutboxMessage, OutboxState, User

# Retries after errors other than 429 and 403: 5 s, 20 s, 80 s, … capped at an hour.
BACKOFF_BASE = timedelta(seconds=5)
BACKOFF_CAP = timedelta(hours=1)


async def enqueue(
    *,
    session: AsyncSession,
    recipient: User,
    kind: str,
    template: str,
    params: dict[str, object] | None = None,
    urgent: bool = False,
    dedupe_key: str | None = None,
    not_before: datetime | None = None,
) -> OutboxMessage | None:
    """Queue a message for ``recipient``. A second enqueue with the same dedupe key is a no-op
    (returns None), as is a message to someone who turned notifications off (unless urgent)."""
    if not urgent and not recipient.notifications_enabled:
        return None
    if dedupe_key is not None:
        exists = await session.exec(
            select(OutboxMessage.id).where(OutboxMessage.dedupe_key == dedupe_key)
        )
        if exists.first() is not None:
            return None
    message = OutboxMessage(
        chat_id=recipient.chat_id,
        user_id=recipient.id,
        kind=kind,
        urgent=urgent,
        payload={"template": template, "params": params or {}},
        dedupe_key=dedupe_key,
        next_attempt_at=not_before or utcnow(),
    )
    session.add(message)
    await session.flush()
    return message


async def enqueue_many(
    *, session: AsyncSession, messages: list[tuple[User, dict[str, object]]]
) -> int:
    """``enqueue`` for many at once (a sweep's batch): ``(recipient, enqueue's keyword
    arguments)`` each, with one query for the dedupe keys. Returns how many were queued."""
    keys = [str(m["dedupe_key"]) for _, m in messages if m.get("dedupe_key")]
    taken: set[str] = set()
    if keys:
        found = await session.exec(
            select(OutboxMessage.dedupe_key).where(col(OutboxMessage.dedupe_key).in_(keys))
        )
        taken = {k for k in found.all() if k}
    now, rows = utcnow(), []
    for recipient, m in messages:
        urgent = bool(m.get("urgent", False))
        key = str(m["dedupe_key"]) if m.get("dedupe_key") else None
        if (not urgent and not recipient.notifications_enabled) or (key and key in taken):
            continue
        if key:
            taken.add(key)
        payload = {"template": m["template"], "params": m.get("params") or {}}
        rows.append(
            {"chat_id": recipient.chat_id, "user_id": recipient.id, "kind": m["kind"],
             "urgent": urgent, "payload": payload,
             "dedupe_key": key, "state": OutboxState.pending, "attempts": 0,
             "next_attempt_at": m.get("not_before") or now, "created_at": now}
        )  # fmt: skip
    if rows:  # a Core insert: ORM objects cost more than the database for a sweep's batch
        await session.exec(insert(OutboxMessage), params=rows)
    return len(rows)


def quiet_hours_end(now: datetime, *, start: time, end: time, tz: ZoneInfo) -> datetime | None:
    """When the quiet hours containing ``now`` end (aware UTC), or None outside quiet hours."""
    local = now.astimezone(tz)
    clock = local.time()
    inside = (start <= clock or clock < end) if start > end else (start <= clock < end)
    if not inside:
        return None
    end_day = local.date() if clock < end else local.date() + timedelta(days=1)
    return datetime.combine(end_day, end, tzinfo=tz).astimezone(now.tzinfo)


async def recover_claimed(*, session: AsyncSession, claimed_before: datetime | None = None) -> int:
    """Return claimed rows to pending: all of them at start-up (the sender that claimed them
    died), or those claimed before ``claimed_before`` while running (a lease: a pass that
    failed half-way left them). Returns how many."""
    statement = update(OutboxMessage).where(col(OutboxMessage.state) == OutboxState.claimed)
    if claimed_before is not None:
        statement = statement.where(col(OutboxMessage.claimed_at) < claimed_before)
    result = await session.exec(statement.values(state=OutboxState.pending, claimed_at=None))
    return result.rowcount or 0


async def claim_due(*, session: AsyncSession, now: datetime, limit: int) -> list[OutboxMessage]:
    """Take up to ``limit`` due rows, oldest first, and mark them claimed."""
    statement = (
        select(OutboxMessage)
        .where(OutboxMessage.state == OutboxState.pending, OutboxMessage.next_attempt_at <= now)
        .order_by(col(OutboxMessage.urgent).desc(), col(OutboxMessage.id))
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        statement = statement.with_for_update(skip_locked=True)
    rows = list((await session.exec(statement)).all())
    for row in rows:
        row.state, row.claimed_at = OutboxState.claimed, now
    await session.flush()
    return rows


def postpone(message: OutboxMessage, until: datetime) -> None:
    """Put a claimed row back without counting an attempt (quiet hours, a 429 pause)."""
    message.state, message.claimed_at, message.next_attempt_at = OutboxState.pending, None, until


def mark_sent(message: OutboxMessage, *, now: datetime, telegram_message_id: int | None) -> None:
    message.state, message.sent_at, message.claimed_at = OutboxState.sent, now, None
    message.attempts += 1
    message.telegram_message_id = telegram_message_id
    message.last_error = None


def mark_failed(message: OutboxMessage, *, now: datetime, error: str, max_attempts: int) -> None:
    """Count a failed attempt: retry with exponential backoff, or park after the last one."""
    message.attempts += 1
    message.last_error, message.claimed_at = error[:2000], None
    if message.attempts >= max_attempts:
        message.state = OutboxState.parked
        return
    delay = min(BACKOFF_BASE * 4 ** (message.attempts - 1), BACKOFF_CAP)
    message.state, message.next_attempt_at = OutboxState.pending, now + delay


def park(message: OutboxMessage, *, error: str) -> None:
    """Give up at once: retrying cannot help (blocked by the user, chat not found, bad payload)."""
    message.attempts += 1
    message.state, message.last_error, message.claimed_at = OutboxState.parked, error[:2000], None
