"""Text normalisation applied before every NLU call (training data is written already normalised).

Residents write simplified Chinese, but also traditional characters, full-width digits from
phone keyboards, emoji and stray spaces. The model only ever sees the normalised form; the
ticket keeps what the resident wrote.
"""

from __future__ import annotations

import re
from functools import cache

from opencc import OpenCC

# Rasa gets at most this many characters: the longest training examples are ~80 characters, a
# wall of text adds nothing to the classification but costs latency.
NLU_MAX_CHARS = 200

_EMOJI = re.compile(
    "["
    "\U0001f000-\U0001faff"  # pictographs, emoticons, transport, supplemental symbols, cards
    "\U0001f1e6-\U0001f1ff"  # regional indicators (flags)
    "\u2600-\u27bf"  # miscellaneous symbols and dingbats (☀ ☎ ✅ ❤ ...)
    "\u2b00-\u2bff"  # arrows and stars (⭐ ⬆ ...)
    "\ufe00-\ufe0f"  # variation selectors
    "\u200b-\u200f\u2060\ufeff"  # zero-width characters and the BOM
    "\u20e3"  # combining keycap
    "\U000e0020-\U000e007f"  # tag characters (subdivision flags)
    "]+"
)
_ZWJ = "\u200d"
_WHITESPACE = re.compile(r"\s+")
# A space between two Chinese characters is noise ("暖 气 不 热"); between Latin words it is not.
_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_SPACE_BETWEEN_CJK = re.compile(f"(?<=[{_CJK}]) (?=[{_CJK}])")
# Full-width ASCII variants (！ to ～) sit at a fixed offset from their ASCII forms.
_FULL_WIDTH = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)}
_FULL_WIDTH[0x3000] = 0x20  # ideographic space


@cache
def _t2s() -> OpenCC:
    return OpenCC("t2s")


def normalize(text: str) -> str:
    """Return ``text`` as the model sees it.

    Emoji and zero-width characters removed, full-width ASCII made half-width, traditional
    characters converted to simplified (OpenCC ``t2s``), whitespace collapsed to single spaces
    (and dropped between Chinese characters), stripped.
    """
    text = text.replace(_ZWJ, "")
    text = _EMOJI.sub(" ", text)
    text = text.translate(_FULL_WIDTH)
    text = _t2s().convert(text)
    text = _WHITESPACE.sub(" ", text).strip()
    return _SPACE_BETWEEN_CJK.sub("", text)


def cap(text: str, limit: int = NLU_MAX_CHARS) -> str:
    """Cut ``text`` to the length sent to the NLU (the ticket keeps the full original)."""
    return text[:limit]


def for_nlu(text: str) -> str:
    """What is sent to Rasa: the normalised text with place names masked (``nlu/places.py``),
    capped at ``NLU_MAX_CHARS``."""
    from nlu.places import mask_places

    return mask_places(cap(normalize(text)))
