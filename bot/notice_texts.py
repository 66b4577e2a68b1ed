"""How a notice looks: to residents (the outbox template and the author's preview, the same
function) and to its author (the live delivery report)."""

from __future__ import annotations

from collections.abc import Callable
from html import escape
from typing import TYPE_CHECKING

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.i18n import N_
from bot.texts import bar, enumeration
from models.db import id_of
from models.notices import Progress, compound_names
from models.privacy import cut
from models.tables import Notice, NoticeKind, NoticeState

if TYPE_CHECKING:
    from bot.messages import Context, Rendered

KINDS: dict[NoticeKind, tuple[str, str]] = {
    NoticeKind.outage: ("🚱", N_("停水停电")),
    NoticeKind.construction: ("🚧", N_("施工")),
    NoticeKind.event: ("🎉", N_("活动")),
    NoticeKind.consultation: ("🗳", N_("征求意见")),
    NoticeKind.general: ("📢", N_("一般")),
}


class NoticeAckCb(CallbackData, prefix="nack"):
    """A resident's 收到 under a notice."""

    id: int


class ManageCb(CallbackData, prefix="nm"):
    """A button on a notice's report: ``v`` is the notice version it was shown for."""

    id: int
    a: str
    v: int = 0


def kind_icon(kind: str) -> str:
    return KINDS.get(NoticeKind(kind), KINDS[NoticeKind.general])[0]


def notice_text(
    _: Callable[[str], str],
    *,
    kind: str,
    urgent: bool,
    text: str,
    places: list[str],
    correction_of: str | None = None,
) -> str:
    """The message residents receive. ``correction_of``: the corrected notice's first words."""
    icon, label = KINDS[NoticeKind(kind)]
    head = f"{icon} <b>{_('社区公告')} · {_(label)}</b>"
    if urgent:
        head += " " + _("🔴 紧急")
    lines = [head]
    if correction_of is not None:
        lines.append(
            _("📝 <b>更正</b>：此前公告「{original}」有误，以本条为准。").format(
                original=escape(correction_of)
            )
        )
    lines.append(escape(text))
    if places:
        shown = enumeration(places[:3], gettext=_) + ("…" if len(places) > 3 else "")
        lines.append("— " + escape(shown))
    return "\n".join(lines)


def ack_markup(
    _: Callable[[str], str], notice_id: int, *, acknowledged: bool = False
) -> InlineKeyboardMarkup:
    """The 收到 button; once tapped it stays on the notice, saying so: a toast would be gone
    before an elderly resident has read it, and a button that just vanished says nothing."""
    builder = InlineKeyboardBuilder()
    label = _("☑️ 已确认收到") if acknowledged else _("✅ 收到")
    builder.button(text=label, callback_data=NoticeAckCb(id=notice_id))
    return builder.as_markup()


def snippet(text: str, length: int = 20) -> str:
    """The start of a notice on one line (staff wrote it: nothing to mask)."""
    return cut(" ".join(text.split()), length)


async def render_notice(ctx: Context, notice: Notice) -> Rendered:
    """The outbox template ``notice`` (bot/messages.py) for a notice row."""
    from bot.messages import Rendered

    original = None
    if notice.correction_of_id is not None:
        corrected = await ctx.session.get(Notice, notice.correction_of_id)
        original = snippet(corrected.text) if corrected else ""
    places = await compound_names(session=ctx.session, notice_id=id_of(notice))
    text = notice_text(
        ctx._,
        kind=notice.kind,
        urgent=notice.urgent,
        text=notice.text,
        places=places,
        correction_of=original,
    )
    return Rendered(
        text,
        reply_markup=ack_markup(ctx._, id_of(notice)) if notice.ask_ack else None,
        photo=notice.attachment_file_id if notice.attachment_kind == "photo" else None,
        document=notice.attachment_file_id if notice.attachment_kind == "document" else None,
    )


def progress_bar(done: int, total: int, width: int = 12) -> str:
    return bar(done / total if total else 1.0, width)


def report_text(_: Callable[[str], str], notice: Notice, progress: Progress) -> str:
    """The author's report: a progress bar while sending, then the final summary."""
    head = {
        NoticeState.sending: _("📤 公告发送中…"),
        NoticeState.sent: _("✅ 公告已发送完毕"),
        NoticeState.cancelled: _("🚫 公告已取消"),
    }.get(NoticeState(notice.state), _("🕒 公告已预约"))
    if notice.recalled_at is not None:
        head = _("↩️ 公告已撤回（已从 {n} 位居民的聊天中删除）").format(n=progress.recalled)
    lines = [
        f"{head} #{notice.id}",
        _("「{text}」").format(text=escape(snippet(notice.text, 30))),
        progress_bar(progress.delivered + progress.blocked + progress.failed, progress.pushed),
        _("已送达 {delivered:,} / {pushed:,} · 屏蔽 {blocked} · 失败 {failed}").format(
            delivered=progress.delivered,
            pushed=progress.pushed,
            blocked=progress.blocked,
            failed=progress.failed,
        ),
    ]
    if notice.opted_out:
        lines.append(_("{n} 位居民关闭了通知，只在「社区公告」中看到").format(n=notice.opted_out))
    if progress.waiting and notice.state == NoticeState.sending and not notice.urgent:
        lines.append(_("待发送 {n}（普通公告不在安静时段发出）").format(n=progress.waiting))
    if notice.ask_ack:
        lines.append(
            _("收到确认：{acks} / {delivered}").format(
                acks=progress.acks, delivered=progress.delivered
            )
        )
    return "\n".join(lines)


def manage_markup(tr: Callable[[str], str], notice: Notice) -> InlineKeyboardMarkup | None:
    """The buttons under a notice's report, for its state."""
    b = InlineKeyboardBuilder()
    v = notice.version

    def add(label: str, action: str) -> None:
        b.button(text=tr(label), callback_data=ManageCb(id=id_of(notice), a=action, v=v))

    if notice.state == NoticeState.scheduled:
        add(N_("✏️ 修改"), "edit")
        add(N_("🚫 取消发送"), "cancel")
    elif notice.state in (NoticeState.sending, NoticeState.sent) and notice.recalled_at is None:
        add(N_("🔄 刷新"), "view")
        if notice.ask_ack:
            add(N_("🚪 未确认住户"), "knock")
        add(N_("↩️ 撤回"), "recall")
        add(N_("📝 更正"), "correct")
    else:
        return None
    b.adjust(2)
    return b.as_markup()
