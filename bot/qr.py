"""QR-code posters for notice boards: the compound's name in Chinese and its deep link.

python -m bot.qr --all --out var/qr          # every compound
python -m bot.qr hp01 sh01 --out var/qr      # some compounds

The link names the bot behind TELEGRAM_BOT_TOKEN, as the Bot API's getMe reports it; without
a token, the bot of the running local sandbox (start it with `make run`).
"""

from __future__ import annotations

import argparse
import asyncio
import io
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

import qrcode
from PIL import Image, ImageDraw, ImageFont
from qrcode.image.pil import PilImage

if TYPE_CHECKING:
    from bot.settings import Settings

POSTER_SIZE = (1240, 1754)  # A4 at 150 dpi
FONT_CANDIDATES = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
)


class FontMissing(RuntimeError):
    pass


class BotUnknown(RuntimeError):
    """The Bot API could not tell us the bot's username."""


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
    qr_image = code.make_image(PilImage, fill_color="black", back_color="white").get_image()
    qr_image = qr_image.convert("RGB")
    qr_image = qr_image.resize((760, 760), Image.Resampling.NEAREST)
    image.paste(qr_image, ((width - 760) // 2, 580))
    centered("用 Telegram 扫一扫", 1380, 44, fill="#6b7280")
    centered("扫码反映问题 · 查看改造进度 · 参与满意度评价", 1460, 46)
    centered("紧急情况请拨打 119 / 110 / 120", 1580, 44, fill="#c0392b")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


async def bot_username(settings: Settings) -> str:
    """The username of the bot these settings run (getMe); the sandbox's bot without a token."""
    from aiogram.exceptions import TelegramAPIError

    from bot.app import create_bot

    where = "Telegram"
    if settings.uses_sandbox:
        settings, where = settings.for_sandbox(), f"the local sandbox ({settings.sandbox_api_url})"
    elif settings.telegram_api_base:
        where = settings.telegram_api_base
    assert settings.telegram_bot_token is not None
    bot = create_bot(settings, settings.telegram_bot_token.get_secret_value(), wait_on_flood=False)
    try:
        me = await bot.get_me()
    except (TelegramAPIError, OSError) as error:
        hint = (
            "start the bot with `make run` first"
            if where.startswith("the local sandbox")
            else "check TELEGRAM_BOT_TOKEN and TELEGRAM_API_BASE"
        )
        raise BotUnknown(f"getMe failed on {where}: {error}; {hint}") from error
    finally:
        await bot.session.close()
    if not me.username:
        raise BotUnknown(f"the bot on {where} has no username")
    return me.username


async def _main(args: argparse.Namespace) -> int:
    from bot.settings import load_settings_or_exit
    from models.db import make_engine, make_session_factory
    from models.registry import list_compounds
    from models.tables import District

    settings = load_settings_or_exit()
    try:
        username = await bot_username(settings)
    except BotUnknown as error:
        print(f"no posters written: {error}", file=sys.stderr)
        return 1
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
                link=deep_link(username, compound.code),
            )
            (out / f"{compound.code}.png").write_bytes(png)
    await engine.dispose()
    print(f"{len(chosen)} posters for @{username} written to {out}/")
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
    return asyncio.run(_main(parser.parse_args()))


if __name__ == "__main__":
    raise SystemExit(main())
