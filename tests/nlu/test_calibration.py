"""Calibration of the bot's confidence threshold (issue #14): chosen by cross-validation so that
confidently wrong proposals stay within 3 %, and the bot uses what was chosen."""

from __future__ import annotations

import json

from bot.settings import Settings
from nlu.evaluate import (
    CALIBRATION,
    MAX_CONFIDENTLY_WRONG,
    Prediction,
    _component_setting,
    calibrate,
    field_scores,
)


def _prediction(gold: str, top: str, confidence: float) -> Prediction:
    others = [c for c in ("water", "roads", "building") if c != top]
    rest = (1 - confidence) / 2
    return Prediction(gold=gold, ranking=[(top, confidence), (others[0], rest), (others[1], rest)])


def test_the_lowest_threshold_within_the_target_is_chosen() -> None:
    # 100 demands: right ones at 0.9, wrong ones at 0.5 (4 of them) and 0.35 (10)
    cv = [_prediction("water", "water", 0.9)] * 86
    cv += [_prediction("water", "roads", 0.5)] * 4
    cv += [_prediction("water", "roads", 0.35)] * 10
    calibration = calibrate(cv)
    # at 0.30 and 0.35: 14 % wrong; 0.40 to 0.50: 4 %; above 0.50: none
    assert calibration["bot_threshold"] == 0.55
    row = next(r for r in calibration["table"] if r["threshold"] == 0.55)
    assert row["confidently_wrong"] == 0 and row["proposed"] == 0.86


def test_field_scores_count_what_a_resident_sees() -> None:
    predictions = [
        _prediction("water", "water", 0.9),  # one-tap proposal, right
        _prediction("water", "roads", 0.7),  # one-tap proposal, wrong: confidently wrong
        _prediction("roads", "water", 0.4),  # three buttons, roads among them
        _prediction("other", "other", 0.8),
    ]
    f = field_scores(predictions, 0.6)
    assert f.in_scope == 3 and f.others == 1
    assert f.first_correct == 1 / 3
    assert f.proposed == 2 / 3 and f.confidently_wrong == 1 / 3
    assert f.top3 == 1.0 and f.other_recognised == 1.0


def test_the_bot_uses_the_calibrated_threshold() -> None:
    calibration = json.loads(CALIBRATION.read_text("utf-8"))
    threshold = calibration["bot_threshold"]
    assert Settings.model_fields["nlu_confidence_threshold"].default == threshold
    row = next(r for r in calibration["table"] if r["threshold"] == threshold)
    assert row["confidently_wrong"] <= MAX_CONFIDENTLY_WRONG
    # below the bot's threshold the resident gets three buttons either way; Rasa's fallback
    # must not hide a category the bot would propose
    assert _component_setting("FallbackClassifier", "threshold") <= threshold
