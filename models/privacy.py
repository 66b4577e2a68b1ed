"""What other people may see of a resident's words.

Phone numbers (mobile and landline, however written: 139.1234.5678, 139 1234 5678, full-width
digits, +86 / 0086), WeChat and QQ ids, e-mail addresses and ID-card numbers are masked before
anyone but the author and the staff of the compound sees a text. A text is cut only after it
is masked (``public_snippet``): a cut through a number leaves a fragment that no longer looks
like one, and would be shown as it is.
"""

from __future__ import annotations

import re
from collections.abc import Callable

# Full-width forms (０-９ Ａ-Ｚ ＠ ＋ － ． ：), the ideographic space and the other dashes, one
# character for one: a match in the folded text is at the same place in the original.
_FOLD = (
    {c: c - 0xFEE0 for c in range(0xFF01, 0xFF5F)}
    | {0x3000: ord(" "), 0x00B7: ord(".")}
    | {c: ord("-") for c in range(0x2010, 0x2016)}
)

_SEP = r"[\s\-.]{0,2}"  # between the digits of a number: 139 1234 5678, 139-1234-5678, …

_EMAIL = re.compile(
    r"(?P<secret>[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,})"
)

# 18 digits (the last may be X): region, birth date, sequence; or the old 15-digit form.
_DATE = r"(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])"
_ID_CARD = re.compile(
    rf"(?<![0-9A-Za-z])(?P<secret>[1-9]\d{{5}}[\s\-]?(?:18|19|20)\d{{2}}{_DATE}[\s\-]?\d{{3}}[\dXx]"
    rf"|[1-9]\d{{7}}{_DATE}\d{{3}})(?![0-9A-Za-z])"
)

# Mobile: 11 digits from 13x to 19x, after an optional +86 / 0086 / (+86) / 86.
_MOBILE = re.compile(
    r"(?<![\d+])(?P<secret>(?:(?:\+|00)\s?86[\s\-.]{0,3}|\(\s?(?:\+|00)?86\s?\)[\s\-.]{0,3}|86)?"
    rf"1[3-9](?:{_SEP}\d){{9}})(?!\d)"
)
# Landline: an area code (024, (024), 0411) and a local number of 7 or 8 digits.
_LANDLINE = re.compile(
    r"(?<!\d)(?P<secret>(?:\(\s?0\d{2,3}\s?\)|0\d{2,3})[\s\-.]{0,2}[2-9]\d{2,3}[\s\-.]?\d{4})(?!\d)"
)

# 微信 wjg_1960, 微信号：wjg_1960, VX:wjg_1960, 加V wjg_1960, QQ 12345678: the id is masked.
_ACCOUNT = re.compile(
    r"(?:微信|威信|薇信|徽信|[VvWw]信|(?<![A-Za-z])(?i:wechat|weixin|vx|wx|qq|[加+]v)(?![A-Za-z]))"
    r"(?:号码?|(?i:id))?[\s:是为]*"
    r"(?P<secret>[A-Za-z0-9][\-_A-Za-z0-9]{4,19})(?![\-_A-Za-z0-9@])"
)


def _keep_ends(secret: str, head: int, tail: int) -> str:
    """``head`` characters, stars, ``tail`` characters; all stars when too short to keep any."""
    if len(secret) <= head + tail + 2:
        return "*" * len(secret)
    return secret[:head] + "*" * (len(secret) - head - tail) + secret[len(secret) - tail :]


def _mobile(secret: str) -> str:
    # Without +86: the mobile number itself is what must not show.
    return _keep_ends(re.sub(r"\D", "", secret)[-11:], 3, 2)


def _landline(secret: str) -> str:
    return _keep_ends(re.sub(r"\D", "", secret), 3, 2)


def _id_card(secret: str) -> str:
    return _keep_ends(re.sub(r"[\s\-]", "", secret), 3, 2)


def _email(secret: str) -> str:
    local, domain = secret.split("@", 1)
    return _keep_ends(local, 1, 0) + "@" + domain


def _account(secret: str) -> str:
    return _keep_ends(secret, 1, 1)


def _mask(pattern: re.Pattern[str], text: str, hide: Callable[[str], str]) -> str:
    """Replace each match's secret; matching runs on the folded text, output keeps the rest."""
    folded = text.translate(_FOLD)
    parts, last = [], 0
    for match in pattern.finditer(folded):
        start, end = match.span("secret")
        parts += [text[last:start], hide(folded[start:end])]
        last = end
    parts.append(text[last:])
    return "".join(parts)


def mask_private(text: str) -> str:
    """``text`` with every phone number, WeChat / QQ id, e-mail address and ID-card number
    masked: 139******78, 微信 w******0, w******@qq.com, 210*************34."""
    text = _mask(_EMAIL, text, _email)  # first: its local part may hold a number or an id
    text = _mask(_ID_CARD, text, _id_card)
    text = _mask(_MOBILE, text, _mobile)
    text = _mask(_LANDLINE, text, _landline)
    return _mask(_ACCOUNT, text, _account)


def cut(text: str, limit: int) -> str:
    """At most ``limit`` characters; a shortened text ends with "…"."""
    if len(text) <= limit:
        return text
    return text[: limit - 1].rstrip() + "…"


def public_snippet(text: str, limit: int) -> str:
    """What another resident may see of ``text``: masked first, then cut to ``limit``."""
    return cut(mask_private(text), limit)
