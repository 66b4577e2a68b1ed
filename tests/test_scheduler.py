"""The scheduler's sweeps with a fixed clock, on SQLite and PostgreSQL: 回访 surveys, their
answers, deadline chasing, progress pushes, acceptance surveys, re-classification."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.settings import Settings
from models import surveys
from models.registry import get_compound_by_code
from models.stats import compute_kpis
from models.tables import (
    Compound,
    OutboxMessage,
    PlanItem,
    Role,
    Survey,
    SurveyState,
    Ticket,
    TicketEvent,
    TicketStatus,
    User,
    WorkerCompound,
)
from models.tickets import Classification, change_status, create_ticket, endorse
from models.users import get_or_create_user
from scheduler.jobs import run_due
from scheduler.jobs.deadlines import sweep_deadlines, sweep_digest
from scheduler.jobs.housekeeping import sweep_reclassify
from scheduler.jobs.progress import sweep_progress_digest, sweep_stage_changes
from scheduler.jobs.surveys import sweep_surveys
from tests.conftest import load_demo_registry
from tests.harness import FakeNLU

SETTINGS = Settings(_env_file=None)
TZ = SETTINGS.tz
RESIDENT, NEIGHBOUR, BYSTANDER, WORKER, STAFF = 1001, 1002, 1003, 2001, 3001


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=TZ).astimezone(UTC)


CREATED = local(2026, 11, 23, 9, 0)  # Monday
RESOLVED = local(2026, 12, 1, 15, 0)  # Tuesday afternoon


@pytest.fixture
async def world(session_factory: async_sessionmaker[AsyncSession]) -> dict[str, int]:
    await load_demo_registry(session_factory)
    async with session_factory() as s, s.begin():
        compound = await get_compound_by_code(session=s, code="hp01")
        people = {}
        for tid, name in ((RESIDENT, "王阿姨"), (NEIGHBOUR, "老李"), (BYSTANDER, "小赵"),
                          (WORKER, "小张"), (STAFF, "区里")):  # fmt: skip
            people[tid], _ = await get_or_create_user(
                session=s, telegram_id=tid, chat_id=tid, first_name=name
            )
        for tid in (RESIDENT, NEIGHBOUR, BYSTANDER):
            people[tid].compound_id = compound.id
        people[WORKER].role = Role.worker
        people[STAFF].role, people[STAFF].district_id = Role.district_staff, compound.district_id
        s.add(WorkerCompound(worker_id=people[WORKER].id, compound_id=compound.id))
        ticket = await create_ticket(
            session=s, author=people[RESIDENT], compound_id=compound.id,
            text="3号楼下水道堵了", normalized_text="3号楼下水道堵了",
            classification=Classification(category="water", confidence=0.9),
            now=CREATED, settings=SETTINGS,
        )  # fmt: skip
        await endorse(session=s, ticket=ticket, user=people[NEIGHBOUR])
        await change_status(session=s, ticket=ticket, target=TicketStatus.accepted,
                            actor=people[WORKER], now=CREATED + timedelta(hours=1))  # fmt: skip
    return {"compound": compound.id, "ticket": ticket.id,
            **{str(k): v.id for k, v in people.items()}}  # fmt: skip


async def resolve(factory: async_sessionmaker[AsyncSession], world: dict, at: datetime) -> None:
    async with factory() as s, s.begin():
        ticket = await s.get(Ticket, world["ticket"])
        worker = await s.get(User, world[str(WORKER)])
        await change_status(session=s, ticket=ticket, target=TicketStatus.resolved, actor=worker,
                            now=at)  # fmt: skip


async def queued(factory, template: str | None = None) -> list[OutboxMessage]:
    async with factory() as s:
        statement = select(OutboxMessage).order_by(col(OutboxMessage.id))
        rows = (await s.exec(statement)).all()
    return [r for r in rows if template is None or r.payload["template"] == template]


async def sweep(factory, at: datetime) -> int:
    return await sweep_surveys(session_factory=factory, settings=SETTINGS, now=at)


async def ticket_of(factory, world) -> Ticket:
    async with factory() as s:
        return await s.get(Ticket, world["ticket"])


# --- 回访 --------------------------------------------------------------------------------


async def test_survey_the_day_after_at_ten_then_reminder_then_closed_unanswered(
    session_factory, world
):
    await resolve(session_factory, world, RESOLVED)
    assert await sweep(session_factory, local(2026, 12, 1, 20, 0)) == 0  # same day: not yet
    assert await sweep(session_factory, local(2026, 12, 2, 9, 59)) == 0  # before 10:00
    assert await sweep(session_factory, local(2026, 12, 2, 10, 0)) == 2  # author + endorser
    asked = await queued(session_factory, "survey_ticket")
    assert sorted(m.chat_id for m in asked) == [RESIDENT, NEIGHBOUR]
    assert all(not m.urgent for m in asked)

    # A reminder after three days, once.
    await sweep(session_factory, local(2026, 12, 5, 9, 0))
    assert len(await queued(session_factory, "survey_ticket")) == 2
    await sweep(session_factory, local(2026, 12, 5, 10, 0))
    await sweep(session_factory, local(2026, 12, 5, 11, 0))
    reminders = [m for m in await queued(session_factory, "survey_ticket") if m.payload["params"].get("reminder")]  # fmt: skip
    assert sorted(m.chat_id for m in reminders) == [RESIDENT, NEIGHBOUR]

    # No answer after seven days: closed as 未回复, nobody messaged, not counted as satisfied.
    before = len(await queued(session_factory))
    await sweep(session_factory, local(2026, 12, 9, 10, 0))
    ticket = await ticket_of(session_factory, world)
    assert ticket.status == TicketStatus.closed
    async with session_factory() as s:
        events = (await s.exec(select(TicketEvent).where(TicketEvent.ticket_id == ticket.id))).all()
        assert events[-1].action == "closed" and events[-1].note == "未回复"
        states = (await s.exec(select(Survey.state))).all()
        assert set(states) == {SurveyState.expired}
        kpis = await compute_kpis(session=s)
    assert len(await queued(session_factory)) == before
    assert kpis.satisfaction.denominator == 0


async def test_double_run_and_restart_send_nothing_twice(session_factory, world):
    await resolve(session_factory, world, RESOLVED)
    at = local(2026, 12, 2, 10, 0)
    first = await run_due(session_factory=session_factory, settings=SETTINGS, now=at)
    count = len(await queued(session_factory))
    second = await run_due(session_factory=session_factory, settings=SETTINGS, now=at)
    later = await run_due(session_factory=session_factory, settings=SETTINGS,
                          now=at + timedelta(hours=1))  # fmt: skip
    assert first["surveys"] == 2
    assert second["surveys"] == 0 and later["surveys"] == 0
    assert len(await queued(session_factory)) == count


async def test_resolved_again_after_a_reopen_is_asked_again(session_factory, world):
    await resolve(session_factory, world, RESOLVED)
    await sweep(session_factory, local(2026, 12, 2, 10, 0))
    async with session_factory() as s, s.begin():
        survey = (await s.exec(select(Survey).where(Survey.user_id == world[str(RESIDENT)]))).one()
        author = await s.get(User, world[str(RESIDENT)])
        await surveys.answer_resolved(session=s, survey=survey, user=author, resolved=False,
                                      now=local(2026, 12, 2, 11, 0))  # fmt: skip
    await resolve(session_factory, world, local(2026, 12, 3, 16, 0))
    assert await sweep(session_factory, local(2026, 12, 4, 10, 0)) == 2


async def _answer(factory, world, who: int, *, resolved: bool, score: int | None = None,
                  at: datetime) -> surveys.Outcome:  # fmt: skip
    async with factory() as s, s.begin():
        user = await s.get(User, world[str(who)])
        survey = (await s.exec(select(Survey).where(Survey.user_id == user.id))).all()[-1]
        outcome = await surveys.answer_resolved(session=s, survey=survey, user=user,
                                                resolved=resolved, now=at)  # fmt: skip
        if score is not None:
            outcome = await surveys.answer_score(session=s, survey=survey, user=user,
                                                 score=score, now=at)  # fmt: skip
        return outcome


async def test_a_good_answer_closes_the_ticket_quietly_and_counts_as_satisfied(
    session_factory, world
):
    await resolve(session_factory, world, RESOLVED)
    await sweep(session_factory, local(2026, 12, 2, 10, 0))
    before = len(await queued(session_factory))
    outcome = await _answer(session_factory, world, RESIDENT, resolved=True, score=5,
                            at=local(2026, 12, 2, 12, 0))  # fmt: skip
    assert outcome.closed
    assert (await ticket_of(session_factory, world)).status == TicketStatus.closed
    assert len(await queued(session_factory)) == before  # nobody bothered
    async with session_factory() as s:
        kpis = await compute_kpis(session=s)
    assert (kpis.satisfaction.numerator, kpis.satisfaction.denominator) == (1, 1)


async def test_resolved_but_never_scored_is_closed_when_the_survey_ends(session_factory, world):
    await resolve(session_factory, world, RESOLVED)
    await sweep(session_factory, local(2026, 12, 2, 10, 0))
    await _answer(session_factory, world, RESIDENT, resolved=True, at=local(2026, 12, 2, 11, 0))
    await sweep(session_factory, local(2026, 12, 8, 10, 0))
    assert (await ticket_of(session_factory, world)).status == TicketStatus.resolved
    await sweep(session_factory, local(2026, 12, 9, 10, 0))
    assert (await ticket_of(session_factory, world)).status == TicketStatus.closed
    async with session_factory() as s:
        kpis = await compute_kpis(session=s)
    assert kpis.satisfaction.denominator == 0  # a bare 已解决 is no score


async def test_low_score_reopens_and_alerts_the_worker_at_once_even_at_night(
    session_factory, world
):
    await resolve(session_factory, world, RESOLVED)
    await sweep(session_factory, local(2026, 12, 2, 10, 0))
    night = local(2026, 12, 2, 23, 0)
    outcome = await _answer(session_factory, world, RESIDENT, resolved=True, score=2, at=night)
    assert outcome.reopened
    ticket = await ticket_of(session_factory, world)
    assert ticket.status == TicketStatus.in_progress and ticket.reopen_count == 1
    alerts = await queued(session_factory, "worker_survey_alert")
    assert [(m.chat_id, m.urgent) for m in alerts] == [(WORKER, True)]
    assert alerts[0].next_attempt_at <= datetime.now(UTC)  # not held for the morning
    async with session_factory() as s:
        kpis = await compute_kpis(session=s)
    assert (kpis.satisfaction.numerator, kpis.satisfaction.denominator) == (0, 1)


async def test_unresolved_reopens_and_a_second_reopen_goes_to_district_staff(
    session_factory, world
):
    await resolve(session_factory, world, RESOLVED)
    await sweep(session_factory, local(2026, 12, 2, 10, 0))
    await _answer(session_factory, world, RESIDENT, resolved=False, at=local(2026, 12, 2, 11, 0))
    assert (await ticket_of(session_factory, world)).status == TicketStatus.in_progress
    assert not await queued(session_factory, "staff_escalation")
    # The words of "what is still wrong" go into the ticket.
    async with session_factory() as s, s.begin():
        user = await s.get(User, world[str(RESIDENT)])
        survey = (await s.exec(select(Survey).where(Survey.user_id == user.id))).one()
        assert await surveys.answer_comment(session=s, survey=survey, user=user, text="还在漏")
    async with session_factory() as s:
        notes = (await s.exec(select(TicketEvent.note).where(TicketEvent.action == "commented"))).all()  # fmt: skip
    assert notes == ["还在漏"]

    await resolve(session_factory, world, local(2026, 12, 3, 15, 0))
    await sweep(session_factory, local(2026, 12, 4, 10, 0))
    await _answer(session_factory, world, RESIDENT, resolved=False, at=local(2026, 12, 4, 11, 0))
    assert (await ticket_of(session_factory, world)).reopen_count == 2
    escalations = await queued(session_factory, "staff_escalation")
    assert [(m.chat_id, m.payload["params"]["reason"]) for m in escalations] == [
        (STAFF, "reopened")
    ]


async def test_an_endorsers_answer_is_counted_but_does_not_move_the_ticket(session_factory, world):
    await resolve(session_factory, world, RESOLVED)
    await sweep(session_factory, local(2026, 12, 2, 10, 0))
    outcome = await _answer(session_factory, world, NEIGHBOUR, resolved=True, score=1,
                            at=local(2026, 12, 2, 11, 0))  # fmt: skip
    assert not outcome.reopened
    assert (await ticket_of(session_factory, world)).status == TicketStatus.resolved
    assert [m.chat_id for m in await queued(session_factory, "worker_survey_alert")] == [WORKER]


async def test_stale_and_foreign_presses_change_nothing(session_factory, world):
    await resolve(session_factory, world, RESOLVED)
    await sweep(session_factory, local(2026, 12, 2, 10, 0))
    await _answer(session_factory, world, RESIDENT, resolved=True, score=4,
                  at=local(2026, 12, 2, 11, 0))  # fmt: skip
    async with session_factory() as s:
        mine = (await s.exec(select(Survey).where(Survey.user_id == world[str(RESIDENT)]))).one()
        author = await s.get(User, world[str(RESIDENT)])
        neighbour = await s.get(User, world[str(NEIGHBOUR)])
        with pytest.raises(surveys.SurveyClosed) as foreign:
            await surveys.answer_resolved(session=s, survey=mine, user=neighbour, resolved=False)
        with pytest.raises(surveys.SurveyClosed) as again:
            await surveys.answer_resolved(session=s, survey=mine, user=author, resolved=False)
        with pytest.raises(surveys.SurveyClosed):
            await surveys.answer_score(session=s, survey=mine, user=author, score=1)
    assert (foreign.value.reason, again.value.reason) == ("foreign", "answered")
    assert (await ticket_of(session_factory, world)).status == TicketStatus.closed


async def test_quiet_hours_hold_a_survey_reminder_but_not_an_urgent_alert(session_factory, world):
    await resolve(session_factory, world, RESOLVED)
    await sweep(session_factory, local(2026, 12, 2, 10, 0))
    # run-due at 22:00 three days later: the reminders wait for 08:00.
    await sweep(session_factory, local(2026, 12, 5, 22, 0))
    reminders = [m for m in await queued(session_factory, "survey_ticket")
                 if m.payload["params"].get("reminder")]  # fmt: skip
    assert reminders and all(m.next_attempt_at == local(2026, 12, 6, 8, 0) for m in reminders)


# --- deadlines ---------------------------------------------------------------------------


async def deadlines(factory, at: datetime) -> int:
    return await sweep_deadlines(session_factory=factory, settings=SETTINGS, now=at)


async def test_worker_reminded_before_and_at_the_deadline_then_escalated(session_factory, world):
    due = (await ticket_of(session_factory, world)).resolution_due_at
    assert due.astimezone(TZ).time() == time(18, 0) and due.astimezone(TZ).weekday() < 5
    assert await deadlines(session_factory, due - timedelta(hours=3)) == 0
    await deadlines(session_factory, due - timedelta(hours=2))
    await deadlines(session_factory, due - timedelta(hours=1))  # nothing new
    soon = await queued(session_factory, "worker_deadline")
    assert [(m.chat_id, m.payload["params"]["overdue"]) for m in soon] == [(WORKER, False)]
    await deadlines(session_factory, due)
    await deadlines(session_factory, due + timedelta(minutes=10))
    sent = await queued(session_factory, "worker_deadline")
    assert [(m.chat_id, m.payload["params"]["overdue"]) for m in sent] == [
        (WORKER, False), (WORKER, True)
    ]  # fmt: skip
    escalations = await queued(session_factory, "staff_escalation")
    assert [(m.chat_id, m.payload["params"]["reason"]) for m in escalations] == [
        (STAFF, "overdue_resolution")
    ]


async def test_an_extension_is_read_from_the_ticket_and_chased_afresh(session_factory, world):
    due = (await ticket_of(session_factory, world)).resolution_due_at
    await deadlines(session_factory, due - timedelta(hours=1))
    extended = due + timedelta(days=7)
    async with session_factory() as s, s.begin():  # what the workers' console does
        (await s.get(Ticket, world["ticket"])).resolution_due_at = extended
    await deadlines(session_factory, due + timedelta(hours=1))  # the old deadline: nothing
    assert len(await queued(session_factory, "worker_deadline")) == 1
    assert not await queued(session_factory, "staff_escalation")
    await deadlines(session_factory, extended - timedelta(hours=1))
    assert len(await queued(session_factory, "worker_deadline")) == 2


async def test_morning_digest_lists_overdue_and_due_today_and_is_silent_otherwise(
    session_factory, world
):
    due = (await ticket_of(session_factory, world)).resolution_due_at
    day_before = datetime.combine(due.astimezone(TZ).date() - timedelta(days=1), time(8, 30),
                                  tzinfo=TZ)  # fmt: skip
    assert await sweep_digest(session_factory=session_factory, settings=SETTINGS,
                              now=day_before) == 0  # fmt: skip
    morning = day_before + timedelta(days=1)
    assert await sweep_digest(session_factory=session_factory, settings=SETTINGS, now=morning) == 1
    digest = (await queued(session_factory, "worker_digest"))[0]
    assert digest.chat_id == WORKER
    assert digest.payload["params"]["today_ids"] == [world["ticket"]]
    next_morning = morning + timedelta(days=1)
    await sweep_digest(session_factory=session_factory, settings=SETTINGS, now=next_morning)
    await sweep_digest(session_factory=session_factory, settings=SETTINGS, now=next_morning)
    digests = await queued(session_factory, "worker_digest")
    assert len(digests) == 2 and digests[1].payload["params"]["overdue_ids"] == [world["ticket"]]


# --- progress and acceptance -------------------------------------------------------------


async def test_stage_change_told_at_once_and_completion_opens_acceptance_surveys(
    session_factory, world
):
    now = local(2026, 12, 2, 10, 0)
    kwargs = {"session_factory": session_factory, "settings": SETTINGS, "now": now}
    await sweep_stage_changes(**kwargs)  # first sight: nothing to say
    assert not await queued(session_factory, "compound_stage")
    async with session_factory() as s, s.begin():
        compound = await s.get(Compound, world["compound"])
        compound.renovation_stage = "completed"
    await sweep_stage_changes(**kwargs)
    await sweep_stage_changes(**kwargs)
    told = await queued(session_factory, "compound_stage")
    assert sorted(m.chat_id for m in told) == [RESIDENT, NEIGHBOUR, BYSTANDER]
    asked = await queued(session_factory, "survey_acceptance")
    assert sorted(m.chat_id for m in asked) == [RESIDENT, NEIGHBOUR, BYSTANDER]

    # The author raised 供水排水: after the overall score, the water plan item is asked.
    async with session_factory() as s, s.begin():
        author = await s.get(User, world[str(RESIDENT)])
        survey = (await s.exec(select(Survey).where(Survey.user_id == author.id,
                                                    Survey.kind == "acceptance"))).one()  # fmt: skip
        following = await surveys.answer_acceptance(session=s, survey=survey, user=author,
                                                    item_id=0, score=4)  # fmt: skip
        assert following is not None and following.category == "water"
        last = await surveys.answer_acceptance(session=s, survey=survey, user=author,
                                               item_id=following.id, score=5)  # fmt: skip
        assert last is None
    async with session_factory() as s:
        results = await surveys.acceptance_results(session=s, compound_id=world["compound"])
    assert results.answers == 1 and results.overall == 4
    assert results.items == {following.id: (5.0, 1)}


async def test_item_progress_goes_into_one_weekly_digest_only_when_something_changed(
    session_factory, world
):
    monday = local(2026, 12, 7, 10, 0)
    kwargs = {"session_factory": session_factory, "settings": SETTINGS}
    assert await sweep_progress_digest(**kwargs, now=monday - timedelta(days=7)) == 0  # first
    assert await sweep_progress_digest(**kwargs, now=monday) == 0  # nothing changed
    async with session_factory() as s, s.begin():
        item = (await s.exec(select(PlanItem).where(PlanItem.compound_id == world["compound"],
                                                    PlanItem.category == "water"))).first()  # fmt: skip
        item.progress = 90
        other = (await s.exec(select(PlanItem).where(PlanItem.compound_id != world["compound"]))).first()  # fmt: skip
        other.progress = min(100, other.progress + 5)
    await sweep_progress_digest(**kwargs, now=monday)
    await sweep_progress_digest(**kwargs, now=monday)
    digests = [m for m in await queued(session_factory, "progress_digest")
               if m.payload["params"]["compound_id"] == world["compound"]]  # fmt: skip
    assert sorted(m.chat_id for m in digests) == [RESIDENT, NEIGHBOUR, BYSTANDER]
    assert [i["progress"] for i in digests[0].payload["params"]["items"]] == [90]


# --- housekeeping ------------------------------------------------------------------------


async def test_tickets_filed_as_other_while_rasa_was_down_are_reclassified_quietly(
    session_factory, world
):
    async with session_factory() as s, s.begin():
        author = await s.get(User, world[str(RESIDENT)])
        ticket = await create_ticket(
            session=s, author=author, compound_id=world["compound"], text="楼道灯坏了",
            normalized_text="楼道灯坏了", classification=Classification(category="other"),
            now=CREATED, settings=SETTINGS,
        )  # fmt: skip
    before = len(await queued(session_factory))
    nlu = FakeNLU()
    nlu.available = False
    kwargs = {"session_factory": session_factory, "settings": SETTINGS, "now": RESOLVED}
    assert await sweep_reclassify(**kwargs, nlu=nlu) == 0  # still down
    nlu.available = True
    nlu.teach("楼道灯坏了", "lighting", 0.91)
    assert await sweep_reclassify(**kwargs, nlu=nlu) == 1
    assert await sweep_reclassify(**kwargs, nlu=nlu) == 0
    async with session_factory() as s:
        fixed = await s.get(Ticket, ticket.id)
        event = (await s.exec(select(TicketEvent).where(TicketEvent.ticket_id == ticket.id,
                                                        TicketEvent.action == "reclassified"))).one()  # fmt: skip
    assert fixed.category == "lighting" and fixed.nlu_model_version == "fake"
    assert "fake" in event.note
    assert len(await queued(session_factory)) == before  # the resident is not bothered


async def test_enqueue_many_skips_taken_keys_and_muted_residents(session_factory, world):
    from models import outbox

    async with session_factory() as s, s.begin():
        author = await s.get(User, world[str(RESIDENT)])
        muted = await s.get(User, world[str(NEIGHBOUR)])
        muted.notifications_enabled = False
        text = {"kind": "notice", "template": "text", "params": {"text": "停水"}}
        await outbox.enqueue(session=s, recipient=author, dedupe_key="k1", **text)
        queued_now = await outbox.enqueue_many(session=s, messages=[
            (author, {**text, "dedupe_key": "k1"}), (author, {**text, "dedupe_key": "k2"}),
            (author, {**text, "dedupe_key": "k2"}), (muted, {**text, "dedupe_key": "k3"}),
            (muted, {**text, "dedupe_key": "k4", "urgent": True}), (author, text), (author, text),
        ])  # fmt: skip
    assert queued_now == 4  # k2 once, urgent k4 despite muting, two without a key
    assert len(await queued(session_factory, "text")) == 5


async def test_a_planned_ticket_is_due_with_its_plan_item(session_factory, world):
    async with session_factory() as s, s.begin():
        item = (await s.exec(select(PlanItem).where(PlanItem.compound_id == world["compound"],
                                                    PlanItem.category == "water"))).first()  # fmt: skip
        item.due_date = datetime(2026, 10, 3).date()  # in the National Day holidays
        ticket = await s.get(Ticket, world["ticket"])
        worker = await s.get(User, world[str(WORKER)])
        await change_status(session=s, ticket=ticket, target=TicketStatus.planned, actor=worker,
                            now=CREATED + timedelta(days=1))  # fmt: skip
    due = (await ticket_of(session_factory, world)).resolution_due_at
    assert due == local(2026, 10, 8, 18, 0)  # the first working day's close


async def test_a_second_change_in_the_same_week_is_told_too(session_factory, world):
    kwargs = {"session_factory": session_factory, "settings": SETTINGS}
    monday = local(2026, 12, 7, 10, 0)
    await sweep_progress_digest(**kwargs, now=monday - timedelta(days=1))  # first sight
    for progress, at in ((70, monday), (80, monday + timedelta(days=2))):  # run-due twice
        async with session_factory() as s, s.begin():
            item = (await s.exec(select(PlanItem).where(PlanItem.compound_id == world["compound"],
                                                        PlanItem.category == "water"))).first()  # fmt: skip
            item.progress = progress
        await sweep_progress_digest(**kwargs, now=at)
    told = [m.payload["params"]["items"][0]["progress"]
            for m in await queued(session_factory, "progress_digest") if m.chat_id == RESIDENT]  # fmt: skip
    assert told == [70, 80]
