"""Someone who reads English sees no Chinese but what people wrote (issue #12).

English-speaking residents, a worker and city staff walk every screen they can reach through
the real dispatcher; everything the bot shows them is collected from the recorded API requests
— texts, captions, button labels of both keyboards, callback answers, edits, their command menu,
the messages the outbox and the scheduler send, the monthly workbook — and every run of Chinese
characters (or full-width punctuation) in it must be something people wrote: a ticket, a note, a
notice, a building, or a name from the compound registry. A failure lists each offending text."""

from __future__ import annotations

import contextlib
import io
import re
from collections.abc import Iterator
from datetime import datetime, time, timedelta
from typing import Any

from aiogram.types import Contact, PhotoSize, Sticker, Voice
from openpyxl import load_workbook
from pydantic import BaseModel
from sqlmodel import select

from bot.i18n import LANGUAGE_NAMES, pgettext
from bot.keyboards import TicketCb
from bot.middlewares.database import DatabaseMiddleware
from bot.middlewares.throttling import ThrottlingMiddleware
from bot.staff_card import CARD_ACTION
from bot.texts import (
    ACTION_LABELS,
    HISTORY,
    MENU_BOARD,
    MENU_MY_TICKETS,
    MENU_NOTICES,
    MENU_REPORT,
    MENU_SETTINGS,
    STAFF_COMPOUNDS,
    STAFF_NOTICES,
    STAFF_QUEUE,
    STAFF_SEARCH,
    STAFF_STATS,
)
from models.db import make_engine, make_session_factory, utcnow
from models.tables import (
    Compound,
    District,
    Notice,
    NoticeKind,
    NoticeState,
    PlanItem,
    Ticket,
    TicketEvent,
)
from nlu.taxonomy import load_taxonomy
from scheduler.jobs.deadlines import sweep_deadlines, sweep_digest
from scheduler.jobs.monthly_report import sweep_monthly_reports
from scheduler.jobs.progress import sweep_progress_digest, sweep_stage_changes
from scheduler.jobs.surveys import sweep_surveys
from tests.harness import ADMIN, NEIGHBOUR, RESIDENT, WORKER
from tests.test_notices import deliver, fast_settings

# Han characters (and the compatibility block), CJK symbols and punctuation (、。「」【】),
# full-width and half-width forms (，：（）！).
CHINESE = re.compile(r"[\u3400-\u9fff\uf900-\ufaff\u3000-\u303f\uff00-\uffef]+")
# Request fields that are never shown to anyone.
UNSEEN = frozenset({"callback_data", "url", "switch_inline_query", "parse_mode"})
SETTINGS = fast_settings()
TZ = SETTINGS.tz


# --- what the readers were shown --------------------------------------------------------------


def shown(value: Any, field: str = "") -> Iterator[tuple[str, str]]:
    """(field, text) for every string a person can see in a request to Telegram."""
    if isinstance(value, str):
        if field not in UNSEEN:
            yield field, value
    elif isinstance(value, BaseModel):
        for name in type(value).model_fields:
            yield from shown(getattr(value, name), name)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from shown(item, field)


class EnglishReaders:
    """The people of one walk, all reading English, and the Chinese they may be shown: what
    people typed (``allow``) and the compound registry's names."""

    def __init__(self, h: Any) -> None:
        self.h = h
        self.allowed: set[str] = {LANGUAGE_NAMES["zh"]}  # the language button names itself
        # The example of the address prompt: buildings are written as on the building, the
        # Chinese way, whatever the reader's language (notices find residents by them).
        self.allowed.add("3号楼2单元")
        self.since = 0  # the first request they read
        self.workbooks = 0  # monthly report workbooks read cell by cell

    def start_reading(self) -> None:
        """What was shown before (to someone who still read Chinese) is not checked."""
        self.since = len(self.h.recorder.requests)

    def t(self, message: str) -> str:
        """``message`` as an English reader finds it on a button."""
        return self.h.dp["i18n"].gettext(message, locale="en")

    def action(self, message: str) -> str:
        """A button of the staff's ticket card, as an English reader finds it."""
        return pgettext(CARD_ACTION, message, i18n=self.h.dp["i18n"], locale="en")

    def history(self, message: str) -> str:
        """A label of a ticket's history, as an English reader finds it."""
        return pgettext(HISTORY, message, i18n=self.h.dp["i18n"], locale="en")

    def allow(self, *texts: str) -> None:
        self.allowed.update(texts)

    async def say(self, telegram_id: int, text: str, **kwargs: Any) -> list[str]:
        """A person types ``text``: it may come back to anyone, in any language."""
        self.allow(text)
        return await self.h.send(telegram_id, text, **kwargs)

    async def registry(self) -> None:
        async with self.h.factory() as s:
            for column in (Compound.name, Compound.address, District.name, PlanItem.title):
                self.allow(*[v for v in (await s.exec(select(column))).all() if v])

    def _runs(self) -> list[str]:
        return [run for text in self.allowed for run in CHINESE.findall(text)]

    def _is_allowed(self, text: str, found: re.Match[str], runs: list[str]) -> bool:
        run = found.group()
        cut = text[found.end() : found.end() + 1] == "…"  # the start of someone's words
        return any(run == r or (cut and r.startswith(run)) for r in runs)

    def leaks_in(self, where: str, text: str, runs: list[str]) -> list[str]:
        """One entry per line that shows Chinese nobody wrote, with what is wrong in it."""
        out = []
        for line in text.splitlines():
            wrong = [
                f.group() for f in CHINESE.finditer(line) if not self._is_allowed(line, f, runs)
            ]
            if wrong:
                out.append(f"{where}: {line!r}  <- {', '.join(map(repr, wrong))}")
        return out

    async def leaks(self) -> list[str]:
        await self.registry()
        runs = self._runs()
        out = []
        for recorded in self.h.recorder.requests[self.since :]:
            method = recorded.method
            if recorded.name == "SetMyCommands" and method.language_code != "en":
                continue  # the menu for apps in other languages: Chinese, on purpose
            for field, text in shown(method):
                out += self.leaks_in(f"{recorded.name}.{field}", text, runs)
            document = getattr(method, "document", None)
            if recorded.name == "SendDocument" and hasattr(document, "data"):
                out += self._workbook_leaks(document.data, runs)
        return out

    def _workbook_leaks(self, data: bytes, runs: list[str]) -> list[str]:
        out = []
        self.workbooks += 1
        workbook = load_workbook(io.BytesIO(data))
        for sheet in workbook.worksheets:
            out += self.leaks_in("xlsx sheet name", sheet.title, runs)
            for row in sheet.iter_rows(values_only=True):
                for value in row:
                    if isinstance(value, str):
                        out += self.leaks_in(f"xlsx {sheet.title}", value, runs)
        return out

    async def assert_no_chinese(self) -> None:
        leaks = list(dict.fromkeys(await self.leaks()))  # each offending line once
        assert not leaks, "Chinese shown to an English reader:\n" + "\n".join(leaks)


@contextlib.contextmanager
def unhurried(h: Any) -> Iterator[None]:
    """People who read each answer before they write again: no flood control."""
    throttles = [m for m in h.dp.message.middleware if isinstance(m, ThrottlingMiddleware)]
    limits = [m.limit for m in throttles]
    for m in throttles:
        m.limit = 10_000
    try:
        yield
    finally:
        for m, limit in zip(throttles, limits, strict=True):
            m.limit = limit


@contextlib.contextmanager
def database_down(h: Any, tmp_path: Any) -> Iterator[None]:
    """The database cannot be opened for a while (a directory where the file should be)."""
    broken = make_session_factory(make_engine(f"sqlite+aiosqlite:///{tmp_path}/"))
    middleware = next(m for m in h.dp.update.outer_middleware if isinstance(m, DatabaseMiddleware))
    working = middleware.session_factory
    middleware.session_factory = h.dp["session_factory"] = broken
    try:
        yield
    finally:
        middleware.session_factory = h.dp["session_factory"] = working


async def ticket_of(h: Any, text: str) -> Ticket:
    async with h.factory() as s:
        return (await s.exec(select(Ticket).where(Ticket.text_original == text))).one()


def category(category_id: str) -> str:
    return load_taxonomy().get(category_id).name("en")


def last_edit_ended(h: Any, telegram_id: int) -> bool:
    """The newest edit of this chat's messages took the buttons away (a survey's last answer)."""
    for recorded in reversed(h.recorder.requests):
        if recorded.name == "EditMessageText" and recorded.method.chat_id == telegram_id:
            return recorded.method.reply_markup is None
    return False


def at_local(day_offset: int, hour: int) -> datetime:
    day = (utcnow().astimezone(TZ) + timedelta(days=day_offset)).date()
    return datetime.combine(day, time(hour, 0), tzinfo=TZ)


# --- people ---------------------------------------------------------------------------------


def english_people(h: Any) -> EnglishReaders:
    readers = EnglishReaders(h)
    for telegram_id, name in ((RESIDENT, "Mary"), (NEIGHBOUR, "Tom"), (WORKER, "Alice"),
                              (ADMIN, "Zhang Wei")):  # fmt: skip
        h.speaks(telegram_id, "en", name)
    return readers


async def english_worker(h: Any, *codes: str) -> None:
    replies = await h.send(ADMIN, "/invite " + " ".join(codes or ("hp01",)))
    token = next(r for r in replies if "start=w_" in r).split("start=w_")[1].split()[0]
    await h.send(WORKER, f"/start w_{token}")


async def file_demand(h: Any, en: EnglishReaders, who: int, text: str, category_id: str) -> Ticket:
    h.nlu.teach(text, category_id, 0.95)
    await en.say(who, text)
    await h.press(who, en.t("✅ 确认提交"))
    return await ticket_of(h, text)


async def worker_acts(h: Any, en: EnglishReaders, ticket: Ticket, action: str,
                      note: str | None = None, choice: str | None = None) -> None:  # fmt: skip
    """The worker opens the ticket's card and does ``action`` (a button label)."""
    await h.callback(WORKER, TicketCb(id=ticket.id).pack())
    await h.press(WORKER, en.action(action))
    if choice is not None:
        await h.press(WORKER, choice)
    if note is not None:
        await en.say(WORKER, note)


# --- residents --------------------------------------------------------------------------------


async def test_a_resident_reading_english_sees_no_chinese_but_what_people_wrote(h):
    en = english_people(h)
    with unhurried(h):
        await onboarding(h, en)
        await menus_and_odd_input(h, en)
        ticket = await reporting(h, en)
        await endorsing(h, en)
        await my_tickets(h, en, ticket)
        await board_and_settings(h, en)
        await notices_list(h, en)
    await en.assert_no_chinese()


async def onboarding(h: Any, en: EnglishReaders) -> None:
    await h.send(RESIDENT, "/start")
    await en.say(RESIDENT, "没有这个名字")  # no such compound
    await en.say(RESIDENT, "南湖")
    await h.press(RESIDENT, en.t("按区选择"))
    await h.press(RESIDENT, "和平区")
    await h.press(RESIDENT, "南湖春晓小区")
    await h.send(RESIDENT, "/start")
    await h.send(RESIDENT, "/start c_nosuchplace")
    await h.press(RESIDENT, en.t("按区选择"))
    await h.press(RESIDENT, "和平区")
    stale = h.last_markup(RESIDENT)
    await h.press(RESIDENT, "南湖春晓小区")
    await h.press_on(RESIDENT, stale, "南湖春晓小区")  # an old question: "expired"
    # A neighbour who writes before choosing a compound: the demand waits for it.
    h.nlu.teach("楼道里堆满了杂物", "fire_safety", 0.95)
    await en.say(NEIGHBOUR, "楼道里堆满了杂物")
    await en.say(NEIGHBOUR, "南湖春晓")
    await h.press(NEIGHBOUR, "南湖春晓小区")
    await h.press(NEIGHBOUR, en.t("✖️ 取消"))


async def menus_and_odd_input(h: Any, en: EnglishReaders) -> None:
    for command in ("/help", "/menu", "/cancel", "/language", "/nosuchcommand"):
        await h.send(RESIDENT, command)
    await h.press(RESIDENT, "English")
    await h.send(RESIDENT, en.t(MENU_REPORT))
    sticker = Sticker(file_id="s", file_unique_id="s", type="regular", width=1, height=1,
                      is_animated=False, is_video=False)  # fmt: skip
    await h.send(RESIDENT, sticker=sticker)
    await h.send(RESIDENT, contact=Contact(phone_number="+8613800000000", first_name="Mary"))
    await h.send(RESIDENT, "hello")  # small talk, in a language the model does not read
    await h.send(RESIDENT, "the drains smell")  # words the model cannot read: a demand still
    await h.press(RESIDENT, en.t("✖️ 取消"))
    await en.say(RESIDENT, "你好")  # a greeting the model knows
    h.nlu.teach("你好", "greet", 0.95)
    await h.send(RESIDENT, "你好")
    for question, intent in (("啥时候开始改造啊", "ask_plan"), ("我反映的事办得咋样了", "ask_progress"),
                             ("谢谢，再见", "goodbye"), ("今天天气怎么样", "out_of_scope")):  # fmt: skip
        h.nlu.teach(question, intent, 0.95)
        await en.say(RESIDENT, question)
    await h.send(RESIDENT, en.t(MENU_REPORT))
    await h.send(RESIDENT, "啥时候开始改造啊")
    await h.press(RESIDENT, en.t("🏘 查看完整改造公示"))
    await h.edit(RESIDENT, "the stairs light is broken")  # an edited message
    await h.send(RESIDENT, "/start", chat_type="group")  # a group: go private
    await h.send(RESIDENT, voice=Voice(file_id="v", file_unique_id="v", duration=3))
    await h.send(RESIDENT, "/cancel")
    await h.send_location(RESIDENT)
    await h.send(RESIDENT, "/cancel")


async def reporting(h: Any, en: EnglishReaders) -> Ticket:
    # Confident: confirm, change the category, go back, cancel.
    h.nlu.teach("楼道的灯坏了好几天了", "lighting", 0.95)
    await en.say(RESIDENT, "楼道的灯坏了好几天了")
    stale = h.last_markup(RESIDENT)
    await h.press(RESIDENT, en.t("🔄 换个类别"))
    await h.press(RESIDENT, en.t("✖️ 取消"))
    await h.press_on(RESIDENT, stale, en.t("✅ 确认提交"))  # stale: the draft is gone
    # Unsure: the three best guesses; all categories; one chosen.
    h.nlu.teach("小区门口那块地方不太行", "roads", 0.4, ["roads", "greening", "parking_charging"])
    await en.say(RESIDENT, "小区门口那块地方不太行")
    await h.press(RESIDENT, en.t("全部类别"))
    await h.press(RESIDENT, category("roads"))
    # Words the model cannot read: every category, the words kept.
    await h.send(RESIDENT, "the lift is broken again")
    await h.press(RESIDENT, category("elevator"))
    # A photo with words, then a confident demand that becomes the walk's ticket.
    photo = [PhotoSize(file_id="p1", file_unique_id="p1", width=800, height=600)]
    await h.send(RESIDENT, photo=photo)
    h.nlu.teach("楼顶一下雨就往屋里渗水", "building", 0.95)
    await en.say(RESIDENT, "楼顶一下雨就往屋里渗水")
    await h.press(RESIDENT, en.t("✅ 确认提交"))
    # The model is down: every category.
    h.nlu.available = False
    await en.say(RESIDENT, "垃圾站的味道太大了")
    await h.press(RESIDENT, en.t("✖️ 取消"))
    h.nlu.available = True
    return await ticket_of(h, "楼顶一下雨就往屋里渗水")


async def endorsing(h: Any, en: EnglishReaders) -> None:
    await file_demand(h, en, NEIGHBOUR, "三号楼下水道又堵了", "water")
    h.nlu.teach("3号楼下水道堵了", "water", 0.95)
    await en.say(RESIDENT, "3号楼下水道堵了")
    await h.press(RESIDENT, en.t("✅ 确认提交"))
    await h.press(RESIDENT, en.t("👍 我也反映"))


async def my_tickets(h: Any, en: EnglishReaders, ticket: Ticket) -> None:
    await english_worker(h)
    # The worker's side leaves its marks in the history the resident reads.
    await worker_acts(h, en, ticket, "受理", note="明天派人上楼顶看看")
    await worker_acts(h, en, ticket, "回复", note="施工队周三到")
    await worker_acts(h, en, ticket, "延期", choice=en.t("{n} 天").format(n=3),
                      note="等天晴再做防水")  # fmt: skip
    await worker_acts(h, en, ticket, "派给", choice="Alice")
    await worker_acts(h, en, ticket, "请补充", note="是哪个房间渗水")
    await worker_acts(h, en, ticket, "纳入计划", choice="楼顶防水与外墙保温")
    await worker_acts(h, en, ticket, "开始处理")
    await h.press(WORKER, en.t("不加说明"))
    await h.send(RESIDENT, en.t(MENU_MY_TICKETS))
    await h.press_starting(RESIDENT, ticket.reference)
    await h.press(RESIDENT, en.t("补充说明"))
    await en.say(RESIDENT, "卧室墙角发霉了")
    await h.send(RESIDENT, en.t(MENU_MY_TICKETS))
    await h.press_starting(RESIDENT, ticket.reference)
    await h.press(RESIDENT, en.t("催办"))
    await h.press(RESIDENT, en.t("催办"))  # once a day
    await worker_acts(h, en, ticket, "办结", note="楼顶防水层已重新铺好")
    # The next morning at ten: the 回访 survey; the resident is not satisfied.
    await sweep_surveys(session_factory=h.factory, settings=SETTINGS, now=at_local(1, 10))
    await deliver(h)
    await h.press(RESIDENT, en.t("❌ 未解决"))
    await en.say(RESIDENT, "下大雨还是漏")
    await h.press(RESIDENT, en.t("2 不满意"))
    await h.send(RESIDENT, "/cancel")  # nothing more to say
    # Another ticket: resolved, "not satisfied" from its detail, resolved again; this survey
    # is answered well, with a comment.
    third = await file_demand(h, en, RESIDENT, "小区里的路灯不亮", "lighting")
    await worker_acts(h, en, third, "受理")
    await h.press(WORKER, en.t("不加说明"))
    await worker_acts(h, en, third, "办结", note="换了新灯泡")
    await h.callback(RESIDENT, TicketCb(id=third.id).pack())
    await h.press(RESIDENT, en.t("不满意，重新处理"))
    await worker_acts(h, en, third, "办结", note="线路也查过了")
    await sweep_surveys(session_factory=h.factory, settings=SETTINGS, now=at_local(1, 10))
    await deliver(h)
    await h.press(RESIDENT, en.t("✅ 已解决"))
    await h.press(RESIDENT, en.t("5 非常满意"))
    await h.press(RESIDENT, en.t("写评价"))
    await en.say(RESIDENT, "师傅们辛苦了")
    # Another: withdrawn. Another: its survey unanswered, reminded, closed as "no answer".
    other = await file_demand(h, en, RESIDENT, "单元门的锁坏了关不上", "building")
    await h.send(RESIDENT, en.t(MENU_MY_TICKETS))
    await h.press_starting(RESIDENT, other.reference)
    await h.press(RESIDENT, en.t("撤回"))
    await h.press(RESIDENT, en.t("确定撤回"))
    silent = await file_demand(h, en, RESIDENT, "健身器材的螺丝松了", "leisure_fitness")
    await worker_acts(h, en, silent, "受理")
    await h.press(WORKER, en.t("不加说明"))
    await worker_acts(h, en, silent, "办结", note="螺丝都紧过了")
    for day in (1, 4, 11):
        await sweep_surveys(session_factory=h.factory, settings=SETTINGS, now=at_local(day, 10))
    await deliver(h)
    await h.callback(RESIDENT, TicketCb(id=silent.id).pack())
    # Every kind of event the history can hold, in the resident's list and detail.
    await every_action_in_the_history(h, ticket)
    await h.send(RESIDENT, en.t(MENU_MY_TICKETS))
    detail = "\n".join(await h.press_starting(RESIDENT, ticket.reference))
    for label in ACTION_LABELS.values():
        assert en.history(label) in detail, f"{en.history(label)!r} not in the history"
    for _page in range(2):
        await file_demand(h, en, RESIDENT, f"第{_page + 1}栋楼前的路面坑坑洼洼", "roads")
    await h.send(RESIDENT, en.t(MENU_MY_TICKETS))
    await h.press(RESIDENT, "▶️")


async def every_action_in_the_history(h: Any, ticket: Ticket) -> None:
    """Events the walk did not cause (the scheduler's reclassification, say), added as the
    models would, so that every label of a ticket's history is read once."""
    async with h.factory() as s, s.begin():
        events = select(TicketEvent.action).where(TicketEvent.ticket_id == ticket.id)
        seen = set((await s.exec(events)).all())
        for action in ACTION_LABELS.keys() - seen:
            s.add(TicketEvent(ticket_id=ticket.id, actor_id=None, action=action))


async def board_and_settings(h: Any, en: EnglishReaders) -> None:
    await h.send(RESIDENT, en.t(MENU_BOARD))
    # The compound's renovation is completed: the news, the acceptance survey, the board again.
    await sweep_stage_changes(session_factory=h.factory, settings=SETTINGS, now=utcnow())
    await h.send(WORKER, en.t(STAFF_COMPOUNDS))
    await h.press(WORKER, en.t("阶段：{stage}").format(stage=en.t("施工中")))
    await h.press(WORKER, en.t("已竣工"))
    await sweep_stage_changes(session_factory=h.factory, settings=SETTINGS, now=utcnow())
    await deliver(h)
    await h.press(RESIDENT, en.t("4 满意"))  # the whole renovation
    while en.t("3 一般") in h.buttons(RESIDENT) and not last_edit_ended(h, RESIDENT):
        await h.press(RESIDENT, en.t("3 一般"))  # each plan item the resident asked for
    await h.send(RESIDENT, "/board")
    await h.send(RESIDENT, en.t(MENU_SETTINGS))
    await h.press(RESIDENT, en.t("填写楼栋单元"))
    await h.send(RESIDENT, "3" * 40)  # too long for a building
    await en.say(RESIDENT, "3号楼2单元")
    await h.press(RESIDENT, en.t("关闭通知"))
    await h.press(RESIDENT, en.t("开启通知"))
    await h.press(RESIDENT, en.t("更换小区"))
    await h.press(RESIDENT, en.t("按区选择"))
    await h.press(RESIDENT, "和平区")
    await h.press(RESIDENT, "南湖春晓小区")
    await h.send(RESIDENT, en.t(MENU_SETTINGS))
    await h.press(RESIDENT, en.t("切换语言"))
    await h.press(RESIDENT, "English")


async def notices_list(h: Any, en: EnglishReaders) -> None:
    me = await h.user(RESIDENT)
    async with h.factory() as s, s.begin():
        for i, kind in enumerate([*NoticeKind, *NoticeKind]):  # two pages
            text = f"第{i + 1}号通知：周末小区大扫除"
            en.allow(text)
            s.add(Notice(author_id=me.id, compound_id=me.compound_id, text=text, kind=kind,
                         urgent=kind == NoticeKind.outage, state=NoticeState.sent,
                         sent_at=utcnow() - timedelta(hours=i + 1)))  # fmt: skip
    await h.send(RESIDENT, en.t(MENU_NOTICES))
    await h.press(RESIDENT, en.t("较早 ➡️"))
    await h.press(RESIDENT, en.t("⬅️ 较新"))


# --- the safety reply and the outage notice --------------------------------------------------


async def test_safety_and_outage_replies_follow_the_language_chosen_in_settings(h, tmp_path):
    """Said before (or without) the database: in English for someone who chose English in ⚙️,
    though their phone is set to Chinese — and for someone whose phone is in English."""
    en = english_people(h)
    chose_english = 1003
    h.speaks(chose_english, "zh-hans", "Lin")
    with unhurried(h):
        await h.bind(chose_english)
        await h.send(chose_english, "/language")
        await h.press(chose_english, "English")
        en.start_reading()
        await h.bind(RESIDENT)
        for person in (chose_english, RESIDENT):
            await en.say(person, "楼道里煤气味特别大")  # urgent: the safety reply first
            await en.say(person, "电线冒火花了")
            en.allow("电梯里困住人了")
            await h.edit(person, "电梯里困住人了")  # an edit is read for danger too
            with database_down(h, tmp_path):
                await en.say(person, "楼下的井盖丢了")
                await en.say(person, "有人被困在电梯里了")  # urgent while the database is down
        # Before choosing a compound: the danger is kept, the compound asked for.
        await en.say(NEIGHBOUR, "家里燃气泄漏了")
        await h.send(RESIDENT, "/start", chat_type="group")
        await h.send(RESIDENT, "/help", chat_type="group")
    await en.assert_no_chinese()


# --- community workers ------------------------------------------------------------------------


def marked(h: Any, telegram_id: int, label: str) -> str:
    """A filter or sort button: "• " marks the one in use."""
    return label if label in h.buttons(telegram_id) else f"• {label}"


async def test_a_worker_reading_english_sees_no_chinese_but_what_people_wrote(h):
    en = english_people(h)
    with unhurried(h):
        await english_worker(h)
        for command in ("/start", "/help", "/menu", "/cancel"):
            await h.send(WORKER, command)
        tickets = await residents_report(h, en)
        await deliver(h)  # the workers' alerts
        await queue_and_search(h, en, tickets)
        await card_actions(h, en, tickets)
        await bulk_actions(h, en)
        await residents_answer(h, en, tickets)
        await plan_screens(h, en)
        await compose_notices(h, en)
        await scheduler_messages(h, en)
        await h.send(WORKER, en.t(STAFF_STATS))
        await h.send(WORKER, "/qr")
        await h.send(WORKER, "/workers")  # for district and city staff only
        for command in ("/queue", "/plan", "/notice", "/qr", "/invite", "/stats"):
            await h.send(NEIGHBOUR, command)  # a resident: for staff only
    await en.assert_no_chinese()


async def residents_report(h: Any, en: EnglishReaders) -> list[Ticket]:
    await h.bind(RESIDENT)
    await h.bind(NEIGHBOUR)
    await h.send(RESIDENT, en.t(MENU_SETTINGS))
    await h.press(RESIDENT, en.t("填写楼栋单元"))
    await en.say(RESIDENT, "3号楼2单元")
    demands = [
        ("3号楼下水道又堵了，味儿贼大", "water"),
        ("三号楼下水道也堵了", "water"),
        ("楼道灯不亮", "lighting"),
        ("楼顶漏雨", "building"),
        ("小区里乱停车", "parking_charging"),
        ("垃圾站没人清理", "sanitation"),
        ("路面塌了个坑", "roads"),
        ("健身器材坏了", "leisure_fitness"),
        ("单元门关不上", "building"),
    ]
    tickets = []
    for i, (text, category) in enumerate(demands):
        who = RESIDENT if i % 2 == 0 else NEIGHBOUR
        h.nlu.teach(text, category, 0.95)
        await en.say(who, text)
        await h.press(who, en.t("✅ 确认提交"))
        if en.t("仍然单独提交") in h.buttons(who):  # a similar one is open: file it anyway
            await h.press(who, en.t("仍然单独提交"))
        tickets.append(await ticket_of(h, text))
    await h.send_location(RESIDENT)
    await en.say(RESIDENT, "燃气管道漏气了")  # urgent: filed at once, the workers alerted
    h.nlu.teach("墙皮掉了一大块", "building", 0.95)
    await h.send_photo(NEIGHBOUR, caption="墙皮掉了一大块")
    en.allow("墙皮掉了一大块")
    await h.press(NEIGHBOUR, en.t("✅ 确认提交"))
    return tickets


async def queue_and_search(h: Any, en: EnglishReaders, tickets: list[Ticket]) -> None:
    from bot.handlers.staff.workbench import QUICK_FILTERS, SORT_LABELS

    await h.send(WORKER, en.t(STAFF_QUEUE))
    for label in [*QUICK_FILTERS.values(), *SORT_LABELS.values()]:
        await h.press(WORKER, marked(h, WORKER, en.t(label)))
    await h.press(WORKER, marked(h, WORKER, en.t("全部")))
    await h.press(WORKER, "▶️")
    await h.press(WORKER, "◀️")
    await h.press(WORKER, en.t("类别▾"))
    await h.press(WORKER, category("water"))
    await h.press(WORKER, en.t("小区▾"))
    await h.press(WORKER, "南湖春晓小区")
    await h.press(WORKER, en.t("类别▾"))
    await h.press(WORKER, en.t("全部类别"))
    await h.press(WORKER, en.t("小区▾"))
    await h.press(WORKER, en.t("全部小区"))
    await h.send(WORKER, en.t(STAFF_SEARCH))
    await h.send(WORKER, tickets[0].reference)
    await h.send(WORKER, en.t(STAFF_SEARCH))
    await en.say(WORKER, "下水道")
    await h.send(WORKER, "2612-9999")
    await en.say(WORKER, "没有这种问题")  # nothing found


async def card_actions(h: Any, en: EnglishReaders, tickets: list[Ticket]) -> None:
    from bot.staff_card import templates_for

    water, water2, light, roof, parking, rubbish, road, fitness, door = tickets
    # Accept with a response template; reply; ask; extend; assign; plan; start; resolve.
    await worker_acts(h, en, water, "受理")
    template = templates_for("water", "en")[0]
    await h.press_starting(WORKER, f"📝 {template[:28]}")
    await h.press(WORKER, en.t("✅ 就用这条"))
    en.allow(template)
    await worker_acts(h, en, water, "回复")
    await h.send_photo(WORKER)  # only words here
    await en.say(WORKER, "明天上午派人疏通")
    await worker_acts(h, en, water, "请补充", note="是几单元门口？")
    await worker_acts(h, en, water, "延期", choice=en.t("{n} 天").format(n=7), note="要等管道配件")
    await worker_acts(h, en, water, "派给", choice="Alice")
    await worker_acts(h, en, water, "纳入计划", choice="更换小区老旧供水管网")
    await worker_acts(h, en, water2, "合并", choice=f"{water.reference} {water.text_original[:20]}")
    await worker_acts(h, en, water, "开始处理")
    await h.press(WORKER, en.t("不加说明"))
    await h.callback(WORKER, TicketCb(id=water.id).pack())
    await h.press(WORKER, en.action("办结"))
    await h.send_photo(WORKER, caption="管道已疏通")
    en.allow("管道已疏通")
    # Reject with a reason; a new plan item; close after resolving.
    await worker_acts(h, en, parking, "不予采纳", choice=en.t("不属于老旧小区改造范围"),
                      note="停车管理归物业公司")  # fmt: skip
    await worker_acts(h, en, roof, "受理")
    await h.press(WORKER, en.t("不加说明"))
    await worker_acts(h, en, roof, "纳入计划", choice=en.t("➕ 新建计划项"), note="5号楼屋面防水")
    await worker_acts(h, en, light, "受理")
    await h.press(WORKER, en.t("不加说明"))
    await worker_acts(h, en, light, "办结", note="换了灯泡")
    await worker_acts(h, en, light, "关闭")
    await h.press(WORKER, en.t("不加说明"))
    # A template looked at, then the action cancelled; a stale card; the attachments.
    await worker_acts(h, en, rubbish, "回复")
    template = templates_for("sanitation", "en")[0]
    await h.press_starting(WORKER, f"📝 {template[:28]}")
    await h.press(WORKER, en.t("取消"))
    await h.callback(WORKER, TicketCb(id=road.id).pack())
    stale = h.last_markup(WORKER)
    await worker_acts(h, en, road, "受理")
    await h.press(WORKER, en.t("不加说明"))
    await h.press_on(WORKER, stale, en.action("不予采纳"))  # someone acted meanwhile
    await h.callback(WORKER, TicketCb(id=road.id).pack())
    await h.press(WORKER, en.t("📎 附件"))  # none
    await h.press(WORKER, en.t("🔄 刷新"))
    async with h.factory() as s:
        urgent = (await s.exec(select(Ticket).where(Ticket.urgent))).one()
    await h.callback(WORKER, TicketCb(id=urgent.id).pack())
    await h.press(WORKER, en.t("📎 附件"))  # the location
    await worker_acts(h, en, fitness, "派给", choice="Alice")
    await worker_acts(h, en, door, "合并")  # nothing to merge it into: a toast


async def bulk_actions(h: Any, en: EnglishReaders) -> None:
    from bot.handlers.staff.workbench import SelectCb

    async def select_open(count: int) -> None:
        await h.send(WORKER, en.t(STAFF_QUEUE))
        await h.press(WORKER, en.t("☑️ 多选"))
        for row in h.last_markup(WORKER)[1].inline_keyboard[:count]:
            if row[0].callback_data.startswith(SelectCb.__prefix__):
                await h.press(WORKER, row[0].text)

    await select_open(2)
    await h.press(WORKER, en.t("批量回复"))
    await en.say(WORKER, "已经在统一处理了")
    await select_open(2)
    await h.press(WORKER, en.t("批量办结"))
    await en.say(WORKER, "统一处理完毕")
    await select_open(2)
    await h.press(WORKER, en.t("合并所选"))
    await select_open(1)
    await h.press(WORKER, en.t("清空"))
    await h.press(WORKER, en.t("✖️ 结束多选"))


async def residents_answer(h: Any, en: EnglishReaders, tickets: list[Ticket]) -> None:
    """What residents do that the worker hears of at once."""
    water, _water2, _light, _roof, _parking, _rubbish, road, _fitness, door = tickets
    await h.callback(RESIDENT, TicketCb(id=road.id).pack())
    await h.press(RESIDENT, en.t("催办"))
    await h.press(RESIDENT, en.t("补充说明"))
    await en.say(RESIDENT, "坑越来越大了")
    await sweep_surveys(session_factory=h.factory, settings=SETTINGS, now=at_local(1, 10))
    await deliver(h)
    await h.press(RESIDENT, en.t("❌ 未解决"))  # the water ticket's survey: reopened
    await en.say(RESIDENT, "还是往上返水")
    await deliver(h)
    await h.callback(WORKER, TicketCb(id=water.id).pack())
    await h.callback(WORKER, TicketCb(id=door.id).pack())


async def plan_screens(h: Any, en: EnglishReaders) -> None:
    await sweep_progress_digest(session_factory=h.factory, settings=SETTINGS, now=utcnow())
    await h.send(WORKER, "/plan")
    await h.press_starting(WORKER, "1. ")
    await h.press(WORKER, "+10%")
    await h.press(WORKER, "−10%")
    await h.press(WORKER, marked(h, WORKER, en.t("已完成")))
    await h.press(WORKER, en.t("输入进度"))
    await h.send(WORKER, "a lot")
    await h.send(WORKER, "80")
    await h.press(WORKER, en.t("« 返回"))
    await h.press(WORKER, en.t("总进度 +10%"))
    await h.press(WORKER, en.t("总进度 −10%"))
    await h.press(WORKER, en.t("阶段：{stage}").format(stage=en.t("施工中")))
    await h.press(WORKER, marked(h, WORKER, en.t("施工中")))
    await h.press(WORKER, en.t("➕ 新增项目"))
    await h.press(WORKER, category("greening"))
    await en.say(WORKER, "补种行道树")
    await h.press(WORKER, en.t("➕ 新增项目"))
    await h.press(WORKER, category("greening"))
    await h.send(WORKER, "补种行道树")  # the same title again
    await h.send(WORKER, "/cancel")
    await sweep_progress_digest(session_factory=h.factory, settings=SETTINGS, now=utcnow())
    await deliver(h)


async def compose_notices(h: Any, en: EnglishReaders) -> None:
    from bot.notice_texts import KINDS

    def kind(k: NoticeKind) -> str:
        icon, label = KINDS[k]
        return f"{icon} {en.t(label)}"

    # A scheduled notice to one building, with a photo, changed, edited, then cancelled.
    await h.send(WORKER, en.t(STAFF_NOTICES))
    await h.press(WORKER, en.t("📝 发布公告"))
    await h.press(WORKER, en.t("🏢 按楼栋/单元"))
    await h.press(WORKER, "⬜ 3号楼")
    await h.press(WORKER, en.t("✔️ 完成"))
    await h.press(WORKER, en.t("🗂 按诉求类别"))
    await h.press(WORKER, f"⬜ {category('water')}")
    await h.press(WORKER, en.t("下一步 ➡️"))
    await h.send_photo(WORKER)  # words are asked for first
    await h.send(WORKER, "停" * 4000)  # too long
    await en.say(WORKER, "明天 9:00–17:00 3号楼停水，请提前储水")
    await h.send(WORKER, "a photo will follow")  # a photo or a file is asked for
    await h.send_photo(WORKER)
    await h.press(WORKER, kind(NoticeKind.outage))
    await h.press(WORKER, en.t("☑️ 附「收到」按钮"))  # an outage asks for 收到: not this one
    await h.press(WORKER, en.t("⬜ 附「收到」按钮"))  # after all, yes
    await h.press(WORKER, en.t("普通"))
    await h.send(WORKER, "some time soon")  # not a time
    await h.press(WORKER, en.t("明天"))
    await h.press(WORKER, en.t("⬅️ 换一天"))
    await h.send(WORKER, "tomorrow 8:00")
    await h.press(WORKER, en.t("✏️ 修改"))
    await h.press(WORKER, en.t("时间"))
    await h.press(WORKER, en.t("明天"))
    await h.press(WORKER, "09:00")
    await h.press(WORKER, en.t("✅ 发布"))
    await h.press(WORKER, en.t("✏️ 修改"))
    await h.press(WORKER, en.t("✅ 保存修改"))
    await h.press(WORKER, en.t("🚫 取消发送"))
    # An urgent notice at once, received, acknowledged, followed, corrected and recalled.
    await h.send(WORKER, "/notice")
    await h.press(WORKER, en.t("下一步 ➡️"))
    await en.say(WORKER, "今晚 8 点全小区停电检修")
    await h.press(WORKER, en.t("不需要附件 ➡️"))
    await h.press(WORKER, kind(NoticeKind.outage))
    await h.press(WORKER, en.t("🔴 紧急"))
    await h.press(WORKER, en.t("⚡ 立即发送"))
    await h.press(WORKER, en.t("✅ 发布"))
    await deliver(h)
    await h.press(RESIDENT, en.t("✅ 收到"))
    await deliver(h)
    await h.press(WORKER, en.t("🔄 刷新"))
    await h.press(WORKER, en.t("🚪 未确认住户"))
    await h.press(WORKER, en.t("📝 更正"))
    await en.say(WORKER, "停电改到明晚 8 点")
    await h.press(WORKER, en.t("✅ 发布"))
    await deliver(h)
    await h.send(WORKER, en.t(STAFF_NOTICES))
    await h.press_starting(WORKER, "🚱 #2")
    await h.press(WORKER, en.t("↩️ 撤回"))
    await h.press(WORKER, en.t("↩️ 确认撤回"))
    await deliver(h)
    await h.send(RESIDENT, en.t(MENU_NOTICES))
    # A general notice, cancelled at the preview.
    await h.send(WORKER, "/notice")
    await h.press(WORKER, en.t("✖️ 取消"))


async def scheduler_messages(h: Any, en: EnglishReaders) -> None:
    """Deadlines near and passed, the morning digest: the scheduler's messages to staff."""
    district = 3001
    h.speaks(district, "en", "Zhao")
    await h.send(district, "/help")
    async with h.factory() as s, s.begin():
        from models.tables import Role, User

        staff = (await s.exec(select(User).where(User.telegram_id == district))).one()
        heping = (await s.exec(select(District).where(District.code == "heping"))).one()
        staff.role, staff.district_id = Role.district_staff, heping.id
    await file_demand(h, en, NEIGHBOUR, "暖气片一点都不热", "heating_gas")
    start = utcnow()
    for hours in (1, 3, 23, 25, 24 * 30, 24 * 40):
        await sweep_deadlines(session_factory=h.factory, settings=SETTINGS,
                              now=start + timedelta(hours=hours))  # fmt: skip
    digest_at = datetime.combine(at_local(1, 8).date(), time(8, 30), tzinfo=TZ)
    await sweep_digest(session_factory=h.factory, settings=SETTINGS, now=digest_at)
    await deliver(h)
    await h.send(district, en.t(STAFF_QUEUE))


# --- district and city staff ----------------------------------------------------------------

REGISTRY_CSV = (
    "district_code,district_name,code,name,aliases,address,households,built_year,"
    "renovation_year,renovation_stage,renovation_progress\n"
    "heping,和平区,hp09,新华里小区,新华里,和平区新华路1号,300,1988,2026,planning,0\n"
)
BAD_CSV = REGISTRY_CSV + "heping,和平区,hp10,坏小区,,,300,1988,2026,building,0\n"
PLAN_CSV = "compound_code,category,title,status,progress\nhp09,greening,补种草坪,planned,0\n"


async def test_city_staff_reading_english_see_no_chinese_but_what_people_wrote(h):
    from models.report import Month

    en = english_people(h)
    with unhurried(h):
        for command in ("/start", "/help"):
            await h.send(ADMIN, command)
        await english_worker(h, "hp01", "sh01")  # a worker of two compounds
        # Workers: the list, a worker's card, a compound added and removed, revoked.
        await h.send(ADMIN, "/workers")
        await h.press(ADMIN, "Alice")
        await h.press(ADMIN, en.t("➕ 添加小区"))
        await h.press(ADMIN, "和平区")
        await h.press(ADMIN, "三好家园")
        await h.press(ADMIN, en.t("✖ 移除 {name}").format(name="三好家园"))
        await h.press(ADMIN, en.t("« 返回"))
        await h.press(ADMIN, "Alice")
        await h.press(ADMIN, en.t("⛔ 撤销工作者身份"))
        await h.press(ADMIN, en.t("« 返回"))
        await h.press(ADMIN, en.t("⛔ 撤销工作者身份"))
        await h.press(ADMIN, en.t("确定撤销"))
        # Invites: by buttons (two compounds), cancelled, by words (one unknown).
        await h.send(ADMIN, "/invite")
        await en.say(ADMIN, "五里河")  # typed part of a name
        await h.press(ADMIN, "五里河西苑")
        await h.press(ADMIN, en.t("➕ 再选一个小区"))
        await h.press(ADMIN, "和平区")
        await h.press(ADMIN, "南湖春晓小区")
        await h.press(ADMIN, en.t("✅ 生成邀请链接"))
        await h.send(ADMIN, "/invite")
        await h.press(ADMIN, "和平区")
        await h.press(ADMIN, "三好家园")
        await h.press(ADMIN, en.t("✖ 取消"))
        await h.send(ADMIN, "/invite hp01 nosuchplace")
        # The registry by file: imported, refused with its errors, the plan items.
        for name, content in (("compounds.csv", REGISTRY_CSV), ("compounds.csv", BAD_CSV),
                              ("plan.csv", PLAN_CSV), ("notes.txt", "hello")):  # fmt: skip
            en.allow(*content.splitlines())
            await h.send_document(ADMIN, content.encode(), name)
        # Tickets of the month for the report, one overdue at its end.
        await h.bind(RESIDENT)
        await file_demand(h, en, RESIDENT, "楼道灯不亮了", "lighting")
        ticket = await file_demand(h, en, RESIDENT, "下水井盖松动", "water")
        async with h.factory() as s, s.begin():
            late = await s.get(Ticket, ticket.id)
            late.response_due_at = utcnow() - timedelta(days=1)
        this_month = Month.of(utcnow(), TZ)
        for month in (this_month, this_month.previous(), this_month.next(), "last month"):
            await h.send(ADMIN, f"/report {month}")
        # The scheduled report, on the 1st of next month; the QR poster; the queue of all.
        first = datetime(this_month.next().year, this_month.next().month, 1, 9, tzinfo=TZ)
        await sweep_monthly_reports(session_factory=h.factory, settings=SETTINGS, now=first)
        await deliver(h)
        await h.send(ADMIN, "/qr")
        await h.press(ADMIN, "和平区")
        await h.press(ADMIN, "南湖春晓小区")
        await h.send(ADMIN, "/qr hp02")
        await h.send(ADMIN, en.t(STAFF_QUEUE))
        await h.send(ADMIN, en.t(STAFF_STATS))
        await h.send(ADMIN, en.t(STAFF_NOTICES))
        await h.press(ADMIN, en.t("📝 发布公告"))
        await h.press(ADMIN, en.t("全市所有小区").join(("⬜ ", "")))
        await h.press(ADMIN, en.t("下一步 ➡️"))
    await en.assert_no_chinese()
    assert en.workbooks == 3  # this month's and last month's on demand, the scheduled one
