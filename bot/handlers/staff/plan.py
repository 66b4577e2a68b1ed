"""小区 (plan and progress): staff keep a compound's renovation stage and plan items up to date;
the public board (🏘 小区改造) shows every change at once."""

from __future__ import annotations

from html import escape
from typing import Any

from aiogram import F, Router
from aiogram.filters import Command, CommandObject
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.keyboard import InlineKeyboardBuilder
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.callbacks import pressed_on
from bot.compound_picker import leave_for_menu, on_pick
from bot.filters import HasRole
from bot.i18n import _
from bot.screens import open_plan
from bot.texts import PLAN_STATUS_LABELS, STAGE_LABELS, progress_bar
from models.db import id_of
from models.plan import (
    OutOfScope,
    PlanItemInvalid,
    add_item,
    compound_in_scope,
    item_in_scope,
    plan_items,
    search_in_scope,
    set_compound_progress,
    set_stage,
    update_item,
)
from models.privacy import cut
from models.tables import Compound, PlanItem, PlanItemStatus, RenovationStage, Role, User
from nlu.taxonomy import load_taxonomy

STEP = 10


class PlanCb(CallbackData, prefix="pl"):
    """Every button carries ids only; models/plan.py checks scope on each press."""

    action: str  # show / item / status / step / setp / stage / stage_to / cstep / add / cat
    compound: int = 0
    item: int = 0
    value: str = ""


class PlanInput(StatesGroup):
    progress = State()  # typing a percentage for an item
    title = State()  # typing the title of a new item


def refusal() -> str:
    return _("这不在您负责的范围内，没有做任何修改。")


def _stage(compound: Compound) -> str:
    return _(STAGE_LABELS[RenovationStage(compound.renovation_stage)])


async def compound_card(
    *, session: AsyncSession, compound: Compound, user: User
) -> tuple[str, InlineKeyboardMarkup]:
    taxonomy = load_taxonomy()
    items = await plan_items(session=session, compound_id=id_of(compound))
    lines = [
        _("🏘 <b>{name}</b> 改造计划").format(name=escape(compound.name)),
        _("阶段：{stage}　总进度：{bar}").format(
            stage=_stage(compound), bar=progress_bar(compound.renovation_progress)
        ),
        "",
    ]
    builder = InlineKeyboardBuilder()
    for number, item in enumerate(items, 1):
        lines.append(
            _("{number}. {title}（{category}） {status} {progress}%").format(
                number=number,
                title=escape(item.title),
                category=taxonomy.get(item.category).name(user.language),
                status=_(PLAN_STATUS_LABELS[item.status]),
                progress=item.progress,
            )
        )
        builder.button(
            text=f"{number}. {cut(item.title, 14)} · {item.progress}%",
            callback_data=PlanCb(action="item", compound=id_of(compound), item=id_of(item)),
        )
    if not items:
        lines.append(_("还没有改造项目。"))
    lines += ["", _("点选项目修改状态和进度；居民在“🏘 小区改造”里马上就能看到。")]
    cid = id_of(compound)
    builder.button(text=_("阶段：{stage}").format(stage=_stage(compound)),
                   callback_data=PlanCb(action="stage", compound=cid))  # fmt: skip
    builder.button(
        text=_("总进度 −10%"), callback_data=PlanCb(action="cstep", compound=cid, value="-")
    )
    builder.button(
        text=_("总进度 +10%"), callback_data=PlanCb(action="cstep", compound=cid, value="+")
    )
    builder.button(text=_("➕ 新增项目"), callback_data=PlanCb(action="add", compound=cid))
    builder.adjust(*([1] * len(items)), 1, 2, 1)
    return "\n".join(lines), builder.as_markup()


async def item_card(
    *, session: AsyncSession, item: PlanItem, user: User
) -> tuple[str, InlineKeyboardMarkup]:
    compound = await session.get(Compound, item.compound_id)
    category = load_taxonomy().get(item.category).name(user.language)
    text = "\n".join(
        [
            _("<b>{title}</b>（{category}）").format(title=escape(item.title), category=category),
            _("{compound} · {status} {bar}").format(
                compound=escape(compound.name if compound else ""),
                status=_(PLAN_STATUS_LABELS[item.status]),
                bar=progress_bar(item.progress),
            ),
        ]
    )
    builder = InlineKeyboardBuilder()
    iid = id_of(item)
    for status in PlanItemStatus:
        mark = "• " if item.status == status else ""
        builder.button(
            text=mark + _(PLAN_STATUS_LABELS[status]),
            callback_data=PlanCb(action="status", item=iid, value=status),
        )
    builder.button(text="−10%", callback_data=PlanCb(action="step", item=iid, value="-"))
    builder.button(text="+10%", callback_data=PlanCb(action="step", item=iid, value="+"))
    builder.button(text=_("输入进度"), callback_data=PlanCb(action="setp", item=iid))
    builder.button(text=_("« 返回"), callback_data=PlanCb(action="show", compound=item.compound_id))
    builder.adjust(3, 3, 1)
    return text, builder.as_markup()


# --- entry points ---------------------------------------------------------------------------


@on_pick("plan")
async def show_compound(
    message: Message, *, compound_id: int, session: AsyncSession, user: User, **_data: Any
) -> None:
    try:
        compound = await compound_in_scope(session=session, user=user, compound_id=compound_id)
    except OutOfScope:
        await message.answer(refusal())
        return
    text, markup = await compound_card(session=session, compound=compound, user=user)
    await message.answer(text, reply_markup=markup)


async def not_staff(message: Message) -> None:
    await message.answer(_("抱歉，这个功能只对社区工作人员开放。"))


async def plan_command(
    message: Message, command: CommandObject, session: AsyncSession, user: User,
    state: FSMContext, **data: Any,
) -> None:  # fmt: skip
    query = (command.args or "").strip()
    if query:
        found = await search_in_scope(session=session, user=user, query=query, limit=2)
        if len(found) == 1:
            await show_compound(message, compound_id=found[0].id, session=session, user=user)
            return
    await open_plan(message, session=session, user=user, state=state, **data)


# --- buttons --------------------------------------------------------------------------------


async def _edit(query: CallbackQuery, card: tuple[str, InlineKeyboardMarkup]) -> None:
    await pressed_on(query).edit_text(card[0], reply_markup=card[1])


async def compound_pressed(
    query: CallbackQuery, callback_data: PlanCb, session: AsyncSession, user: User
) -> None:
    try:
        if callback_data.action == "cstep":
            step = STEP if callback_data.value == "+" else -STEP
            compound = await set_compound_progress(
                session=session, user=user, compound_id=callback_data.compound, step=step
            )
        elif callback_data.action == "stage_to":
            if callback_data.value not in RenovationStage.__members__:
                raise OutOfScope("no such stage")
            compound = await set_stage(
                session=session, user=user, compound_id=callback_data.compound,
                stage=RenovationStage(callback_data.value),
            )  # fmt: skip
        else:
            compound = await compound_in_scope(
                session=session, user=user, compound_id=callback_data.compound
            )
    except OutOfScope:
        await query.answer(refusal(), show_alert=True)
        return
    await session.commit()  # commit, then talk
    await query.answer()
    await _edit(query, await compound_card(session=session, compound=compound, user=user))


async def stage_pressed(
    query: CallbackQuery, callback_data: PlanCb, session: AsyncSession, user: User
) -> None:
    try:
        compound = await compound_in_scope(
            session=session, user=user, compound_id=callback_data.compound
        )
    except OutOfScope:
        await query.answer(refusal(), show_alert=True)
        return
    builder = InlineKeyboardBuilder()
    for stage in RenovationStage:
        mark = "• " if compound.renovation_stage == stage else ""
        builder.button(
            text=mark + _(STAGE_LABELS[stage]),
            callback_data=PlanCb(action="stage_to", compound=id_of(compound), value=stage),
        )
    builder.button(text=_("« 返回"), callback_data=PlanCb(action="show", compound=id_of(compound)))
    builder.adjust(1)
    await query.answer()
    await pressed_on(query).edit_text(
        _("{name} 现在处于哪个阶段？").format(name=escape(compound.name)),
        reply_markup=builder.as_markup(),
    )


async def item_pressed(
    query: CallbackQuery, callback_data: PlanCb, session: AsyncSession, user: User
) -> None:
    try:
        if callback_data.action == "status":
            if callback_data.value not in PlanItemStatus.__members__:
                raise OutOfScope("no such status")
            item = await update_item(
                session=session, user=user, item_id=callback_data.item,
                status=PlanItemStatus(callback_data.value),
            )  # fmt: skip
        elif callback_data.action == "step":
            step = STEP if callback_data.value == "+" else -STEP
            item = await update_item(session=session, user=user, item_id=callback_data.item,
                                     step=step)  # fmt: skip
        else:
            item = await item_in_scope(session=session, user=user, item_id=callback_data.item)
    except OutOfScope:
        await query.answer(refusal(), show_alert=True)
        return
    await session.commit()
    await query.answer()
    await _edit(query, await item_card(session=session, item=item, user=user))


async def set_progress_pressed(
    query: CallbackQuery, callback_data: PlanCb, session: AsyncSession, user: User,
    state: FSMContext,
) -> None:  # fmt: skip
    try:
        item = await item_in_scope(session=session, user=user, item_id=callback_data.item)
    except OutOfScope:
        await query.answer(refusal(), show_alert=True)
        return
    await state.set_state(PlanInput.progress)
    await state.update_data(plan_item=item.id)
    await query.answer()
    await pressed_on(query).answer(_("请输入进度（0–100 的整数，/cancel 取消）："))


async def progress_typed(
    message: Message, session: AsyncSession, user: User, state: FSMContext
) -> None:
    await leave_for_menu(message, state)
    raw = (message.text or "").strip().rstrip("%％")
    if not raw.isdigit() or not 0 <= int(raw) <= 100:
        await message.answer(_("请输入 0 到 100 之间的整数，例如 60。"))
        return
    item_id = (await state.get_data()).get("plan_item", 0)
    await state.set_state(None)
    try:
        item = await update_item(session=session, user=user, item_id=item_id, progress=int(raw))
    except OutOfScope:
        await message.answer(refusal())
        return
    await session.commit()
    text, markup = await item_card(session=session, item=item, user=user)
    await message.answer(text, reply_markup=markup)


async def add_pressed(
    query: CallbackQuery, callback_data: PlanCb, session: AsyncSession, user: User
) -> None:
    try:
        compound = await compound_in_scope(
            session=session, user=user, compound_id=callback_data.compound
        )
    except OutOfScope:
        await query.answer(refusal(), show_alert=True)
        return
    builder = InlineKeyboardBuilder()
    for category in load_taxonomy().categories:
        builder.button(
            text=category.name(user.language),
            callback_data=PlanCb(action="cat", compound=id_of(compound), value=category.id),
        )
    builder.button(text=_("« 返回"), callback_data=PlanCb(action="show", compound=id_of(compound)))
    builder.adjust(3)
    await query.answer()
    await pressed_on(query).answer(
        _("新增到 {name} 的项目属于哪一类？").format(name=escape(compound.name)),
        reply_markup=builder.as_markup(),
    )


async def category_pressed(
    query: CallbackQuery, callback_data: PlanCb, session: AsyncSession, user: User,
    state: FSMContext,
) -> None:  # fmt: skip
    try:
        await compound_in_scope(session=session, user=user, compound_id=callback_data.compound)
    except OutOfScope:
        await query.answer(refusal(), show_alert=True)
        return
    if callback_data.value not in load_taxonomy():
        await query.answer()
        return
    await state.set_state(PlanInput.title)
    await state.update_data(plan_compound=callback_data.compound, plan_category=callback_data.value)
    await query.answer()
    await pressed_on(query).answer(_("请输入项目名称，例如“更换单元门禁”（/cancel 取消）："))


async def title_typed(
    message: Message, session: AsyncSession, user: User, state: FSMContext
) -> None:
    await leave_for_menu(message, state)
    data = await state.get_data()
    try:
        item = await add_item(
            session=session, user=user, compound_id=data.get("plan_compound", 0),
            category=data.get("plan_category", ""), title=message.text or "",
        )  # fmt: skip
    except OutOfScope:
        await state.set_state(None)
        await message.answer(refusal())
        return
    except PlanItemInvalid as error:
        if error.reason == "duplicate":
            await message.answer(_("这个小区已经有同名的项目了，请换个名称。"))
        else:
            await message.answer(_("项目名称不能为空，最多 100 个字，请重新输入。"))
        return
    await state.set_state(None)
    await session.commit()
    compound = await session.get_one(Compound, item.compound_id)
    text, markup = await compound_card(session=session, compound=compound, user=user)
    await message.answer(_("已新增项目。") + "\n\n" + text, reply_markup=markup)


def router() -> Router:
    router = Router(name=__name__)
    router.message.filter(F.chat.type == "private")
    router.message.register(not_staff, Command("plan"), ~HasRole(Role.worker))
    router.message.register(plan_command, Command("plan"), HasRole(Role.worker))
    router.callback_query.register(
        compound_pressed, PlanCb.filter(F.action.in_({"show", "cstep", "stage_to"}))
    )
    router.callback_query.register(stage_pressed, PlanCb.filter(F.action == "stage"))
    router.callback_query.register(
        item_pressed, PlanCb.filter(F.action.in_({"item", "status", "step"}))
    )
    router.callback_query.register(set_progress_pressed, PlanCb.filter(F.action == "setp"))
    router.message.register(progress_typed, PlanInput.progress, F.text, ~F.text.startswith("/"))
    router.callback_query.register(add_pressed, PlanCb.filter(F.action == "add"))
    router.callback_query.register(category_pressed, PlanCb.filter(F.action == "cat"))
    router.message.register(title_typed, PlanInput.title, F.text, ~F.text.startswith("/"))
    return router
