"""Urgent detection: explicit patterns over the normalised text.

Urgent is a flag, not a category (see shared/guides/PRODUCT.md): gas smell or leak, fire or
smoke, sparks or fallen live wires, burst pipes flooding, collapse risk, people trapped in an
elevator, injuries. A miss is not acceptable, a false alarm is (a worker glances at it), so the
patterns lean towards recall. They do not need Rasa: the bot flags urgent messages even when
the NLU service is down. ``nlu/tests/urgent_cases.yml`` pins what must (and should not) match;
when a real urgent message is missed, add it there and widen the rule of its reason here.

Patterns run on normalised text (simplified characters, half-width punctuation), case-insensitive.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from nlu.normalize import normalize

_GAS = "(?:煤气|燃气|天然气|液化气|瓦斯|沼气|煤汽|燃汽|天然汽|然气)"
_WIRE = (
    "(?:电线|电缆|高压线|电线杆|线缆|飞线|电源线|线|闸箱|电闸|电箱|电表箱|配电箱|插座|开关|电表)"
)
_PIPE = "(?:水管|管子|管道|暖气管|暖气片|上水管|下水管|主管|主水管|水管子|阀门|水表|自来水管)"
_STRUCTURE_WORDS = (
    "阳台|楼板|预制板|房梁|房顶|屋顶|顶棚|天棚|天花板|楼梯|墙|山墙|外墙|雨棚|雨搭|广告牌|房檐|楼体"
)
_STRUCTURE = f"(?:{_STRUCTURE_WORDS})"
_PERSON = "(?:人|我|他|她|孩子|小孩|老人|大爷|大娘|老太太|老头|俩|几个|行人|路人|居民|学生)"
# A few characters between the two halves of a rule, within one clause: "液化气罐,这不是定时炸弹"
# pairs two clauses, not a gas leak with an explosion.
_CLAUSE = "[^,.!?;:，。！？；：、]"
_W = f"{_CLAUSE}{{0,8}}"

# reason -> patterns; a message is urgent when any pattern matches (outside the contexts below).
RULES: dict[str, tuple[str, ...]] = {
    "gas": (
        f"{_GAS}{_W}(?:味|漏|泄|跑气|冒气|呲气|嗤嗤|嘶嘶|呛|熏|爆|炸|破|中毒)",
        f"(?:漏|泄|跑|闻到|闻着|一股|有股|好大的?|冲鼻子的?){_W}{_GAS}",
        "(?:漏气|跑气|呲气|冒气|臭鸡蛋味|一氧化碳|中毒)",
        "煤气罐.{0,6}(?:漏|着|炸)",
    ),
    "fire": (
        "(?:(?<!不)着火|起火|失火|火灾|火情|大火|明火|火苗|火光|烧起来|烧着了|着起来|燃起来|(?<!不)着了)",
        "(?:冒烟|冒黑烟|冒白烟|浓烟|烟雾|全是烟|一屋子烟|白烟|黑烟|焦糊|糊味|烧焦|烧糊)",
        "(?:爆炸|炸了|爆燃)",
    ),
    "electric": (
        "(?:火花|火星|电火|冒火|噼里啪啦|噼啪)",
        f"{_WIRE}{_W}(?:打火|滋滋|啪啪|冒|烧|炸|发烫|烫手|熔|短路|爆)",
        "(?:漏电|触电|电到了?人|电着|电人|带电|带着电|电打)",
        f"(?:电线|电缆|高压线|电线杆|线缆|飞线){_W}(?:掉|落|断|耷拉|拖地|搭在)",
        "(?:掉|断|落|刮断)(?:下来|了)?的?.{0,3}(?:电线|电缆|高压线)",
        "短路",
    ),
    "flood": (
        "(?:爆管|管爆|爆裂|崩了|崩开|呲水|滋水|喷水|往外喷|往外蹿|往外窜|往下浇|哗哗(?!响|往下掉|地?掉))",
        # a pipe that bursts or jets; a crack alone ("早就裂了", "水表冻裂") is a repair
        f"{_PIPE}{_W}(?:爆|崩|炸|断|喷|破裂)",
        "(?:水柱|喷涌|涌出|往外涌|往外冒水)",
        "(?:家中|家里|屋里|室内|楼道)进水(?:严重|了)",
        "(?:跑水|发大水|漫进|淹了|全淹|被淹|淹到|水淹|成了河|成河|齐腰)",
        "(?:屋里|家里|楼道|地下室|一楼|屋子).{0,6}(?:全是水|都是水|进水了|灌水|灌进)",
    ),
    "elevator": (
        "(?:困|关|卡|憋)(?:在|住)?电梯",
        f"电梯.{{0,10}}(?:困|关|卡|憋)(?:住|着|在|了)?.{{0,6}}{_PERSON}",
        "电梯.{0,10}(?:下坠|坠落|往下掉|掉下去|溜梯|蹲底|冲顶|门打不开|停半道|停在半|卡在半)",
        "(?:被困|困住|困在)",
        "电梯.{0,20}(?:出不来|出不去|在里头|在里面|在里边)",
    ),
    "injury": (
        "(?:受伤|受了伤|伤人|伤着|伤到|摔伤|摔断|骨折|砸伤|砸破|划伤|扎伤|烫伤|烧伤|流血|出血|淌血|头破血流)",
        "(?:昏迷|晕倒|晕过去|不省人事|没意识|抽搐|不动弹|动弹不了|人命|死人了|(?:叫|喊|打|等)救护车|送医院|抢救)",
        "(?:摔倒|摔进|摔下|跌倒|栽倒|掉进|掉下去|坠落|坠楼).{0,10}(?:起不来|动不了|疼|伤|血|医院|断)",
        f"{_PERSON}.{{0,6}}(?:掉下来|摔下来|掉进|摔进)",
    ),
    "collapse": (
        "(?:塌|坍|垮|倒塌|要倒|快倒|欲坠|危楼|危房)",
        f"(?:{_STRUCTURE_WORDS}|砖|水泥|瓷砖|墙皮|石头|钢管|钢筋|块|渣).{{0,6}}"
        "(?:往下掉|掉下来|要掉|砸下来|往下砸)",
        # someone hit, not "砸墙" or a rammer "从早砸到晚"
        f"(?:砸|被砸)(?!墙|地|门|锁|到晚|到半夜|到黑)(?:到|着|了|中)?{_CLAUSE}{{0,3}}{_PERSON}",
        "(?:裂缝|裂口|大缝|裂开|裂成).{0,10}(?:越来越大|变大|掉渣|往下掉|危险|吓人|能伸进|两半)",
        f"{_STRUCTURE}.{{0,6}}(?:歪|斜|悬|断|往下鼓|往下沉)",
        "(?:咔咔响|随时.{0,4}(?:掉|砸|塌|倒))",
    ),
    "emergency": ("(?:救命|快来人|紧急情况|十万火急|出人命|119|110|120)",),
}

# A match right after these words is a fear, a hypothesis, a past or a recurring event, not an
# emergency ("怕着火", "万一漏电", "上回电梯困人的事", "哪天倒了再砸着人", "一下雨就成河"):
# it is skipped and the search goes on.
_NOT_NOW_BEFORE = re.compile(
    "(?:怕|万一|要是|如果|假如|一旦|容易|担心|以防|防止|差点|去年|上回|上次|上个月|以前|之前|"
    "那次|曾经|哪天|早晚|迟早|说不定|会不会|多次|经常|频繁|总是|老是|常常|屡次|每年|每次|年年|"
    "每到|一到|一下雨就?|一刮风就?|动不动就?)[^,.!?;,。!?;]{0,5}$|真$|再$|一$|一点$|灶$"
)
_NOT_NOW_AFTER = re.compile(
    "^.{0,6}(?:那事|的事|那次|那回|以后|之后|隐患|似的|都跑不|往哪跑|咋跑|怎么跑|跑不出|跑不了|"
    "好几次|好几回|多次)"
    "|^过(?![来去])|^后|^(?:咋办|咋整|怎么办|谁负责|谁管)"
)
# Inside the match itself: "电梯频繁故障、多次困人" is a complaint about a pattern, not a call.
_NOT_NOW_INSIDE = re.compile("多次|频繁|经常|屡次|总是|老是|每年|每次|年年|曾经|差点|差一点|险些")
# Ground-level things that sink or break are repairs, not collapses: "路面塌陷坑洼",
# "马路牙子都塌了", "车棚塌了一半", "楼梯栏杆断了", "车一压咔咔响".
_GROUND_BEFORE = re.compile(
    "(?:路|篦子|盖板|花池|花坛|散水|台阶|车棚|地面|地砖|坑|沟|井|土路|草坪|围栏|栅栏|栏杆|扶手|"
    "合页|雨落管|落水管|压|刮风|树枝|多处)[^,.!?;,。!?;]{0,6}$"
)
_GROUND_AFTER = re.compile("^(?:陷)?(?:坑洼|了?个大?坑|了?一个坑|下去一块|下去一个坑|了一块砖)")
_GROUND_INSIDE = re.compile("栏杆|扶手|灯|合页|雨落管|落水管|窗扇")
# Plaster flaking inside ("楼道墙皮哗哗往下掉") is dirt; an outer wall shedding ("外墙皮") is not.
_INDOOR_PLASTER = re.compile("(?:楼道|楼梯间|屋里|室内|家里)[^,.!?;,。!?;]{0,4}墙皮")


@dataclass(frozen=True, slots=True)
class UrgentMatch:
    reason: str  # gas, fire, electric, flood, collapse, elevator, injury, emergency
    matched: str  # the text that triggered it


_COMPILED = tuple(
    (reason, re.compile(pattern, re.IGNORECASE))
    for reason, patterns in RULES.items()
    for pattern in patterns
)


def _clause_before(before: str) -> str:
    """The part of ``before`` in the same clause as the match."""
    return re.split("[,.!?;:，。！？；：、]", before)[-1]


def find_urgent(normalized_text: str) -> UrgentMatch | None:
    """The first urgent rule matching already normalised text, or None."""
    for reason, pattern in _COMPILED:
        for match in pattern.finditer(normalized_text):
            before = normalized_text[max(0, match.start() - 8) : match.start()]
            after = normalized_text[match.end() :]
            if (
                _NOT_NOW_BEFORE.search(before)
                or _NOT_NOW_AFTER.search(after)
                or _NOT_NOW_INSIDE.search(match.group(0))
            ):
                continue
            if reason == "collapse" and (
                _GROUND_BEFORE.search(before)
                or _GROUND_AFTER.search(after)
                or _GROUND_INSIDE.search(match.group(0))
                or _INDOOR_PLASTER.search(_clause_before(before) + match.group(0))
            ):
                continue
            return UrgentMatch(reason=reason, matched=match.group(0))
    return None


def urgent_in(text: str) -> UrgentMatch | None:
    """The urgent match of a person's raw text, over its whole length, place names masked: the
    one check the bot's first reply, the NLU client and every new ticket share."""
    from nlu.places import mask_places  # the registry's names; imported when first needed

    return find_urgent(mask_places(normalize(text)))


def is_urgent(text: str, *, normalized: bool = False) -> bool:
    """Whether ``text`` reports an emergency (normalised first unless it already is)."""
    return find_urgent(text if normalized else normalize(text)) is not None
