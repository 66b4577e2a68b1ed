"""The monthly report (月通报) rendered for one reader: the message text, the chart (PNG,
matplotlib with the Noto CJK font) and the workbook (Excel, openpyxl). The one renderer: the
outbox templates (bot/messages.py, for the scheduled report) and ``/report 2026-11``
(bot/handlers/staff/monthly_report.py) both call these functions.

Texts are in the reader's language: every function takes ``_`` (a gettext bound to that
language: ``Context._`` in the sender, aiogram's ``gettext`` in a handler) and ``language``
(for the taxonomy's category names)."""

from __future__ import annotations

import io
import threading
from collections.abc import Callable
from datetime import datetime
from html import escape
from pathlib import Path
from zoneinfo import ZoneInfo

from bot.texts import STATUS_LABELS
from models.report import MonthlyReport, Row
from models.stats import KPIs, Rate
from models.tables import TicketStatus
from nlu.taxonomy import load_taxonomy

Gettext = Callable[[str], str]

# Debian's fonts-noto-cjk (`make cjk-fonts`): matplotlib's default font has no Chinese glyphs.
CJK_FONT = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")
# Lines of each list in the message; the workbook has them all.
TEXT_ROWS = 15
TEXT_LIMIT = 4096  # Telegram's message length
_matplotlib_lock = threading.Lock()  # rcParams are global; renderings may run in threads
_fonts_added: set[Path] = set()


def month_title(report: MonthlyReport, *, _: Gettext) -> str:
    scope = report.district or _("全市")
    return _("{year}年{month}月 月通报 · {scope}").format(
        year=report.month.year, month=report.month.month, scope=scope
    )


def category_name(category: str, language: str) -> str:
    taxonomy = load_taxonomy()
    return taxonomy.get(category).name(language) if category in taxonomy else category


def file_stem(report: MonthlyReport) -> str:
    return f"diancai-{report.month}"


def _rates(kpis: KPIs, previous: KPIs, *, _: Gettext) -> str:
    return _("响应率 {response}（上月 {response_before}）· 解决率 {resolution}（上月 "
             "{resolution_before}）· 满意率 {satisfaction}（上月 {satisfaction_before}）").format(
        response=kpis.response.percent(), response_before=previous.response.percent(),
        resolution=kpis.resolution.percent(), resolution_before=previous.resolution.percent(),
        satisfaction=kpis.satisfaction.percent(),
        satisfaction_before=previous.satisfaction.percent(),
    )  # fmt: skip


def _row_line(name: str, row: Row, *, _: Gettext) -> str:
    return _("• {name}：{tickets} 件（上月 {tickets_before}）· 响应 {response}（{response_before}）"
             "· 解决 {resolution}（{resolution_before}）· 满意 {satisfaction}"
             "（{satisfaction_before}）").format(
        name=escape(name), tickets=row.kpis.tickets, tickets_before=row.previous.tickets,
        response=row.kpis.response.percent(), response_before=row.previous.response.percent(),
        resolution=row.kpis.resolution.percent(),
        resolution_before=row.previous.resolution.percent(),
        satisfaction=row.kpis.satisfaction.percent(),
        satisfaction_before=row.previous.satisfaction.percent(),
    )  # fmt: skip


def _more(shown: int, total: int, *, _: Gettext) -> list[str]:
    if total <= shown:
        return []
    return [_("……共 {total} 项，详见 Excel 附件").format(total=total)]


def report_text(report: MonthlyReport, *, _: Gettext, language: str, tz: ZoneInfo) -> str:
    """The message: totals beside last month, per compound and category, overdue, top demands."""
    lines = [f"📊 <b>{escape(month_title(report, _=_))}</b>"]
    if not report.has_data:
        lines += ["", _("本月没有新的诉求、回访评价，也没有超期件。")]
        return "\n".join(lines)
    lines += [
        _("诉求 {tickets} 件（上月 {tickets_before} 件）").format(
            tickets=report.total.tickets, tickets_before=report.previous_total.tickets
        ),
        _rates(report.total, report.previous_total, _=_),
        "",
        _("<b>各小区</b>"),
    ]
    lines += [_row_line(row.name, row, _=_) for row in report.compounds[:TEXT_ROWS]]
    lines += _more(TEXT_ROWS, len(report.compounds), _=_)
    lines += ["", _("<b>各类别</b>")]
    lines += [
        _row_line(category_name(row.key, language), row, _=_)
        for row in report.categories[:TEXT_ROWS]
    ]
    lines += _more(TEXT_ROWS, len(report.categories), _=_)
    lines += ["", _("<b>超期件</b>（{count} 件）").format(count=len(report.overdue))]
    if not report.overdue:
        lines.append(_("没有超期件。"))
    for late in report.overdue[:TEXT_ROWS]:
        due = _("应于 {time} 前受理") if late.late_response else _("应于 {time} 前办结")
        when = late.response_due_at if late.late_response else late.resolution_due_at
        lines.append(
            f"• {escape(late.reference)} {escape(late.compound)} · "
            f"{escape(category_name(late.category, language))} · "
            f"{_(STATUS_LABELS[TicketStatus(late.status)])} · "
            + due.format(time=when.astimezone(tz).strftime("%m-%d %H:%M"))
        )
    lines += _more(TEXT_ROWS, len(report.overdue), _=_)
    lines += ["", _("<b>居民点单前十</b>（反映和附议人次）")]
    if not report.top_demands:
        lines.append(_("本月没有新的诉求。"))
    for category, people in report.top_demands:
        lines.append(f"• {escape(category_name(category, language))}：{people}")
    if report.acceptance:
        lines += ["", _("<b>民意验收</b>（竣工后居民打分，1–5）")]
        for name, figures in report.acceptance:
            lines.append(
                _("• {compound}：{overall:.1f} 分（{answers} 人）").format(
                    compound=escape(name), overall=figures.overall or 0, answers=figures.answers
                )
            )
    text = "\n".join(lines)
    if len(text) > TEXT_LIMIT:  # a city-wide report of many compounds: the workbook has all
        text = text[: TEXT_LIMIT - 2].rsplit("\n", 1)[0] + "\n…"
    return text


def report_caption(report: MonthlyReport, *, _: Gettext, kind: str) -> str:
    title = month_title(report, _=_)
    return (
        _("{title} · 图表").format(title=title)
        if kind == "chart"
        else _("{title} · Excel 明细").format(title=title)
    )


# --- chart --------------------------------------------------------------------------------


def _percent(rate: Rate) -> float:
    return 0.0 if rate.value is None else rate.value * 100


def _font_family(font: Path) -> str:
    """Register ``font`` by its path (once) and name its family: matplotlib then draws with
    this very file rather than whatever font it finds for the name."""
    from matplotlib import font_manager

    if font not in _fonts_added:
        font_manager.fontManager.addfont(str(font))
        _fonts_added.add(font)
    return str(font_manager.FontProperties(fname=str(font)).get_name())


def chart_png(report: MonthlyReport, *, _: Gettext, language: str, font: Path = CJK_FONT) -> bytes:
    """Two panels: the three rates this month beside last month, and the top demands."""
    import matplotlib  # heavy: only loaded when a report is drawn

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    if not font.exists():
        raise FileNotFoundError(f"{font} is missing: run `make cjk-fonts` (fonts-noto-cjk)")
    with (
        _matplotlib_lock,
        matplotlib.rc_context({"font.family": [_font_family(font)], "axes.unicode_minus": False}),
    ):
        figure = Figure(figsize=(10, 4.8), dpi=110)
        rates_axes, demands_axes = figure.subplots(1, 2, width_ratios=(1, 1.2))
        figure.suptitle(month_title(report, _=_), fontsize=14)
        labels = [_("响应率"), _("解决率"), _("满意率")]
        now_values = [_percent(getattr(report.total, k)) for k in
                      ("response", "resolution", "satisfaction")]  # fmt: skip
        before_values = [_percent(getattr(report.previous_total, k)) for k in
                         ("response", "resolution", "satisfaction")]  # fmt: skip
        positions = range(len(labels))
        width = 0.38
        before_bars = rates_axes.bar([p - width / 2 for p in positions], before_values, width,
                                     label=_("上月"), color="#b0bec5")  # fmt: skip
        now_bars = rates_axes.bar([p + width / 2 for p in positions], now_values, width,
                                  label=_("本月"), color="#1e88e5")  # fmt: skip
        for bars, kpis in ((before_bars, report.previous_total), (now_bars, report.total)):
            rates = (kpis.response, kpis.resolution, kpis.satisfaction)
            rates_axes.bar_label(bars, labels=[r.percent() for r in rates], fontsize=9, padding=2)
        rates_axes.set_xticks(list(positions), labels)
        rates_axes.set_ylim(0, 128)
        rates_axes.set_ylabel("%")
        rates_axes.set_title(_("三率（本月与上月）"))
        rates_axes.legend(loc="upper center", ncols=2, fontsize=9, frameon=False)

        demands_axes.set_title(_("居民点单前十（人次）"))
        if report.top_demands:
            names = [category_name(c, language) for c, _n in report.top_demands][::-1]
            counts = [n for _c, n in report.top_demands][::-1]
            bars = demands_axes.barh(names, counts, color="#43a047")
            demands_axes.bar_label(bars, fontsize=9, padding=3)
            demands_axes.set_xlim(0, max(counts) * 1.2)
        else:
            demands_axes.set_axis_off()
            demands_axes.text(0.5, 0.5, _("本月没有新的诉求。"), ha="center", va="center",
                              transform=demands_axes.transAxes)  # fmt: skip
        if not report.has_data:
            rates_axes.text(1, 50, _("本月暂无数据"), ha="center", fontsize=16, color="#757575")
        figure.tight_layout()
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png")
    return buffer.getvalue()


# --- workbook -----------------------------------------------------------------------------


def _naive(moment: datetime, tz: ZoneInfo) -> datetime:
    """Excel has no time zones: local wall-clock time."""
    return moment.astimezone(tz).replace(tzinfo=None)


def workbook_xlsx(  # noqa: C901 - six sheets, written one after another
    report: MonthlyReport, *, _: Gettext, language: str, tz: ZoneInfo
) -> bytes:
    """Sheets: summary, per compound, per category, overdue, survey comments, 民意验收. Rates are
    numbers formatted as percentages (empty when there was nothing to count)."""
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.worksheet import Worksheet

    bold = Font(bold=True)
    workbook = Workbook()

    def sheet(title: str, headers: list[str], first: bool = False) -> Worksheet:
        ws = workbook.active if first else workbook.create_sheet()
        assert isinstance(ws, Worksheet)  # a new workbook's only sheet, or a new one
        ws.title = title
        ws.append(headers)
        for cell in ws[1]:
            cell.font = bold
        ws.freeze_panes = "A2"
        return ws

    def percent_cells(ws: Worksheet, row: int, columns: range) -> None:
        for column in columns:
            ws.cell(row=row, column=column).number_format = "0%"

    def widths(ws: Worksheet, sizes: list[int]) -> None:
        for i, size in enumerate(sizes, start=1):
            ws.column_dimensions[get_column_letter(i)].width = size

    # Summary
    summary = sheet(_("汇总"), [_("指标"), _("本月"), _("上月")], first=True)
    metrics = [
        (_("诉求件数"), report.total.tickets, report.previous_total.tickets, False),
        (_("响应率"), report.total.response.value, report.previous_total.response.value, True),
        (_("解决率"), report.total.resolution.value, report.previous_total.resolution.value,
         True),
        (_("满意率"), report.total.satisfaction.value,
         report.previous_total.satisfaction.value, True),
        (_("回访评价数"), report.total.satisfaction.denominator,
         report.previous_total.satisfaction.denominator, False),
        (_("超期件"), len(report.overdue), None, False),
    ]  # fmt: skip
    for label, now_value, before_value, is_rate in metrics:
        summary.append([label, now_value, before_value])
        if is_rate:
            percent_cells(summary, summary.max_row, range(2, 4))
    summary.append([])
    summary.append([month_title(report, _=_)])
    summary.append([_("生成时间"), _naive(report.generated_at, tz)])
    summary.cell(row=summary.max_row, column=2).number_format = "yyyy-mm-dd hh:mm"
    if not report.has_data:
        summary.append([_("本月没有新的诉求、回访评价，也没有超期件。")])
    summary.append([])
    summary.append([_("居民点单前十"), _("人次")])
    for cell in summary[summary.max_row]:
        cell.font = bold
    for category, people in report.top_demands:
        summary.append([category_name(category, language), people])
    widths(summary, [28, 18, 18])

    # Per compound and per category
    def table(title: str, first_header: str, rows: list[Row], name: Callable[[Row], str]) -> None:
        ws = sheet(title, [first_header, _("诉求件数"), _("响应率"), _("解决率"), _("满意率"),
                           _("上月诉求件数"), _("上月响应率"), _("上月解决率"),
                           _("上月满意率")])  # fmt: skip
        for row in rows:
            values: list[object] = [name(row)]
            for kpis in (row.kpis, row.previous):
                values += [kpis.tickets, kpis.response.value, kpis.resolution.value,
                           kpis.satisfaction.value]  # fmt: skip
            ws.append(values)
            percent_cells(ws, ws.max_row, range(3, 6))
            percent_cells(ws, ws.max_row, range(7, 10))
        widths(ws, [22, 10, 10, 10, 10, 12, 12, 12, 12])

    table(_("各小区"), _("小区"), report.compounds, lambda row: row.name)
    table(_("各类别"), _("类别"), report.categories,
          lambda row: category_name(row.key, language))  # fmt: skip

    # Overdue
    overdue = sheet(_("超期件"), [_("编号"), _("小区"), _("类别"), _("状态"), _("超期类型"),
                                  _("应受理时间"), _("应办结时间")])  # fmt: skip
    for late in report.overdue:
        overdue.append([
            late.reference, late.compound, category_name(late.category, language),
            _(STATUS_LABELS[TicketStatus(late.status)]),
            _("未按时受理") if late.late_response else _("未按时办结"),
            _naive(late.response_due_at, tz), _naive(late.resolution_due_at, tz),
        ])  # fmt: skip
        for column in (6, 7):
            overdue.cell(row=overdue.max_row, column=column).number_format = "yyyy-mm-dd hh:mm"
    widths(overdue, [12, 22, 14, 14, 14, 18, 18])

    # Survey comments
    comments = sheet(_("回访评价"), [_("时间"), _("小区"), _("类别"), _("评分"), _("评价")])
    for comment in report.comments:
        comments.append([
            _naive(comment.answered_at, tz), comment.compound,
            category_name(comment.category, language) if comment.category else _("民意验收"),
            comment.score, comment.text,
        ])  # fmt: skip
        comments.cell(row=comments.max_row, column=1).number_format = "yyyy-mm-dd hh:mm"
    widths(comments, [18, 22, 14, 8, 60])

    # 民意验收: the acceptance survey of completed compounds
    accepted = sheet(_("民意验收"), [_("小区"), _("整体评分"), _("答卷人数")])
    for name, figures in report.acceptance:
        overall = round(figures.overall, 2) if figures.overall is not None else None
        accepted.append([name, overall, figures.answers])
    widths(accepted, [22, 12, 12])

    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
