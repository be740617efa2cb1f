from fractions import Fraction

import numpy as np
import pandas as pd
import pytest

from llmvalues.scoring import score_columns, score_responses
from llmvalues.values import BASIC_VALUES, CIRCLE_ORDER, HIGHER_ORDER_VALUES, SCORING_KEY


def respondents(*rows: dict[int, float]) -> pd.DataFrame:
    """Build a respondents x items table; items not given in a row are rated 3."""
    table = pd.DataFrame([[row.get(item, 3.0) for item in range(1, 58)] for row in rows],
                         columns=list(range(1, 58)), dtype=float)
    return table


def test_same_answer_everywhere_centers_to_zero():
    for rating in range(1, 7):
        scores = score_responses(respondents({item: rating for item in range(1, 58)}))
        centered = [column for column in score_columns() if column.endswith("_centered")]
        assert np.all(scores[centered].to_numpy() == 0.0), rating
        assert scores.loc[0, "mrat"] == rating


def test_hand_computed_respondent():
    # Every item 3, except self-direction-thought (1, 23, 39) all 6 and
    # power-dominance (6, 29, 41) rated 1, 2, 3.
    row = {1: 6, 23: 6, 39: 6, 6: 1, 29: 2, 41: 3}
    scores = score_responses(respondents(row)).iloc[0]
    mrat = Fraction(3 * 51 + 18 + 6, 57)  # 177/57
    assert scores["n_valid"] == 57
    assert scores["mrat"] == pytest.approx(float(mrat), abs=1e-15)
    assert scores["SDT_raw"] == 6
    assert scores["POD_raw"] == 2
    assert scores["SDA_raw"] == 3
    assert scores["SDT_centered"] == pytest.approx(float(6 - mrat), abs=1e-15)
    assert scores["POD_centered"] == pytest.approx(float(2 - mrat), abs=1e-15)
    # basic values: means of the items of their refined values
    assert scores["self_direction_raw"] == pytest.approx(4.5, abs=1e-15)  # (6+6+6+3+3+3)/6
    assert scores["power_raw"] == pytest.approx(2.5, abs=1e-15)  # (1+2+3+3+3+3)/6
    assert scores["universalism_raw"] == 3
    # higher-order values: means of their value scores
    assert scores["openness_to_change_raw"] == pytest.approx(3.75, abs=1e-15)  # (6+3+3+3)/4
    assert scores["self_enhancement_raw"] == pytest.approx(8 / 3, abs=1e-15)  # (3+2+3)/3
    assert scores["self_enhancement_centered"] == pytest.approx(float(Fraction(8, 3) - mrat), abs=1e-15)
    assert scores["self_transcendence_raw"] == 3


def test_centered_scores_average_to_zero_over_values():
    rng = np.random.default_rng(7)
    table = pd.DataFrame(rng.integers(1, 7, size=(30, 57)).astype(float), columns=list(range(1, 58)))
    scores = score_responses(table)
    centered = scores[[f"{code}_centered" for code in CIRCLE_ORDER]]
    # With complete data the 19 value means average to MRAT, so centered scores sum to 0.
    assert np.allclose(centered.sum(axis=1), 0.0, atol=1e-12)


def test_centered_scores_ignore_a_shift_in_scale_use():
    rng = np.random.default_rng(11)
    table = pd.DataFrame(rng.integers(1, 6, size=(10, 57)).astype(float), columns=list(range(1, 58)))
    centered = [f"{code}_centered" for code in CIRCLE_ORDER]
    shifted = score_responses(table + 1.0)
    original = score_responses(table)
    assert np.allclose(shifted[centered], original[centered], atol=1e-12)
    assert np.allclose(shifted["mrat"], original["mrat"] + 1.0)


def test_item_column_order_does_not_matter():
    rng = np.random.default_rng(3)
    table = pd.DataFrame(rng.integers(1, 7, size=(5, 57)).astype(float), columns=list(range(1, 58)))
    shuffled = table[list(rng.permutation(table.columns))]
    pd.testing.assert_frame_equal(score_responses(table), score_responses(shuffled))


def test_value_missing_below_item_threshold():
    one_missing = respondents({1: np.nan, 23: 6, 39: 6})
    two_missing = respondents({1: np.nan, 23: np.nan, 39: 6})
    scores = score_responses(pd.concat([one_missing, two_missing], ignore_index=True), min_valid_per_value=2)
    assert scores.loc[0, "SDT_raw"] == 6
    assert scores.loc[0, "SDT_n"] == 2
    assert np.isnan(scores.loc[1, "SDT_raw"])
    assert np.isnan(scores.loc[1, "SDT_centered"])
    # a basic or higher-order value with a missing value is missing too
    assert np.isnan(scores.loc[1, "self_direction_raw"])
    assert np.isnan(scores.loc[1, "openness_to_change_raw"])
    assert scores.loc[1, "self_enhancement_raw"] == 3
    # with a threshold of 1 the single remaining item carries the value
    lenient = score_responses(two_missing, min_valid_per_value=1)
    assert lenient.loc[0, "SDT_raw"] == 6


def test_mrat_missing_below_item_threshold():
    missing = {item: np.nan for item in range(1, 13)}  # 12 missing, 45 valid
    scores = score_responses(respondents(missing), min_valid_for_mrat=46).iloc[0]
    assert scores["n_valid"] == 45
    assert np.isnan(scores["mrat"])
    assert all(np.isnan(scores[f"{code}_centered"]) for code in CIRCLE_ORDER)
    assert scores["UNT_raw"] == 3  # raw scores do not need MRAT
    assert score_responses(respondents(missing), min_valid_for_mrat=45).iloc[0]["mrat"] == 3


def test_continuous_ratings_are_kept_exactly():
    scores = score_responses(respondents({1: 4.25, 23: 4.5, 39: 4.75})).iloc[0]
    assert scores["SDT_raw"] == 4.5


def test_columns_are_complete_and_ordered():
    columns = score_columns()
    assert columns[:2] == ["n_valid", "mrat"]
    assert len(columns) == 2 + 3 * 19 + 2 * (len(BASIC_VALUES) + len(HIGHER_ORDER_VALUES))
    assert list(score_responses(respondents({})).columns) == columns


def test_custom_key_is_used():
    key = dict(SCORING_KEY)
    scores = score_responses(respondents({1: 6, 23: 6, 39: 6}), key=key)
    assert scores.loc[0, "SDT_raw"] == 6


@pytest.mark.parametrize("row, message", [
    ({5: 7.0}, "within 1-6"),
    ({5: 0.0}, "within 1-6"),
])
def test_out_of_scale_ratings_are_rejected(row, message):
    with pytest.raises(ValueError, match=message):
        score_responses(respondents(row))


def test_wrong_columns_are_rejected():
    with pytest.raises(ValueError, match="missing \\[57\\]"):
        score_responses(respondents({}).drop(columns=[57]))


@pytest.mark.parametrize("arguments", [{"min_valid_per_value": 0}, {"min_valid_per_value": 4},
                                       {"min_valid_for_mrat": 0}, {"min_valid_for_mrat": 58}])
def test_thresholds_are_checked(arguments):
    with pytest.raises(ValueError):
        score_responses(respondents({}), **arguments)
