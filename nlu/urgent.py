"""Urgent detection: explicit patterns over the normalised text.

Urgent is a flag, not a category (see shared/guides/PRODUCT.md): gas smell or leak, fire or
smoke, sparks or fallen live wires, burst pipes flooding, collapse risk, people trapped in an
elevator, injuries. A miss is not acceptable, a false alarm is (a worker glances at it), so the
patterns lean towards recall. They do not need Rasa: the bot flags urgent messages even when
the NLU service is down. ``nlu/tests/urgent_cases.yml`` pins what must (and should not) match;
when a real urgent message is missed, add it there and widen the rule of its reason here.

Patterns run on normalised text (simplified characters, half-width punctuation), case-insensitive.
They cover the chat register and the formal one of letters to a city's message board ("关于…的
紧急反映", long letters naming 物业/开发商/施工方); what a letter adds around a danger word — a
risk, a past event, a repair, a policy question — is skipped by the contexts below the rules.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from nlu.normalize import normalize

_GAS = "(?:煤气|燃气|天然气|液化气|瓦斯|沼气|煤汽|燃汽|天然汽|然气)"
_WIRE = (
    "(?:电线|电缆|高压线|电线杆|线缆|飞线|电源线|线|闸箱|电闸|电箱|电表箱|配电箱|插座|开关|电表)"
)
# Rain downpipes ("雨水管断裂", "落水管") carry no mains water: a repair.
_PIPE = (
    "(?:(?<![雨落])水管|管子|(?<!雨水)管道|暖气管|暖气片|上水管|下水管|主管|主水管|阀门|水表|"
    "自来水管|水箱)"
)
_STRUCTURE_WORDS = (
    "阳台|楼板|预制板|房梁|房顶|屋顶|顶棚|天棚|天花板|楼梯|墙|山墙|外墙|雨棚|雨搭|广告牌|房檐|楼体|"
    # hung on or built onto the facade: 空调外机支架锈断, 楼檐边缘的热水器
    "女儿墙|檐口|楼檐|支架|外机|挡土墙|护坡|地基|楼房|房屋"
)
_STRUCTURE = f"(?:{_STRUCTURE_WORDS})"
_PERSON = (
    "(?:人|我|他|她|孩子|小孩|老人|大爷|大娘|老太太|老头|俩|几个|行人|路人|居民|学生|"
    # the formal register counts and titles people: 一名儿童, 两名老人, 一位女士
    "儿童|工人|业主|住户|乘客|女士|男子|女子|[一两二三四五六七八九十几多数]名|[一两几多]位)"
)
# A few characters between the two halves of a rule, within one clause: "液化气罐,这不是定时炸弹"
# pairs two clauses, not a gas leak with an explosion.
_CLAUSE = "[^,.!?;:，。！？；：、]"
_W = f"{_CLAUSE}{{0,8}}"

# Works that cut a buried line or main: "把天然气管线挖断了", "挖破了燃气管道", "挖断供水主管道".
_CUT = "(?:挖断|挖破|挖坏|挖穿|碰断|刮断|压断|撞断|砸断|钻破|打穿)"

# What comes off a facade, how it comes off, and where people are below it.
_FACADE = (
    "(?:外墙|墙砖|面砖|瓷砖|保温|砖块|砖头|水泥块|混凝土|女儿墙|檐口|外机|玻璃|广告牌|雨棚|雨搭|"
    "彩钢|铁皮|瓦片|石棉瓦)"
)
_FALLS = "(?:坠落|脱落|掉落|滑落|坠下|掉下|刮落|吹落|刮掉|吹掉|掀落|脱离|松脱|飞落|刮飞|吹飞)"
_BELOW = "砸|行人|路人|过往|下方|楼下|出入口|单元门|通道|人行道|门口|路上"

# reason -> patterns; a message is urgent when any pattern matches (outside the contexts below).
RULES: dict[str, tuple[str, ...]] = {
    "gas": (
        # 破损, 破了, 被破坏; "改造中施工方破坏绿化" is not the pipe
        f"{_GAS}{_W}(?:味|漏|泄|跑气|冒气|呲气|嗤嗤|嘶嘶|呛|熏|爆|炸|破(?!坏)|被破坏|中毒)",
        f"(?:漏|泄|跑|闻到|闻着|一股|有股|好大的?|冲鼻子的?){_W}{_GAS}",
        "(?:漏气|跑气|呲气|冒气|臭鸡蛋味|一氧化碳|中毒)",
        "煤气罐.{0,6}(?:漏|着|炸)",
        # a gas line cut by the works leaks whether or not the letter says so
        f"{_CUT}了?{_CLAUSE}{{0,4}}{_GAS}",
        f"{_GAS}{_W}(?:{_CUT}|被挖|断裂|断开)",
        # a detector that sounds has found gas (or smoke); the device's name alone is not a call
        f"报警器{_W}(?<!误)(?:响|鸣|叫|报警)",
    ),
    "fire": (
        "(?:(?<!不)着火|(?<!不)著火|起火|失火|火灾|火情|大火|明火|火苗|火光|火势|烧起来|烧着了|"
        "着起来|燃起来|(?<!不)着了|自燃|引燃|被人?点燃|正在燃烧|燃烧起来|剧烈燃烧)",
        "(?:冒烟|冒黑烟|冒白烟|浓烟|烟雾|全是烟|一屋子烟|白烟|黑烟|焦糊|糊味|烧焦|烧糊)",
        "(?:爆炸|炸了|爆燃)",
    ),
    "electric": (
        "(?:火花|火星|电火|冒火|噼里啪啦|噼啪|电弧|弧光|放电(?!动|瓶|车))",
        f"{_WIRE}{_W}(?:打火|滋滋|嗞嗞|啪啪|冒|烧|炸|发烫|烫手|熔|短路|爆)",
        "(?:漏电|触电|电到了?人|电着|电人|带电|带着电|电打|电麻|麻电|电击|被电|电死)",
        f"(?:电线|电缆|高压线|电线杆|线缆|飞线){_W}(?:掉|落|断|耷拉|拖地|搭在)",
        # a pole knocked down brings its wires with it
        f"(?:电线杆|线杆|电杆|路灯杆|灯杆){_W}(?:撞倒|刮倒|倒在|倒地|撞断|刮断)",
        # overhead lines: "断" alone would be a power cut ("线路老化断电")
        f"(?:线路|架空线|导线|电力线){_W}(?:断线|断落|掉落|垂落|掉地|落地|拖地|耷拉)",
        "(?:掉|断|落|刮断)(?:下来|了)?的?.{0,3}(?:电线|电缆|高压线)",
        "短路",
    ),
    "flood": (
        "(?:爆管|管爆|爆裂|崩了|崩开|呲水|滋水|喷水|往外喷|往外蹿|往外窜|往下浇|哗哗(?!响|往下掉|地?掉))",
        # a pipe that bursts or jets; a crack alone ("早就裂了", "水表冻裂") is a repair
        f"{_PIPE}{_W}(?:爆|崩|炸|断|喷|破裂|挖破|挖断|挖坏|被挖)",
        f"{_CUT}了?{_CLAUSE}{{0,6}}{_PIPE}",
        "(?:水柱|喷涌|涌出|往外涌|往外冒水|涌入|涌进|涌上|漫上|漫下)",
        "(?:家中|家里|屋里|室内|楼道)进水(?:严重|了)",
        "(?:多户|住户|居民|一楼)(?:家中|家里)?进水|(?:正在|不断|大量)进水",
        "(?:跑水|发大水|漫进|淹了|全淹|被淹|淹到|水淹|成了河|成河|齐腰)",
        "(?:屋里|家里|楼道|地下室|一楼|屋子).{0,6}(?:全是水|都是水|进水了|灌水|灌进)",
        # water running down the stairs or sewage forced back into homes
        "水顺着?(?:楼梯|楼道|墙|天花板|灯口).{0,4}(?:流|淌|浇)",
        f"倒灌(?:进|入|到)?{_CLAUSE}{{0,6}}(?:家|屋|室内|地下室|楼道)",
    ),
    "elevator": (
        "(?:困|关|卡|憋)(?:在|住)?电梯",
        f"电梯.{{0,10}}(?:困|关|卡|憋)(?:住|着|在|了)?.{{0,6}}{_PERSON}",
        "电梯.{0,10}(?:下坠|坠落|急坠|往下掉|掉下去|溜梯|蹲底|冲顶|门打不开|停半道|停在半|卡在半)",
        # "被困在家里": an elevator out of service keeps old people at home, nobody is shut in
        "(?:被困|困住|困在)(?!在?家|在屋)",
        "电梯.{0,20}(?:出不来|出不去|在里头|在里面|在里边)",
        # the car named on its own: "轿厢内困有两名老人", "被关在里面已经40分钟"
        f"(?:轿厢|梯内|电梯内|电梯里){_CLAUSE}{{0,4}}(?:困|关)",
        "(?:被关|被锁|关)在(?:里面|里边|里头|轿厢|梯内)",
        # the car between floors, people inside: "电梯卡在七楼和八楼中间了，里面关着一个老太太"
        "电梯.{0,4}(?:卡|停|悬)在[^,.!?;:]{0,8}(?:中间|之间)",
        f"(?:里面|里边|里头)(?:关|困|憋|锁)着{_CLAUSE}{{0,6}}{_PERSON}",
    ),
    "injury": (
        "(?:受伤|受了伤|伤人|伤着|伤到|摔伤|摔断|骨折|砸伤|砸破|划伤|扎伤|烫伤|烧伤|流血|出血|淌血|头破血流|"
        "伤势|伤者|伤员|夹断|夹伤|轧伤|压伤|割伤|撞伤)",
        "(?:昏迷|晕倒|晕过去|不省人事|没意识|抽搐|不动弹|动弹不了|人命|死人了|(?:叫|喊|打|等)救护车|送医院|"
        "抢救|施救)",
        "(?:摔倒|摔进|摔下|跌倒|栽倒|掉进|掉下去|坠落|坠楼)"
        ".{0,10}(?:起不来|动不了|疼|伤|血|医院|断|无法起身|无法站立|站不起来)",
        f"{_PERSON}.{{0,6}}(?:掉下来|摔下来|掉进|摔进|掉入|跌入|跌进|坠入|落入)",
        # someone under something: "围挡被大风刮倒，压住一名路过的居民"
        f"(?:压住|压倒|砸中|砸倒|撞倒|埋住)了?{_CLAUSE}{{0,6}}{_PERSON}",
    ),
    "collapse": (
        "(?:塌|坍|垮|倒塌|要倒|快倒|欲坠|滑坡|危楼|(?<![A-Da-d]级)危房(?!鉴定|改造|认定|评定|等级))",
        f"(?:{_STRUCTURE_WORDS}|砖|水泥|瓷砖|墙皮|石头|钢管|钢筋|块|渣).{{0,6}}"
        "(?:往下掉|掉下来|要掉|砸下来|往下砸)",
        # someone hit, not "砸墙" or a rammer "从早砸到晚"
        f"(?:砸|被砸)(?!墙|地|门|锁|到晚|到半夜|到黑)(?:到|着|了|中)?{_CLAUSE}{{0,3}}{_PERSON}",
        # "近期未见扩大" is no growing crack
        "(?:裂缝|裂口|大缝|裂开|裂成).{0,10}(?<!未见)(?<!不见)(?<!没有)(?<!未)(?<!没)"
        "(?:越来越大|变大|扩大|掉渣|往下掉|危险|吓人|能伸进|两半)",
        f"{_STRUCTURE}.{{0,6}}(?:歪|斜|倾|悬|断|往下鼓|往下沉|下沉|下垂|坠落|塌落)",
        "(?:咔咔响|随时.{0,6}(?:掉|砸|塌|倒|坠|垮|脱落|落下|刮下)|悬在半空|悬在空中)",
        # a facade shedding over where people walk ("面砖成片坠落，已砸坏楼下停放的车辆"); shedding
        # alone ("外墙砖脱落存在安全隐患", "墙皮大面积脱落") is a repair
        f"{_FACADE}{_CLAUSE}{{0,8}}{_FALLS}[^.!?;。]{{0,16}}(?:{_BELOW})",
        # blown off by the wind, whatever it was: "彩钢板被大风掀起，有几块已经飞落到路上"
        f"(?:飞落|刮飞|吹飞)[^.!?;。]{{0,10}}(?:{_BELOW}|院里|院子)",
    ),
    "emergency": (
        "(?:救命|快来人|紧急情况|十万火急|出人命|危急|险情|119|110|120)",
        # people leaving their homes: "部分居民已连夜撤离"
        "(?:已经?|连夜|紧急|被迫|正在)+(?:撤离|疏散)",
    ),
}

# A match right after these words is a fear, a hypothesis, a past or a recurring event, not an
# emergency ("怕着火", "万一漏电", "上回电梯困人的事", "哪天倒了再砸着人", "一下雨就成河"):
# it is skipped and the search goes on. Letters add a risk ("极易引发火灾", "可能发生坍塌"), a
# past ("曾发生爆裂", "发生过电梯困人事件") and nobody hurt ("无人被困"). "随时可能坠落" is not
# one of them: the 随时 rule matches from 随时 on.
_NOT_NOW_BEFORE = re.compile(
    "(?:怕|万一|要是|如果|假如|一旦|容易|担心|以防|防止|差点|去年|上回|上次|上个月|以前|之前|"
    "那次|曾经|哪天|早晚|迟早|说不定|会不会|多次|经常|频繁|总是|老是|常常|屡次|每年|每次|年年|"
    "上周|上星期|上礼拜|每到|每逢|一到|一下雨就?|一刮风就?|动不动就?|"
    "(?:可能|极易|易|会|将)会?(?:引发|造成|导致|发生|酿成|出现)|"
    "发生过|出现过|有过|曾(?:发生|出现|有)|未发生)"
    "[^,.!?;,。!?;]{0,5}$|真$|再$|一$|一点$|灶$|易$|"
    # right before: "无人被困", "没有人员受伤" ("没人管的燃气管道漏气了" is still a leak)
    "(?:无|没有?|并无|未造成|没有造成)人员?$"
)
_NOT_NOW_AFTER = re.compile(
    "^.{0,6}(?:那事|的事|那次|那回|以后|之后|隐患|风险|似的|都跑不|往哪跑|咋跑|怎么跑|跑不出|"
    "跑不了|好几次|好几回|多次|事故后续|事件后续|后续赔偿|善后|"
    # a broken part waiting for its replacement: "插座烧了三个,一直没人换"
    "没人换|没给换|"
    # devices and drills named after the danger: "燃气泄漏报警器", "困人应急救援装置"
    "报警器|报警装置|探测器|检测仪|救援装置|演练|演习|救援时间|救援不及时|"
    # "电梯停在半截门打不开,幸好里面没人"
    "(?:幸好|幸亏|好在|所幸)[^,.!?;,。!?;]{0,4}(?:没人|没有人|无人))"
    "|^过(?![来去])|^后|^(?:咋办|咋整|怎么办|排查|普查|检测|检查|宣传|知识|常识)"
    "|^(?:该|应该?)?(?:由|归)?(?:谁负责|谁管)|^的?(?:责任|处理办法|处置办法|应急预案)"
    # what to do when it happens: "咨询发生燃气泄漏时应拨打哪个电话"
    "|^(?:时|的时候)(?:应|该|要|如何|怎么|怎样|找谁|拨打)"
    # a stove's flame described: "燃气灶燃烧不充分，火苗发红"
    "|^(?:发红|发黄|变红|变黄|偏红|偏黄|太小|很小|忽大忽小)"
)
# Later in the same sentence the damage is said to be repaired ("水管挖破，已于当日修复", "虽已
# 修好但赔偿至今未落实"), unless it came back ("已修好，今天又漏了"). "虽已报警" is no repair.
_FIXED_AFTER = re.compile(
    "^[^.!?;。]{0,30}?(?:已修复|已经修复|已修好|已经修好|修好了|修复了|已于[^,.!?;。]{0,6}修复|"
    "已扑灭|已被扑灭|已经扑灭|扑灭了|已排除|事后)(?![^.!?;。]*(?:还|仍|又|再|依然|依旧))"
)
# Inside the match itself: "电梯频繁故障、多次困人" is a complaint about a pattern, not a call.
_NOT_NOW_INSIDE = re.compile(
    "多次|频繁|经常|屡次|总是|老是|每年|每次|年年|曾经|曾(?:发生|出现|有)|发生过|出现过|差点|差一点|险些|"
    # "夜间行人易掉入": a risk
    "(?<![简交贸])易"
)
# Smoke from something burnt on purpose ("物业在小区内焚烧落叶，烟雾很大") is a nuisance; a fire
# that spreads from it still matches the fire words ("焚烧垃圾引燃了车棚").
_BURNING_ON_PURPOSE = re.compile("焚烧|烧纸|烧烤|烧炉子|烧荒|烧落叶|烧树叶|烧垃圾|烧秸秆|油烟")
# Ground-level things that sink or break are repairs, not collapses: "路面塌陷坑洼",
# "马路牙子都塌了", "车棚塌了一半", "楼梯栏杆断了", "车一压咔咔响".
_GROUND_BEFORE = re.compile(
    "(?:路|篦子|盖板|花池|花坛|散水|台阶|车棚|地面|地砖|坑|沟|井|土路|草坪|围栏|栅栏|栏杆|扶手|"
    "合页|雨落管|落水管|压|刮风|树枝|多处|人行道|步道|便道|甬路|甬道)[^,.!?;,。!?;]{0,6}$"
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


def _sentence_before(text: str) -> str:
    """The part of ``text`` after its last sentence end."""
    return re.split("[.!?;。]", text)[-1]


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
                or _FIXED_AFTER.search(after)
            ):
                continue
            if (
                reason == "fire"
                and "烟" in match.group(0)
                and _BURNING_ON_PURPOSE.search(_sentence_before(normalized_text[: match.start()]))
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
