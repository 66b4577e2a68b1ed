"""Messages the Chinese model cannot read: English, pinyin, other Latin-script text.

Rasa was trained on Chinese only; "The stairwell light is broken" or "louxia shuiguan huai le"
would come back as a greeting or out of scope and the demand would be dropped. Such a message is
still a demand (the bot offers the category buttons and keeps the original text); only a real
greeting or thanks ("hi", "hello", "nihao", "thanks", "xiexie") gets the conversational answer.
"""

from __future__ import annotations

import re

from nlu.normalize import normalize

_CJK = re.compile("[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_LATIN = re.compile("[A-Za-z]")
# Small talk in English or pinyin, the whole message (punctuation aside): intent it stands for.
_SMALL_TALK = (
    (
        "greet",
        re.compile(
            r"(?:hi|hello|hey|hallo|ni ?hao|nin ?hao|good (?:morning|afternoon|evening)|"
            r"morning|zao(?: ?shang hao)?|hi there|hello there)",
            re.IGNORECASE,
        ),
    ),
    (
        "goodbye",
        re.compile(
            r"(?:thanks?(?: you)?(?: very much| a lot)?|thx|ty|bye|bye ?bye|goodbye|see you|"
            r"xie ?xie(?: ni)?|zai ?jian|ok|okay)",
            re.IGNORECASE,
        ),
    ),
)
_TRIM = re.compile(r"^[\s\W_]+|[\s\W_]+$")


def unreadable(text: str) -> bool:
    """Latin letters and not one Chinese character: the model cannot read it."""
    normalized = normalize(text)
    return not _CJK.search(normalized) and len(_LATIN.findall(normalized)) >= 2


def small_talk(text: str) -> str | None:
    """``greet`` or ``goodbye`` when an unreadable message is only a greeting or thanks."""
    core = _TRIM.sub("", normalize(text))
    for intent, pattern in _SMALL_TALK:
        if pattern.fullmatch(core):
            return intent
    return None
