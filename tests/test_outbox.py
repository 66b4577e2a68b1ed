"""The outbox sender against a recording bot: Telegram's limits and errors."""

from __future__ import annotations

import asyncio
import itertools
from datetime import UTC, datetime, time, timedelta

import pytest
from sqlmodel import select

from bot.i18n import make_i18n
from bot.outbox import OutboxSender
from bot.settings import Settings
from models import outbox
from models.db import utcnow
from models.tables import OutboxMessage, OutboxState, User
from tests.conftest import until
from tests.mocked_bot import RecordingSession, make_bot

SHANGHAI_QUIET_NEVER = {"quiet_hours_start": time(0, 0), "quiet_hours_end": time(0, 0)}


def settings(**overrides: object) -> Settings:
    values: dict[str, object] = {"telegram_bot_token": "42:TEST", **SHANGHAI_QUIET_NEVER}
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[arg-type]


async def add_users(factory, n: int, start: int = 5000) -> list[User]:
    async with factory() as s, s.begin():
        users = [User(telegram_id=start + i, chat_id=start + i) for i in range(n)]
        s.add_all(users)
    return users


async def enqueue_text(factory, user: User, text: str, **kw: object) -> OutboxMessage | None:
    async with factory() as s, s.begin():
        return await outbox.enqueue(
            session=s, recipient=await s.get(User, user.id), kind="test", template="text",
            params={"text": text}, **kw,
        )  # fmt: skip


class FakeClock:
    """Monotonic seconds that pass only when the sender sleeps, and at once: the limits are
    checked on this clock and the tests do not wait for them."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds
        await asyncio.sleep(0)  # still a point where other tasks run, as a real sleep is


# Float sums of 1/30 s land a hair either side of a whole second.
EPSILON = 1e-9


async def drain(sender: OutboxSender, passes: int = 20) -> None:
    """Run passes until nothing is pending any more. Rows postponed to a later (database)
    time are not waited for: the test fails instead."""
    for _ in range(passes):
        await sender.run_once()
        async with sender.session_factory() as s:
            pending = (await s.exec(select(OutboxMessage).where(
                OutboxMessage.state.in_([OutboxState.pending, OutboxState.claimed])))).all()  # fmt: skip
        if not pending:
            return
    raise AssertionError(f"still pending after {passes} passes: {pending}")


async def make_due(factory, *rows: OutboxMessage) -> None:
    """Skip a postponement's wait in the database (the fake clock only moves the limiter)."""
    async with factory() as s, s.begin():
        for row in rows:
            (await s.get(OutboxMessage, row.id)).next_attempt_at = utcnow()


def make_sender(factory, **overrides: object) -> tuple[OutboxSender, RecordingSession, FakeClock]:
    clock = FakeClock()
    bot, recorder = make_bot(clock=clock)
    sender = OutboxSender(bot=bot, session_factory=factory, settings=settings(**overrides),
                          i18n=make_i18n(), clock=clock, sleep=clock.sleep)  # fmt: skip
    return sender, recorder, clock


def send_times(recorder: RecordingSession) -> list[float]:
    return [r.at for r in recorder.requests if r.name == "SendMessage"]


async def test_dedupe_key_makes_a_second_enqueue_a_no_op(session_factory):
    [user] = await add_users(session_factory, 1)
    assert await enqueue_text(session_factory, user, "一", dedupe_key="k1") is not None
    assert await enqueue_text(session_factory, user, "二", dedupe_key="k1") is None
    async with session_factory() as s:
        assert len((await s.exec(select(OutboxMessage))).all()) == 1


async def test_no_more_than_30_per_second_overall(session_factory):
    users = await add_users(session_factory, 45)
    for user in users:
        await enqueue_text(session_factory, user, f"通知 {user.chat_id}")
    sender, recorder, _clock = make_sender(session_factory)
    await drain(sender)
    times = send_times(recorder)
    assert len(times) == 45
    # any one-second window holds at most 30 sends: the 31st after any send is a second later
    assert all(later - t >= 1.0 - EPSILON for t, later in zip(times, times[30:], strict=False))
    # and no slower than the configured rate (a little under Telegram's 30): 45 notices go out
    # in about a second and a half, not in 45 seconds
    assert times[-1] - times[0] <= 44 / sender.settings.outbox_global_rate + EPSILON


async def test_about_one_per_second_to_one_chat(session_factory):
    [user] = await add_users(session_factory, 1)
    for i in range(3):
        await enqueue_text(session_factory, user, f"第{i}条")
    sender, recorder, _clock = make_sender(session_factory)
    await drain(sender)
    times = send_times(recorder)
    assert [m.text for m in recorder.sent()] == ["第0条", "第1条", "第2条"]
    assert [b - a for a, b in itertools.pairwise(times)] == pytest.approx([1.0, 1.0])


async def test_429_pauses_all_sending_for_retry_after_without_counting_an_attempt(
    session_factory,
):
    users = await add_users(session_factory, 2)
    rows = [await enqueue_text(session_factory, u, "限流") for u in users]
    sender, recorder, clock = make_sender(session_factory)
    # longer than the per-chat interval (1 s), so only the pause can explain the wait
    recorder.fail_next("SendMessage", 429, "Too Many Requests: retry after 3", retry_after=3)
    await sender.run_once()
    [limited] = send_times(recorder)  # Telegram's limits are per bot: the other chat waits too
    async with session_factory() as s:
        for row in rows:
            saved = await s.get(OutboxMessage, row.id)
            assert saved.state == OutboxState.pending and saved.attempts == 0
            assert saved.next_attempt_at >= utcnow() + timedelta(seconds=2)
    await make_due(session_factory, *rows)
    await sender.run_once()  # due in the database, but the pause is not over
    assert len(send_times(recorder)) == 1
    clock.now += 2.5  # most of the pause has passed; the sender holds the rest
    await make_due(session_factory, *rows)
    await drain(sender)
    sends = send_times(recorder)
    assert len(sends) == 3 and all(t - limited >= 3.0 for t in sends[1:])
    async with session_factory() as s:
        assert [(await s.get(OutboxMessage, r.id)).state for r in rows] == [OutboxState.sent] * 2


async def test_403_marks_user_unreachable_and_parks(session_factory):
    [user] = await add_users(session_factory, 1)
    row = await enqueue_text(session_factory, user, "您好")
    sender, recorder, _clock = make_sender(session_factory)
    recorder.fail_next("SendMessage", 403, "Forbidden: bot was blocked by the user")
    await drain(sender)
    async with session_factory() as s:
        saved = await s.get(OutboxMessage, row.id)
        assert saved.state == OutboxState.parked and "blocked" in saved.last_error
        assert not (await s.get(User, user.id)).reachable
    assert len(recorder.sent()) == 1  # not retried


async def test_other_errors_back_off_then_park(session_factory):
    [user] = await add_users(session_factory, 1)
    row = await enqueue_text(session_factory, user, "重试")
    sender, recorder, _clock = make_sender(session_factory, outbox_max_attempts=3)
    for _ in range(3):
        recorder.fail_next("SendMessage", 502, "Bad Gateway")
    await sender.run_once()
    async with session_factory() as s:
        saved = await s.get(OutboxMessage, row.id)
        assert (saved.state, saved.attempts) == (OutboxState.pending, 1)
        assert saved.next_attempt_at >= utcnow() + timedelta(seconds=4)  # backoff, not a spin
        first_delay = saved.next_attempt_at
    for _ in range(2):  # skip the backoff (the limiter's per-chat second is on the fake clock)
        await make_due(session_factory, row)
        await sender.run_once()
    async with session_factory() as s:
        saved = await s.get(OutboxMessage, row.id)
        assert (saved.state, saved.attempts) == (OutboxState.parked, 3)
        assert "Bad Gateway" in saved.last_error
    assert first_delay < utcnow() + timedelta(minutes=1)


async def test_claimed_rows_are_sent_again_after_a_crash(session_factory):
    [user] = await add_users(session_factory, 1)
    row = await enqueue_text(session_factory, user, "崩溃前已领取")
    async with session_factory() as s, s.begin():  # a sender claims it, then dies
        claimed = await outbox.claim_due(session=s, now=utcnow(), limit=10)
        assert [c.id for c in claimed] == [row.id]
    sender, recorder, _clock = make_sender(session_factory)
    task = asyncio.create_task(sender.run())
    await until(recorder.sent)
    await sender.stop()
    await task
    assert [m.text for m in recorder.sent()] == ["崩溃前已领取"]


async def test_claims_left_by_a_failed_pass_are_sent_while_the_bot_runs(session_factory):
    user, other = await add_users(session_factory, 2)
    sender, recorder, clock = make_sender(session_factory)
    sender.claim_lease = timedelta(seconds=1)
    await enqueue_text(session_factory, other, "开工第一条")
    task = asyncio.create_task(sender.run())
    await until(recorder.sent)  # a pass has run: the start-up recovery is behind it
    async with session_factory() as s, s.begin():  # a pass claims a row, then fails half-way
        row = await outbox.enqueue(session=s, recipient=await s.get(User, user.id), kind="test",
                                   template="text", params={"text": "半途失败的一轮领取的"})  # fmt: skip
        [claimed] = await outbox.claim_due(session=s, now=utcnow(), limit=10)
        claimed.claimed_at = utcnow() - timedelta(seconds=2)
    clock.now += 0.25  # the claims are looked at every quarter lease
    sender.wake()
    await until(lambda: len(recorder.sent()) == 2)
    await sender.stop()
    await task
    assert [m.text for m in recorder.sent()] == ["开工第一条", "半途失败的一轮领取的"]
    async with session_factory() as s:
        assert (await s.get(OutboxMessage, row.id)).state == OutboxState.sent


async def test_a_claim_younger_than_the_lease_is_left_to_its_sender(session_factory):
    users = await add_users(session_factory, 2)
    rows = [await enqueue_text(session_factory, u, "在途") for u in users]
    now = utcnow()
    async with session_factory() as s, s.begin():
        claimed = await outbox.claim_due(session=s, now=now, limit=10)
        claimed[0].claimed_at = now - timedelta(minutes=10)  # a pass that failed long ago
    async with session_factory() as s, s.begin():
        recovered = await outbox.recover_claimed(
            session=s, claimed_before=now - timedelta(minutes=5)
        )
    assert recovered == 1
    async with session_factory() as s:
        states = [(await s.get(OutboxMessage, r.id)).state for r in rows]
    assert states == [OutboxState.pending, OutboxState.claimed]


async def test_a_message_that_fails_unexpectedly_does_not_strand_the_rest_of_the_pass(
    session_factory,
):
    users = await add_users(session_factory, 3)
    await enqueue_text(session_factory, users[0], "第一条")
    async with session_factory() as s, s.begin():  # a payload the template cannot render
        bad = await outbox.enqueue(session=s, recipient=await s.get(User, users[1].id),
                                   kind="test", template="text", params={})  # fmt: skip
    await enqueue_text(session_factory, users[2], "第三条")
    sender, recorder, _clock = make_sender(session_factory)
    assert await sender.run_once() == 3
    assert [m.text for m in recorder.sent()] == ["第一条", "第三条"]
    async with session_factory() as s:
        saved = await s.get(OutboxMessage, bad.id)
    assert (saved.state, saved.attempts) == (OutboxState.pending, 1)
    assert "KeyError" in saved.last_error and saved.next_attempt_at > utcnow()


@pytest.mark.parametrize("urgent", [False, True])
async def test_quiet_hours_hold_non_urgent_messages(session_factory, urgent):
    [user] = await add_users(session_factory, 1)
    now_local = datetime.now(UTC).astimezone(Settings(_env_file=None).tz)
    quiet = {
        "quiet_hours_start": (now_local - timedelta(hours=1)).time(),
        "quiet_hours_end": (now_local + timedelta(hours=1)).time(),
    }
    row = await enqueue_text(session_factory, user, "夜里", urgent=urgent)
    sender, recorder, _clock = make_sender(session_factory, **quiet)
    await sender.run_once()
    async with session_factory() as s:
        saved = await s.get(OutboxMessage, row.id)
    if urgent:
        assert saved.state == OutboxState.sent and len(recorder.sent()) == 1
    else:
        assert saved.state == OutboxState.pending and recorder.sent() == []
        assert saved.next_attempt_at > utcnow() + timedelta(minutes=50)


def test_quiet_hours_end_across_midnight() -> None:
    tz = Settings(_env_file=None).tz
    start, end = time(21), time(8)
    at = lambda h: datetime(2026, 11, 24, h, 30, tzinfo=tz).astimezone(UTC)  # noqa: E731
    assert outbox.quiet_hours_end(at(12), start=start, end=end, tz=tz) is None
    assert outbox.quiet_hours_end(at(22), start=start, end=end, tz=tz) == datetime(
        2026, 11, 25, 8, 0, tzinfo=tz
    )
    assert outbox.quiet_hours_end(at(3), start=start, end=end, tz=tz) == datetime(
        2026, 11, 24, 8, 0, tzinfo=tz
    )
