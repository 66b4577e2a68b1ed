"""Urgent detection: explicit patterns over the normalised text.

Urgent is a flag, not a category (see shared/guides/PRODUCT.md): gas smell or leak, fire or
smoke, sparks or fallen live wires, burst pipes flooding, collapse risk, people trapped in an
elevator, injuries. A miss is not acceptable, a false alarm is (a worker glances at it), so the
patterns lean towards recall. They work without Rasa: the bot flags urgent messages even when
the NLU service is down. ``nlu/tests/urgent_cases.yml`` pins what must (and should not) match.

Each pattern is kept small and named so that a miss can be fixed where it belongs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from nlu.normalize import normalize

_GAS = "(?:煤气|燃气|天然气|液化气|瓦斯|沼气)"
_NEAR = ".{0,8}"  # words between the two halves of a pattern, within one clause

# (reason, pattern). Patterns run on normalised (simplified, half-width) text.
_PATTERNS: tuple[tuple[str, str], ...] = (
    # --- gas ---------------------------------------------------------------------------------
    ("gas", f"{_GAS}{_NEAR}(?:味|漏|泄|跑气|冒气|呲气|嗤嗤|嘶嘶|呛|熏|爆|炸|中毒)"),
    ("gas", f"(?:漏|泄|跑|闻到|一股|有股|好大的?|冲鼻子的?){_NEAR}{_GAS}"),
    ("gas", "(?:臭鸡蛋味|煤气罐.{0,6}(?:漏|着|炸)|一氧化碳|co中毒|煤烟中毒|中毒)"),
    ("gas", "(?:气|燃气)表.{0,6}(?:漏|嗤嗤|嘶嘶)"),
    # --- fire and smoke ----------------------------------------------------------------------
    ("fire", "(?:着火|起火|失火|火灾|火情|大火|明火|火苗|火光|烧起来|烧着了|着起来|燃起来|火烧)"),
    ("fire", "(?:冒烟|冒黑烟|冒白烟|浓烟|烟雾|好大烟|全是烟|一屋子烟|呛人的烟|焦糊味|糊味|烧焦)"),
    ("fire", "(?:爆炸|炸了|爆燃)"),
    # --- sparks, live wires ------------------------------------------------------------------
    ("electric", "(?:火花|打火星|冒火星|电火|冒火|噼啪|啪啪响.{0,4}(?:电|线))"),
    ("electric", "(?:漏电|触电|电到了?人|电着人|电人|带电|电打)"),
    (
        "electric",
        "(?:电线|电缆|高压线|电线杆|线缆|飞线|电源线|电闸|电箱|电表箱|配电箱)"
        ".{0,8}(?:掉|落|断|耷拉|垂|拖地|搭在|冒|烧|炸|发烫|烫手|熔|短路|爆)",
    ),
    ("electric", "(?:掉|断|落)(?:下来)?的?.{0,3}(?:电线|电缆|高压线)"),
    ("electric", "短路"),
    # --- burst pipes, flooding ---------------------------------------------------------------
    (
        "flood",
        "(?:爆管|管爆|爆裂|崩了|崩开|呲水|滋水|喷水|往外喷|窜水|蹿水|哗哗.{0,4}(?:流|淌|冒))",
    ),
    (
        "flood",
        "(?:水管|管子|管道|暖气管|暖气片|上水管|下水管|主管|阀门|水表).{0,8}(?:爆|崩|裂|炸|断|喷)",
    ),
    (
        "flood",
        "(?:跑水|发大水|大水|水漫|漫水|淹了|被淹|淹到|水淹|泡水里|成了河|成河|水漫金山|齐腰|没过膝盖|没到膝盖)",
    ),
    ("flood", "(?:屋里|家里|楼道|地下室|一楼|屋子).{0,6}(?:全是水|都是水|进水了|灌水|灌进)"),
    # --- structural collapse -----------------------------------------------------------------
    (
        "collapse",
        "(?:塌|坍|垮|倒塌|要倒|快倒|欲坠|危楼|危房|掉下来|砸下来|往下掉|砸到|砸着|砸伤|砸了人)",
    ),
    ("collapse", "(?:裂缝|裂口|大缝|裂开).{0,10}(?:越来越大|变大|掉渣|往下掉|危险|吓人|能伸进)"),
    (
        "collapse",
        "(?:阳台|楼板|房顶|屋顶|顶棚|天花板|楼梯|墙|雨棚|广告牌|房檐|外墙|楼体).{0,6}(?:歪|斜|晃|悬)",
    ),
    # --- trapped in an elevator --------------------------------------------------------------
    ("elevator", "(?:困|关|卡|憋|堵)(?:在|住|着)?.{0,8}电梯"),
    (
        "elevator",
        "电梯.{0,10}(?:困|关|卡|憋)(?:住|着|在|了)?.{0,6}(?:人|我|他|她|孩子|老人|老太太|老头|出不来)",
    ),
    ("elevator", "电梯.{0,10}(?:出不来|下坠|坠落|掉下|溜梯|蹲底|冲顶|突然往下)"),
    ("elevator", "(?:被困|困住了|出不去|出不来)"),
    # --- injuries ----------------------------------------------------------------------------
    (
        "injury",
        "(?:受伤|受了伤|伤人|伤着|伤到|摔伤|摔坏|摔断|骨折|砸伤|划伤|扎伤|烫伤|烧伤|流血|出血|淌血|见血)",
    ),
    (
        "injury",
        "(?:昏迷|晕倒|晕过去|不省人事|没意识|抽搐|人命|死人|出人命|救护车|送医院|抢救|住院了)",
    ),
    (
        "injury",
        "(?:摔倒|摔了一跤|摔跤|跌倒|栽倒|掉进|掉下去|坠落|坠楼).{0,10}(?:起不来|动不了|疼|伤|血|医院)",
    ),
    ("injury", "(?:工人|师傅|人).{0,6}(?:掉下来|摔下来|从.{0,6}掉)"),
    # --- explicit calls for help -------------------------------------------------------------
    ("emergency", "(?:救命|快来人|紧急情况|十万火急|要出人命|119|110|120)"),
)


@dataclass(frozen=True, slots=True)
class UrgentMatch:
    reason: str  # gas, fire, electric, flood, collapse, elevator, injury, emergency
    matched: str  # the text that triggered it


_COMPILED = tuple((reason, re.compile(pattern, re.IGNORECASE)) for reason, pattern in _PATTERNS)


def find_urgent(normalized_text: str) -> UrgentMatch | None:
    """First urgent pattern found in already normalised text, or None."""
    for reason, pattern in _COMPILED:
        match = pattern.search(normalized_text)
        if match:
            return UrgentMatch(reason=reason, matched=match.group(0))
    return None


def is_urgent(text: str, *, normalized: bool = False) -> bool:
    """Whether ``text`` reports an emergency (normalises it first unless told it already is)."""
    return find_urgent(text if normalized else normalize(text)) is not None
