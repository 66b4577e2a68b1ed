"""Notices (公告) through the real dispatcher: compose, audiences, delivery through the outbox,
the live report, schedule, cancel / edit / recall / correct, 收到, and the residents' list."""

from __future__ import annotations

import asyncio
from datetime import time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import select

from bot.notices import NoticeDispatcher, hold_lease
from bot.outbox import OutboxSender
from bot.settings import Settings
from bot.when import parse_when
from models import notices
from models.db import utcnow
from models.notices import Audience, NoticeError
from models.registry import get_compound_by_code
from models.tables import Notice, NoticeAck, NoticeState, OutboxMessage, OutboxState, Role, User
from tests.conftest import until
from tests.harness import ADMIN, WORKER

SHANGHAI = ZoneInfo("Asia/Shanghai")
# Residents (Telegram ids): three in hp01 (two in 3号楼), one in tx01.
A3, B3, C5, FAR = 3101, 3102, 3103, 3201


async def make_worker(h, *codes: str) -> None:
    replies = await h.send(ADMIN, "/invite " + " ".join(codes or ("hp01",)))
    token = next(r for r in replies if "start=w_" in r).split("start=w_")[1].split()[0]
    await h.send(WORKER, f"/start w_{token}")


async def add_residents(h) -> None:
    for telegram_id, code, building, unit in (
        (A3, "hp01", "3号楼", "1单元"),
        (B3, "hp01", "3号楼", "2单元"),
        (C5, "hp01", "5号楼", None),
        (FAR, "tx01", "3号楼", None),
    ):
        await h.bind(telegram_id, code)
        async with h.factory() as s, s.begin():
            user = (await s.exec(select(User).where(User.telegram_id == telegram_id))).one()
            user.building, user.unit = building, unit
    h.recorder.clear()


def fast_settings(**overrides: object) -> Settings:
    values: dict[str, object] = {
        "telegram_bot_token": "42:TEST",
        "quiet_hours_start": time(0, 0),
        "quiet_hours_end": time(0, 0),
        "outbox_global_rate": 1000.0,
        "outbox_per_chat_interval": 0.0,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[arg-type]


async def deliver(h, **settings: object) -> None:
    """What the bot's background tasks do: start due notices, send the outbox, report."""
    dispatcher = NoticeDispatcher(bot=h.bot, session_factory=h.factory, i18n=h.dp["i18n"])
    sender = OutboxSender(bot=h.bot, session_factory=h.factory,
                          settings=fast_settings(**settings), i18n=h.dp["i18n"])  # fmt: skip
    await dispatcher.run_once()
    while await sender.run_once():
        pass
    await dispatcher.run_once()


def received(h, telegram_id: int) -> list[str]:
    """Notices this chat received from the outbox (texts and captions)."""
    out = []
    for r in h.recorder.requests:
        m = r.method
        if r.name in ("SendMessage", "SendPhoto", "SendDocument") and m.chat_id == telegram_id:
            text = getattr(m, "text", None) or getattr(m, "caption", None) or ""
            if "社区公告" in text:
                out.append(text)
    return out


async def compose(h, text: str = "明天 9:00–17:00 3号楼停水，请提前储水", *,
                  kind: str = "🚱 停水停电", urgent: bool = False, when: str = "⚡ 立即发送",
                  places: tuple[str, ...] = (), publish: bool = True) -> list[str]:  # fmt: skip
    """李姐 goes through the whole flow; returns the preview texts."""
    await h.send(WORKER, "/notice")
    for label in places:
        await h.press(WORKER, label)
    await h.press(WORKER, "下一步 ➡️")
    await h.send(WORKER, text)
    await h.press(WORKER, "不需要附件 ➡️")
    await h.press(WORKER, kind)
    await h.press(WORKER, "🔴 紧急" if urgent else "普通")
    preview = await h.press(WORKER, when)
    if publish:
        await h.press(WORKER, "✅ 发布")
    return preview


async def only_notice(h) -> Notice:
    async with h.factory() as s:
        return (await s.exec(select(Notice))).one()


# --- compose and deliver --------------------------------------------------------------------


async def test_worker_publishes_to_their_compound_and_sees_the_report(h):
    await make_worker(h)
    await add_residents(h)
    preview = await compose(h)
    shown = "\n".join(preview)
    assert "明天 9:00–17:00 3号楼停水" in shown and "🚱" in shown  # the message as residents see it
    assert "收件人：<b>3</b> 位居民" in shown
    notice = await only_notice(h)
    assert notice.state == NoticeState.scheduled
    await deliver(h)
    for resident in (A3, B3, C5):
        assert len(received(h, resident)) == 1
    assert received(h, FAR) == []  # another compound
    assert (await only_notice(h)).state == NoticeState.sent
    report = h.recorder.texts(WORKER)[-1]
    assert "已送达 3 / 3 · 屏蔽 0 · 失败 0" in report and "已发送完毕" in report


async def test_one_building_only(h):
    await make_worker(h)
    await add_residents(h)
    await h.send(WORKER, "/notice")
    await h.press(WORKER, "🏢 按楼栋/单元")
    assert "⬜ 3号楼" in h.buttons(WORKER) and "⬜ 5号楼" in h.buttons(WORKER)
    await h.press(WORKER, "⬜ 3号楼")
    await h.press(WORKER, "✔️ 完成")
    await h.press(WORKER, "下一步 ➡️")
    await h.send(WORKER, "3号楼明天停水")
    await h.press(WORKER, "不需要附件 ➡️")
    await h.press(WORKER, "🚱 停水停电")
    await h.press(WORKER, "普通")
    preview = "\n".join(await h.press(WORKER, "⚡ 立即发送"))
    assert "收件人：<b>2</b> 位居民" in preview
    await h.press(WORKER, "✅ 发布")
    await deliver(h)
    assert len(received(h, A3)) == len(received(h, B3)) == 1
    assert received(h, C5) == [] and received(h, FAR) == []


async def test_one_unit_only(h):
    await make_worker(h)
    await add_residents(h)
    await h.send(WORKER, "/notice")
    await h.press(WORKER, "🏢 按楼栋/单元")
    await h.press(WORKER, "⬜ 3号楼 2单元")
    await h.press(WORKER, "✔️ 完成")
    await h.press(WORKER, "下一步 ➡️")
    await h.send(WORKER, "2单元电梯检修")
    await h.press(WORKER, "不需要附件 ➡️")
    await h.press(WORKER, "🚧 施工")
    await h.press(WORKER, "普通")
    await h.press(WORKER, "⚡ 立即发送")
    await h.press(WORKER, "✅ 发布")
    await deliver(h)
    assert len(received(h, B3)) == 1 and received(h, A3) == []


async def test_residents_who_raised_a_category(h):
    await make_worker(h)
    await add_residents(h)
    h.nlu.teach("暖气片不热", "heating_gas", 0.95)
    await h.send(C5, "暖气片不热")
    await h.press(C5, "✅ 确认提交")
    await h.send(WORKER, "/notice")
    await h.press(WORKER, "🗂 按诉求类别")
    await h.press(WORKER, "⬜ 供暖燃气")
    await h.press(WORKER, "下一步 ➡️")
    await h.send(WORKER, "供暖管道今晚检修")
    await h.press(WORKER, "不需要附件 ➡️")
    await h.press(WORKER, "🚧 施工")
    await h.press(WORKER, "普通")
    await h.press(WORKER, "⚡ 立即发送")
    await h.press(WORKER, "✅ 发布")
    await deliver(h)
    assert len(received(h, C5)) == 1
    assert received(h, A3) == [] and received(h, B3) == []


async def test_city_staff_reach_everything_a_worker_only_their_compounds(h):
    await make_worker(h)
    await add_residents(h)
    await h.send(ADMIN, "/notice")
    await h.press(ADMIN, "⬜ 全市所有小区")
    await h.press(ADMIN, "下一步 ➡️")
    await h.send(ADMIN, "全市供暖开始")
    await h.press(ADMIN, "不需要附件 ➡️")
    await h.press(ADMIN, "📢 一般")
    await h.press(ADMIN, "普通")
    await h.press(ADMIN, "⚡ 立即发送")
    await h.press(ADMIN, "✅ 发布")
    await deliver(h)
    assert all(len(received(h, r)) == 1 for r in (A3, B3, C5, FAR))
    async with h.factory() as s:
        worker = (await s.exec(select(User).where(User.telegram_id == WORKER))).one()
        tx01 = await get_compound_by_code(session=s, code="tx01")
        with pytest.raises(NoticeError) as refused:
            await notices.create_notice(session=s, author=worker, text="x",
                                        audience=Audience(compound_ids=[tx01.id]))  # fmt: skip
        assert refused.value.reason == "scope"
        with pytest.raises(NoticeError):
            await notices.create_notice(session=s, author=worker, text="x",
                                        audience=Audience(everything=True))  # fmt: skip


async def test_the_audience_step_offers_the_authors_compounds_by_code(h):
    await make_worker(h)
    async with h.factory() as s:
        worker = (await s.exec(select(User).where(User.telegram_id == WORKER))).one()
        admin = (await s.exec(select(User).where(User.telegram_id == ADMIN))).one()
        offered = await notices.addressable_compounds(session=s, author=worker)
        assert [c.code for c in offered] == ["hp01"]  # only their own compound
        everything = await notices.addressable_compounds(session=s, author=admin)
        codes = [c.code for c in everything]
        assert len(codes) > 2 and codes == sorted(codes)  # city staff: every compound
        names = await notices.names_of_compounds(
            session=s, compound_ids=[c.id for c in reversed(everything[:3])]
        )
        assert names == sorted(c.name for c in everything[:3])


async def test_district_staff_reach_their_district(h):
    await make_worker(h)
    await add_residents(h)
    async with h.factory() as s, s.begin():
        hp01 = await get_compound_by_code(session=s, code="hp01")
        boss = User(telegram_id=9100, chat_id=9100, role=Role.district_staff,
                    district_id=hp01.district_id)  # fmt: skip
        s.add(boss)
        await s.flush()
        reach = await notices.count_audience(
            session=s, author=boss, audience=Audience(district_id=hp01.district_id), urgent=False
        )
        assert reach.total == 3  # hp01's three; tx01 is in 铁西区
        with pytest.raises(NoticeError):
            await notices.count_audience(
                session=s, author=boss, audience=Audience(district_id=hp01.district_id + 1),
                urgent=False,
            )  # fmt: skip


async def test_photo_attachment_is_sent_with_the_text_as_caption(h):
    from aiogram.types import PhotoSize

    await make_worker(h)
    await add_residents(h)
    await h.send(WORKER, "/notice")
    await h.press(WORKER, "下一步 ➡️")
    await h.send(WORKER, "外墙保温施工示意图见附件")
    photo = [PhotoSize(file_id="plan-photo", file_unique_id="p1", width=800, height=600)]
    await h.send(WORKER, photo=photo)
    await h.press(WORKER, "🚧 施工")
    await h.press(WORKER, "普通")
    await h.press(WORKER, "⚡ 立即发送")
    assert h.recorder.sent("SendPhoto")[-1].chat_id == WORKER  # the preview, exactly
    await h.press(WORKER, "✅ 发布")
    await deliver(h)
    to_a3 = [m for m in h.recorder.sent("SendPhoto") if m.chat_id == A3]
    assert len(to_a3) == 1 and to_a3[0].photo == "plan-photo"
    assert "外墙保温施工示意图见附件" in to_a3[0].caption


# --- refusals and the cancel path -------------------------------------------------------------


async def test_empty_audience_is_refused_with_a_clear_message(h):
    await make_worker(h, "tx01")  # no residents registered yet
    await h.send(WORKER, "/notice")
    await h.press(WORKER, "下一步 ➡️")
    answers = h.recorder.sent("AnswerCallbackQuery")
    assert "没有登记的居民" in answers[-1].text
    async with h.factory() as s:
        assert (await s.exec(select(Notice))).all() == []
        assert (await s.exec(select(OutboxMessage))).all() == []


async def test_text_too_long_is_refused_and_the_flow_waits(h):
    await make_worker(h)
    await add_residents(h)
    await h.send(WORKER, "/notice")
    await h.press(WORKER, "下一步 ➡️")
    replies = "\n".join(await h.send(WORKER, "停" * 4000))
    assert "4000 字" in replies and f"最多 {notices.MAX_TEXT} 字" in replies
    await h.send(WORKER, "明天停水")
    assert "不需要附件 ➡️" in h.buttons(WORKER)  # the next step, with the shorter text


async def test_long_text_with_an_attachment_is_refused(h):
    from aiogram.types import Document

    await make_worker(h)
    await add_residents(h)
    await h.send(WORKER, "/notice")
    await h.press(WORKER, "下一步 ➡️")
    await h.send(WORKER, "施" * 1500)
    replies = "\n".join(await h.send(WORKER, document=Document(file_id="pdf", file_unique_id="d")))
    assert "1500 字" in replies and f"{notices.MAX_CAPTION} 字" in replies


@pytest.mark.parametrize("step", [0, 1, 2, 3, 4, 5, 6])
async def test_cancel_at_every_step_sends_nothing(h, step):
    await make_worker(h)
    await add_residents(h)
    actions = [
        lambda: h.send(WORKER, "/notice"),
        lambda: h.press(WORKER, "下一步 ➡️"),
        lambda: h.send(WORKER, "明天停水"),
        lambda: h.press(WORKER, "不需要附件 ➡️"),
        lambda: h.press(WORKER, "🚱 停水停电"),
        lambda: h.press(WORKER, "普通"),
        lambda: h.press(WORKER, "⚡ 立即发送"),
    ]
    for action in actions[: step + 1]:
        await action()
    replies = await h.press(WORKER, "✖️ 取消")
    assert any("已取消" in r for r in replies)
    await deliver(h)
    async with h.factory() as s:
        assert (await s.exec(select(Notice))).all() == []
    assert all(received(h, r) == [] for r in (A3, B3, C5))


async def test_stale_buttons_never_act(h):
    await make_worker(h)
    await add_residents(h)
    await h.send(WORKER, "/notice")
    old = h.last_markup(WORKER)
    await h.press(WORKER, "下一步 ➡️")
    await h.press_on(WORKER, old, "下一步 ➡️")
    assert "已过期" in h.recorder.sent("AnswerCallbackQuery")[-1].text


async def test_residents_cannot_publish(h):
    await add_residents(h)
    assert any("只对社区工作人员开放" in r for r in await h.send(A3, "/notice"))


# --- who gets a message ---------------------------------------------------------------------------


async def test_opted_out_get_the_list_only_blocked_are_skipped_and_counted(h):
    await make_worker(h)
    await add_residents(h)
    async with h.factory() as s, s.begin():
        for user in (await s.exec(select(User).where(User.telegram_id.in_([A3, B3])))).all():
            if user.telegram_id == A3:
                user.notifications_enabled = False
            else:
                user.reachable = False
    preview = "\n".join(await compose(h, "明天停电", publish=False))
    assert "收件人：<b>1</b> 位居民" in preview
    assert "1 位关闭了通知" in preview and "1 位已屏蔽机器人" in preview
    await h.press(WORKER, "✅ 发布")
    h.recorder.fail_next("SendMessage", 403, "Forbidden: bot was blocked by the user")
    await deliver(h)
    assert received(h, A3) == [] and received(h, B3) == []
    report = h.recorder.texts(WORKER)[-1]
    assert "已送达 0 / 1 · 屏蔽 2 · 失败 0" in report  # C5 blocked the bot while sending
    assert "1 位居民关闭了通知" in report
    listing = "\n".join(await h.send(A3, "📢 社区公告"))
    assert "明天停电" in listing and "已推送" not in listing


async def test_urgent_notices_reach_the_opted_out(h):
    await make_worker(h)
    await add_residents(h)
    async with h.factory() as s, s.begin():
        user = (await s.exec(select(User).where(User.telegram_id == A3))).one()
        user.notifications_enabled = False
    await compose(h, "3号楼燃气管道抢修，今晚停气", urgent=True)
    await deliver(h)
    assert len(received(h, A3)) == 1 and "🔴 紧急" in received(h, A3)[0]


async def test_quiet_hours_hold_non_urgent_notices_only(h):
    await make_worker(h)
    await add_residents(h)
    await compose(h, "周末小区义诊活动", kind="🎉 活动")
    always_quiet = {"quiet_hours_start": time(0, 0), "quiet_hours_end": time(23, 59)}
    await deliver(h, **always_quiet)
    assert received(h, A3) == []
    async with h.factory() as s:
        rows = (await s.exec(select(OutboxMessage))).all()
        assert {r.state for r in rows} == {OutboxState.pending}
        assert all(r.next_attempt_at > utcnow() for r in rows)
    await compose(h, "3号楼水管爆裂，立即停水抢修", urgent=True)
    await deliver(h, **always_quiet)
    assert len(received(h, A3)) == 1 and "水管爆裂" in received(h, A3)[0]


# --- scheduling, edit, cancel -------------------------------------------------------------------


async def test_typed_time_schedules_and_the_notice_goes_out_after_a_restart(h):
    await make_worker(h)
    await add_residents(h)
    await h.send(WORKER, "/notice")
    await h.press(WORKER, "下一步 ➡️")
    await h.send(WORKER, "明天 9:00–17:00 3号楼停水")
    await h.press(WORKER, "不需要附件 ➡️")
    await h.press(WORKER, "🚱 停水停电")
    await h.press(WORKER, "普通")
    preview = "\n".join(await h.send(WORKER, "明天 8:00"))
    tomorrow = (utcnow().astimezone(SHANGHAI) + timedelta(days=1)).strftime("%Y-%m-%d")
    assert f"发送时间：{tomorrow} 08:00" in preview
    await h.press(WORKER, "✅ 发布")
    assert "已预约" in h.recorder.texts(WORKER)[-1]
    await deliver(h)
    assert received(h, A3) == []  # not yet
    notice = await only_notice(h)
    assert notice.state == NoticeState.scheduled
    # The bot restarts (a new dispatcher and sender), and the time comes.
    async with h.factory() as s, s.begin():
        (await s.get(Notice, notice.id)).scheduled_at = utcnow() - timedelta(seconds=1)
    await deliver(h)
    assert len(received(h, A3)) == 1
    assert (await only_notice(h)).state == NoticeState.sent


async def test_the_preview_says_when_quiet_hours_will_hold_a_normal_notice(h):
    """Quiet hours are 21:00–08:00 here (the default): a 普通 notice for 22:00 waits until
    08:00, and the preview says so; one for 10:00, or an urgent one, goes when asked."""
    await make_worker(h)
    await add_residents(h)

    async def preview_for(when: str, urgency: str = "普通") -> str:
        await h.send(WORKER, "/notice")
        await h.press(WORKER, "下一步 ➡️")
        await h.send(WORKER, "明晚3号楼停电检修")
        await h.press(WORKER, "不需要附件 ➡️")
        await h.press(WORKER, "🚱 停水停电")
        await h.press(WORKER, urgency)
        preview = "\n".join(await h.send(WORKER, when))
        await h.press(WORKER, "✖️ 取消")
        return preview

    tomorrow = (utcnow().astimezone(SHANGHAI) + timedelta(days=1)).strftime("%Y-%m-%d")
    assert f"🌙 {tomorrow} 22:00 在安静时段（21:00–08:00）内，普通公告到 08:00 才发出。" in (
        await preview_for("明天 22:00")
    )
    assert "🌙" not in await preview_for("明天 10:00")
    assert "🌙" not in await preview_for("明天 22:00", urgency="🔴 紧急")


async def test_scheduled_notice_can_be_edited_then_cancelled(h):
    await make_worker(h)
    await add_residents(h)
    await compose(h, "后天停水", when="明天", publish=False)  # the day picker…
    await h.press(WORKER, "09:00")  # …then the hour
    await h.press(WORKER, "✅ 发布")
    assert (await only_notice(h)).state == NoticeState.scheduled
    report = h.last_markup(WORKER)
    await h.press(WORKER, "✏️ 修改")
    await h.press(WORKER, "✏️ 修改")  # the preview's: which part
    await h.press(WORKER, "内容")
    await h.send(WORKER, "后天 8:00–12:00 停水（时间有变）")
    await h.press(WORKER, "✅ 保存修改")
    notice = await only_notice(h)
    assert notice.text == "后天 8:00–12:00 停水（时间有变）" and notice.version == 2
    await h.press_on(WORKER, report, "🚫 取消发送")  # shown for version 1: stale
    assert (await only_notice(h)).state == NoticeState.scheduled
    await h.press(WORKER, "🚫 取消发送")
    assert (await only_notice(h)).state == NoticeState.cancelled
    async with h.factory() as s, s.begin():
        (await s.get(Notice, notice.id)).scheduled_at = utcnow() - timedelta(minutes=1)
    await deliver(h)
    assert received(h, A3) == []


async def test_a_started_notice_can_no_longer_be_cancelled(h):
    await make_worker(h)
    await add_residents(h)
    await compose(h)
    await deliver(h)
    async with h.factory() as s:
        worker = (await s.exec(select(User).where(User.telegram_id == WORKER))).one()
        with pytest.raises(NoticeError) as refused:
            await notices.cancel_notice(session=s, author=worker, notice_id=1)
    assert refused.value.reason == "started"


# --- after sending ----------------------------------------------------------------------------------


async def test_recall_deletes_the_messages_and_the_listing(h):
    await make_worker(h)
    await add_residents(h)
    await compose(h, "发错了的公告")
    await deliver(h)
    sent = {r.method.chat_id: r.result.message_id for r in h.recorder.requests
            if r.name == "SendMessage" and "发错了的公告" in (r.method.text or "")
            and r.method.chat_id != WORKER}  # fmt: skip
    await h.press(WORKER, "↩️ 撤回")
    await h.press(WORKER, "↩️ 确认撤回")
    await deliver(h)
    deleted = {(m.chat_id, m.message_id) for m in h.recorder.sent("DeleteMessage")}
    assert deleted == set(sent.items())
    assert "已撤回" in h.recorder.texts(WORKER)[-1]
    assert "发错了的公告" not in "\n".join(await h.send(A3, "📢 社区公告"))


async def test_correction_references_the_original(h):
    await make_worker(h)
    await add_residents(h)
    await compose(h, "明天 9:00 停水")
    await deliver(h)
    await h.press(WORKER, "📝 更正")
    await h.send(WORKER, "明天 13:00 停水")
    await h.press(WORKER, "✅ 发布")
    await deliver(h)
    got = received(h, A3)
    assert len(got) == 2 and "更正" in got[1] and "明天 9:00 停水" in got[1]
    assert "明天 13:00 停水" in got[1]


async def test_acknowledgements_are_counted_and_the_rest_listed_to_knock_on(h):
    await make_worker(h)
    await add_residents(h)
    await compose(h, "3号楼明天停水")  # 停水停电: 收到 on by default
    await deliver(h)
    assert h.buttons(A3) == ["✅ 收到"]
    await h.press(A3, "✅ 收到")
    # The notice itself says so (a toast would vanish before an elderly resident reads it).
    edit = h.recorder.sent("EditMessageReplyMarkup")[-1]
    assert edit.chat_id == A3 and h.buttons(A3) == ["☑️ 已确认收到"]
    await h.press(A3, "☑️ 已确认收到")  # a second tap: nothing new, a short note
    assert "已经确认过" in h.recorder.sent("AnswerCallbackQuery")[-1].text
    async with h.factory() as s:
        assert len((await s.exec(select(NoticeAck))).all()) == 1
    await h.press(WORKER, "🔄 刷新")
    assert "收到确认：1 / 3" in h.recorder.texts(WORKER)[-1]
    knock = "\n".join(await h.press(WORKER, "🚪 未确认住户"))
    assert "3号楼 2单元：1 户" in knock and "5号楼：1 户" in knock and "1单元" not in knock


# --- residents' list -----------------------------------------------------------------------------


async def test_resident_list_is_paginated_newest_first_with_icons_and_push_marks(h):
    await make_worker(h)
    await add_residents(h)
    async with h.factory() as s, s.begin():
        worker = (await s.exec(select(User).where(User.telegram_id == WORKER))).one()
        hp01 = await get_compound_by_code(session=s, code="hp01")
        for i in range(6):
            notice = await notices.create_notice(
                session=s, author=worker, text=f"第{i}条公告", audience=Audience(compound_ids=[hp01.id])
            )  # fmt: skip
            notice.scheduled_at = utcnow() - timedelta(minutes=10 - i)
    await deliver(h)
    page1 = "\n".join(await h.send(A3, "📢 社区公告"))
    assert "第 1/2 页" in page1 and page1.index("第5条公告") < page1.index("第1条公告")
    assert "第0条公告" not in page1 and "📢" in page1 and "📲 已推送给您" in page1
    page2 = "\n".join(await h.press(A3, "较早 ➡️"))
    assert "第0条公告" in page2 and "第 2/2 页" in page2


async def test_resident_list_shows_only_the_notices_addressed_to_them(h):
    await make_worker(h)
    await add_residents(h)
    h.nlu.teach("电梯老是停", "elevator", 0.95)
    await h.send(C5, "电梯老是停")
    await h.press(C5, "✅ 确认提交")
    async with h.factory() as s, s.begin():
        worker = (await s.exec(select(User).where(User.telegram_id == WORKER))).one()
        hp01 = await get_compound_by_code(session=s, code="hp01")
        for text, audience in (
            ("全小区明天打扫楼道", Audience(compound_ids=[hp01.id])),
            ("3号楼明天停水", Audience(compound_ids=[hp01.id], buildings=["3号楼"])),
            ("3号楼2单元电梯检修", Audience(compound_ids=[hp01.id], buildings=["3号楼|2单元"])),
            ("反映过电梯问题的居民请注意", Audience(compound_ids=[hp01.id], category="elevator")),
        ):
            notice = await notices.create_notice(session=s, author=worker, text=text,
                                                 audience=audience)  # fmt: skip
            notice.scheduled_at = utcnow() - timedelta(minutes=1)
    await deliver(h)
    in_building_5 = "\n".join(await h.send(C5, "📢 社区公告"))
    assert "全小区明天打扫楼道" in in_building_5 and "反映过电梯问题的居民请注意" in in_building_5
    assert "停水" not in in_building_5 and "电梯检修" not in in_building_5
    in_unit_1 = "\n".join(await h.send(A3, "📢 社区公告"))
    assert "3号楼明天停水" in in_unit_1 and "电梯检修" not in in_unit_1
    in_unit_2 = "\n".join(await h.send(B3, "📢 社区公告"))
    assert "3号楼明天停水" in in_unit_2 and "3号楼2单元电梯检修" in in_unit_2
    assert "反映过电梯问题" not in in_unit_2  # B3 never raised an elevator demand


# --- exactly one active sender ----------------------------------------------------------------


async def test_only_the_lease_holder_runs_its_job(h):
    running: list[str] = []
    overlaps = []
    stopping = asyncio.Event()

    def job_for(name: str):
        async def job() -> None:
            running.append(name)
            overlaps.append(len(set(running)))
            try:
                await asyncio.Event().wait()
            finally:
                running.remove(name)

        return job

    ttl = timedelta(seconds=2)  # renewed every 0.67 s: room for a busy machine
    tasks = [
        asyncio.create_task(hold_lease(name="outbox-sender", holder=name, factory=h.factory,
                                       job=job_for(name), stopping=stopping, ttl=ttl))
        for name in ("a", "b")
    ]  # fmt: skip
    await until(lambda: running, within=10)
    await asyncio.sleep(1.0)  # both alive through a renewal: still only the one runs
    assert len(running) == 1 and max(overlaps) == 1
    first = running[0]
    tasks[0 if first == "a" else 1].cancel()  # the holder dies without giving the lease up
    # the dead holder's lease runs out (2 s), the other takes over
    await until(lambda: running == ["b" if first == "a" else "a"], within=15)
    assert max(overlaps) == 1
    stopping.set()
    await asyncio.gather(*tasks, return_exceptions=True)


# --- typed times ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("明天 8:00", "2026-12-03 08:00"),
        ("明天8点", "2026-12-03 08:00"),
        ("后天下午3点半", "2026-12-04 15:30"),
        ("12月5日 14:30", "2026-12-05 14:30"),
        ("2027-01-02 07:15", "2027-01-02 07:15"),
        ("20:00", "2026-12-02 20:00"),
        ("1月3日 9:00", "2027-01-03 09:00"),
        ("tomorrow 8:00", "2026-12-03 08:00"),
        ("Day after tomorrow 15:30", "2026-12-04 15:30"),
        ("12/3 14:30", "2026-12-03 14:30"),
    ],
)
def test_parse_when(text, expected):
    from datetime import datetime

    now = datetime(2026, 12, 2, 10, 0, tzinfo=SHANGHAI)
    assert parse_when(text, now=now).strftime("%Y-%m-%d %H:%M") == expected


def test_parse_when_rejects_nonsense():
    from datetime import datetime

    now = datetime(2026, 12, 2, 10, 0, tzinfo=SHANGHAI)
    assert parse_when("找个时间", now=now) is None
    assert parse_when("明天 25:00", now=now) is None


async def test_the_staff_menu_entry_lists_notices_and_starts_compose(h):
    from bot.screens import open_notices

    await make_worker(h)
    await add_residents(h)
    await compose(h, "明天停水")
    await deliver(h)
    message = h._message(WORKER, text="📢 公告").as_(h.bot)
    i18n = h.dp["i18n"]
    async with h.factory() as s:  # as the lead's staff menu calls it, inside a handler
        worker = (await s.exec(select(User).where(User.telegram_id == WORKER))).one()
        with i18n.context(), i18n.use_locale("zh_CN"):
            await open_notices(message, session=s, user=worker)
    assert "📝 发布公告" in h.buttons(WORKER)
    assert any("#1 已发送" in b and "明天停水" in b for b in h.buttons(WORKER))
    await h.press(WORKER, next(b for b in h.buttons(WORKER) if "#1" in b))
    assert "已送达 3 / 3" in h.recorder.texts(WORKER)[-1]
    async with h.factory() as s:
        with i18n.context(), i18n.use_locale("zh_CN"):
            await open_notices(message, session=s, user=worker)
    await h.press(WORKER, "📝 发布公告")
    assert "下一步 ➡️" in h.buttons(WORKER)


# --- the rules on both databases -------------------------------------------------------------


async def test_notice_rules_on_sqlite_and_postgres(session_factory):
    """Audience, start (twice), progress, 收到, the list and recall, as models/notices.py does
    them on each database the product runs on."""
    from tests.conftest import load_demo_registry

    await load_demo_registry(session_factory)
    async with session_factory() as s, s.begin():
        hp01 = await get_compound_by_code(session=s, code="hp01")
        boss = User(telegram_id=1, chat_id=1, role=Role.city_staff)
        people = [
            User(telegram_id=10 + i, chat_id=10 + i, compound_id=hp01.id, building="3号楼",
                 unit=f"{i % 2 + 1}单元", notifications_enabled=i != 3, reachable=i != 4)
            for i in range(5)
        ]  # fmt: skip
        s.add_all([boss, *people])
        await s.flush()
        audience = Audience(compound_ids=[hp01.id], buildings=["3号楼|1单元", "3号楼|2单元"])
        reach = await notices.count_audience(session=s, author=boss, audience=audience,
                                             urgent=False)  # fmt: skip
        assert (reach.total, reach.pushed, reach.opted_out, reach.blocked) == (5, 3, 1, 1)
        notice = await notices.create_notice(session=s, author=boss, audience=audience,
                                             text="停水", kind="outage", ask_ack=True)  # fmt: skip
    async with session_factory() as s, s.begin():
        started = await notices.start_notice(session=s, notice_id=notice.id)
        assert started is not None and started.pushed == 3
    async with session_factory() as s, s.begin():
        assert await notices.start_notice(session=s, notice_id=notice.id) is None  # once only
        rows = (await s.exec(select(OutboxMessage))).all()
        assert len(rows) == 3
        rows[0].state, rows[0].telegram_message_id = OutboxState.sent, 77
        rows[1].state, rows[1].last_error = OutboxState.parked, "blocked: Forbidden"
    async with session_factory() as s, s.begin():
        current = await notices.progress(session=s, notice=await s.get(Notice, notice.id))
        assert (current.delivered, current.blocked, current.failed, current.waiting) == (1, 2, 0, 1)
        first = await s.get(User, rows[0].user_id)
        assert await notices.acknowledge(session=s, notice_id=notice.id, user=first)
        assert not await notices.acknowledge(session=s, notice_id=notice.id, user=first)
        shown, total = await notices.notices_for_resident(session=s, user=first)
        assert total == 1 and shown[0][1] is True  # sending already shows; pushed to them
        assert await notices.unacknowledged(session=s, notice=await s.get(Notice, notice.id)) == []
        await notices.recall_notice(session=s, author=boss, notice_id=notice.id)
    async with session_factory() as s:
        assert [r.id for r in await notices.messages_to_delete(session=s, notice_id=notice.id,
                                                               limit=10)] == [rows[0].id]  # fmt: skip
        waiting = await s.get(OutboxMessage, rows[2].id)
        assert waiting.state == OutboxState.parked  # never sent after the recall
        assert (await notices.notices_for_resident(session=s, user=first))[1] == 0
