"""QR posters for notice boards: the compound's name and its deep link to the running bot."""

from __future__ import annotations

import asyncio
import io
import itertools
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import zxingcpp
from PIL import Image, ImageChops, ImageStat

import bot.qr
import sandbox.core
from bot.qr import POSTER_SIZE, deep_link, poster_png
from sandbox.app import SandboxServer
from tests.conftest import ROOT, free_port
from tests.harness import ADMIN, RESIDENT
from tests.mocked_bot import BOT_USER

# The bot's name as the (sandbox's) Bot API reports it: anything but the sandbox's usual name,
# so a link with a name written into the code cannot pass.
BOT_NAME = "shenyang_diancai_bot"
NAME = "南湖春晓小区"
NAME_BOX = (0, 300, POSTER_SIZE[0], 455)  # where the poster prints the compound's name
NO_CJK_FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"


def qr_links(png: bytes) -> list[str]:
    """What a phone's camera reads from the poster."""
    return [code.text for code in zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))]


def name_glyphs(png: bytes, count: int) -> list[Image.Image]:
    """The printed name cut into ``count`` equal cells (CJK glyphs, and tofu boxes, are all
    the same width), each trimmed to its ink and scaled to one size."""
    region = Image.open(io.BytesIO(png)).convert("L").crop(NAME_BOX)
    ink = region.point(lambda v: 255 if v < 128 else 0)
    left, top, right, bottom = ink.getbbox()
    width = (right - left) / count
    cells = [ink.crop((round(left + i * width), top, round(left + (i + 1) * width), bottom))
             for i in range(count)]  # fmt: skip
    return [cell.crop(cell.getbbox()).resize((32, 32)) for cell in cells]


def shows_distinct_characters(png: bytes, name: str) -> bool:
    """Different characters look different; tofu boxes for missing glyphs are all alike."""
    glyphs = dict(zip(name, name_glyphs(png, len(name)), strict=True))
    return all(
        ImageStat.Stat(ImageChops.difference(a, b)).mean[0] / 255 > 0.15
        for a, b in itertools.combinations(glyphs.values(), 2)
    )


def test_deep_link_carries_the_compound_code() -> None:
    assert deep_link("diancai_bot", "hp01") == "https://t.me/diancai_bot?start=c_hp01"


def test_poster_is_an_a4_png_whose_qr_code_reads_as_the_link() -> None:
    link = f"https://t.me/{BOT_NAME}?start=c_hp01"
    png = poster_png(compound_name=NAME, district_name="和平区", link=link)
    assert Image.open(io.BytesIO(png)).size == POSTER_SIZE
    assert qr_links(png) == [link]


def test_poster_prints_the_chinese_name_not_tofu(monkeypatch: pytest.MonkeyPatch) -> None:
    png = poster_png(compound_name=NAME, district_name="和平区", link="https://t.me/x?start=c_1")
    assert shows_distinct_characters(png, NAME)
    # The check itself: with a font that has no Chinese glyphs the name becomes boxes, and fails.
    if not Path(NO_CJK_FONT).exists():
        pytest.skip(f"{NO_CJK_FONT} missing: cannot show what tofu looks like")
    monkeypatch.setattr(bot.qr, "cjk_font_path", lambda: NO_CJK_FONT)
    tofu = poster_png(compound_name=NAME, district_name="和平区", link="https://t.me/x?start=c_1")
    assert not shows_distinct_characters(tofu, NAME)


@pytest.fixture
def registry_env(tmp_path: Path) -> dict[str, str]:
    """An environment with a database holding the demo registry, and no bot configured."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("TELEGRAM_BOT_TOKEN", "TELEGRAM_API_BASE")}  # fmt: skip
    env["DATABASE_URL"] = f"sqlite+aiosqlite:///{tmp_path / 'qr.db'}"
    for command in (["-m", "alembic", "upgrade", "head"],
                    ["-m", "models.registry", "import", "data/demo/compounds.csv"]):  # fmt: skip
        subprocess.run(
            [sys.executable, *command], env=env, cwd=ROOT, check=True, capture_output=True
        )
    return env


@pytest.fixture
async def bot_api(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[SandboxServer]:
    """A Bot API server (the sandbox) whose bot is called BOT_NAME."""
    monkeypatch.setattr(sandbox.core, "BOT_USERNAME", BOT_NAME)
    async with SandboxServer(api_port=0, web_port=None) as server:
        yield server


async def make_qr(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "bot.qr", *args]
    return await asyncio.to_thread(
        subprocess.run, command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=120
    )


async def test_posters_link_to_the_sandbox_bot_without_a_token(
    registry_env: dict[str, str], bot_api: SandboxServer, tmp_path: Path
) -> None:
    where = urlsplit(bot_api.api_url)
    env = registry_env | {"SANDBOX_HOST": where.hostname, "SANDBOX_API_PORT": str(where.port)}
    result = await make_qr(env, "hp01", "sh01", "--out", str(tmp_path / "qr"))
    assert result.returncode == 0, result.stderr
    posters = sorted((tmp_path / "qr").iterdir())
    assert [p.name for p in posters] == ["hp01.png", "sh01.png"]
    for poster, code in zip(posters, ["hp01", "sh01"], strict=True):
        assert qr_links(poster.read_bytes()) == [f"https://t.me/{BOT_NAME}?start=c_{code}"]


async def test_posters_link_to_the_bot_of_the_token(
    registry_env: dict[str, str], bot_api: SandboxServer, tmp_path: Path
) -> None:
    env = registry_env | {"TELEGRAM_BOT_TOKEN": "5550001:real-bot-token",
                          "TELEGRAM_API_BASE": bot_api.api_url}  # fmt: skip
    result = await make_qr(env, "hp01", "--out", str(tmp_path / "qr"))
    assert result.returncode == 0, result.stderr
    poster = (tmp_path / "qr" / "hp01.png").read_bytes()
    assert qr_links(poster) == [f"https://t.me/{BOT_NAME}?start=c_hp01"]
    assert shows_distinct_characters(poster, NAME)


async def test_no_posters_when_the_bot_cannot_be_asked(
    registry_env: dict[str, str], tmp_path: Path
) -> None:
    env = registry_env | {"SANDBOX_API_PORT": str(free_port())}  # no sandbox listens there
    result = await make_qr(env, "--all", "--out", str(tmp_path / "qr"))
    assert result.returncode == 1
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("no posters written: getMe failed on the local sandbox")
    assert "make run" in line and "Traceback" not in result.stderr
    assert not (tmp_path / "qr").exists() or not any((tmp_path / "qr").iterdir())


async def test_admin_gets_a_poster_from_the_bot(h) -> None:
    await h.send(ADMIN, "/qr hp01")
    [photo] = h.recorder.sent("SendPhoto")
    assert "南湖春晓小区" in photo.caption
    # the poster links to this bot (as getMe names it) and to this compound
    assert qr_links(photo.photo.data) == [f"https://t.me/{BOT_USER.username}?start=c_hp01"]
    assert await h.send(RESIDENT, "/qr hp01") == ["抱歉，这个功能只对社区工作人员开放。"]
    assert len(h.recorder.sent("SendPhoto")) == 1
