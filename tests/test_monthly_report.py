"""The monthly report (月通报): its figures on a fixed dataset (SQLite and PostgreSQL), the
previous month beside them, agreement with the board's KPI function, the chart and the
workbook read back, the scheduled sweep through the outbox, and ``/report 2026-11``."""

from __future__ import annotations

import io
import warnings
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from aiogram.methods import SendDocument, SendMessage, SendPhoto
from openpyxl import load_workbook
from PIL import Image
from sqlmodel import select

from bot.i18n import make_i18n, translate
from bot.report_files import chart_png, report_text, workbook_xlsx
from bot.settings import Settings
from models.db import utcnow
from models.report import Month, MonthlyReport, build_monthly_report
from models.stats import compute_kpis
from models.tables import (
    Compound,
    District,
    Endorsement,
    OutboxMessage,
    Role,
    Survey,
    SurveyAnswer,
    Ticket,
    TicketStatus,
    User,
)
from models.users import worker_compound_ids
from scheduler.jobs.monthly_report import sweep_monthly_reports
from tests.conftest import load_demo_registry

TZ = ZoneInfo("Asia/Shanghai")
NOVEMBER = Month(2026, 11)
# The report on November is made on 1 December at 09:00, Shanghai time.
REPORT_TIME = datetime(2026, 12, 1, 9, 0, tzinfo=TZ)
I18N = make_i18n()


def local(month: Month, day: int, hour: int = 10, minute: int = 0) -> datetime:
    return datetime(month.year, month.month, day, hour, minute, tzinfo=TZ)


async def seed(factory, month: Month) -> dict[str, int]:
    """A fixed dataset on the demo registry: tickets in ``month`` and the month before, in two
    compounds of 和平区 (hp01, hp02) and one of 沈河区 (sh01). Returns compound ids by code."""
    before = month.previous()
    async with factory() as s, s.begin():
        compounds = {
            c.code: c
            for c in (
                await s.exec(select(Compound).where(Compound.code.in_(["hp01", "hp02", "sh01"])))
            ).all()
        }
        author = User(telegram_id=70001, chat_id=70001)
        neighbours = [User(telegram_id=70010 + i, chat_id=70010 + i) for i in range(3)]
        s.add_all([author, *neighbours])
        await s.flush()
        refs = iter(range(1, 100))

        def ticket(code: str, category: str, status: str, created: datetime,
                   accepted_after: timedelta | None, *, urgent: bool = False,
                   resolved_after: timedelta | None = None) -> Ticket:  # fmt: skip
            return Ticket(
                reference=f"T-{next(refs):04d}", author_id=author.id,
                compound_id=compounds[code].id, text_original="x", category=category,
                tier="basic", status=status, urgent=urgent, created_at=created,
                response_due_at=created + timedelta(hours=2 if urgent else 24),
                resolution_due_at=created + timedelta(days=5 if category == "lighting" else 30),
                accepted_at=created + accepted_after if accepted_after is not None else None,
                resolved_at=created + resolved_after if resolved_after is not None else None,
            )  # fmt: skip

        day = local(month, 10)
        tickets = {
            # the month, 和平区
            "water_on_time": ticket("hp01", "water", TicketStatus.closed, day,
                                    timedelta(hours=3), resolved_after=timedelta(days=2)),
            "water_late": ticket("hp01", "water", TicketStatus.resolved, day,
                                 timedelta(hours=30), resolved_after=timedelta(days=3)),
            "roads_urgent": ticket("hp01", "roads", TicketStatus.in_progress, day,
                                   timedelta(hours=1), urgent=True),
            "roads_ignored": ticket("hp01", "roads", TicketStatus.new, day, None),
            "lighting_stuck": ticket("hp02", "lighting", TicketStatus.accepted, day,
                                     timedelta(hours=2)),
            "lighting_withdrawn": ticket("hp02", "lighting", TicketStatus.withdrawn, day, None),
            # the last half hour of the month counts; the first of the next does not
            "greening_last_minute": ticket("hp02", "greening", TicketStatus.accepted,
                                           local(month, 1, 0) + _month_length(month)
                                           - timedelta(minutes=30), timedelta(hours=1)),
            "water_next_month": ticket("hp01", "water", TicketStatus.new,
                                       local(month.next(), 1, 0, 30), None),
            # the month before, 和平区
            "before_water": ticket("hp01", "water", TicketStatus.closed, local(before, 15),
                                   timedelta(hours=3), resolved_after=timedelta(days=1)),
            "before_roads": ticket("hp01", "roads", TicketStatus.in_progress, local(before, 15),
                                   timedelta(hours=30)),
            # 沈河区
            "shenhe_water": ticket("sh01", "water", TicketStatus.new, day, None),
        }  # fmt: skip
        s.add_all(tickets.values())
        await s.flush()
        s.add_all(
            [Endorsement(ticket_id=tickets["roads_urgent"].id, user_id=n.id) for n in neighbours]
        )
        answers = [
            ("water_on_time", 5, "修得很快，谢谢！", local(month, 20)),
            ("water_late", 2, "拖太久了", local(month, 21)),
            ("before_water", 4, None, local(before, 20)),
            ("shenhe_water", 1, "沈河的评价", local(month, 22)),
        ]
        for i, (key, score, comment, when) in enumerate(answers):
            survey = Survey(kind="ticket", ticket_id=tickets[key].id, user_id=neighbours[i % 3].id)
            s.add(survey)
            await s.flush()
            s.add(SurveyAnswer(survey_id=survey.id, score=score, comment=comment, answered_at=when))
        return {code: c.id for code, c in compounds.items()}  # type: ignore[misc]


def _month_length(month: Month) -> timedelta:
    return month.next().start(TZ) - month.start(TZ)


async def heping_staff(factory) -> User:
    async with factory() as s, s.begin():
        heping = (await s.exec(select(District).where(District.code == "heping"))).one()
        user = User(telegram_id=3001, chat_id=3001, role=Role.district_staff,
                    district_id=heping.id)  # fmt: skip
        s.add(user)
    return user


async def november_report(factory, user: User) -> MonthlyReport:
    async with factory() as s:
        return await build_monthly_report(
            session=s, compound_ids=await worker_compound_ids(session=s, user=user),
            district_id=user.district_id, month=NOVEMBER, tz=TZ, now=REPORT_TIME,
        )  # fmt: skip


def rates(kpis) -> tuple:
    fractions = [(r.numerator, r.denominator) for r in
                 (kpis.response, kpis.resolution, kpis.satisfaction)]  # fmt: skip
    return (*fractions, kpis.tickets)


@pytest.fixture
async def dataset(session_factory) -> dict[str, int]:
    await load_demo_registry(session_factory)
    return await seed(session_factory, NOVEMBER)


# --- the figures --------------------------------------------------------------------------


async def test_figures_of_a_district_beside_the_month_before(session_factory, dataset):
    report = await november_report(session_factory, await heping_staff(session_factory))
    assert report.district == "和平区" and report.month == NOVEMBER
    # November in 和平区: 6 counted tickets (the withdrawn one and December's are not).
    assert rates(report.total) == ((4, 6), (2, 6), (1, 2), 6)
    assert rates(report.previous_total) == ((1, 2), (1, 2), (1, 1), 2)
    by_compound = {row.name: (rates(row.kpis), rates(row.previous)) for row in report.compounds}
    assert by_compound == {
        "南湖春晓小区": (((2, 4), (2, 4), (1, 2), 4), ((1, 2), (1, 2), (1, 1), 2)),
        "三好家园": (((2, 2), (0, 2), (0, 0), 2), ((0, 0), (0, 0), (0, 0), 0)),
    }
    by_category = {row.key: (rates(row.kpis), rates(row.previous)) for row in report.categories}
    assert by_category == {
        "water": (((1, 2), (2, 2), (1, 2), 2), ((1, 1), (1, 1), (1, 1), 1)),
        "roads": (((1, 2), (0, 2), (0, 0), 2), ((0, 1), (0, 1), (0, 0), 1)),
        "lighting": (((1, 1), (0, 1), (0, 0), 1), ((0, 0), (0, 0), (0, 0), 0)),
        "greening": (((1, 1), (0, 1), (0, 0), 1), ((0, 0), (0, 0), (0, 0), 0)),
    }
    # Late at the end of November: October's roads ticket (not resolved in 30 days), the
    # ignored one (never accepted), the stuck lighting (5 days to resolve). Not 沈河区's.
    assert [(o.reference, o.late_response) for o in report.overdue] == [
        ("T-0010", False),
        ("T-0004", True),
        ("T-0005", False),
    ]
    assert report.top_demands == [("roads", 5), ("water", 2), ("greening", 1), ("lighting", 1)]
    assert [(c.compound, c.score, c.text) for c in report.comments] == [
        ("南湖春晓小区", 5, "修得很快，谢谢！"),
        ("南湖春晓小区", 2, "拖太久了"),
    ]


async def test_city_staff_see_every_district(session_factory, dataset):
    async with session_factory() as s, s.begin():
        city = User(telegram_id=3002, chat_id=3002, role=Role.city_staff)
        s.add(city)
    report = await november_report(session_factory, city)
    assert report.district is None
    assert {row.name for row in report.compounds} == {"南湖春晓小区", "三好家园", "五里河西苑"}
    assert rates(report.total) == ((4, 7), (2, 7), (1, 3), 7)
    assert "T-0011" in [o.reference for o in report.overdue]


async def test_report_and_board_use_one_function_and_agree(session_factory, dataset):
    report = await november_report(session_factory, await heping_staff(session_factory))
    start, end = NOVEMBER.bounds(TZ)
    async with session_factory() as s:
        for row in report.compounds:
            board = await compute_kpis(session=s, compound_ids=[row.key], since=start,
                                       until=end, now=REPORT_TIME)  # fmt: skip
            assert board == row.kpis
        # The groups add up to the whole.
        assert sum(row.kpis.tickets for row in report.categories) == report.total.tickets
        assert sum(r.kpis.response.numerator for r in report.compounds) == (
            report.total.response.numerator
        )


async def test_a_month_without_data_says_so(session_factory, dataset):
    user = await heping_staff(session_factory)
    async with session_factory() as s:
        report = await build_monthly_report(
            session=s, compound_ids=await worker_compound_ids(session=s, user=user),
            district_id=user.district_id, month=Month(2025, 6), tz=TZ, now=REPORT_TIME,
        )  # fmt: skip
    assert not report.has_data
    zh = report_text(report, _=_zh, language="zh", tz=TZ)
    assert "2025年6月 月通报 · 和平区" in zh and "本月没有新的诉求" in zh
    workbook = load_workbook(io.BytesIO(workbook_xlsx(report, _=_zh, language="zh", tz=TZ)))
    assert workbook["各小区"]["A1"].value == "小区"
    assert workbook["各小区"].max_row == 1
    Image.open(io.BytesIO(chart_png(report, _=_zh, language="zh"))).verify()


def test_months_parse_and_bound_in_local_time():
    assert Month.parse("2026-11") == Month.parse("2026/11") == Month.parse("2026年11月") == NOVEMBER
    assert Month.parse("2026-1") == Month(2026, 1)
    for bad in ("2026-13", "2026-00", "11-2026", "last month", "", "2026-11-05"):
        assert Month.parse(bad) is None
    assert Month(2026, 1).previous() == Month(2025, 12) and Month(2025, 12).next() == Month(2026, 1)
    start, end = NOVEMBER.bounds(TZ)
    assert start.astimezone(ZoneInfo("UTC")) == datetime(
        2026, 10, 31, 16, 0, tzinfo=ZoneInfo("UTC")
    )
    assert end - start == timedelta(days=30)


# --- rendering ----------------------------------------------------------------------------


def _zh(message: str) -> str:
    return translate(I18N, "zh", message)


def _en(message: str) -> str:
    return translate(I18N, "en", message)


async def test_text_shows_last_month_beside_this_one(session_factory, dataset):
    report = await november_report(session_factory, await heping_staff(session_factory))
    text = report_text(report, _=_zh, language="zh", tz=TZ)
    assert "2026年11月 月通报 · 和平区" in text
    assert "诉求 6 件（上月 2 件）" in text
    assert "响应率 67%（上月 50%）· 解决率 33%（上月 50%）· 满意率 50%（上月 100%）" in text
    assert (
        "• 南湖春晓小区：4 件（上月 2）· 响应 50%（50%）· 解决 50%（50%）· 满意 50%（100%）" in text
    )
    assert "• T-0004 南湖春晓小区 · 道路 · 已提交 · 应于 11-11 10:00 前受理" in text
    assert "五里河西苑" not in text
    english = report_text(report, _=_en, language="en", tz=TZ)
    assert "Monthly report" in english and "response" in english.lower()
    assert "Water supply and drainage" in english  # the taxonomy's English names


async def test_a_long_report_fits_one_message_and_points_to_the_workbook(session_factory, dataset):
    report = await november_report(session_factory, await heping_staff(session_factory))
    long = replace(report, compounds=report.compounds * 40, categories=report.categories * 5,
                   overdue=report.overdue * 30)  # fmt: skip
    text = report_text(long, _=_en, language="en", tz=TZ)
    assert len(text) <= 4096 and text.endswith("\n…")  # cut: the workbook has it all
    assert "80 in all: see the Excel file" in text  # the compounds beyond the first 15
    assert text.count("<b>") == text.count("</b>")  # cut between lines, never inside a tag


async def test_workbook_sheets_headers_and_values(session_factory, dataset):
    report = await november_report(session_factory, await heping_staff(session_factory))
    workbook = load_workbook(io.BytesIO(workbook_xlsx(report, _=_zh, language="zh", tz=TZ)))
    assert workbook.sheetnames == ["汇总", "各小区", "各类别", "超期件", "回访评价", "民意验收"]
    summary = {row[0]: row[1:] for row in workbook["汇总"].iter_rows(values_only=True) if row}
    assert summary["指标"] == ("本月", "上月")
    assert summary["诉求件数"] == (6, 2)
    assert summary["响应率"] == (pytest.approx(4 / 6), 0.5)
    assert summary["满意率"] == (0.5, 1)
    assert summary["超期件"][0] == 3
    assert summary["道路"][0] == 5  # the top demands, by name
    assert workbook["汇总"]["B3"].number_format == "0%"

    compounds = list(workbook["各小区"].iter_rows(values_only=True))
    assert compounds[0] == ("小区", "诉求件数", "响应率", "解决率", "满意率", "上月诉求件数",
                            "上月响应率", "上月解决率", "上月满意率")  # fmt: skip
    assert ("三好家园", 2, 1, 0, None, 0, None, None, None) in compounds
    assert ("南湖春晓小区", 4, 0.5, 0.5, 0.5, 2, 0.5, 0.5, 1) in compounds
    categories = {row[0]: row[1:] for row in workbook["各类别"].iter_rows(values_only=True)}
    assert categories["供水排水"][:4] == (2, 0.5, 1, 0.5)
    overdue = list(workbook["超期件"].iter_rows(values_only=True))
    assert overdue[0][:5] == ("编号", "小区", "类别", "状态", "超期类型")
    assert [row[0] for row in overdue[1:]] == ["T-0010", "T-0004", "T-0005"]
    assert overdue[2][3:5] == ("已提交", "未按时受理")
    assert overdue[2][5] == datetime(2026, 11, 11, 10, 0)  # local time, as Excel shows it
    comments = list(workbook["回访评价"].iter_rows(values_only=True))
    assert comments[0] == ("时间", "小区", "类别", "评分", "评价")
    assert comments[1][1:] == ("南湖春晓小区", "供水排水", 5, "修得很快，谢谢！")
    assert len(comments) == 3

    english = load_workbook(io.BytesIO(workbook_xlsx(report, _=_en, language="en", tz=TZ)))
    assert english.sheetnames == ["Summary", "By compound", "By category", "Overdue",
                                  "Survey comments", "Acceptance survey"]  # fmt: skip


async def test_chart_is_a_png_with_every_chinese_glyph(session_factory, dataset):
    report = await november_report(session_factory, await heping_staff(session_factory))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        png = chart_png(report, _=_zh, language="zh")
    assert not [w for w in caught if "missing from" in str(w.message)], caught[0].message
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG" and image.size == (1100, 528)
    image.verify()


async def test_chart_check_catches_a_font_without_chinese(session_factory, dataset):
    """The check above can fail: with matplotlib's own DejaVu Sans the glyphs are missing."""
    import matplotlib

    report = await november_report(session_factory, await heping_staff(session_factory))
    dejavu = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        chart_png(report, _=_zh, language="zh", font=dejavu)
    assert [w for w in caught if "missing from" in str(w.message)]


# --- the scheduled report -----------------------------------------------------------------


def settings(**overrides: object) -> Settings:
    return Settings(_env_file=None, telegram_bot_token="42:TEST", **overrides)  # type: ignore[arg-type]


async def staff_for_sweep(factory) -> tuple[User, User, User]:
    district = await heping_staff(factory)
    async with factory() as s, s.begin():
        city = User(telegram_id=3002, chat_id=3002, role=Role.city_staff, language="en")
        muted = User(telegram_id=3003, chat_id=3003, role=Role.district_staff,
                     district_id=district.district_id, notifications_enabled=False)  # fmt: skip
        s.add_all([city, muted, User(telegram_id=3004, chat_id=3004)])  # and a resident
    return district, city, muted


async def test_sweep_queues_each_staff_member_once_on_the_first(session_factory, dataset):
    district, city, _muted = await staff_for_sweep(session_factory)

    async def sweep(at: datetime) -> int:
        return await sweep_monthly_reports(session_factory=session_factory,
                                           settings=settings(), now=at)  # fmt: skip

    assert await sweep(REPORT_TIME - timedelta(minutes=1)) == 0  # 08:59 on the 1st
    assert await sweep(datetime(2026, 11, 20, 9, 0, tzinfo=TZ)) == 0  # mid-month
    assert await sweep(REPORT_TIME) == 2  # the district and the city; not the muted one
    assert await sweep(REPORT_TIME + timedelta(minutes=5)) == 0  # idempotent
    assert await sweep(REPORT_TIME + timedelta(days=2)) == 0
    async with session_factory() as s:
        rows = (await s.exec(select(OutboxMessage).order_by(OutboxMessage.id))).all()
    assert [(r.user_id, r.payload["params"]["part"]) for r in rows] == [
        (district.id, "text"), (district.id, "chart"), (district.id, "xlsx"),
        (city.id, "text"), (city.id, "chart"), (city.id, "xlsx"),
    ]  # fmt: skip
    assert {r.payload["params"]["month"] for r in rows} == {"2026-11"}


async def test_a_scheduler_down_on_the_first_catches_up_that_week(session_factory, dataset):
    await staff_for_sweep(session_factory)
    later = datetime(2026, 12, 3, 14, 0, tzinfo=TZ)
    assert await sweep_monthly_reports(session_factory=session_factory, settings=settings(),
                                       now=later) == 2  # fmt: skip
    too_late = datetime(2026, 12, 8, 9, 0, tzinfo=TZ)
    async with session_factory() as s, s.begin():
        for row in (await s.exec(select(OutboxMessage))).all():
            await s.delete(row)
    assert await sweep_monthly_reports(session_factory=session_factory, settings=settings(),
                                       now=too_late) == 0  # fmt: skip


async def test_the_sender_delivers_text_chart_and_workbook_in_each_language(
    session_factory, dataset
):
    from bot.outbox import OutboxSender
    from tests.mocked_bot import make_bot
    from tests.test_outbox import drain

    await staff_for_sweep(session_factory)
    await sweep_monthly_reports(session_factory=session_factory, settings=settings(),
                                now=REPORT_TIME)  # fmt: skip
    bot, recorder = make_bot()
    quiet_never = {"quiet_hours_start": "00:00", "quiet_hours_end": "00:00",
                   "outbox_per_chat_interval": 0.01}  # fmt: skip
    sender = OutboxSender(bot=bot, session_factory=session_factory,
                          settings=settings(**quiet_never), i18n=I18N)  # fmt: skip
    await drain(sender)
    sent = [(type(r.method).__name__, r.method.chat_id) for r in recorder.requests]
    assert sent == [
        ("SendMessage", 3001), ("SendPhoto", 3001), ("SendDocument", 3001),
        ("SendMessage", 3002), ("SendPhoto", 3002), ("SendDocument", 3002),
    ]  # fmt: skip
    to_district, to_city = recorder.sent("SendMessage")
    assert "2026年11月 月通报 · 和平区" in to_district.text and "五里河西苑" not in to_district.text
    assert "Monthly report" in to_city.text and "五里河西苑" in to_city.text
    documents = recorder.sent("SendDocument")
    assert documents[0].document.filename == "diancai-2026-11.xlsx"
    city_book = load_workbook(io.BytesIO(documents[1].document.data))
    assert city_book.sheetnames[0] == "Summary"
    assert "五里河西苑" in [row[0] for row in city_book["By compound"].iter_rows(values_only=True)]
    Image.open(io.BytesIO(recorder.sent("SendPhoto")[0].photo.data)).verify()
    async with session_factory() as s:
        states = {r.state for r in (await s.exec(select(OutboxMessage))).all()}
    assert states == {"sent"}


# --- /report 2026-11 in the dispatcher ----------------------------------------------------


async def _staff_in_harness(h) -> Month:
    """The dataset in last month (by the real clock: the handler reports up to now) and a
    district staff member of 和平区 (telegram id 3001)."""
    month = Month.of(utcnow(), TZ).previous()
    await seed(h.factory, month)
    await heping_staff(h.factory)
    return month


def _reports(h, before: int) -> list:
    return [r.method for r in h.recorder.requests[before:]]


async def test_report_command_sends_text_chart_and_workbook(h):
    from tests.harness import ADMIN

    month = await _staff_in_harness(h)
    before = len(h.recorder.requests)
    replies = await h.send(3001, f"/report {month}")
    methods = _reports(h, before)
    assert [type(m) for m in methods] == [SendMessage, SendPhoto, SendDocument]
    assert f"{month.year}年{month.month}月 月通报 · 和平区" in replies[0]
    assert "南湖春晓小区" in replies[0] and "五里河西苑" not in replies[0]
    workbook = load_workbook(io.BytesIO(methods[2].document.data))
    names = [row[0] for row in workbook["各小区"].iter_rows(values_only=True)]
    assert names == ["小区", "三好家园", "南湖春晓小区"]  # only the district's

    city = (await h.send(ADMIN, f"/report {month}"))[0]
    assert "月通报 · 全市" in city and "五里河西苑" in city


async def test_report_and_board_show_the_same_rates(h):
    """Everything of hp01 and hp02 happened in one month: the board's all-time rates are
    that month's."""
    from tests.harness import ADMIN

    month = await _staff_in_harness(h)
    async with h.factory() as s, s.begin():  # hp01's tickets of the month before go away
        for ticket in (await s.exec(select(Ticket).where(Ticket.reference.in_(
                ["T-0008", "T-0009", "T-0010"])))).all():  # fmt: skip
            for survey in (await s.exec(select(Survey).where(Survey.ticket_id == ticket.id))).all():
                await s.delete(survey)
            await s.delete(ticket)
    report = (await h.send(ADMIN, f"/report {month}"))[0]
    for code, name in (("hp01", "南湖春晓小区"), ("hp02", "三好家园")):
        await h.bind(ADMIN, code)
        board = (await h.send(ADMIN, "/board"))[-1]
        shown = board.split("响应率 ")[1].split("\n")[0]  # "50% · 解决率 50% · 满意率 50%"
        response, resolution, satisfaction = (part.split()[-1] for part in shown.split("·"))
        line = next(line for line in report.splitlines() if line.startswith(f"• {name}"))
        assert f"响应 {response}（" in line
        assert f"解决 {resolution}（" in line
        assert f"满意 {satisfaction}（" in line
    assert "三好家园：2 件（上月 0）· 响应 100%（—）· 解决 0%（—）· 满意 —（—）" in report


async def test_bad_or_future_month_gets_a_polite_answer(h):
    await heping_staff(h.factory)
    replies = await h.send(3001, "/report 十一月")
    assert len(replies) == 1 and "/report" in replies[0] and "年-月" in replies[0]
    future = Month.of(utcnow(), TZ).next()
    replies = await h.send(3001, f"/report {future}")
    assert len(replies) == 1 and "还没有到" in replies[0]


async def test_a_month_without_data_is_a_report_saying_so(h):
    await heping_staff(h.factory)
    before = len(h.recorder.requests)
    replies = await h.send(3001, "/report 2024-03")
    assert [type(m) for m in _reports(h, before)] == [SendMessage, SendPhoto, SendDocument]
    assert "2024年3月 月通报 · 和平区" in replies[0] and "本月没有新的诉求" in replies[0]


async def test_residents_keep_their_report_command(h):
    from tests.harness import RESIDENT

    for text in ("/report", "/report 2026-11"):
        before = len(h.recorder.requests)
        replies = await h.send(RESIDENT, text)
        assert [type(m) for m in _reports(h, before)] == [SendMessage]
        assert "请直接打字说说您遇到的问题" in replies[0]
    # Staff without a month also get the resident's prompt: they may report too.
    await heping_staff(h.factory)
    assert "请直接打字说说您遇到的问题" in (await h.send(3001, "/report"))[0]


async def test_acceptance_survey_results_are_in_the_report(session_factory, dataset):
    """民意验收 of a completed compound: in the text and its own sheet, within the scope only."""
    async with session_factory() as s, s.begin():
        for code, score in (("hp02", 4), ("hp02", 5), ("sh01", 1)):
            resident = User(telegram_id=71000 + score, chat_id=71000 + score)
            s.add(resident)
            await s.flush()
            survey = Survey(kind="acceptance", compound_id=dataset[code], user_id=resident.id)
            s.add(survey)
            await s.flush()
            s.add(SurveyAnswer(survey_id=survey.id, score=score, answered_at=local(NOVEMBER, 25)))
    report = await november_report(session_factory, await heping_staff(session_factory))
    [(name, figures)] = report.acceptance  # 沈河区's is not 和平区 staff's business
    assert name == "三好家园" and figures.answers == 2 and figures.overall == 4.5
    text = report_text(report, _=_zh, language="zh", tz=TZ)
    assert "民意验收" in text and "三好家园：4.5 分（2 人）" in text
    book = load_workbook(io.BytesIO(workbook_xlsx(report, _=_zh, language="zh", tz=TZ)))
    rows = list(book["民意验收"].iter_rows(values_only=True))
    assert rows == [("小区", "整体评分", "答卷人数"), ("三好家园", 4.5, 2)]
