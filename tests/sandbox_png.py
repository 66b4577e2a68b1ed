"""A small real PNG, for sending photos in tests."""

from __future__ import annotations

import io

from PIL import Image


def tiny_png(width: int = 64, height: int = 48) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (200, 120, 80)).save(buffer, "PNG")
    return buffer.getvalue()
