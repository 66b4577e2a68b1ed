"""The evaluation's scores (nlu/evaluate.py ``score``) on a small example worked out by hand."""

from __future__ import annotations

from pytest import approx

from nlu.evaluate import Prediction, score


def _predicted(gold: str, top: str | None) -> Prediction:
    return Prediction(gold=gold, ranking=[(top, 0.9)] if top else [])


def test_scores_per_label_and_macro_f1_over_categories_with_examples() -> None:
    predictions = [
        _predicted("water", "water"),
        _predicted("water", "water"),
        _predicted("water", "roads"),
        _predicted("roads", "roads"),
        _predicted("roads", "water"),
        _predicted("greet", "water"),  # a conversation intent taken for a demand
        _predicted("building", None),  # nothing ranked at all
    ]
    scores = score(predictions, ["water", "roads", "building", "lighting", "greet"])
    # water: 4 predicted, 2 right, 3 given
    assert scores.per_label["water"] == approx((2 / 4, 2 / 3, 4 / 7, 3))
    assert scores.per_label["roads"] == approx((1 / 2, 1 / 2, 1 / 2, 2))
    assert scores.per_label["building"] == approx((0, 0, 0, 1))  # never predicted
    assert scores.per_label["lighting"] == approx((0, 0, 0, 0))  # never given nor predicted
    assert scores.per_label["greet"] == approx((0, 0, 0, 1))
    # the categories with examples (water, roads, building); not lighting, not greet
    assert scores.macro_f1_categories == approx((4 / 7 + 1 / 2 + 0) / 3)
    assert scores.accuracy == approx(3 / 7)


def test_no_predictions_score_zero() -> None:
    scores = score([], ["water"])
    assert scores.per_label["water"] == (0.0, 0.0, 0.0, 0)
    assert scores.macro_f1_categories == 0.0
