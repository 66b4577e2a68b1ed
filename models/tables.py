"""Every table of Diancai. Behaviour lives in the sibling modules; this file is the schema.

Times are stored in UTC (``UTCDateTime``) and shown in Asia/Shanghai by the bot.
Enumerations are stored as short strings so the schema stays portable between SQLite and
PostgreSQL and a new value needs no migration.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
)
from sqlmodel import Field, SQLModel

from models.db import UTCDateTime, utcnow


def _created() -> Any:
    return Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


def _when() -> Any:
    return Field(default=None, sa_type=UTCDateTime, nullable=True)


def _fk(
    target: str, *, nullable: bool = True, ondelete: str | None = None, index: bool = True
) -> Any:
    return Field(
        default=None,
        sa_column=Column(ForeignKey(target, ondelete=ondelete), nullable=nullable, index=index),
    )


class Role(StrEnum):
    resident = "resident"
    worker = "worker"  # 社区工作者: the compounds in worker_compound
    district_staff = "district_staff"  # 区级: every compound of their district (district_id)
    city_staff = "city_staff"  # 市级: everything

    @property
    def is_staff(self) -> bool:
        return self != Role.resident

    @property
    def oversees(self) -> bool:
        """District and city staff: they invite and manage workers and read the reports."""
        return self in (Role.district_staff, Role.city_staff)


class RenovationStage(StrEnum):
    surveying = "surveying"  # 征集需求
    planning = "planning"  # 方案设计
    construction = "construction"  # 施工中
    completed = "completed"  # 已竣工
    accepted = "accepted"  # 已验收


class PlanItemStatus(StrEnum):
    planned = "planned"
    in_progress = "in_progress"
    done = "done"


class TicketStatus(StrEnum):
    new = "new"
    accepted = "accepted"
    planned = "planned"
    in_progress = "in_progress"
    resolved = "resolved"
    closed = "closed"
    rejected = "rejected"
    withdrawn = "withdrawn"
    merged = "merged"


class OutboxState(StrEnum):
    pending = "pending"
    claimed = "claimed"  # taken by a sender; returned to pending after a crash
    sent = "sent"
    parked = "parked"  # gave up: the error is kept for a human
    recalled = "recalled"  # sent, then deleted from the chat (a notice's 撤回)


class NoticeState(StrEnum):
    draft = "draft"
    scheduled = "scheduled"
    sending = "sending"
    sent = "sent"
    cancelled = "cancelled"


class SurveyKind(StrEnum):
    ticket = "ticket"  # 回访: after a ticket is resolved
    acceptance = "acceptance"  # 民意验收: after a compound's renovation is completed


class SurveyState(StrEnum):
    pending = "pending"
    answered = "answered"
    expired = "expired"  # no answer after the deadline


# --- places -------------------------------------------------------------------------------


class District(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(sa_type=String(32), unique=True, index=True)
    name: str = Field(sa_type=String(64))


class Compound(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(sa_type=String(32), unique=True, index=True)
    name: str = Field(sa_type=String(128), index=True)
    aliases: list[str] = Field(default_factory=list, sa_type=JSON)
    district_id: int = _fk("district.id", nullable=False)
    address: str = Field(default="", sa_type=String(256))
    households: int | None = None
    built_year: int | None = None
    renovation_year: int | None = None
    renovation_stage: str = Field(default=RenovationStage.surveying, sa_type=String(20))
    renovation_progress: int = Field(default=0, ge=0, le=100)
    # The stage residents were last told of (scheduler/jobs/progress.py); None: not yet seen.
    announced_stage: str | None = Field(default=None, sa_type=String(20))
    created_at: datetime = _created()
    updated_at: datetime = _created()


class PlanItem(SQLModel, table=True):
    """One item of a compound's renovation plan, per category (公示: what is being done)."""

    __tablename__ = "plan_item"
    __table_args__ = (UniqueConstraint("compound_id", "category", "title"),)

    id: int | None = Field(default=None, primary_key=True)
    compound_id: int = _fk("compound.id", nullable=False, ondelete="CASCADE")
    category: str = Field(sa_type=String(32))
    title: str = Field(sa_type=String(256))
    status: str = Field(default=PlanItemStatus.planned, sa_type=String(20))
    progress: int = Field(default=0, ge=0, le=100)
    # When it is planned to be done: the resolution deadline of tickets planned into it.
    due_date: date | None = Field(default=None, sa_type=Date)
    # What residents were last told (the weekly progress digest); None: not yet seen.
    announced_status: str | None = Field(default=None, sa_type=String(20))
    announced_progress: int | None = None
    updated_at: datetime = _created()


# --- people -------------------------------------------------------------------------------


class User(SQLModel, table=True):
    __tablename__ = "app_user"
    id: int | None = Field(default=None, primary_key=True)
    telegram_id: int = Field(sa_column=Column(BigInteger, unique=True, index=True, nullable=False))
    chat_id: int = Field(sa_column=Column(BigInteger, nullable=False))
    first_name: str = Field(default="", sa_type=String(128))
    username: str | None = Field(default=None, sa_type=String(64))
    role: str = Field(default=Role.resident, sa_type=String(16), index=True)
    district_id: int | None = _fk("district.id")  # district staff: the district they oversee
    language: str = Field(default="zh", sa_type=String(8))
    compound_id: int | None = _fk("compound.id")
    building: str | None = Field(default=None, sa_type=String(32))
    unit: str | None = Field(default=None, sa_type=String(32))
    # Not collected: the bot keeps no phone numbers (bot/handlers/fallback.py, a shared contact).
    phone: str | None = Field(default=None, sa_type=String(32))
    notifications_enabled: bool = True
    reachable: bool = True  # False once the user blocked the bot
    blocked_at: datetime | None = _when()
    created_at: datetime = _created()
    last_seen_at: datetime = _created()


class WorkerCompound(SQLModel, table=True):
    """Which compounds a community worker is responsible for."""

    __tablename__ = "worker_compound"
    worker_id: int = Field(
        sa_column=Column(ForeignKey("app_user.id", ondelete="CASCADE"), primary_key=True)
    )
    compound_id: int = Field(
        sa_column=Column(ForeignKey("compound.id", ondelete="CASCADE"), primary_key=True)
    )


class WorkerInvite(SQLModel, table=True):
    """A single-use, expiring deep link (``w_<token>``) that makes its user a worker."""

    __tablename__ = "worker_invite"
    id: int | None = Field(default=None, primary_key=True)
    token: str = Field(sa_type=String(64), unique=True, index=True)
    compound_ids: list[int] = Field(default_factory=list, sa_type=JSON)
    created_by_id: int | None = _fk("app_user.id")
    expires_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    used_by_id: int | None = _fk("app_user.id")
    used_at: datetime | None = _when()
    created_at: datetime = _created()


# --- tickets ------------------------------------------------------------------------------


class Ticket(SQLModel, table=True):
    __table_args__ = (
        Index("ix_ticket_compound_status", "compound_id", "status"),
        Index("ix_ticket_status_resolved_at", "status", "resolved_at"),  # the 回访 sweep
    )

    id: int | None = Field(default=None, primary_key=True)
    reference: str | None = Field(default=None, sa_type=String(24), unique=True, index=True)
    author_id: int = _fk("app_user.id", nullable=False)
    compound_id: int = _fk("compound.id", nullable=False)
    text_original: str = Field(sa_type=Text)
    text_normalized: str = Field(default="", sa_type=Text)
    category: str = Field(sa_type=String(32), index=True)
    tier: str = Field(sa_type=String(16))
    category_source: str = Field(default="nlu", sa_type=String(16))  # nlu / resident / worker
    nlu_intent: str | None = Field(default=None, sa_type=String(32))
    nlu_confidence: float | None = None
    nlu_model_version: str | None = Field(default=None, sa_type=String(64))
    urgent: bool = Field(default=False, index=True)
    status: str = Field(default=TicketStatus.new, sa_type=String(16), index=True)
    assignee_id: int | None = _fk("app_user.id")
    building: str | None = Field(default=None, sa_type=String(32))
    unit: str | None = Field(default=None, sa_type=String(32))
    latitude: float | None = None
    longitude: float | None = None
    response_due_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    resolution_due_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    accepted_at: datetime | None = _when()
    resolved_at: datetime | None = _when()
    closed_at: datetime | None = _when()
    last_reminded_at: datetime | None = _when()  # 催办, at most once per 24 h
    reopen_count: int = 0
    merged_into_id: int | None = _fk("ticket.id")
    plan_item_id: int | None = _fk("plan_item.id", ondelete="SET NULL")  # 纳入计划: which item
    # Raised by every change: two workers acting at once cannot both win (models/tickets.py).
    version: int = Field(default=1, sa_column_kwargs={"server_default": "1"})
    created_at: datetime = _created()
    updated_at: datetime = _created()


class TicketAttachment(SQLModel, table=True):
    __tablename__ = "ticket_attachment"
    id: int | None = Field(default=None, primary_key=True)
    ticket_id: int = _fk("ticket.id", nullable=False, ondelete="CASCADE")
    kind: str = Field(sa_type=String(16))  # photo / voice / document / video
    file_id: str = Field(sa_type=String(256))
    file_unique_id: str | None = Field(default=None, sa_type=String(128))
    caption: str | None = Field(default=None, sa_type=Text)
    created_at: datetime = _created()


class TicketEvent(SQLModel, table=True):
    """The audit trail: one row per thing that happened to a ticket."""

    __tablename__ = "ticket_event"
    id: int | None = Field(default=None, primary_key=True)
    ticket_id: int = _fk("ticket.id", nullable=False, ondelete="CASCADE")
    actor_id: int | None = _fk("app_user.id")  # None: the system (scheduler, survey)
    action: str = Field(sa_type=String(32))
    from_status: str | None = Field(default=None, sa_type=String(16))
    to_status: str | None = Field(default=None, sa_type=String(16))
    # 补充说明 and workers' notes (a rejection's reason) are shown in the ticket's history and
    # in notifications, so they are kept short: models.limits reads this limit (TEXT has none).
    note: str | None = Field(
        default=None, sa_type=Text, sa_column_kwargs={"info": {"max_length": 500}}
    )
    created_at: datetime = _created()


class Endorsement(SQLModel, table=True):
    """A resident's +1 on a neighbour's ticket (我也反映); they then receive its updates."""

    __table_args__ = (UniqueConstraint("ticket_id", "user_id"),)

    id: int | None = Field(default=None, primary_key=True)
    ticket_id: int = _fk("ticket.id", nullable=False, ondelete="CASCADE")
    user_id: int = _fk("app_user.id", nullable=False, ondelete="CASCADE")
    created_at: datetime = _created()


# --- messages -----------------------------------------------------------------------------


class NoticeKind(StrEnum):
    outage = "outage"  # 停水停电
    construction = "construction"  # 施工
    event = "event"  # 活动
    consultation = "consultation"  # 征求意见
    general = "general"  # 一般

    @property
    def may_ask_ack(self) -> bool:
        """Kinds whose notices can carry a 收到 button (who has not seen it gets a knock)."""
        return self in (NoticeKind.outage, NoticeKind.construction)


class Notice(SQLModel, table=True):
    """A broadcast by a worker or staff (社区公告), e.g. "明天 9:00–17:00 3号楼停水".

    draft → scheduled (``scheduled_at``, now included) → sending (recipients written to the
    outbox) → sent; scheduled ones may be cancelled. The audience is kept as given
    (``audience_spec``, see models/notices.py) and the compounds it reaches in
    ``notice_compound``, for the residents' 社区公告 list."""

    id: int | None = Field(default=None, primary_key=True)
    author_id: int = _fk("app_user.id", nullable=False)
    compound_id: int | None = _fk("compound.id")  # the compound, when it reaches exactly one
    audience: str = Field(default="residents", sa_type=String(16))  # residents / workers / all
    audience_spec: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    kind: str = Field(default=NoticeKind.general, sa_type=String(16))
    text: str = Field(sa_type=Text)
    attachment_kind: str | None = Field(default=None, sa_type=String(16))  # photo / document
    attachment_file_id: str | None = Field(default=None, sa_type=String(256))
    ask_ack: bool = False  # a 收到 button (outage and construction notices)
    correction_of_id: int | None = _fk("notice.id")  # 更正: the notice this one corrects
    urgent: bool = False
    scheduled_at: datetime | None = _when()
    state: str = Field(default=NoticeState.draft, sa_type=String(16), index=True)
    recipients_total: int = 0  # residents the audience reached when sending started
    pushed: int = 0  # of them, sent a message (the rest: notifications off or blocked)
    opted_out: int = 0  # notifications off: in their 社区公告 list only
    blocked: int = 0  # blocked the bot before or during sending
    delivered: int = 0
    failed: int = 0
    version: int = Field(default=1, sa_column_kwargs={"server_default": "1"})  # edits
    report_chat_id: int | None = Field(default=None, sa_type=BigInteger)  # the author's
    report_message_id: int | None = Field(default=None, sa_type=BigInteger)  # live report
    report_edited_at: datetime | None = _when()
    created_at: datetime = _created()
    started_at: datetime | None = _when()
    sent_at: datetime | None = _when()
    cancelled_at: datetime | None = _when()
    recalled_at: datetime | None = _when()  # 撤回 requested: its messages are being deleted


class NoticeCompound(SQLModel, table=True):
    """The compounds a notice reached: it shows in their residents' 社区公告 list."""

    __tablename__ = "notice_compound"
    notice_id: int = Field(
        sa_column=Column(ForeignKey("notice.id", ondelete="CASCADE"), primary_key=True)
    )
    compound_id: int = Field(
        sa_column=Column(ForeignKey("compound.id", ondelete="CASCADE"), primary_key=True)
    )


class NoticeAck(SQLModel, table=True):
    """A resident's 收到 on a notice."""

    __tablename__ = "notice_ack"
    __table_args__ = (UniqueConstraint("notice_id", "user_id"),)

    id: int | None = Field(default=None, primary_key=True)
    notice_id: int = _fk("notice.id", nullable=False, ondelete="CASCADE")
    user_id: int = _fk("app_user.id", nullable=False, ondelete="CASCADE")
    created_at: datetime = _created()


class OutboxMessage(SQLModel, table=True):
    """Every message the bot sends on its own initiative, written in the same transaction as
    the change that caused it and drained by the sender (bot/outbox.py)."""

    __tablename__ = "outbox_message"
    __table_args__ = (Index("ix_outbox_due", "state", "next_attempt_at"),)

    id: int | None = Field(default=None, primary_key=True)
    chat_id: int = Field(sa_column=Column(BigInteger, nullable=False, index=True))
    user_id: int | None = _fk("app_user.id", ondelete="SET NULL")
    kind: str = Field(sa_type=String(32))
    urgent: bool = False  # urgent messages ignore quiet hours
    payload: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    dedupe_key: str | None = Field(default=None, sa_type=String(128), unique=True)
    state: str = Field(default=OutboxState.pending, sa_type=String(16))
    attempts: int = 0
    next_attempt_at: datetime = _created()
    claimed_at: datetime | None = _when()
    sent_at: datetime | None = _when()
    telegram_message_id: int | None = Field(default=None, sa_type=BigInteger)
    last_error: str | None = Field(default=None, sa_type=Text)
    created_at: datetime = _created()


# --- surveys ------------------------------------------------------------------------------


class Survey(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("kind", "ticket_id", "compound_id", "user_id"),)

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(sa_type=String(16))
    ticket_id: int | None = _fk("ticket.id", ondelete="CASCADE")
    compound_id: int | None = _fk("compound.id", ondelete="CASCADE")
    user_id: int = _fk("app_user.id", nullable=False, ondelete="CASCADE")
    state: str = Field(default=SurveyState.pending, sa_type=String(16), index=True)
    sent_at: datetime | None = _when()
    reminded_at: datetime | None = _when()
    expires_at: datetime | None = _when()
    created_at: datetime = _created()


class SurveyAnswer(SQLModel, table=True):
    __tablename__ = "survey_answer"
    id: int | None = Field(default=None, primary_key=True)
    survey_id: int = Field(
        sa_column=Column(ForeignKey("survey.id", ondelete="CASCADE"), unique=True, nullable=False)
    )
    # A ticket survey: 已解决 / 未解决 is tapped first; the score may follow (None until then).
    resolved: bool | None = Field(default=None, sa_type=Boolean)
    score: int | None = Field(default=None, ge=1, le=5)
    # An acceptance survey: a score per plan item the resident raised ({plan_item_id: 1–5}).
    item_scores: dict[str, int] = Field(default_factory=dict, sa_type=JSON)
    comment: str | None = Field(default=None, sa_type=Text)
    answered_at: datetime = _created()


# --- coordination -------------------------------------------------------------------------


class Lease(SQLModel, table=True):
    """A named role only one process may hold at a time (the outbox sender, the scheduler):
    held while renewed before ``expires_at``; a crashed holder's lease simply runs out."""

    name: str = Field(sa_type=String(64), primary_key=True)
    holder: str = Field(sa_type=String(128))
    expires_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    acquired_at: datetime = _created()


# --- the spool ----------------------------------------------------------------------------


class ReplayedUpdate(SQLModel, table=True):
    """A Telegram update replayed from the spool (bot/spool.py), marked in the same transaction
    as its effects so that a replay resumed after a crash does not handle it twice."""

    __tablename__ = "replayed_update"
    update_id: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    replayed_at: datetime = _created()
