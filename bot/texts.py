"""Labels shown to people that are not sentences in a handler: statuses and menu items, and
the sentences several handlers share. Labels are message ids (marked with N_ for extraction),
translated where shown; the taxonomy's own names come from nlu/taxonomy.yml."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from bot.i18n import N_, _
from models.limits import TooLong
from models.tables import RenovationStage
from models.tables import TicketStatus as S

STATUS_LABELS = {
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


# A ticket's history: the event's action as people read it.
ACTION_LABELS = {
    "created": N_("提交"),
    "accepted": N_("受理"),
    "planned": N_("纳入改造计划"),
    "started": N_("开始处理"),
    "resolved": N_("办结"),
    "closed": N_("关闭"),
    "reopened": N_("重新打开"),
    "rejected": N_("不予采纳"),
    "withdrawn": N_("撤回"),
    "merged": N_("合并"),
    "commented": N_("补充说明"),
    "reminded": N_("催办"),
    "endorsed": N_("邻居附议"),
    "assigned": N_("派给专人"),
    "extended": N_("延期"),
    "replied": N_("回复"),
    "asked": N_("请居民补充"),
    "reclassified": N_("重新分类"),
}

# The compound's renovation (the board, the staff's plan, the progress notifications).
STAGE_LABELS = {
    RenovationStage.surveying: N_("征集居民需求"),
    RenovationStage.planning: N_("方案设计"),
    RenovationStage.construction: N_("施工中"),
    RenovationStage.completed: N_("已竣工"),
    RenovationStage.accepted: N_("已验收"),
}
PLAN_STATUS_LABELS = {"planned": N_("计划中"), "in_progress": N_("施工中"), "done": N_("已完成")}


def progress_bar(percent: int, width: int = 10) -> str:
    filled = round(percent / 100 * width)
    return "▓" * filled + "░" * (width - filled) + f" {percent}%"


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


def too_long(error: TooLong) -> str:
    """The answer to text longer than where it is kept; the person stays in the same step."""
    return _(
        "抱歉，这里最多只能写 {limit} 个字，您写了 {length} 个字。请简短一些再发一次"
        "（发送 /cancel 取消）。"
    ).format(limit=error.limit, length=error.length)
