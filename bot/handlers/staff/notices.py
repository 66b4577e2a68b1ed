"""公告: staff compose, schedule, follow, recall and correct notices to residents.

Compose: audience → text → photo or document (optional) → kind → urgent (and 收到) → when →
preview (the exact message and the number of recipients) → 发布 / 修改 / 取消. The draft is a
typed model in FSM data; every button carries its token, so a button from an older screen
never acts. Every rule (scope, limits, states) lives in models/notices.py.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from html import escape
from typing import Any

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.keyboard import InlineKeyboardBuilder
from pydantic import BaseModel, Field
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.callbacks import pressed_on
from bot.filters import HasRole
from bot.i18n import _
from bot.notice_texts import (
    KINDS,
    ManageCb,
    NoticeAckCb,
    ack_markup,
    manage_markup,
    notice_text,
    report_text,
    snippet,
)
from bot.settings import Settings
from bot.texts import enumeration, local_time
from bot.when import parse_when
from models import notices
from models.db import id_of, utcnow
from models.notices import Audience, NoticeError
from models.outbox import quiet_hours_end
from models.tables import District, Notice, NoticeKind, NoticeState, Role, User
from models.users import worker_compound_ids
from nlu.taxonomy import load_taxonomy

DRAFT_KEY = "notice_draft"


class Compose(StatesGroup):
    audience = State()
    text = State()
    attachment = State()
    kind = State()
    urgent = State()
    when = State()
    preview = State()


class NoticeDraft(BaseModel):
    id: str = Field(default_factory=lambda: secrets.token_hex(3))
    revision: int = 0
    audience: Audience = Field(default_factory=Audience)
    text: str | None = None
    attachment: tuple[str, str] | None = None
    kind: NoticeKind = NoticeKind.general
    urgent: bool = False
    ask_ack: bool = False
    scheduled_at: datetime | None = None  # None: at once
    day_offset: int | None = None  # the date picker: a day was chosen, the hour not yet
    edit_of: int | None = None  # changing a scheduled notice (its version)
    edit_version: int | None = None
    correction_of: int | None = None
    back_to_preview: bool = False  # 修改 one part, then straight back to the preview

    @property
    def token(self) -> str:
        return f"{self.id}.{self.revision}"

    def new_screen(self) -> str:
        self.revision += 1
        return self.token


class NoticeCb(CallbackData, prefix="nc"):
    """A button of the compose flow: ``t`` the draft's token, ``a`` the action."""

    t: str
    a: str
    v: str = ""


async def _load(state: FSMContext) -> NoticeDraft | None:
    raw = (await state.get_data()).get(DRAFT_KEY)
    return NoticeDraft.model_validate(raw) if raw else None


async def _save(state: FSMContext, draft: NoticeDraft) -> None:
    await state.update_data({DRAFT_KEY: draft.model_dump(mode="json")})


def _button(b: InlineKeyboardBuilder, text: str, draft: NoticeDraft, a: str, v: str = "") -> None:
    b.button(text=text, callback_data=NoticeCb(t=draft.token, a=a, v=v))


def _cancel_row(b: InlineKeyboardBuilder, draft: NoticeDraft) -> None:
    _button(b, _("✖️ 取消"), draft, "cancel")


# --- entry points ---------------------------------------------------------------------------


async def not_staff(message: Message) -> None:
    await message.answer(_("抱歉，这个功能只对社区工作人员开放。"))


async def notice_command(
    message: Message, state: FSMContext, session: AsyncSession, user: User
) -> None:
    await start_compose(message, state=state, session=session, user=user)


async def start_compose(
    message: Message,
    *,
    state: FSMContext,
    session: AsyncSession,
    user: User,
    draft: NoticeDraft | None = None,
) -> None:
    draft = draft or NoticeDraft()
    if draft.audience.is_empty and draft.edit_of is None:
        scope = await worker_compound_ids(session=session, user=user)
        if len(scope) == 1:
            draft.audience.compound_ids = sorted(scope)
    await state.set_state(Compose.audience)
    await _show_audience(message, state=state, session=session, user=user, draft=draft, edit=False)


# --- audience --------------------------------------------------------------------------------


async def _audience_summary(*, session: AsyncSession, user: User, draft: NoticeDraft) -> str:
    a = draft.audience
    if a.everything:
        parts = [_("全市所有小区")]
    elif a.district_id is not None:
        district = await session.get(District, a.district_id)
        parts = [_("{name}全区").format(name=district.name if district else "")]
    else:
        names = await notices.names_of_compounds(session=session, compound_ids=a.compound_ids)
        parts = [enumeration(names) or _("（未选择）")]
    if a.buildings:
        parts.append(enumeration(b.replace("|", " ") for b in a.buildings))
    if a.category:
        parts.append(
            _("反映过【{category}】的居民").format(
                category=load_taxonomy().get(a.category).name(user.language)
            )
        )
    return " · ".join(parts)


async def _show_audience(
    message: Message,
    *,
    state: FSMContext,
    session: AsyncSession,
    user: User,
    draft: NoticeDraft,
    edit: bool,
) -> None:
    draft.new_screen()
    compounds = await notices.addressable_compounds(session=session, author=user)
    b = InlineKeyboardBuilder()
    a = draft.audience
    wide = a.everything or a.district_id is not None
    for compound in compounds[:24]:
        mark = "☑️" if compound.id in a.compound_ids and not wide else "⬜"
        _button(b, f"{mark} {compound.name}", draft, "cmp", str(compound.id))
    sizes = [1] * min(len(compounds), 24)
    role = Role(user.role)
    if role == Role.district_staff and user.district_id:
        mark = "☑️" if a.district_id == user.district_id else "⬜"
        _button(b, mark + " " + _("全区"), draft, "district", str(user.district_id))
        sizes.append(1)
    if role == Role.city_staff:
        _button(b, ("☑️ " if a.everything else "⬜ ") + _("全市所有小区"), draft, "city")
        sizes.append(1)
    _button(b, _("🏢 按楼栋/单元"), draft, "buildings")
    _button(b, _("🗂 按诉求类别"), draft, "categories")
    _button(b, _("下一步 ➡️"), draft, "next")
    _cancel_row(b, draft)
    b.adjust(*sizes, 2, 1, 1)
    text = _(
        "<b>发布公告 · 第 1 步：对象</b>\n请选择要通知的小区（可多选），"
        "也可以只发给某几栋楼或反映过某类问题的居民。\n\n已选：{summary}"
    ).format(summary=escape(await _audience_summary(session=session, user=user, draft=draft)))
    await _save(state, draft)
    await _render(message, text, b.as_markup(), edit=edit)


async def _render(
    message: Message, text: str, markup: InlineKeyboardMarkup | None, *, edit: bool
) -> None:
    if edit:
        await message.edit_text(text, reply_markup=markup)
    else:
        await message.answer(text, reply_markup=markup)


async def _draft_for(
    callback: CallbackQuery, callback_data: NoticeCb, state: FSMContext
) -> NoticeDraft | None:
    draft = await _load(state)
    if draft is None or callback_data.t != draft.token:
        await callback.answer(_("这个按钮已过期，请使用最新的消息。"), show_alert=True)
        return None
    return draft


async def cancel(callback: CallbackQuery, callback_data: NoticeCb, state: FSMContext) -> None:
    if await _draft_for(callback, callback_data, state) is None:
        return
    await state.clear()
    await callback.answer()
    await pressed_on(callback).edit_text(_("已取消，公告没有发出。"))


async def toggle_place(
    callback: CallbackQuery,
    callback_data: NoticeCb,
    state: FSMContext,
    session: AsyncSession,
    user: User,
) -> None:
    draft = await _draft_for(callback, callback_data, state)
    if draft is None:
        return
    a = draft.audience
    if callback_data.a == "cmp":
        compound_id = int(callback_data.v)
        if a.everything or a.district_id is not None:
            a.everything, a.district_id, a.compound_ids = False, None, []
        if compound_id in a.compound_ids:
            a.compound_ids.remove(compound_id)
        else:
            a.compound_ids.append(compound_id)
        if len(a.compound_ids) != 1:
            a.buildings = []
    elif callback_data.a == "district":
        a.district_id = None if a.district_id else int(callback_data.v)
        a.everything, a.compound_ids, a.buildings = False, [], []
    else:
        a.everything = not a.everything
        a.district_id, a.compound_ids, a.buildings = None, [], []
    await callback.answer()
    await _show_audience(
        pressed_on(callback), state=state, session=session, user=user, draft=draft, edit=True
    )


async def pick_buildings(
    callback: CallbackQuery, callback_data: NoticeCb, state: FSMContext, session: AsyncSession
) -> None:
    draft = await _draft_for(callback, callback_data, state)
    if draft is None:
        return
    a = draft.audience
    if len(a.compound_ids) != 1 or a.everything or a.district_id is not None:
        await callback.answer(_("请先只选一个小区，再按楼栋或单元选择。"), show_alert=True)
        return
    places = await notices.buildings_of(session=session, compound_id=a.compound_ids[0])
    if not places:
        await callback.answer(_("这个小区的居民还没有填写楼栋。"), show_alert=True)
        return
    await callback.answer()
    await _show_buildings(pressed_on(callback), state, draft, places)


async def _show_buildings(
    message: Message, state: FSMContext, draft: NoticeDraft, places: list[tuple[str, str | None]]
) -> None:
    draft.new_screen()
    b = InlineKeyboardBuilder()
    chosen = set(draft.audience.buildings)
    seen: set[str] = set()
    for building, unit in places:
        if building not in seen:
            seen.add(building)
            mark = "☑️" if building in chosen else "⬜"
            _button(b, f"{mark} {building}", draft, "bld", building)
        if unit:
            key = f"{building}|{unit}"
            mark = "☑️" if key in chosen or building in chosen else "⬜"
            _button(b, f"{mark} {building} {unit}", draft, "bld", key)
    _button(b, _("✔️ 完成"), draft, "audience")
    b.adjust(2)
    await _save(state, draft)
    await message.edit_text(
        _("选择楼栋或单元（可多选；不选则全小区）。"), reply_markup=b.as_markup()
    )


async def toggle_building(
    callback: CallbackQuery, callback_data: NoticeCb, state: FSMContext, session: AsyncSession
) -> None:
    draft = await _draft_for(callback, callback_data, state)
    if draft is None:
        return
    chosen = draft.audience.buildings
    chosen.remove(callback_data.v) if callback_data.v in chosen else chosen.append(callback_data.v)
    places = await notices.buildings_of(session=session, compound_id=draft.audience.compound_ids[0])
    await callback.answer()
    await _show_buildings(pressed_on(callback), state, draft, places)


async def pick_category(
    callback: CallbackQuery,
    callback_data: NoticeCb,
    state: FSMContext,
    session: AsyncSession,
    user: User,
) -> None:
    draft = await _draft_for(callback, callback_data, state)
    if draft is None:
        return
    try:
        compound_ids = await notices.check_scope(
            session=session, author=user, audience=draft.audience
        )
    except NoticeError:
        await callback.answer(_("请先选择小区。"), show_alert=True)
        return
    found = await notices.categories_of(session=session, compound_ids=compound_ids)
    if not found:
        await callback.answer(_("这些小区还没有居民反映过问题。"), show_alert=True)
        return
    draft.new_screen()
    taxonomy = load_taxonomy()
    b = InlineKeyboardBuilder()
    for category in found[:12]:
        mark = "☑️" if draft.audience.category == category else "⬜"
        _button(b, f"{mark} {taxonomy.get(category).name(user.language)}", draft, "cat", category)
    _button(b, _("不限类别"), draft, "cat", "")
    b.adjust(2)
    await _save(state, draft)
    await callback.answer()
    await pressed_on(callback).edit_text(
        _("只发给反映或附议过这类问题的居民："), reply_markup=b.as_markup()
    )


async def set_category(
    callback: CallbackQuery,
    callback_data: NoticeCb,
    state: FSMContext,
    session: AsyncSession,
    user: User,
) -> None:
    draft = await _draft_for(callback, callback_data, state)
    if draft is None:
        return
    draft.audience.category = callback_data.v or None
    await callback.answer()
    await _show_audience(
        pressed_on(callback), state=state, session=session, user=user, draft=draft, edit=True
    )


async def back_to_audience(
    callback: CallbackQuery,
    callback_data: NoticeCb,
    state: FSMContext,
    session: AsyncSession,
    user: User,
) -> None:
    draft = await _draft_for(callback, callback_data, state)
    if draft is None:
        return
    await callback.answer()
    await _show_audience(
        pressed_on(callback), state=state, session=session, user=user, draft=draft, edit=True
    )


async def audience_done(
    callback: CallbackQuery,
    callback_data: NoticeCb,
    state: FSMContext,
    session: AsyncSession,
    user: User,
    settings: Settings,
) -> None:
    draft = await _draft_for(callback, callback_data, state)
    if draft is None:
        return
    if draft.audience.is_empty:
        await callback.answer(_("请至少选择一个小区。"), show_alert=True)
        return
    try:
        reach = await notices.count_audience(
            session=session, author=user, audience=draft.audience, urgent=True
        )
    except NoticeError:
        await callback.answer(_("只能向您负责的小区发布公告。"), show_alert=True)
        return
    if reach.total == 0:
        await callback.answer(
            _("所选范围内没有登记的居民，公告不会发给任何人。请换一个对象。"), show_alert=True
        )
        return
    await callback.answer()
    message = pressed_on(callback)
    await message.edit_reply_markup(reply_markup=None)
    await _after_step(
        message, state=state, session=session, user=user, settings=settings, draft=draft,
        next_step=_ask_text,
    )  # fmt: skip


async def _after_step(
    message: Message,
    *,
    state: FSMContext,
    session: AsyncSession,
    user: User,
    settings: Settings,
    draft: NoticeDraft,
    next_step: Any,
) -> None:
    """Go on to ``next_step``, or back to the preview when only one part was being changed."""
    if draft.back_to_preview:
        await show_preview(
            message, state=state, session=session, user=user, settings=settings, draft=draft
        )
    else:
        await next_step(message, state, draft)


# --- text and attachment ---------------------------------------------------------------------


async def _ask_text(message: Message, state: FSMContext, draft: NoticeDraft) -> None:
    draft.new_screen()
    b = InlineKeyboardBuilder()
    _cancel_row(b, draft)
    await state.set_state(Compose.text)
    await _save(state, draft)
    await message.answer(
        _(
            "<b>第 2 步：内容</b>\n请发送公告内容，"
            "例如「明天 9:00–17:00 3号楼停水，请提前储水」。最多 {limit} 字。"
        ).format(limit=notices.MAX_TEXT),
        reply_markup=b.as_markup(),
    )


async def got_text(
    message: Message, state: FSMContext, session: AsyncSession, user: User, settings: Settings
) -> None:
    draft = await _load(state)
    if draft is None:
        await state.clear()
        return
    text = (message.text or "").strip()
    try:
        notices.check_text(text, with_attachment=draft.attachment is not None)
    except NoticeError as error:
        await message.answer(_too_long(error))
        return
    draft.text = text
    if draft.correction_of is not None:
        await show_preview(
            message, state=state, session=session, user=user, settings=settings, draft=draft
        )
        return
    await _after_step(
        message, state=state, session=session, user=user, settings=settings, draft=draft,
        next_step=_ask_attachment,
    )  # fmt: skip


def _too_long(error: NoticeError) -> str:
    if error.reason == "empty_text":
        return _("公告内容不能为空，请重新发送。")
    return _(
        "公告太长了：{length} 字，"
        "最多 {limit} 字（带照片或文件时为 {caption} 字）。请删减，或分成两条公告发送。"
    ).format(length=error.details["length"], limit=notices.MAX_TEXT, caption=notices.MAX_CAPTION)


async def text_expected(message: Message) -> None:
    await message.answer(_("请发送公告的文字内容，或点「取消」。"))


async def _ask_attachment(message: Message, state: FSMContext, draft: NoticeDraft) -> None:
    draft.new_screen()
    b = InlineKeyboardBuilder()
    if draft.attachment is not None:
        _button(b, _("🗑 去掉附件"), draft, "noattach")
    _button(b, _("不需要附件 ➡️"), draft, "kindstep")
    _cancel_row(b, draft)
    b.adjust(1)
    await state.set_state(Compose.attachment)
    await _save(state, draft)
    await message.answer(
        _(
            "<b>第 3 步：附件（可选）</b>\n"
            "可以发送一张照片或一个文件（如施工图、方案 PDF），也可以跳过。"
        ),
        reply_markup=b.as_markup(),
    )


async def got_attachment(
    message: Message, state: FSMContext, session: AsyncSession, user: User, settings: Settings
) -> None:
    draft = await _load(state)
    if draft is None:
        await state.clear()
        return
    try:
        notices.check_text(draft.text or "", with_attachment=True)
    except NoticeError as error:
        await message.answer(_too_long(error))
        return
    if message.photo:
        draft.attachment = ("photo", message.photo[-1].file_id)
    else:
        assert message.document is not None  # the handler's filter: a photo or a document
        draft.attachment = ("document", message.document.file_id)
    await _after_step(
        message, state=state, session=session, user=user, settings=settings, draft=draft,
        next_step=_ask_kind,
    )  # fmt: skip


async def attachment_expected(message: Message) -> None:
    await message.answer(_("请发送一张照片或一个文件，或点「不需要附件」。"))


async def skip_attachment(
    callback: CallbackQuery,
    callback_data: NoticeCb,
    state: FSMContext,
    session: AsyncSession,
    user: User,
    settings: Settings,
) -> None:
    draft = await _load(state)
    if draft is None or callback_data.t != draft.token:
        await callback.answer(_("这个按钮已过期，请使用最新的消息。"), show_alert=True)
        return
    if callback_data.a == "noattach":
        draft.attachment = None
    await callback.answer()
    message = pressed_on(callback)
    await message.edit_reply_markup(reply_markup=None)
    await _after_step(
        message, state=state, session=session, user=user, settings=settings, draft=draft,
        next_step=_ask_kind,
    )  # fmt: skip


# --- kind, urgency, time ---------------------------------------------------------------------


async def _ask_kind(message: Message, state: FSMContext, draft: NoticeDraft) -> None:
    draft.new_screen()
    b = InlineKeyboardBuilder()
    for kind, (icon, label) in KINDS.items():
        _button(b, f"{icon} {_(label)}", draft, "kind", kind.value)
    _cancel_row(b, draft)
    b.adjust(3, 2, 1)
    await state.set_state(Compose.kind)
    await _save(state, draft)
    await message.answer(_("<b>第 4 步：类型</b>"), reply_markup=b.as_markup())


async def got_kind(
    callback: CallbackQuery,
    callback_data: NoticeCb,
    state: FSMContext,
    session: AsyncSession,
    user: User,
    settings: Settings,
) -> None:
    draft = await _draft_for(callback, callback_data, state)
    if draft is None:
        return
    draft.kind = NoticeKind(callback_data.v)
    draft.ask_ack = draft.kind.may_ask_ack
    await callback.answer()
    message = pressed_on(callback)
    await message.edit_text(
        _("类型：{kind}").format(kind=f"{KINDS[draft.kind][0]} {_(KINDS[draft.kind][1])}")
    )
    await _after_step(
        message, state=state, session=session, user=user, settings=settings, draft=draft,
        next_step=_ask_urgent,
    )  # fmt: skip


async def _ask_urgent(
    message: Message, state: FSMContext, draft: NoticeDraft, *, edit: bool = False
) -> None:
    draft.new_screen()
    b = InlineKeyboardBuilder()
    _button(b, _("🔴 紧急"), draft, "urgent", "1")
    _button(b, _("普通"), draft, "urgent", "0")
    if draft.kind.may_ask_ack:
        label = _("☑️ 附「收到」按钮") if draft.ask_ack else _("⬜ 附「收到」按钮")
        _button(b, label, draft, "ack")
    _cancel_row(b, draft)
    b.adjust(2, 1, 1)
    await state.set_state(Compose.urgent)
    await _save(state, draft)
    await _render(
        message,
        _(
            "<b>第 5 步：是否紧急？</b>\n紧急公告在安静时段也立即发出，关闭了通知的居民也会收到。"
            "普通公告在安静时段等到时段结束再发。"
        ),
        b.as_markup(),
        edit=edit,
    )


async def toggle_ack(callback: CallbackQuery, callback_data: NoticeCb, state: FSMContext) -> None:
    draft = await _draft_for(callback, callback_data, state)
    if draft is None:
        return
    draft.ask_ack = not draft.ask_ack
    await callback.answer()
    await _ask_urgent(pressed_on(callback), state, draft, edit=True)


async def got_urgent(
    callback: CallbackQuery,
    callback_data: NoticeCb,
    state: FSMContext,
    session: AsyncSession,
    user: User,
    settings: Settings,
) -> None:
    draft = await _draft_for(callback, callback_data, state)
    if draft is None:
        return
    draft.urgent = callback_data.v == "1"
    await callback.answer()
    message = pressed_on(callback)
    await message.edit_text(_("紧急：{answer}").format(answer=_("是") if draft.urgent else _("否")))
    await _after_step(
        message, state=state, session=session, user=user, settings=settings, draft=draft,
        next_step=_ask_when,
    )  # fmt: skip


async def _ask_when(
    message: Message, state: FSMContext, draft: NoticeDraft, *, edit: bool = False
) -> None:
    draft.new_screen()
    b = InlineKeyboardBuilder()
    if draft.day_offset is None:
        _button(b, _("⚡ 立即发送"), draft, "now")
        for offset, label in ((0, _("今天")), (1, _("明天")), (2, _("后天"))):
            _button(b, label, draft, "day", str(offset))
        _cancel_row(b, draft)
        b.adjust(1, 3, 1)
    else:
        for hour in (7, 8, 9, 10, 12, 14, 16, 18, 20):
            _button(b, f"{hour:02d}:00", draft, "hour", str(hour))
        _button(b, _("⬅️ 换一天"), draft, "day", "")
        _cancel_row(b, draft)
        b.adjust(3, 3, 3, 1, 1)
    await state.set_state(Compose.when)
    await _save(state, draft)
    await _render(
        message,
        _(
            "<b>第 6 步：什么时候发送？</b>\n点按钮选择，或直接输入时间，"
            "如「明天 8:00」「12月3日 14:30」。时间为北京时间。"
        ),
        b.as_markup(),
        edit=edit,
    )


async def got_day(callback: CallbackQuery, callback_data: NoticeCb, state: FSMContext) -> None:
    draft = await _draft_for(callback, callback_data, state)
    if draft is None:
        return
    draft.day_offset = int(callback_data.v) if callback_data.v else None
    await callback.answer()
    await _ask_when(pressed_on(callback), state, draft, edit=True)


async def got_time(
    callback: CallbackQuery,
    callback_data: NoticeCb,
    state: FSMContext,
    session: AsyncSession,
    user: User,
    settings: Settings,
) -> None:
    draft = await _draft_for(callback, callback_data, state)
    if draft is None:
        return
    if callback_data.a == "now":
        when = None
    else:
        local = utcnow().astimezone(settings.tz)
        day = local.date() + timedelta(days=draft.day_offset or 0)
        when = datetime(day.year, day.month, day.day, int(callback_data.v), tzinfo=settings.tz)
        if when <= local:
            await callback.answer(_("这个时间已经过去了，请选择以后的时间。"), show_alert=True)
            return
    draft.scheduled_at, draft.day_offset = when, None
    await callback.answer()
    await pressed_on(callback).edit_reply_markup(reply_markup=None)
    await show_preview(
        pressed_on(callback), state=state, session=session, user=user, settings=settings,
        draft=draft,
    )  # fmt: skip


async def typed_time(
    message: Message, state: FSMContext, session: AsyncSession, user: User, settings: Settings
) -> None:
    draft = await _load(state)
    if draft is None:
        await state.clear()
        return
    local = utcnow().astimezone(settings.tz)
    when = parse_when(message.text or "", now=local)
    if when is None:
        await message.answer(
            _("没看懂这个时间。请写成「明天 8:00」「12月3日 14:30」这样，或点按钮选择。")
        )
        return
    if when <= local:
        await message.answer(_("这个时间已经过去了，请选择以后的时间。"))
        return
    draft.scheduled_at, draft.day_offset = when, None
    await show_preview(
        message, state=state, session=session, user=user, settings=settings, draft=draft
    )


# --- preview and publish -----------------------------------------------------------------------


async def show_preview(
    message: Message,
    *,
    state: FSMContext,
    session: AsyncSession,
    user: User,
    settings: Settings,
    draft: NoticeDraft,
) -> None:
    draft.back_to_preview = False
    await state.set_state(Compose.preview)
    scope = await notices.check_scope(session=session, author=user, audience=draft.audience)
    places = await notices.names_of_compounds(session=session, compound_ids=scope)
    original = None
    if draft.correction_of is not None:
        corrected = await session.get(Notice, draft.correction_of)
        original = snippet(corrected.text) if corrected else ""
    text = notice_text(
        _,
        kind=draft.kind,
        urgent=draft.urgent,
        text=draft.text or "",
        places=places,
        correction_of=original,
    )
    ack = ack_markup(_, 0) if draft.ask_ack else None
    bot = message.bot
    assert bot is not None
    if draft.attachment and draft.attachment[0] == "photo":
        await bot.send_photo(message.chat.id, draft.attachment[1], caption=text, reply_markup=ack)
    elif draft.attachment:
        await bot.send_document(
            message.chat.id, draft.attachment[1], caption=text, reply_markup=ack
        )
    else:
        await message.answer(text, reply_markup=ack)
    reach = await notices.count_audience(
        session=session, author=user, audience=draft.audience, urgent=draft.urgent
    )
    draft.new_screen()
    b = InlineKeyboardBuilder()
    when = local_time(draft.scheduled_at, settings.tz) if draft.scheduled_at else _("立即发送")
    lines = [
        _("👆 <b>预览</b>：居民将看到上面这条消息。"),
        _("对象：{summary}").format(
            summary=escape(await _audience_summary(session=session, user=user, draft=draft))
        ),
        _("发送时间：{when}").format(when=when),
    ]
    if held := _held_by_quiet_hours(draft, settings):
        lines.append(held)
    if reach.total == 0:
        lines.append(_("⚠️ 所选范围内没有居民，公告不会发给任何人。请修改对象或取消。"))
    else:
        lines.append(_("收件人：<b>{n}</b> 位居民").format(n=reach.pushed))
        if reach.opted_out:
            lines.append(
                _("另有 {n} 位关闭了通知，只在「社区公告」中看到").format(n=reach.opted_out)
            )
        if reach.blocked:
            lines.append(_("{n} 位已屏蔽机器人，将跳过").format(n=reach.blocked))
        _button(b, _("✅ 发布") if draft.edit_of is None else _("✅ 保存修改"), draft, "publish")
    _button(b, _("✏️ 修改"), draft, "change")
    _cancel_row(b, draft)
    b.adjust(1, 2)
    await _save(state, draft)
    await message.answer("\n".join(lines), reply_markup=b.as_markup())


def _held_by_quiet_hours(draft: NoticeDraft, settings: Settings) -> str | None:
    """What the preview says when a 普通 notice would start in quiet hours: the outbox holds it
    until they end (urgent ones go at once)."""
    if draft.urgent:
        return None
    start, end = settings.quiet_hours_start, settings.quiet_hours_end
    starts_at = draft.scheduled_at or utcnow()
    if quiet_hours_end(starts_at, start=start, end=end, tz=settings.tz) is None:
        return None
    hours = {"start": f"{start:%H:%M}", "end": f"{end:%H:%M}"}
    if draft.scheduled_at is None:
        return _("🌙 现在是安静时段（{start}–{end}），普通公告到 {end} 才发出。").format(**hours)
    return _("🌙 {when} 在安静时段（{start}–{end}）内，普通公告到 {end} 才发出。").format(
        when=local_time(draft.scheduled_at, settings.tz), **hours
    )


async def change(callback: CallbackQuery, callback_data: NoticeCb, state: FSMContext) -> None:
    draft = await _draft_for(callback, callback_data, state)
    if draft is None:
        return
    draft.new_screen()
    b = InlineKeyboardBuilder()
    parts = [
        ("audience", _("对象")),
        ("text", _("内容")),
        ("attach", _("附件")),
        ("kindpart", _("类型")),
        ("urgentpart", _("紧急")),
        ("when", _("时间")),
    ]
    if draft.correction_of is not None:
        parts = [("text", _("内容")), ("urgentpart", _("紧急"))]
    for action, label in parts:
        _button(b, label, draft, "part", action)
    _cancel_row(b, draft)
    b.adjust(3, 3, 1)
    await _save(state, draft)
    await callback.answer()
    await pressed_on(callback).edit_text(_("要修改哪一项？"), reply_markup=b.as_markup())


async def change_part(
    callback: CallbackQuery,
    callback_data: NoticeCb,
    state: FSMContext,
    session: AsyncSession,
    user: User,
) -> None:
    draft = await _draft_for(callback, callback_data, state)
    if draft is None:
        return
    draft.back_to_preview = True
    await callback.answer()
    message = pressed_on(callback)
    await message.edit_reply_markup(reply_markup=None)
    if callback_data.v == "audience":
        await state.set_state(Compose.audience)
        await _show_audience(
            message, state=state, session=session, user=user, draft=draft, edit=False
        )
    elif callback_data.v == "text":
        await _ask_text(message, state, draft)
    elif callback_data.v == "attach":
        await _ask_attachment(message, state, draft)
    elif callback_data.v == "kindpart":
        await _ask_kind(message, state, draft)
    elif callback_data.v == "urgentpart":
        await _ask_urgent(message, state, draft)
    else:
        await _ask_when(message, state, draft)


async def publish(
    callback: CallbackQuery,
    callback_data: NoticeCb,
    state: FSMContext,
    session: AsyncSession,
    user: User,
    settings: Settings,
) -> None:
    draft = await _draft_for(callback, callback_data, state)
    if draft is None:
        return
    message = pressed_on(callback)
    fields: dict[str, Any] = dict(
        text=draft.text or "",
        kind=draft.kind,
        urgent=draft.urgent,
        ask_ack=draft.ask_ack,
        scheduled_at=draft.scheduled_at,
        attachment=draft.attachment,
        audience=draft.audience,
    )
    try:
        if draft.edit_of is not None:
            notice = await notices.edit_scheduled(
                session=session,
                author=user,
                notice_id=draft.edit_of,
                version=draft.edit_version or 0,
                **fields,
            )
        else:
            original = (
                await session.get(Notice, draft.correction_of) if draft.correction_of else None
            )
            notice = await notices.create_notice(
                session=session, author=user, correction_of=original, **fields
            )
    except NoticeError as error:
        await callback.answer(_error_text(error), show_alert=True)
        return
    notice.report_chat_id, notice.report_message_id = message.chat.id, message.message_id
    await session.commit()  # commit, then talk
    await state.clear()
    await callback.answer(_("已发布") if draft.edit_of is None else _("已保存"))
    await message.edit_text(
        await notice_report(session=session, notice=notice, settings=settings),
        reply_markup=manage_markup(_, notice),
    )


def _error_text(error: NoticeError) -> str:
    return {
        "scope": _("只能向您负责的小区发布公告。"),
        "empty_audience": _("所选范围内没有居民，公告不会发给任何人。请修改对象。"),
        "too_long": _("公告太长了，请删减后再发。"),
        "empty_text": _("公告内容不能为空。"),
        "in_the_past": _("这个时间已经过去了，请修改发送时间。"),
        "started": _("公告已经开始发送，不能再修改或取消。"),
        "changed": _("公告刚被修改过，请重新打开。"),
        "not_sent": _("公告还没有发出。"),
        "already_recalled": _("公告已经撤回了。"),
        "too_old": _("发出超过 48 小时的公告不能撤回（Telegram 的限制），可以发一条更正。"),
        "not_yours": _("只能管理您自己发布的公告。"),
        "not_staff": _("抱歉，这个功能只对社区工作人员开放。"),
    }.get(error.reason, _("操作失败，请重试。"))


# --- the report and after sending ------------------------------------------------------------


async def notice_report(*, session: AsyncSession, notice: Notice, settings: Settings) -> str:
    # A scheduled notice always has its time (create_notice sets it).
    if notice.state == NoticeState.scheduled and notice.scheduled_at is not None:
        if notice.scheduled_at <= utcnow():
            return _("📤 公告 #{id} 马上开始发送…\n「{text}」").format(
                id=notice.id, text=escape(snippet(notice.text, 30))
            )
        return _(
            "🕒 公告 #{id} 已预约，将于 {when} 发送。\n「{text}」\n发送前可以修改或取消。"
        ).format(
            id=notice.id,
            when=local_time(notice.scheduled_at, settings.tz),
            text=escape(snippet(notice.text, 30)),
        )
    current = await notices.progress(session=session, notice=notice)
    return report_text(_, notice, current)


async def new_from_menu(
    callback: CallbackQuery, state: FSMContext, session: AsyncSession, user: User
) -> None:
    await callback.answer()
    await start_compose(pressed_on(callback), state=state, session=session, user=user)


async def manage(
    callback: CallbackQuery,
    callback_data: ManageCb,
    state: FSMContext,
    session: AsyncSession,
    user: User,
    settings: Settings,
) -> None:
    notice = await session.get(Notice, callback_data.id)
    if notice is None or (notice.author_id != user.id and user.role != Role.city_staff):
        await callback.answer(_("只能管理您自己发布的公告。"), show_alert=True)
        return
    message = pressed_on(callback)
    action = callback_data.a
    if action != "view" and callback_data.v != notice.version:
        await callback.answer(_("公告的状态已经变了，这是最新的情况。"), show_alert=True)
        await _show_report(message, session=session, notice=notice, settings=settings)
        return
    try:
        if action == "view":
            await callback.answer()
            await _show_report(message, session=session, notice=notice, settings=settings)
        elif action == "cancel":
            await notices.cancel_notice(session=session, author=user, notice_id=id_of(notice))
            await session.commit()
            await callback.answer(_("已取消发送"))
            await message.edit_text(_("🚫 公告 #{id} 已取消，不会发出。").format(id=notice.id))
        elif action == "recall":
            b = InlineKeyboardBuilder()
            b.button(
                text=_("↩️ 确认撤回"),
                callback_data=ManageCb(id=id_of(notice), a="recall_ok", v=notice.version),
            )
            b.button(text=_("返回"), callback_data=ManageCb(id=id_of(notice), a="view"))
            await callback.answer()
            await message.edit_text(
                _(
                    "确定撤回公告 #{id}？"
                    "已发出的消息会从居民的聊天中删除（48 小时内），还没发出的不再发送。"
                ).format(id=notice.id),
                reply_markup=b.as_markup(),
            )
        elif action == "recall_ok":
            await notices.recall_notice(session=session, author=user, notice_id=id_of(notice))
            notice.report_chat_id, notice.report_message_id = message.chat.id, message.message_id
            await session.commit()
            await callback.answer(_("正在撤回"))
            await _show_report(message, session=session, notice=notice, settings=settings)
        elif action == "correct":
            draft = NoticeDraft(
                audience=Audience.model_validate(notice.audience_spec),
                kind=NoticeKind(notice.kind),
                urgent=notice.urgent,
                ask_ack=notice.ask_ack,
                correction_of=notice.id,
            )
            await callback.answer()
            await message.answer(
                _(
                    "📝 更正公告 #{id}「{text}」：更正会发给原公告的对象，并注明更正的是哪条。"
                ).format(id=notice.id, text=escape(snippet(notice.text, 30)))
            )
            await _ask_text(message, state, draft)
        elif action == "edit":
            draft = NoticeDraft(
                audience=Audience.model_validate(notice.audience_spec),
                text=notice.text,
                kind=NoticeKind(notice.kind),
                urgent=notice.urgent,
                ask_ack=notice.ask_ack,
                scheduled_at=notice.scheduled_at,
                edit_of=notice.id,
                edit_version=notice.version,
                attachment=(notice.attachment_kind, notice.attachment_file_id)
                if notice.attachment_kind and notice.attachment_file_id
                else None,
            )
            await callback.answer()
            await show_preview(
                message, state=state, session=session, user=user, settings=settings, draft=draft
            )
        elif action == "knock":
            await callback.answer()
            await message.answer(await _knock_list(session, notice))
    except NoticeError as error:
        await callback.answer(_error_text(error), show_alert=True)


async def _show_report(
    message: Message, *, session: AsyncSession, notice: Notice, settings: Settings
) -> None:
    text = await notice_report(session=session, notice=notice, settings=settings)
    if message.text == text:
        return
    await message.edit_text(text, reply_markup=manage_markup(_, notice))


async def _knock_list(session: AsyncSession, notice: Notice) -> str:
    rows = await notices.unacknowledged(session=session, notice=notice)
    if not rows:
        return _("公告 #{id}：收到消息的居民都已确认。").format(id=notice.id)
    lines = [_("🚪 公告 #{id} 未点「收到」的住户：").format(id=notice.id)]
    for compound, building, unit, count in rows[:40]:
        place = " ".join(p for p in (compound, building, unit) if p)
        if not building:
            place += " " + _("（未填楼栋）")
        lines.append(_("• {place}：{n} 户").format(place=escape(place), n=count))
    return "\n".join(lines)


# --- residents: 收到 ---------------------------------------------------------------------------


async def acknowledge(
    callback: CallbackQuery, callback_data: NoticeAckCb, session: AsyncSession, user: User
) -> None:
    notice_id = callback_data.id
    if notice_id == 0:
        await callback.answer(_("这是预览，居民点这里表示收到。"), show_alert=True)
        return
    new = await notices.acknowledge(session=session, notice_id=notice_id, user=user)
    await session.commit()
    if not new:
        await callback.answer(_("您已经确认过了。"))
        return
    await callback.answer()
    if isinstance(callback.message, Message):  # not a recalled (deleted) notice
        await callback.message.edit_reply_markup(
            reply_markup=ack_markup(_, notice_id, acknowledged=True)
        )


def router() -> Router:
    router = Router(name=__name__)
    router.message.filter(F.chat.type == "private")
    router.message.register(not_staff, Command("notice"), ~HasRole(Role.worker))
    router.message.register(notice_command, Command("notice"), HasRole(Role.worker))
    router.callback_query.register(cancel, NoticeCb.filter(F.a == "cancel"))
    router.callback_query.register(
        toggle_place, NoticeCb.filter(F.a.in_({"cmp", "district", "city"}))
    )
    router.callback_query.register(pick_buildings, NoticeCb.filter(F.a == "buildings"))
    router.callback_query.register(toggle_building, NoticeCb.filter(F.a == "bld"))
    router.callback_query.register(pick_category, NoticeCb.filter(F.a == "categories"))
    router.callback_query.register(set_category, NoticeCb.filter(F.a == "cat"))
    router.callback_query.register(back_to_audience, NoticeCb.filter(F.a == "audience"))
    router.callback_query.register(audience_done, NoticeCb.filter(F.a == "next"))
    router.message.register(got_text, Compose.text, F.text & ~F.text.startswith("/"))
    router.message.register(text_expected, Compose.text)
    router.message.register(got_attachment, Compose.attachment, F.photo | F.document)
    router.message.register(attachment_expected, Compose.attachment)
    router.callback_query.register(
        skip_attachment, NoticeCb.filter(F.a.in_({"kindstep", "noattach"}))
    )
    router.callback_query.register(got_kind, NoticeCb.filter(F.a == "kind"))
    router.callback_query.register(toggle_ack, NoticeCb.filter(F.a == "ack"))
    router.callback_query.register(got_urgent, NoticeCb.filter(F.a == "urgent"))
    router.callback_query.register(got_day, NoticeCb.filter(F.a == "day"))
    router.callback_query.register(got_time, NoticeCb.filter(F.a.in_({"now", "hour"})))
    router.message.register(typed_time, Compose.when, F.text & ~F.text.startswith("/"))
    router.callback_query.register(change, NoticeCb.filter(F.a == "change"))
    router.callback_query.register(change_part, NoticeCb.filter(F.a == "part"))
    router.callback_query.register(publish, NoticeCb.filter(F.a == "publish"))
    router.callback_query.register(
        new_from_menu, ManageCb.filter(F.a == "new"), HasRole(Role.worker)
    )
    router.callback_query.register(manage, ManageCb.filter(), HasRole(Role.worker))
    router.callback_query.register(acknowledge, NoticeAckCb.filter())
    return router
