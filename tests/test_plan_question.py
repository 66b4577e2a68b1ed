"""A resident's free question about the renovation ("什么时候开始改造？") is answered in a few
lines from the board's figures, with a button to the whole board; /help explains 我也反映."""

from __future__ import annotations

from datetime import date

from sqlmodel import select

from models.registry import get_compound_by_code
from models.tables import PlanItem, PlanItemStatus
from tests.harness import NEIGHBOUR, RESIDENT

QUESTION = "什么时候开始改造？"


async def ask(h, code: str | None = "hp01", text: str = QUESTION, **person) -> str:
    if code is not None:
        await h.send(RESIDENT, f"/start c_{code}", **person)
    h.nlu.teach(text, "ask_plan", 0.93)
    return "\n".join(await h.send(RESIDENT, text, **person))


async def test_under_construction_the_answer_gives_stage_progress_year_items_and_next_step(h):
    answer = await ask(h, "hp01")  # 施工中 45 %, 2026, five items: one done, two under way
    assert answer == (
        "🏘 <b>南湖春晓小区</b> 的改造\n"
        "现在：施工中，已经开工。\n"
        "总进度：████▁▁▁▁▁▁ 45%\n"
        "计划改造年份：2026 年\n"
        "改造内容 5 项：已完成 1 项，施工中 2 项。\n"
        "下一步：完工后请居民验收打分。\n"
        "进入下一阶段时，我会发消息告诉您。"
    )
    assert h.buttons(RESIDENT) == ["🏘 查看完整改造公示"]
    board = "\n".join(await h.press(RESIDENT, "🏘 查看完整改造公示"))
    assert "改造公示" in board and "<b>居民点单</b>" in board and "响应率：" in board


async def test_before_the_works_and_without_a_plan_the_answer_says_so_plainly(h):
    planning = await ask(h, "hp02", "啥时候动工")  # 方案设计, no plan items yet
    assert "现在：方案设计，还没开工。" in planning and "总进度" not in planning
    assert "改造方案还没有公布。" in planning and "下一步：方案定下来以后开工。" in planning
    surveying = await ask(h, "sh02", "改造到哪一步了")  # 征集居民需求, no plan items
    assert "现在：征集居民需求，还没开工。" in surveying
    assert "改造方案还没有定下来。您想改什么，直接打字告诉我。" in surveying
    accepted = await ask(h, "sh04", "什么时候完工")
    assert "现在：已验收，已经完工。" in accepted and "改造已经完成并通过验收。" in accepted
    assert "下一步" not in accepted and "进入下一阶段" not in accepted


async def test_the_planned_finish_is_given_only_when_every_unfinished_item_has_a_date(h):
    async with h.factory() as s, s.begin():
        compound = await get_compound_by_code(session=s, code="hp01")
        items = (await s.exec(select(PlanItem).where(PlanItem.compound_id == compound.id))).all()
        unfinished = [item for item in items if item.status != PlanItemStatus.done]
        for month, item in enumerate(unfinished[:-1], start=6):
            item.due_date = date(2026, month, 30)
    assert "计划完工" not in await ask(h, "hp01")  # one item has no date: it could end later
    async with h.factory() as s, s.begin():
        item = await s.get(PlanItem, unfinished[-1].id)
        item.due_date = date(2026, 8, 15)
    assert "计划完工：2026-08-30" in await ask(h, "hp01", "改造啥时候完工")


async def test_a_question_before_the_compound_is_known_is_answered_once_it_is(h):
    h.nlu.teach(QUESTION, "ask_plan", 0.93)
    assert any("先告诉我您住在哪个小区" in r for r in await h.send(RESIDENT, QUESTION))
    await h.send(RESIDENT, "南湖春晓")
    answer = "\n".join(await h.press(RESIDENT, "南湖春晓小区"))
    assert "🏘 <b>南湖春晓小区</b> 的改造" in answer and "现在：施工中，已经开工。" in answer
    assert await h.tickets() == []  # a question is not a demand


async def test_no_promise_of_a_message_to_a_resident_who_turned_notifications_off(h):
    await h.send(RESIDENT, "/start c_hp01")
    await h.send(RESIDENT, "⚙️ 设置")
    await h.press(RESIDENT, "关闭通知")
    answer = await ask(h, None)
    assert "下一步：完工后请居民验收打分。" in answer and "发消息告诉您" not in answer


async def test_the_answer_in_english(h):
    answer = await ask(h, "hp02", language_code="en")
    assert "🏘 Renovation of <b>三好家园</b>" in answer
    assert "Now: Designing the plan; the works have not started yet." in answer
    assert "Planned renovation year: 2026" in answer
    assert h.buttons(RESIDENT) == ["🏘 See the whole renovation board"]


async def test_help_explains_me_too_in_both_languages(h):
    await h.bind(RESIDENT)
    zh = "\n".join(await h.send(RESIDENT, "/help"))
    assert "👍 我也反映：邻居已经反映过同样的问题时" in zh and "不用重复提交" in zh
    await h.send(NEIGHBOUR, "/start c_hp01", language_code="en")
    en = "\n".join(await h.send(NEIGHBOUR, "/help", language_code="en"))
    assert "👍 Me too: when a neighbour has already reported the same problem" in en
