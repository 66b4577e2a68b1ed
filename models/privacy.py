"""What other people may see of a resident's words: phone numbers are masked."""

from __future__ import annotations

import re

# Mainland mobile numbers (optionally +86, spaces or dashes inside) and landlines (024-12345678).
_PHONE = re.compile(
    r"(?<!\d)(?:\+?86[\s-]?)?1[3-9]\d(?:[\s-]?\d){8}(?!\d)|(?<!\d)0\d{2,3}[\s-]?\d{7,8}(?!\d)"
)


def mask_phones(text: str) -> str:
    """Keep the first three and last two digits of each phone number: 138******78."""

    def _mask(match: re.Match[str]) -> str:
        digits = re.sub(r"\D", "", match.group())
        if len(digits) == 13 and digits.startswith("86"):
            digits = digits[2:]  # +86: the mobile number itself is what must not show
        return digits[:3] + "*" * (len(digits) - 5) + digits[-2:]

    return _PHONE.sub(_mask, text)
