"""The staff console's plan, administration and resident-view parts, through the real
dispatcher: each flow, and each forged button refused with nothing changed."""

from __future__ import annotations

from sqlmodel import select

from bot.compound_picker import PickCb
from bot.handlers.staff.admin import StaffCb
from bot.handlers.staff.plan import PlanCb
from bot.keyboards import TicketCb
from models.tables import (
    Compound,
    District,
    PlanItem,
    Role,
    Ticket,
    TicketStatus,
    User,
    WorkerCompound,
)
from models.tickets import endorse
from tests.harness import ADMIN, NEIGHBOUR, RESIDENT, WORKER

OTHER_WORKER, DISTRICT = 2002, 3001
REFUSED = "这不在您负责的范围内，没有做任何修改。"
NOT_YOURS = "这不在您管辖的范围内，没有做任何修改。"


async def make_worker(h, telegram_id: int, *codes: str) -> None:
    replies = await h.send(ADMIN, "/invite " + " ".join(codes))
    token = next(r for r in replies if "start=w_" in r).split("start=w_")[1].split()[0]
    await h.send(telegram_id, f"/start w_{token}")
    assert (await h.user(telegram_id)).role == Role.worker


async def make_district_staff(h, telegram_id: int, district_code: str) -> None:
    await h.send(telegram_id, "/help")
    async with h.factory() as s, s.begin():
        user = (await s.exec(select(User).where(User.telegram_id == telegram_id))).one()
        district = (await s.exec(select(District).where(District.code == district_code))).one()
        user.role, user.district_id = Role.district_staff, district.id


async def compound(h, code: str) -> Compound:
    async with h.factory() as s:
        return (await s.exec(select(Compound).where(Compound.code == code))).one()


async def item(h, title: str) -> PlanItem:
    async with h.factory() as s:
        return (await s.exec(select(PlanItem).where(PlanItem.title == title))).one()


async def compound_codes_of(h, telegram_id: int) -> set[str]:
    worker = await h.user(telegram_id)
    async with h.factory() as s:
        rows = await s.exec(
            select(Compound.code)
            .join(WorkerCompound, WorkerCompound.compound_id == Compound.id)
            .where(WorkerCompound.worker_id == worker.id)
        )
        return set(rows.all())


async def file_ticket(
    h, author: int = RESIDENT, text: str = "3号楼下水道又堵了，味儿贼大"
) -> Ticket:
    await h.bind(author, "hp01")
    h.nlu.teach(text, "water", 0.95)
    await h.send(author, text)
    await h.press(author, "✅ 确认提交")
    return (await h.tickets())[-1]


# --- 7. plan and progress -----------------------------------------------------------------


async def test_worker_updates_an_item_and_the_board_shows_it_at_once(h):
    await make_worker(h, WORKER, "hp01")
    await h.bind(RESIDENT, "hp01")
    assert "更换小区老旧供水管网（供水排水） 施工中 ███▁▁ 60%" in "\n".join(
        await h.send(RESIDENT, "/board")
    )
    replies = await h.send(WORKER, "/plan")  # one compound: straight to its plan
    assert any("南湖春晓小区" in r and "改造计划" in r for r in replies)
    await h.press(WORKER, "1. 更换小区老旧供水管网 · 60%")
    replies = await h.press(WORKER, "+10%")
    assert any("70%" in r for r in replies)
    assert (await item(h, "更换小区老旧供水管网")).progress == 70
    await h.press(WORKER, "已完成")
    board = "\n".join(await h.send(RESIDENT, "/board"))
    assert "更换小区老旧供水管网（供水排水） 已完成 █████ 100%" in board


async def test_progress_typed_and_stage_changed(h):
    await make_worker(h, WORKER, "hp01")
    await h.send(WORKER, "/plan")
    await h.press(WORKER, "3. 楼顶防水与外墙保温 · 0%")
    await h.press(WORKER, "输入进度")
    assert any("0 到 100" in r for r in await h.send(WORKER, "120"))
    await h.send(WORKER, "45")
    changed = await item(h, "楼顶防水与外墙保温")
    assert (changed.progress, changed.status) == (45, "in_progress")
    await h.press(WORKER, "« 返回")
    await h.press(WORKER, "阶段：施工中")
    await h.press(WORKER, "已竣工")
    assert (await compound(h, "hp01")).renovation_stage == "completed"
    await h.bind(RESIDENT, "hp01")
    assert "阶段：已竣工" in "\n".join(await h.send(RESIDENT, "/board"))


async def test_worker_adds_a_plan_item_with_title_and_category(h):
    await make_worker(h, WORKER, "hp01")
    await h.send(WORKER, "/plan")
    await h.press(WORKER, "➕ 新增项目")
    await h.press(WORKER, "绿化")
    replies = await h.send(WORKER, "补种行道树")
    assert any("已新增项目" in r and "补种行道树" in r for r in replies)
    added = await item(h, "补种行道树")
    assert added.category == "greening" and added.compound_id == (await compound(h, "hp01")).id
    await h.bind(RESIDENT, "hp01")
    assert "补种行道树（绿化）" in "\n".join(await h.send(RESIDENT, "/board"))


async def test_compound_is_chosen_by_name_among_several(h):
    await make_worker(h, WORKER, "hp01", "sh01")
    await h.send(WORKER, "/plan")
    assert sorted(h.buttons(WORKER)) == ["五里河西苑", "南湖春晓小区"]
    await h.send(WORKER, "五里河")
    assert h.buttons(WORKER) == ["五里河西苑"]
    replies = await h.press(WORKER, "五里河西苑")
    assert any("五里河西苑" in r and "小区主干道路面重铺" in r for r in replies)


async def test_city_staff_choose_a_district_first(h):
    await h.send(ADMIN, "/plan")
    assert "沈河区" in h.buttons(ADMIN) and "铁西区" in h.buttons(ADMIN)
    await h.press(ADMIN, "铁西区")
    assert "工人村东区" in h.buttons(ADMIN)


async def test_a_menu_tap_while_choosing_is_the_menu_not_a_search(h):
    await h.send(ADMIN, "/plan")  # waits for a district or a typed name
    replies = await h.send(ADMIN, "📋 我的诉求")
    assert any("您还没有反映过问题" in r for r in replies)
    assert not any("没有找到" in r for r in replies)
    # The wait is over: words typed now are not searched for.
    h.nlu.teach("南湖", "out_of_scope", 0.9)
    assert not any("请点选小区" in r for r in await h.send(ADMIN, "南湖"))


async def test_forged_plan_buttons_for_another_compound_change_nothing(h):
    await make_worker(h, WORKER, "hp01")
    other = await item(h, "小区主干道路面重铺")  # sh01's
    sh01 = await compound(h, "sh01")
    forged = [
        PlanCb(action="status", item=other.id, value="done"),
        PlanCb(action="step", item=other.id, value="+"),
        PlanCb(action="stage_to", compound=sh01.id, value="accepted"),
        PlanCb(action="cstep", compound=sh01.id, value="+"),
        # The button names the worker's compound, the item is another's: the item decides.
        PlanCb(
            action="status", compound=(await compound(h, "hp01")).id, item=other.id, value="planned"
        ),
    ]
    for data in forged:
        assert await h.callback(WORKER, data.pack()) == [REFUSED]
    await h.bind(RESIDENT, "hp01")  # a resident forging the same is refused as well
    assert await h.callback(RESIDENT, forged[0].pack()) == [REFUSED]
    after = await item(h, "小区主干道路面重铺")
    assert (after.status, after.progress) == (other.status, other.progress)
    again = await compound(h, "sh01")
    assert (again.renovation_stage, again.renovation_progress) == ("construction", 60)


async def test_a_plan_kept_open_after_the_worker_is_revoked_changes_nothing(h):
    await make_worker(h, WORKER, "hp01")
    await h.send(WORKER, "/plan")
    shown = h.last_markup(WORKER)
    await h.send(ADMIN, "/workers")
    await h.press(ADMIN, "居民")
    await h.press(ADMIN, "⛔ 撤销工作者身份")
    await h.press(ADMIN, "确定撤销")
    assert await h.press_on(WORKER, shown, "总进度 +10%") == [REFUSED]
    assert (await compound(h, "hp01")).renovation_progress == 45


async def test_typed_progress_after_losing_the_compound_is_refused(h):
    await make_worker(h, WORKER, "hp01", "sh01")
    await h.send(WORKER, "/plan")
    await h.press(WORKER, "南湖春晓小区")
    await h.press(WORKER, "1. 更换小区老旧供水管网 · 60%")
    await h.press(WORKER, "输入进度")
    worker = await h.user(WORKER)
    async with h.factory() as s, s.begin():  # meanwhile staff took the compound away
        link = await s.get(WorkerCompound, (worker.id, (await compound(h, "hp01")).id))
        await s.delete(link)
    assert await h.send(WORKER, "90") == [REFUSED]
    assert (await item(h, "更换小区老旧供水管网")).progress == 60


# --- 9. staff administration --------------------------------------------------------------


async def test_workers_list_and_compounds_added_and_removed_by_name(h):
    await make_worker(h, WORKER, "hp01", "sh01")
    listing = "\n".join(await h.send(ADMIN, "/workers"))
    assert "南湖春晓小区" in listing and "五里河西苑" in listing
    await h.press(ADMIN, "居民")  # the worker's first name in the harness
    await h.press(ADMIN, "➕ 添加小区")
    await h.send(ADMIN, "东塔")
    replies = await h.press(ADMIN, "东塔新村")
    assert any("东塔新村" in r for r in replies)
    assert await compound_codes_of(h, WORKER) == {"hp01", "sh01", "dd01"}
    await h.press(ADMIN, "✖ 移除 五里河西苑")
    assert await compound_codes_of(h, WORKER) == {"hp01", "dd01"}


async def test_removing_a_compound_unassigns_the_workers_open_tickets_there(h):
    await make_worker(h, WORKER, "hp01", "sh01")
    ticket = await file_ticket(h)
    await h.callback(WORKER, TicketCb(id=ticket.id).pack())
    await h.press(WORKER, "受理")
    await h.press(WORKER, "不加说明")
    assert (await h.tickets())[-1].assignee_id == (await h.user(WORKER)).id
    await h.send(ADMIN, "/workers")
    await h.press(ADMIN, "居民")
    await h.press(ADMIN, "✖ 移除 南湖春晓小区")
    [after] = await h.tickets()
    assert after.assignee_id is None and after.status == TicketStatus.accepted


async def test_revoking_a_worker(h):
    await make_worker(h, WORKER, "hp01")
    ticket = await file_ticket(h)
    await h.callback(WORKER, TicketCb(id=ticket.id).pack())
    await h.press(WORKER, "受理")
    await h.press(WORKER, "不加说明")
    await h.send(ADMIN, "/workers")
    await h.press(ADMIN, "居民")
    await h.press(ADMIN, "⛔ 撤销工作者身份")
    replies = await h.press(ADMIN, "确定撤销")
    assert any("已撤销" in r for r in replies)
    assert (await h.user(WORKER)).role == Role.resident
    assert await compound_codes_of(h, WORKER) == set()
    assert (await h.tickets())[-1].assignee_id is None
    assert any("只对社区工作者开放" in r for r in await h.send(WORKER, "/tickets"))


async def test_district_staff_manage_only_their_district(h):
    await make_worker(h, WORKER, "hp01")  # 和平区
    await make_worker(h, OTHER_WORKER, "sh01")  # 沈河区
    await make_district_staff(h, DISTRICT, "heping")
    listing = "\n".join(await h.send(DISTRICT, "/workers"))
    assert "南湖春晓小区" in listing and "五里河西苑" not in listing
    other = await h.user(OTHER_WORKER)
    mine = await h.user(WORKER)
    forged = [
        StaffCb(action="rm", worker=other.id, compound=(await compound(h, "sh01")).id),
        StaffCb(action="revoke_ok", worker=other.id),
        StaffCb(action="worker", worker=other.id),
        # their own worker, but a compound of another district
        StaffCb(action="rm", worker=mine.id, compound=(await compound(h, "sh01")).id),
    ]
    for data in forged:
        assert await h.callback(DISTRICT, data.pack()) == [NOT_YOURS]
    # A worker forging an administrator's button is refused the same way.
    assert await h.callback(WORKER, StaffCb(action="revoke_ok", worker=other.id).pack()) == [
        NOT_YOURS
    ]
    assert (await h.user(OTHER_WORKER)).role == Role.worker
    assert await compound_codes_of(h, OTHER_WORKER) == {"sh01"}
    # A forged choice of another district's compound for their own worker changes nothing.
    forged_pick = PickCb(purpose="wadd", compound=(await compound(h, "sh01")).id, target=mine.id)
    assert await h.callback(DISTRICT, forged_pick.pack()) == [NOT_YOURS]
    assert await compound_codes_of(h, WORKER) == {"hp01"}
    # Adding: the picker offers only the district's compounds.
    await h.callback(DISTRICT, StaffCb(action="add", worker=mine.id).pack())
    assert "三好家园" in h.buttons(DISTRICT) and "五里河西苑" not in h.buttons(DISTRICT)


async def test_invite_by_choosing_compounds_by_name(h):
    await h.send(ADMIN, "/invite")
    await h.press(ADMIN, "和平区")
    replies = await h.press(ADMIN, "南湖春晓小区")
    assert any("已选小区：南湖春晓小区" in r for r in replies)
    await h.press(ADMIN, "➕ 再选一个小区")
    await h.send(ADMIN, "五里河")
    await h.press(ADMIN, "五里河西苑")
    replies = await h.press(ADMIN, "✅ 生成邀请链接")
    link = next(r for r in replies if "start=w_" in r)
    token = link.split("start=w_")[1].split()[0]
    await h.send(WORKER, f"/start w_{token}")
    assert await compound_codes_of(h, WORKER) == {"hp01", "sh01"}


async def test_invite_by_name_in_the_command_and_district_limits(h):
    await make_district_staff(h, DISTRICT, "heping")
    replies = await h.send(DISTRICT, "/invite 三好家园")
    assert any("start=w_" in r and "三好家园" in r for r in replies)
    assert any("只能为您所管辖区内的小区" in r for r in await h.send(DISTRICT, "/invite sh01"))


async def test_qr_posters_only_for_own_compounds(h):
    await make_worker(h, WORKER, "hp01")
    assert await h.send(WORKER, "/qr sh01") == ["只能为您负责的小区生成二维码海报。"]
    assert h.recorder.sent("SendPhoto") == []
    await h.send(WORKER, "/qr")  # their one compound
    [photo] = h.recorder.sent("SendPhoto")
    assert "南湖春晓小区" in photo.caption
    await make_district_staff(h, DISTRICT, "heping")
    await h.send(DISTRICT, "/qr")
    assert "三好家园" in h.buttons(DISTRICT) and "五里河西苑" not in h.buttons(DISTRICT)
    await h.press(DISTRICT, "三好家园")
    assert "三好家园" in h.recorder.sent("SendPhoto")[-1].caption


# --- 9. registry import by sending the file -----------------------------------------------

HEADER = (
    "district_code,district_name,code,name,aliases,address,households,built_year,"
    "renovation_year,renovation_stage,renovation_progress\n"
)
GOOD = "heping,和平区,hp09,新华里小区,新华里,和平区新华路1号,300,1988,2026,planning,0\n"


async def test_csv_sent_to_the_bot_is_imported(h):
    replies = await h.send_document(ADMIN, (HEADER + GOOD).encode())
    assert any("导入完成" in r and "新增 1 条" in r for r in replies)
    assert (await compound(h, "hp09")).name == "新华里小区"
    plan = "compound_code,category,title,status,progress\nhp09,greening,补种草坪,planned,0\n"
    replies = await h.send_document(ADMIN, plan.encode(), "plan.csv")
    assert any("导入完成" in r for r in replies)
    assert (await item(h, "补种草坪")).compound_id == (await compound(h, "hp09")).id


async def test_bad_csv_names_its_lines_and_writes_nothing(h):
    body = (
        GOOD
        + "heping,和平区,hp10,坏小区,,,300,1988,2026,building,0\n"
        + "heping,和平区,hp11,另一个,,,300,1988,2026,planning,120\n"
    )
    [reply] = await h.send_document(ADMIN, (HEADER + body).encode())
    assert "没有写入任何内容" in reply
    assert "compounds.csv line 3: renovation_stage" in reply
    assert "compounds.csv line 4: renovation_progress must be between 0 and 100, got 120" in reply
    async with h.factory() as s:
        codes = set((await s.exec(select(Compound.code))).all())
    assert not {"hp09", "hp10", "hp11"} & codes


async def test_district_staff_import_only_their_district(h):
    await make_district_staff(h, DISTRICT, "heping")
    body = GOOD + "shenhe,沈河区,sh09,外区小区,,,300,1988,2026,planning,0\n"
    [reply] = await h.send_document(DISTRICT, (HEADER + body).encode())
    assert "没有写入任何内容" in reply and "line 3" in reply
    async with h.factory() as s:
        codes = set((await s.exec(select(Compound.code))).all())
    assert not {"hp09", "sh09"} & codes
    replies = await h.send_document(DISTRICT, (HEADER + GOOD).encode())
    assert any("导入完成" in r and "新增 1 条" in r for r in replies)
    assert (await compound(h, "hp09")).name == "新华里小区"


async def test_a_worker_sending_a_csv_imports_nothing(h):
    await make_worker(h, WORKER, "hp01")
    await h.send_document(WORKER, (HEADER + GOOD).encode())
    async with h.factory() as s:
        assert (await s.exec(select(Compound).where(Compound.code == "hp09"))).first() is None


# --- 8. residents see the same ticket better ----------------------------------------------


async def test_my_tickets_buttons_show_a_snippet_beside_the_reference(h):
    ticket = await file_ticket(h)
    await h.send(RESIDENT, "📋 我的诉求")
    assert h.buttons(RESIDENT) == [f"{ticket.reference} · 3号楼下水道又堵了，味…"]


async def test_photos_show_in_the_detail_for_author_and_staff_not_endorsers(h):
    await make_worker(h, WORKER, "hp01")
    await h.bind(RESIDENT, "hp01")
    await h.send_photo(RESIDENT)
    h.nlu.teach("路面坑坑洼洼的，下雨全是泥", "roads", 0.9)
    await h.send(RESIDENT, "路面坑坑洼洼的，下雨全是泥")
    await h.press(RESIDENT, "✅ 确认提交")
    [ticket] = await h.tickets()
    await h.callback(RESIDENT, TicketCb(id=ticket.id).pack())
    [photo] = h.recorder.sent("SendPhoto")
    assert photo.photo == f"photo-{RESIDENT}" and photo.chat_id == RESIDENT
    await h.callback(WORKER, TicketCb(id=ticket.id).pack())
    assert h.recorder.sent("SendPhoto")[-1].chat_id == WORKER
    # A second photo added later: both come, as one album.
    await h.callback(RESIDENT, TicketCb(id=ticket.id, action="add").pack())
    await h.send_photo(RESIDENT, caption="又拍了一张")
    await h.callback(RESIDENT, TicketCb(id=ticket.id).pack())
    [album] = h.recorder.sent("SendMediaGroup")
    assert len(album.media) == 2
    # A neighbour who endorsed it reads it without the photos.
    await h.bind(NEIGHBOUR, "hp01")
    async with h.factory() as s, s.begin():
        await endorse(
            session=s, ticket=await s.get(Ticket, ticket.id), user=await h.user(NEIGHBOUR)
        )
    before = len(h.recorder.sent("SendPhoto")) + len(h.recorder.sent("SendMediaGroup"))
    replies = await h.callback(NEIGHBOUR, TicketCb(id=ticket.id).pack())
    assert any(ticket.reference in r for r in replies)
    assert len(h.recorder.sent("SendPhoto")) + len(h.recorder.sent("SendMediaGroup")) == before
