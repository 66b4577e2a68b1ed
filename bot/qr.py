"""QR-code posters for notice boards: the compound's name in Chinese and its deep link.

python -m bot.qr --all --out var/qr          # every compound
python -m bot.qr hp01 sh01 --out var/qr      # some compounds
"""

from __future__ import annotations

import argparse
import asyncio
import io
import subprocess
from functools import cache
from pathlib import Path

import qrcode
from PIL import Image, ImageDraw, ImageFont

POSTER_SIZE = (1240, 1754)  # A4 at 150 dpi
FONT_CANDIDATES = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
)


class FontMissing(RuntimeError):
    pass


@cache
def cjk_font_path() -> str:
    for candidate in FONT_CANDIDATES:
        if Path(candidate).exists():
            return candidate
    found = subprocess.run(
        ["fc-match", "-f", "%{file}", "Noto Sans CJK SC:bold"], capture_output=True, text=True
    ).stdout
    if found and "CJK" in found:
        return found
    raise FontMissing("no CJK font found: install fonts-noto-cjk (make run does it)")


def deep_link(bot_username: str, compound_code: str) -> str:
    return f"https://t.me/{bot_username}?start=c_{compound_code}"


def poster_png(*, compound_name: str, district_name: str, link: str) -> bytes:
    width = POSTER_SIZE[0]
    image = Image.new("RGB", POSTER_SIZE, "white")
    draw = ImageDraw.Draw(image)
    font = cjk_font_path()

    def centered(text: str, y: int, size: int, fill: str = "#1f2937") -> None:
        face = ImageFont.truetype(font, size)
        left, _top, right, _bottom = draw.textbbox((0, 0), text, font=face)
        draw.text(((width - (right - left)) / 2, y), text, font=face, fill=fill)

    draw.rectangle((0, 0, width, 260), fill="#c0392b")
    centered("群众点菜 · 政府接单", 70, 84, fill="white")
    centered("老旧小区改造，您说了算", 175, 48, fill="#fde68a")
    centered(compound_name, 330, 96)
    centered(district_name, 460, 52, fill="#6b7280")
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=20, border=2)
    code.add_data(link)
    code.make(fit=True)
    qr_image = code.make_image(fill_color="black", back_color="white").convert("RGB")
    qr_image = qr_image.resize((760, 760), Image.Resampling.NEAREST)
    image.paste(qr_image, ((width - 760) // 2, 580))
    centered("用 Telegram 扫一扫", 1380, 44, fill="#6b7280")
    centered("扫码反映问题 · 查看改造进度 · 参与满意度评价", 1460, 46)
    centered("紧急情况请拨打 119 / 110 / 120", 1580, 44, fill="#c0392b")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


async def _main(args: argparse.Namespace) -> int:
    from bot.settings import load_settings_or_exit
    from models.db import make_engine, make_session_factory
    from models.registry import list_compounds
    from models.tables import District

    settings = load_settings_or_exit()
    engine = make_engine(settings.database_url)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240  (a command-line tool, once)
    async with make_session_factory(engine)() as session:
        compounds = await list_compounds(session=session)
        chosen = [c for c in compounds if args.all or c.code in args.codes]
        for compound in chosen:
            district = await session.get(District, compound.district_id)
            png = poster_png(
                compound_name=compound.name,
                district_name=district.name if district else "",
                link=deep_link(args.bot_username, compound.code),
            )
            (out / f"{compound.code}.png").write_bytes(png)
    await engine.dispose()
    print(f"{len(chosen)} posters written to {out}/")
    return 0 if chosen else 1


def main() -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bot.qr",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("codes", nargs="*", help="compound codes")
    parser.add_argument("--all", action="store_true", help="every compound")
    parser.add_argument("--out", default="var/qr")
    parser.add_argument("--bot-username", default="diancai_sandbox_bot")
    return asyncio.run(_main(parser.parse_args()))


if __name__ == "__main__":
    raise SystemExit(main())
