"""QR posters for notice boards: the compound's name and its deep link."""

from __future__ import annotations

import io
import os
import subprocess
import sys

from PIL import Image

from bot.qr import POSTER_SIZE, deep_link, poster_png
from tests.conftest import ROOT
from tests.harness import ADMIN, RESIDENT


def test_deep_link_carries_the_compound_code() -> None:
    assert deep_link("diancai_bot", "hp01") == "https://t.me/diancai_bot?start=c_hp01"


def test_poster_is_an_a4_png_with_a_qr_code() -> None:
    png = poster_png(compound_name="南湖春晓小区", district_name="和平区",
                     link="https://t.me/x?start=c_hp01")  # fmt: skip
    image = Image.open(io.BytesIO(png)).convert("RGB")
    assert image.size == POSTER_SIZE
    # The QR code sits in the middle: a square of black and white modules.
    middle = image.crop((300, 600, 940, 1320))
    colours = {middle.getpixel((x, y)) for x in range(0, 640, 8) for y in range(0, 720, 8)}
    assert (0, 0, 0) in colours and (255, 255, 255) in colours


def test_command_writes_one_poster_per_compound(tmp_path) -> None:
    env = {**os.environ, "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'qr.db'}"}
    for command in (["-m", "alembic", "upgrade", "head"],
                    ["-m", "models.registry", "import", "data/demo/compounds.csv"]):  # fmt: skip
        subprocess.run(
            [sys.executable, *command], env=env, cwd=ROOT, check=True, capture_output=True
        )
    result = subprocess.run([sys.executable, "-m", "bot.qr", "hp01", "sh01", "--out", str(tmp_path / "qr")],
                            env=env, cwd=ROOT, capture_output=True, text=True)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in (tmp_path / "qr").iterdir()) == ["hp01.png", "sh01.png"]


async def test_admin_gets_a_poster_from_the_bot(h) -> None:
    await h.send(ADMIN, "/qr hp01")
    [photo] = h.recorder.sent("SendPhoto")
    assert "南湖春晓小区" in photo.caption
    assert await h.send(RESIDENT, "/qr hp01") == ["抱歉，这个功能只对社区工作人员开放。"]
    assert len(h.recorder.sent("SendPhoto")) == 1
