"""Makes the README's pictures of the monthly report from the test dataset
(tests/test_monthly_report.py, 和平区 in November 2026):

    .venv/bin/python docs/make_monthly_report_images.py

docs/monthly-report.png is the chart exactly as the bot sends it; docs/monthly-report-xlsx.png
draws the workbook's first two sheets, read back with openpyxl, as a grid (there is no
spreadsheet program on the build machines to take a screenshot with)."""

from __future__ import annotations

import asyncio
import io
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from openpyxl import load_workbook  # noqa: E402
from sqlmodel import SQLModel  # noqa: E402

from bot.report_files import _font_family, chart_png, workbook_xlsx  # noqa: E402
from models.db import make_engine, make_session_factory  # noqa: E402
from tests import test_monthly_report as dataset  # noqa: E402
from tests.conftest import load_demo_registry  # noqa: E402


def shown(cell: object) -> str:
    value = cell.value  # type: ignore[attr-defined]
    if value is None:
        return ""
    if cell.number_format == "0%" and isinstance(value, int | float):  # type: ignore[attr-defined]
        return f"{value:.0%}"
    if hasattr(value, "strftime"):
        return value.strftime("%Y-%m-%d %H:%M")
    return str(value)


def sheets_png(xlsx: bytes, names: list[str]) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    workbook = load_workbook(io.BytesIO(xlsx))
    tables, bold_rows = [], []
    for name in names:
        rows = [row for row in workbook[name].iter_rows() if any(c.value is not None for c in row)]
        tables.append([[shown(c) for c in row] for row in rows])
        bold_rows.append({i for i, row in enumerate(rows) if row[0].font and row[0].font.b})
    heights = [len(t) + 1.5 for t in tables]
    with matplotlib.rc_context({"font.family": [_font_family(dataset_font())]}):
        figure = Figure(figsize=(9, 0.26 * sum(heights)), dpi=110)
        axes = figure.subplots(len(tables), 1, height_ratios=heights)
        for ax, name, rows, bold in zip(axes, names, tables, bold_rows, strict=True):
            ax.set_axis_off()
            ax.set_title(f"{name}  ·  {' | '.join(workbook.sheetnames)}", loc="left",
                         fontsize=10, color="#37474f")  # fmt: skip
            width = max(len(r) for r in rows)
            rows = [r + [""] * (width - len(r)) for r in rows]
            table = ax.table(cellText=rows, bbox=(0, 0, 1, 1), cellLoc="left")
            table.auto_set_font_size(False)
            table.set_fontsize(9)
            for (row, _col), cell in table.get_celld().items():
                cell.set_edgecolor("#cfd8dc")
                if row in bold:
                    cell.set_facecolor("#e3f2fd")
                    cell.set_text_props(fontweight="bold")
            table.auto_set_column_width(list(range(width)))
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", bbox_inches="tight")
    return buffer.getvalue()


def dataset_font() -> Path:
    from bot.report_files import CJK_FONT

    return CJK_FONT


async def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite+aiosqlite:///{tmp}/report.db")
        async with engine.begin() as conn:
            await conn.run_sync(SQLModel.metadata.create_all)
        factory = make_session_factory(engine)
        await load_demo_registry(factory)
        await dataset.seed(factory, dataset.NOVEMBER)
        report = await dataset.november_report(factory, await dataset.heping_staff(factory))
        await engine.dispose()
    chart = chart_png(report, _=dataset._zh, language="zh")
    (ROOT / "docs" / "monthly-report.png").write_bytes(chart)
    xlsx = workbook_xlsx(report, _=dataset._zh, language="zh", tz=dataset.TZ)
    (ROOT / "docs" / "monthly-report-xlsx.png").write_bytes(sheets_png(xlsx, ["汇总", "各小区"]))


if __name__ == "__main__":
    asyncio.run(main())
