from nlu.normalize import NLU_MAX_CHARS, cap, for_nlu, normalize


def test_traditional_characters_become_simplified() -> None:
    assert normalize("樓頂漏水,暖氣不熱,電梯壞了") == "楼顶漏水,暖气不热,电梯坏了"


def test_full_width_digits_letters_and_punctuation_become_half_width() -> None:
    assert normalize("３号楼２单元５０１室！ＡＢ？") == "3号楼2单元501室!AB?"


def test_full_width_phone_number_is_usable() -> None:
    assert normalize("电话１３９１２３４５６７８") == "电话13912345678"


def test_emoji_and_zero_width_characters_are_removed() -> None:
    assert normalize("暖气不热😡😡🔥") == "暖气不热"
    assert normalize("楼道灯👨‍👩‍👧坏了❤️") == "楼道灯坏了"
    assert normalize("路\u200b灯") == "路灯"


def test_whitespace_is_collapsed_and_dropped_between_chinese_characters() -> None:
    assert normalize("  暖 气   不热\n\t咋整  ") == "暖气不热咋整"
    assert normalize("wifi  信号 不好") == "wifi 信号不好"


def test_simplified_text_is_left_alone() -> None:
    text = "3号楼楼道灯坏了,老人上下楼摸黑,咋整?"
    assert normalize(text) == text


def test_cap_limits_what_is_sent_to_the_nlu() -> None:
    long_text = "暖气不热" * 200
    assert len(cap(long_text)) == NLU_MAX_CHARS
    assert for_nlu(long_text) == long_text[:NLU_MAX_CHARS]
    assert cap("短") == "短"
