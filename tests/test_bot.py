"""Conversations through the real dispatcher (recording bot, fake NLU, SQLite)."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import select

from bot.handlers import root_router
from models.db import utcnow
from models.tables import OutboxMessage, Role, TicketStatus, User, WorkerInvite
from tests.harness import ADMIN, NEIGHBOUR, RESIDENT, WORKER
from tests.mocked_bot import BOT_USER

# --- start-up ---------------------------------------------------------------------------


async def test_command_menu_is_registered_in_both_languages(h):
    calls = h.recorder.sent("SetMyCommands")
    assert {c.language_code for c in calls} == {None, "en"}
    zh = next(c for c in calls if c.language_code is None)
    en = next(c for c in calls if c.language_code == "en")
    assert any(cmd.description == "我要反映" for cmd in zh.commands)
    assert any(cmd.description == "Report a problem" for cmd in en.commands)


def test_each_dispatcher_gets_a_router_tree_of_its_own() -> None:
    """Routers come from factories: a second dispatcher (another test, a second bot in one
    process) never takes over the routers of the first, and both route the same way."""

    def tree(router):
        yield router
        for child in router.sub_routers:
            yield from tree(child)

    first, second = list(tree(root_router())), list(tree(root_router()))
    assert [r.name for r in first] == [r.name for r in second]
    assert len(first) > 15 and "bot.handlers.report.urgent" == first[1].name
    assert {id(r) for r in first}.isdisjoint(id(r) for r in second)
    assert [len(r.message.handlers) for r in first] == [len(r.message.handlers) for r in second]


# --- /start and compounds -----------------------------------------------------------------


async def test_deep_link_binds_the_compound(h):
    replies = await h.send(RESIDENT, "/start c_hp01")
    assert any("南湖春晓小区" in r for r in replies)
    assert (await h.user(RESIDENT)).compound_id is not None


async def test_unknown_deep_link_asks_to_choose(h):
    replies = await h.send(RESIDENT, "/start c_nowhere")
    assert any("没有找到" in r for r in replies)
    assert (await h.user(RESIDENT)).compound_id is None


async def test_pick_compound_by_typing_part_of_its_name(h):
    replies = await h.send(RESIDENT, "/start")
    assert any("哪个小区" in r for r in replies)
    await h.send(RESIDENT, "工人村")
    assert "工人村东区" in h.buttons(RESIDENT)
    replies = await h.press(RESIDENT, "工人村东区")
    assert any("工人村东区" in r for r in replies)


async def test_pick_compound_by_district_buttons(h):
    await h.send(RESIDENT, "/start")
    await h.press(RESIDENT, "按区选择")
    await h.press(RESIDENT, "铁西区")
    assert "兴华北院" in h.buttons(RESIDENT)
    await h.press(RESIDENT, "兴华北院")
    assert (await h.user(RESIDENT)).compound_id is not None


# --- invites and roles --------------------------------------------------------------------


async def test_admin_invite_link_is_single_use(h):
    replies = await h.send(ADMIN, "/invite hp01 sh01")
    link = next(r for r in replies if "start=w_" in r)
    token = link.split("start=w_")[1].split()[0]
    replies = await h.send(WORKER, f"/start w_{token}")
    assert any("南湖春晓小区" in r and "五里河西苑" in r for r in replies)
    assert (await h.user(WORKER)).role == Role.worker
    replies = await h.send(NEIGHBOUR, f"/start w_{token}")
    assert any("已经被使用过" in r for r in replies)
    assert (await h.user(NEIGHBOUR)).role == Role.resident


async def test_expired_invite_is_refused(h):
    replies = await h.send(ADMIN, "/invite hp01")
    token = next(r for r in replies if "start=w_" in r).split("start=w_")[1].split()[0]
    async with h.factory() as s, s.begin():
        invite = (await s.exec(select(WorkerInvite).where(WorkerInvite.token == token))).one()
        invite.expires_at = utcnow() - timedelta(minutes=1)
    replies = await h.send(WORKER, f"/start w_{token}")
    assert any("已过期" in r for r in replies)


async def test_residents_cannot_use_staff_commands(h):
    assert any("只对管理员开放" in r for r in await h.send(RESIDENT, "/invite hp01"))
    assert any("只对社区工作者开放" in r for r in await h.send(RESIDENT, "/tickets"))


async def test_worker_sees_only_their_compounds(h):
    token = (await h.send(ADMIN, "/invite hp01"))[-1].split("start=w_")[1].split()[0]
    await h.send(WORKER, f"/start w_{token}")
    h.nlu.teach("3号楼下水道堵了", "water", 0.95)
    h.nlu.teach("路灯坏了好几个", "lighting", 0.95)
    await h.bind(RESIDENT, "hp01")
    await h.send(RESIDENT, "3号楼下水道堵了")
    await h.press(RESIDENT, "✅ 确认提交")
    await h.bind(NEIGHBOUR, "tx01")
    await h.send(NEIGHBOUR, "路灯坏了好几个")
    await h.press(NEIGHBOUR, "✅ 确认提交")
    await h.send(WORKER, "/tickets")
    listing = "\n".join(h.buttons(WORKER))
    assert "下水道" in listing and "路灯" not in listing


# --- i18n ---------------------------------------------------------------------------------


async def test_help_in_chinese_and_english(h):
    zh = "\n".join(await h.send(RESIDENT, "/help"))
    assert "怎么用" in zh
    en = "\n".join(await h.send(NEIGHBOUR, "/help", language_code="en"))
    assert "How to use" in en and "怎么用" not in en


async def test_language_switch_answers_in_the_new_language(h):
    await h.send(RESIDENT, "/language")
    replies = await h.press(RESIDENT, "English")
    assert any("Switched to English" in r for r in replies)
    assert (await h.user(RESIDENT)).language == "en"
    assert "How to use" in "\n".join(await h.send(RESIDENT, "/help"))


# --- reporting ----------------------------------------------------------------------------


async def test_confident_demand_is_confirmed_and_becomes_a_ticket(h):
    await h.bind(RESIDENT)
    h.nlu.teach("3号楼下水道又堵了，味儿贼大", "water", 0.93)
    replies = await h.send(RESIDENT, "3号楼下水道又堵了，味儿贼大")
    assert "您反映的是【供水排水】问题，对吗？" in replies
    replies = await h.press(RESIDENT, "✅ 确认提交")
    [ticket] = await h.tickets()
    assert ticket.category == "water" and ticket.status == TicketStatus.new
    assert any(ticket.reference in r and "基础类" in r for r in replies)


async def test_unsure_demand_offers_top_three_plus_other_and_all(h):
    await h.bind(RESIDENT)
    h.nlu.teach(
        "楼下那块地方太乱了", "sanitation", 0.41, ["sanitation", "illegal_building", "greening"]
    )
    await h.send(RESIDENT, "楼下那块地方太乱了")
    assert h.buttons(RESIDENT) == ["环境卫生", "违建拆除", "绿化", "其他", "全部类别", "✖️ 取消"]
    await h.press(RESIDENT, "违建拆除")
    [ticket] = await h.tickets()
    assert ticket.category == "illegal_building" and ticket.category_source == "resident"


async def test_nlu_unavailable_offers_every_category_and_loses_nothing(h):
    await h.bind(RESIDENT)
    h.nlu.available = False
    replies = await h.send(RESIDENT, "单元门关不上了")
    assert any("暂时不可用" in r for r in replies)
    assert len(h.buttons(RESIDENT)) == 18 + 1
    await h.press(RESIDENT, "楼体维修与节能")
    [ticket] = await h.tickets()
    assert ticket.text_original == "单元门关不上了" and ticket.category == "building"


async def test_urgent_message_gets_safety_reply_ticket_and_worker_alert(h):
    token = (await h.send(ADMIN, "/invite hp01"))[-1].split("start=w_")[1].split()[0]
    await h.send(WORKER, f"/start w_{token}")
    await h.bind(RESIDENT)
    replies = await h.send(RESIDENT, "楼道里煤气味特别大！")
    assert any("119" in r and "110" in r and "120" in r for r in replies)
    [ticket] = await h.tickets()
    assert ticket.urgent and ticket.category == "heating_gas"
    async with h.factory() as s:
        alert = (await s.exec(select(OutboxMessage).where(OutboxMessage.kind == "alert"))).one()
    assert alert.urgent and alert.chat_id == WORKER


async def test_demand_before_choosing_a_compound_is_kept(h):
    h.nlu.teach("我家楼顶漏水", "building", 0.9)
    replies = await h.send(RESIDENT, "我家楼顶漏水")
    assert any("先记下了" in r for r in replies)
    await h.send(RESIDENT, "南湖春晓")
    replies = await h.press(RESIDENT, "南湖春晓小区")
    assert "您反映的是【楼体维修与节能】问题，对吗？" in replies
    await h.press(RESIDENT, "✅ 确认提交")
    [ticket] = await h.tickets()
    assert ticket.text_original == "我家楼顶漏水"


async def test_photo_alone_asks_for_a_sentence_then_attaches(h):
    await h.bind(RESIDENT)
    replies = await h.send_photo(RESIDENT)
    assert any("一句话" in r for r in replies)
    h.nlu.teach("路面坑坑洼洼的，下雨全是泥", "roads", 0.9)
    await h.send(RESIDENT, "路面坑坑洼洼的，下雨全是泥")
    await h.press(RESIDENT, "✅ 确认提交")
    from models.tables import TicketAttachment

    async with h.factory() as s:
        [attachment] = (await s.exec(select(TicketAttachment))).all()
    assert attachment.kind == "photo"


async def test_greeting_is_answered_not_ticketed(h):
    await h.bind(RESIDENT)
    h.nlu.teach("你好", "greet", 0.97)
    replies = await h.send(RESIDENT, "你好")
    assert any("您好" in r for r in replies)
    assert await h.tickets() == []


async def test_similar_open_ticket_is_offered_for_endorsement(h):
    await h.bind(RESIDENT)
    await h.bind(NEIGHBOUR)
    h.nlu.teach("3号楼下水道又堵了，味道贼大", "water", 0.93)
    h.nlu.teach("三号楼下水道堵了好几天了", "water", 0.93)
    await h.send(RESIDENT, "3号楼下水道又堵了，味道贼大")
    await h.press(RESIDENT, "✅ 确认提交")
    await h.send(NEIGHBOUR, "三号楼下水道堵了好几天了")
    replies = await h.press(NEIGHBOUR, "✅ 确认提交")
    assert any("已有 1 位邻居反映过" in r for r in replies)
    replies = await h.press(NEIGHBOUR, "👍 我也反映")
    assert any("加上您的一票" in r for r in replies)
    assert len(await h.tickets()) == 1


# --- odd input ----------------------------------------------------------------------------


async def test_unknown_command_sticker_and_edit_get_polite_answers(h):
    await h.bind(RESIDENT)
    assert any("没有这个命令" in r for r in await h.send(RESIDENT, "/foo"))
    from aiogram.types import Sticker

    sticker = Sticker(file_id="s", file_unique_id="s", type="regular", width=1, height=1,
                      is_animated=False, is_video=False)  # fmt: skip
    assert any("表情" in r for r in await h.send(RESIDENT, sticker=sticker))
    assert any("修改" in r for r in await h.edit(RESIDENT, "改一下"))


async def test_a_shared_phone_number_is_neither_kept_nor_promised_to_anyone(h):
    from aiogram.types import Contact

    await h.bind(RESIDENT)
    phone = Contact(phone_number="+8613912345678", first_name="王", user_id=RESIDENT)
    replies = await h.send(RESIDENT, contact=phone)
    assert any("我不保存电话号码" in r for r in replies)
    assert (await h.user(RESIDENT)).phone is None  # so no card can show it


async def test_group_chat_is_pointed_to_private_chat_and_keeps_no_data(h):
    replies = await h.send(RESIDENT, "/start", chat_type="group")
    # a link to the bot itself, not just a word about private chats
    assert any(f"请私聊我：https://t.me/{BOT_USER.username}" in r for r in replies), replies
    assert await h.send(RESIDENT, "大家好", chat_type="group") == []
    async with h.factory() as s:
        assert RESIDENT not in {u.telegram_id for u in (await s.exec(select(User))).all()}


async def test_a_flood_gets_one_polite_note_and_loses_no_words(h):
    await h.bind(RESIDENT)
    h.nlu.teach("楼道窗户碎了", "building", 0.9)
    replies = []
    lines = ["楼道窗户碎了"] + [f"补充第{i}句" for i in range(1, 9)]
    for line in lines:
        replies += await h.send(RESIDENT, line)
    assert sum("发得有点快" in r for r in replies) == 1
    await h.send(RESIDENT, "最后一句")
    await h.press(RESIDENT, "全部类别")  # the fake NLU does not know the combined text
    await h.press(RESIDENT, "楼体维修与节能")
    [ticket] = await h.tickets()
    for line in [*lines, "最后一句"]:
        assert line in ticket.text_original
