"""Labels shown to people that are not sentences in a handler: statuses and menu items, and
the sentences several handlers share. Labels are message ids (marked with N_ for extraction, NC_
where a context tells two English readings apart), translated where shown; the taxonomy's own
names come from nlu/taxonomy.yml."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from zoneinfo import ZoneInfo

from bot.i18n import N_, NC_, _, pgettext
from bot.settings import Settings
from models.limits import TooLong
from models.stats import KPIs
from models.surveys import NO_ANSWER_NOTE
from models.tables import RenovationStage
from models.tables import TicketStatus as S

STATUS_LABELS: dict[str, str] = {  # read with Ticket.status, a plain str
    S.new: N_("已提交"),
    S.accepted: N_("已受理"),
    S.planned: N_("已纳入改造计划"),
    S.in_progress: N_("处理中"),
    S.resolved: N_("已办结"),
    S.closed: N_("已关闭"),
    S.rejected: N_("不予采纳"),
    S.withdrawn: N_("已撤回"),
    S.merged: N_("已合并"),
}


def status_label(status: str) -> str:
    return _(STATUS_LABELS[S(status)])


# A ticket's history: the event's action as people read it, in the context "history" (the
# same words on a button are verbs: 受理 "Accept", here "Accepted").
HISTORY = "history"
ACTION_LABELS = {
    "created": NC_("history", "提交"),
    "accepted": NC_("history", "受理"),
    "planned": NC_("history", "纳入改造计划"),
    "started": NC_("history", "开始处理"),
    "resolved": NC_("history", "办结"),
    "closed": NC_("history", "关闭"),
    "reopened": NC_("history", "重新打开"),
    "rejected": NC_("history", "不予采纳"),
    "withdrawn": NC_("history", "撤回"),
    "merged": NC_("history", "合并"),
    "commented": NC_("history", "补充说明"),
    "reminded": NC_("history", "催办"),
    "endorsed": NC_("history", "邻居附议"),
    "assigned": NC_("history", "派给专人"),
    "extended": NC_("history", "延期"),
    "replied": NC_("history", "回复"),
    "asked": NC_("history", "请居民补充"),
    "reclassified": NC_("history", "重新分类"),
}
# Notes the system writes into a history (models/), shown in the reader's language.
SYSTEM_NOTES = {NO_ANSWER_NOTE: N_("未回复")}

# The compound's renovation (the board, the staff's plan, the progress notifications).
STAGE_LABELS = {
    RenovationStage.surveying: N_("征集居民需求"),
    RenovationStage.planning: N_("方案设计"),
    RenovationStage.construction: N_("施工中"),
    RenovationStage.completed: N_("已竣工"),
    RenovationStage.accepted: N_("已验收"),
}
PLAN_STATUS_LABELS = {"planned": N_("计划中"), "in_progress": N_("施工中"), "done": N_("已完成")}


# Main menu (reply keyboard). Handlers match these exact labels in both languages.
MENU_REPORT = N_("📝 我要反映")
MENU_MY_TICKETS = N_("📋 我的诉求")
MENU_BOARD = N_("🏘 小区改造")
MENU_NOTICES = N_("📢 社区公告")
MENU_SETTINGS = N_("⚙️ 设置")

# The staff's main menu (工作台).
STAFF_QUEUE = N_("📥 待办")
STAFF_SEARCH = N_("🔎 工单")
STAFF_NOTICES = N_("📢 公告")
STAFF_COMPOUNDS = N_("🏘 小区")
STAFF_STATS = N_("📊 统计")
STAFF_MENU = (STAFF_QUEUE, STAFF_SEARCH, STAFF_NOTICES, STAFF_COMPOUNDS, STAFF_STATS)


def local_time(moment: datetime, tz: ZoneInfo) -> str:
    """How times are shown: Asia/Shanghai wall clock, minutes."""
    return moment.astimezone(tz).strftime("%Y-%m-%d %H:%M")


# Progress bars: a full block for what is done, a lower one-eighth block for what is not.
# Shade characters (▓ ▒ ░) are drawn as diagonal hatching by Noto Sans CJK (Android's CJK font,
# and the first font of the sandbox web chat), and ▰ is missing there (another font, another
# width). █ and ▁ are both in Noto Sans CJK (1000 units wide, like a Chinese character) and in
# DejaVu Sans (1575 units each): the bar keeps its length at every percentage and reads as a
# solid bar on a thin empty track (checked in the web chat: 10 of either = 10 characters).
BAR_DONE, BAR_TODO = "█", "▁"


def bar(fraction: float, width: int) -> str:
    """``width`` blocks, the share ``fraction`` (0–1) of them filled."""
    filled = min(width, max(0, round(fraction * width)))
    return BAR_DONE * filled + BAR_TODO * (width - filled)


def progress_bar(percent: int, width: int = 10) -> str:
    return f"{bar(percent / 100, width)} {percent}%"


def kpi_legend(kpis: KPIs, settings: Settings) -> list[str]:
    """What the three rates mean, one plain line each (models/stats.py computes them)."""
    lines = [
        _(
            "响应率：反映后按时被社区受理的比例（紧急的 {hours} 小时内，其他 {days} 个工作日内）。"
        ).format(hours=f"{settings.response_hours_urgent:g}", days=settings.response_working_days),
        _("解决率：已办结的诉求占全部诉求的比例（撤回的、合并的不算）。"),
        _("满意率：回访时打 4 分或 5 分的占全部评价的比例（答“未解决”的算不满意）。"),
    ]
    if None in (kpis.response.value, kpis.resolution.value, kpis.satisfaction.value):
        lines.append(_("“—”表示还没有可以统计的诉求或评价。"))
    return lines


def history_entry(
    action: str, note: str | None, *, gettext: Callable[[str], str] = _,
    in_context: Callable[[str, str], str] = pgettext,
) -> str:  # fmt: skip
    """One event of a ticket's history as people read it: "Resolved: pipe cleared". ``note``
    comes escaped (and masked) as the view wants it; the system's own notes are translated."""
    label = ACTION_LABELS.get(action)
    label = in_context(HISTORY, label) if label else action
    if not note:
        return label
    note = gettext(SYSTEM_NOTES[note]) if note in SYSTEM_NOTES else note
    return gettext("{action}：{note}").format(action=label, note=note)


def enumeration(items: Iterable[str], *, gettext: Callable[[str], str] = _) -> str:
    """Names in a row, with the reader's language's separator (、 / ", ")."""
    return gettext("、").join(items)


def too_long(error: TooLong) -> str:
    """The answer to text longer than where it is kept; the person stays in the same step."""
    return _(
        "抱歉，这里最多只能写 {limit} 个字，您写了 {length} 个字。请简短一些再发一次"
        "（发送 /cancel 取消）。"
    ).format(limit=error.limit, length=error.length)
