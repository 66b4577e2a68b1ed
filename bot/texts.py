"""Labels shown to people that are not sentences in a handler: statuses and menu items, and
the sentences several handlers share. Labels are message ids (marked with N_ for extraction),
translated where shown; the taxonomy's own names come from nlu/taxonomy.yml."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from bot.i18n import N_, _
from models.limits import TooLong
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

# Main menu (reply keyboard). Handlers match these exact labels in both languages.
MENU_REPORT = N_("📝 我要反映")
MENU_MY_TICKETS = N_("📋 我的诉求")
MENU_BOARD = N_("🏘 小区改造")
MENU_NOTICES = N_("📢 社区公告")
MENU_SETTINGS = N_("⚙️ 设置")


def local_time(moment: datetime, tz: ZoneInfo) -> str:
    """How times are shown: Asia/Shanghai wall clock, minutes."""
    return moment.astimezone(tz).strftime("%Y-%m-%d %H:%M")


def too_long(error: TooLong) -> str:
    """The answer to text longer than where it is kept; the person stays in the same step."""
    return _(
        "抱歉，这里最多只能写 {limit} 个字，您写了 {length} 个字。请简短一些再发一次"
        "（发送 /cancel 取消）。"
    ).format(limit=error.limit, length=error.length)
