"""Reliability statistics, checked against R's psych package and by their properties.

The reference numbers were computed with R 4.2.2 Patched (2022-11-10) and psych 2.2.9
on the files in tests/data (synthetic data generated for this project).
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from llmvalues.reliability import (
    ICC_TYPES,
    RETEST_COLUMNS,
    VALUE_RELIABILITY_COLUMNS,
    cronbach_alpha,
    feldt_interval,
    fit_one_factor,
    intraclass_correlations,
    omega_total,
    retest_reliability,
    scale_reliability,
    value_reliability,
)
from llmvalues.values import CIRCLE_ORDER, N_ITEMS, VALUE_BY_CODE

DATA = Path(__file__).parent / "data"

# psych::alpha(items6); psych::omega(items6, nfactors=1)
ITEMS6_ALPHA = 0.836146095717884  # raw_alpha and std_alpha (the item variances are equal)
ITEMS6_FELDT_PRINTED = (0.806, 0.863)  # psych prints the Feldt interval to 3 decimals
ITEMS6_OMEGA = 0.837687625597468
ITEMS6_LOADINGS = [0.724801413502073, 0.691522174303043, 0.738044098257745,
                   0.715046144011118, 0.659992482232008, 0.541300544541487]
ITEMS6_UNIQUENESSES = [0.474662910985397, 0.521797082447192, 0.455290909026912,
                       0.488709011934832, 0.564409923397233, 0.70699372047909]

# psych::alpha(items5); psych::omega(items5, nfactors=1)
ITEMS5_ALPHA_RAW = 0.752709567576546
ITEMS5_ALPHA_STD = 0.761528408117884
ITEMS5_FELDT = (0.684118411362401, 0.810179736944285)
ITEMS5_OMEGA = 0.78053333009564

# psych::ICC(icc, lmer=FALSE): 20 targets in rows, 6 raters in columns
ICC_REFERENCE = {
    "icc": [0.804421297257055, 0.804832151859371, 0.815105971091259,
            0.96105644050419, 0.961154139469068, 0.963571482352729],
    "f": [25.678186918368, 27.4510209194557, 27.4510209194557,
          25.678186918368, 27.4510209194557, 27.4510209194557],
    "lower": [0.679910603775214, 0.679790356917745, 0.694428597378255,
              0.927245019016373, 0.927207739761078, 0.931672264612864],
    "upper": [0.903103176573168, 0.903427078064376, 0.90904678466874,
              0.982431956414477, 0.982495821635077, 0.983597947969629],
}


@pytest.fixture(scope="module")
def items6() -> pd.DataFrame:
    return pd.read_csv(DATA / "items6.csv")


@pytest.fixture(scope="module")
def items5() -> pd.DataFrame:
    return pd.read_csv(DATA / "items5.csv")


@pytest.fixture(scope="module")
def icc_table() -> pd.DataFrame:
    return intraclass_correlations(pd.read_csv(DATA / "icc.csv")).set_index("type")


def correlated_items(n_cases: int, correlations: list[list[float]], seed: int = 7) -> np.ndarray:
    """Return normal data whose sample correlation matrix is exactly ``correlations``."""
    rng = np.random.default_rng(seed)
    k = len(correlations)
    noise = rng.standard_normal((n_cases, k))
    noise -= noise.mean(axis=0)
    whitened = noise @ np.linalg.inv(np.linalg.cholesky(np.cov(noise, rowvar=False)).T)
    return whitened @ np.linalg.cholesky(np.array(correlations)).T


def model_ratings(n_trials: int, seed: int = 3) -> pd.DataFrame:
    """Return ratings of a model whose trials share a profile plus noise, 1-6, columns 1-57."""
    rng = np.random.default_rng(seed)
    profile = rng.integers(2, 6, size=N_ITEMS)
    noise = rng.integers(-1, 2, size=(n_trials, N_ITEMS))
    ratings = np.clip(profile + noise, 1, 6).astype(float)
    return pd.DataFrame(ratings, columns=range(1, N_ITEMS + 1))


def stubborn_ratings(n_trials: int) -> pd.DataFrame:
    """Return ratings of a model that gives each item the same rating in every trial."""
    profile = np.array([(item % 6) + 1 for item in range(1, N_ITEMS + 1)], dtype=float)
    return pd.DataFrame(np.tile(profile, (n_trials, 1)), columns=range(1, N_ITEMS + 1))


# Cronbach's alpha against psych

def test_alpha_items6_raw(items6):
    assert cronbach_alpha(items6).raw == pytest.approx(ITEMS6_ALPHA, abs=1e-12)


def test_alpha_items6_standardized(items6):
    assert cronbach_alpha(items6).standardized == pytest.approx(ITEMS6_ALPHA, abs=1e-12)


def test_alpha_items5_raw(items5):
    assert cronbach_alpha(items5).raw == pytest.approx(ITEMS5_ALPHA_RAW, abs=1e-12)


def test_alpha_items5_standardized(items5):
    assert cronbach_alpha(items5).standardized == pytest.approx(ITEMS5_ALPHA_STD, abs=1e-12)


def test_alpha_accepts_numpy_array(items5):
    assert cronbach_alpha(items5.to_numpy()).raw == pytest.approx(ITEMS5_ALPHA_RAW, abs=1e-12)


# Feldt's interval against psych

def test_feldt_items5_lower(items5):
    lower, _ = feldt_interval(cronbach_alpha(items5).raw, len(items5), items5.shape[1])
    assert lower == pytest.approx(ITEMS5_FELDT[0], abs=1e-12)


def test_feldt_items5_upper(items5):
    _, upper = feldt_interval(cronbach_alpha(items5).raw, len(items5), items5.shape[1])
    assert upper == pytest.approx(ITEMS5_FELDT[1], abs=1e-12)


def test_feldt_items6_printed_decimals(items6):
    lower, upper = feldt_interval(cronbach_alpha(items6).raw, len(items6), items6.shape[1])
    assert (round(lower, 3), round(upper, 3)) == ITEMS6_FELDT_PRINTED


def test_feldt_contains_alpha(items5):
    alpha = cronbach_alpha(items5).raw
    lower, upper = feldt_interval(alpha, len(items5), items5.shape[1])
    assert lower < alpha < upper


def test_feldt_wider_at_higher_level(items5):
    alpha = cronbach_alpha(items5).raw
    narrow = feldt_interval(alpha, len(items5), items5.shape[1], level=0.90)
    wide = feldt_interval(alpha, len(items5), items5.shape[1], level=0.99)
    assert wide[0] < narrow[0]
    assert narrow[1] < wide[1]


def test_feldt_nan_alpha():
    assert all(math.isnan(bound) for bound in feldt_interval(float("nan"), 30, 3))


def test_feldt_rejects_bad_level():
    with pytest.raises(ValueError, match="level must be between 0 and 1"):
        feldt_interval(0.8, 30, 3, level=95)


# Omega total against psych

def test_omega_items6(items6):
    assert omega_total(items6) == pytest.approx(ITEMS6_OMEGA, abs=1e-6)


def test_omega_items5(items5):
    assert omega_total(items5) == pytest.approx(ITEMS5_OMEGA, abs=1e-6)


def test_one_factor_items6_loadings(items6):
    np.testing.assert_allclose(fit_one_factor(items6).loadings, ITEMS6_LOADINGS, atol=1e-6)


def test_one_factor_items6_uniquenesses(items6):
    np.testing.assert_allclose(fit_one_factor(items6).uniquenesses, ITEMS6_UNIQUENESSES, atol=1e-6)


def test_one_factor_items6_no_problem(items6):
    assert fit_one_factor(items6).problem == ""


def test_one_factor_prints_no_warning(items6):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fit_one_factor(items6)
    assert [str(warning.message) for warning in caught] == []


def test_omega_heywood_case_is_nan():
    # The first item's loading implied by these correlations is sqrt(0.8 * 0.8 / 0.5) > 1.
    data = correlated_items(200, [[1, 0.8, 0.8], [0.8, 1, 0.5], [0.8, 0.5, 1]])
    fit = fit_one_factor(data)
    assert math.isnan(fit.omega_total)
    assert "Heywood case, item 1" in fit.problem


def test_omega_identical_items_is_nan():
    rng = np.random.default_rng(11)
    first = rng.integers(1, 7, size=40).astype(float)
    data = np.column_stack([first, first, rng.integers(1, 7, size=40)])
    fit = fit_one_factor(data)
    assert math.isnan(fit.omega_total)
    assert fit.problem.startswith("one-factor model failed: ")


def test_omega_two_items_is_nan(items5):
    fit = fit_one_factor(items5[["i1", "i2"]])
    assert math.isnan(fit.omega_total)
    assert fit.problem == "omega undefined: a one-factor model needs at least 3 items"


def test_omega_failure_prints_no_warning():
    data = correlated_items(200, [[1, 0.8, 0.8], [0.8, 1, 0.5], [0.8, 0.5, 1]])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fit_one_factor(data)
    assert [str(warning.message) for warning in caught] == []


# Alpha and omega: properties

def test_alpha_unchanged_by_permuting_items(items5):
    permuted = items5[list(reversed(items5.columns))]
    assert cronbach_alpha(permuted).raw == pytest.approx(cronbach_alpha(items5).raw, abs=1e-12)


def test_std_alpha_unchanged_by_permuting_items(items5):
    permuted = items5[["i3", "i1", "i5", "i2", "i4"]]
    assert cronbach_alpha(permuted).standardized == pytest.approx(cronbach_alpha(items5).standardized, abs=1e-12)


def test_alpha_unchanged_by_adding_constant(items5):
    assert cronbach_alpha(items5 + 10).raw == pytest.approx(cronbach_alpha(items5).raw, abs=1e-12)


def test_std_alpha_unchanged_by_rescaling_one_item(items5):
    rescaled = items5.assign(i1=items5["i1"] * 3)
    assert cronbach_alpha(rescaled).standardized == pytest.approx(cronbach_alpha(items5).standardized, abs=1e-12)


def test_raw_alpha_changed_by_rescaling_one_item(items5):
    rescaled = items5.assign(i1=items5["i1"] * 3)
    assert cronbach_alpha(rescaled).raw != pytest.approx(cronbach_alpha(items5).raw, abs=1e-3)


def test_omega_unchanged_by_permuting_items(items5):
    permuted = items5[list(reversed(items5.columns))]
    assert omega_total(permuted) == pytest.approx(omega_total(items5), abs=1e-6)


def test_alpha_equals_icc3k(items5):
    # Alpha is the consistency ICC of the mean of k raters, with items as raters.
    icc3k = intraclass_correlations(items5).set_index("type").loc["ICC3k", "icc"]
    assert cronbach_alpha(items5).raw == pytest.approx(icc3k, abs=1e-12)


def test_alpha_rejects_missing_values(items5):
    with pytest.raises(ValueError, match="contains NaN"):
        cronbach_alpha(items5.mask(items5 == 6))


def test_alpha_constant_item_keeps_raw(items5):
    alpha = cronbach_alpha(items5.assign(i2=4))
    assert math.isfinite(alpha.raw)


def test_alpha_constant_item_std_nan(items5):
    assert math.isnan(cronbach_alpha(items5.assign(i2=4)).standardized)


# One scale with degenerate data

def test_scale_constant_item_raw_alpha(items5):
    result = scale_reliability(items5.assign(i2=4), case_name="trials")
    assert result.alpha_raw == pytest.approx(cronbach_alpha(items5.assign(i2=4)).raw, abs=1e-12)


def test_scale_constant_item_feldt_defined(items5):
    result = scale_reliability(items5.assign(i2=4))
    assert math.isfinite(result.feldt_lower)
    assert math.isfinite(result.feldt_upper)


def test_scale_constant_item_std_nan(items5):
    assert math.isnan(scale_reliability(items5.assign(i2=4)).alpha_std)


def test_scale_constant_item_omega_nan(items5):
    assert math.isnan(scale_reliability(items5.assign(i2=4)).omega_total)


def test_scale_constant_item_listed(items5):
    assert scale_reliability(items5.assign(i2=4)).constant_items == ("i2",)


def test_scale_constant_item_reason(items5):
    reason = scale_reliability(items5.assign(i2=4), case_name="trials").reason
    assert reason == "item i2 constant across trials, so standardized alpha and omega are undefined"


def test_scale_all_constant_all_nan():
    result = scale_reliability(np.full((10, 3), 5.0))
    numbers = [result.alpha_raw, result.alpha_std, result.feldt_lower, result.feldt_upper, result.omega_total]
    assert all(math.isnan(number) for number in numbers)


def test_scale_all_constant_reason():
    assert scale_reliability(np.full((10, 3), 5.0)).reason.startswith("no variance")


def test_scale_all_constant_lists_items():
    assert scale_reliability(np.full((10, 3), 5.0)).constant_items == ("1", "2", "3")


def test_scale_constant_total_raw_nan():
    # The two items always add up to 7, so the total score never varies.
    data = np.array([[1, 6], [2, 5], [3, 4], [6, 1]], dtype=float)
    assert math.isnan(scale_reliability(data).alpha_raw)


def test_scale_constant_total_reason():
    data = np.array([[1, 6], [2, 5], [3, 4], [6, 1]], dtype=float)
    assert "total score constant across cases" in scale_reliability(data).reason


def test_scale_drops_incomplete_rows(items5):
    with_missing = items5.astype(float)
    with_missing.iloc[[0, 5, 9], 2] = np.nan
    assert scale_reliability(with_missing).n == len(items5) - 3


def test_scale_counts_dropped_rows(items5):
    with_missing = items5.astype(float)
    with_missing.iloc[[0, 5, 9], 2] = np.nan
    assert scale_reliability(with_missing).n_dropped == 3


def test_scale_two_cases_reason():
    data = np.array([[1, 2, 3], [2, 3, 5], [np.nan, 1, 1]])
    assert scale_reliability(data, case_name="trials").reason == "fewer than 3 complete trials"


def test_scale_two_cases_all_nan():
    result = scale_reliability(np.array([[1, 2, 3], [2, 3, 5]], dtype=float))
    numbers = [result.alpha_raw, result.alpha_std, result.feldt_lower, result.feldt_upper, result.omega_total]
    assert all(math.isnan(number) for number in numbers)


def test_scale_complete_data_no_reason(items6):
    assert scale_reliability(items6).reason == ""


def test_scale_heywood_reason():
    data = correlated_items(200, [[1, 0.8, 0.8], [0.8, 1, 0.5], [0.8, 0.5, 1]])
    assert scale_reliability(data).reason.startswith("one-factor model failed: Heywood case")


def test_scale_random_data_reason_iff_nan():
    # Small random scales hit constant items, Heywood cases and singular correlations.
    rng = np.random.default_rng(0)
    mismatches = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for case in range(300):
            data = rng.integers(1, 7, size=(int(rng.integers(3, 9)), int(rng.integers(2, 5)))).astype(float)
            if case % 3 == 0:
                data[:, 0] = data[:, 1]
            result = scale_reliability(data)
            numbers = [result.alpha_raw, result.alpha_std, result.feldt_lower, result.feldt_upper,
                       result.omega_total]
            if any(math.isnan(number) for number in numbers) != bool(result.reason):
                mismatches.append((data.tolist(), result))
    assert mismatches == []
    assert [str(warning.message) for warning in caught] == []


def test_scale_rejects_one_item():
    with pytest.raises(ValueError, match="at least 2 items"):
        scale_reliability(np.ones((5, 1)))


# Per-value reliability of one model

def test_value_reliability_columns():
    table = value_reliability(model_ratings(20))
    assert tuple(table.columns) == VALUE_RELIABILITY_COLUMNS


def test_value_reliability_circle_order():
    assert value_reliability(model_ratings(20))["value"].tolist() == list(CIRCLE_ORDER)


def test_value_reliability_matches_alpha():
    ratings = model_ratings(20)
    table = value_reliability(ratings).set_index("value")
    items = list(VALUE_BY_CODE["UNN"].items)
    expected = scale_reliability(ratings[items])
    assert table.loc["UNN", "alpha_raw"] == pytest.approx(expected.alpha_raw, nan_ok=True, abs=1e-12)


def test_value_reliability_uses_complete_trials():
    ratings = model_ratings(20)
    ratings.loc[[0, 1], 23] = np.nan
    table = value_reliability(ratings).set_index("value")
    assert table.loc["SDT", "n"] == 18


def test_value_reliability_stubborn_model_reason():
    table = value_reliability(stubborn_ratings(10))
    assert table["reason"].str.startswith("no variance").all()


def test_value_reliability_stubborn_model_nan():
    table = value_reliability(stubborn_ratings(10))
    assert table[["alpha_raw", "alpha_std", "feldt_lower", "feldt_upper", "omega_total"]].isna().all().all()


def test_value_reliability_stubborn_constant_items():
    table = value_reliability(stubborn_ratings(10)).set_index("value")
    assert table.loc["SDT", "constant_items"] == "1;23;39"


def test_value_reliability_one_constant_item():
    ratings = model_ratings(30)
    ratings[23] = 4.0
    row = value_reliability(ratings).set_index("value").loc["SDT"]
    assert row["constant_items"] == "23"


def test_value_reliability_one_constant_item_reason():
    ratings = model_ratings(30)
    ratings[23] = 4.0
    row = value_reliability(ratings).set_index("value").loc["SDT"]
    assert row["reason"].startswith("item 23 constant across trials")


def test_value_reliability_nan_has_reason():
    ratings = model_ratings(8)
    ratings[23] = 4.0
    ratings.loc[[0, 1, 2, 3, 4, 5], 30] = np.nan
    table = value_reliability(ratings)
    numbers = table[["alpha_raw", "alpha_std", "feldt_lower", "feldt_upper", "omega_total"]]
    undefined = numbers.isna().any(axis=1)
    assert (table.loc[undefined, "reason"] != "").all()


def test_value_reliability_numbers_have_no_reason():
    ratings = model_ratings(8)
    ratings[23] = 4.0
    table = value_reliability(ratings)
    numbers = table[["alpha_raw", "alpha_std", "feldt_lower", "feldt_upper", "omega_total"]]
    defined = numbers.notna().all(axis=1)
    assert (table.loc[defined, "reason"] == "").all()


def test_value_reliability_few_trials_reason():
    table = value_reliability(model_ratings(2))
    assert (table["reason"] == "fewer than 3 complete trials").all()


def test_value_reliability_missing_item_column():
    with pytest.raises(ValueError, match=r"no column for items \[57\]"):
        value_reliability(model_ratings(5).drop(columns=[57]))


def test_value_reliability_prints_no_warning():
    ratings = model_ratings(6)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        value_reliability(ratings)
    assert [str(warning.message) for warning in caught] == []


# Intraclass correlations against psych

@pytest.mark.parametrize("position, name", list(enumerate(ICC_TYPES)))
def test_icc_reference_value(icc_table, position, name):
    assert icc_table.loc[name, "icc"] == pytest.approx(ICC_REFERENCE["icc"][position], abs=1e-10)


@pytest.mark.parametrize("position, name", list(enumerate(ICC_TYPES)))
def test_icc_reference_f(icc_table, position, name):
    assert icc_table.loc[name, "f"] == pytest.approx(ICC_REFERENCE["f"][position], rel=1e-10)


@pytest.mark.parametrize("position, name", list(enumerate(ICC_TYPES)))
def test_icc_reference_lower(icc_table, position, name):
    assert icc_table.loc[name, "lower"] == pytest.approx(ICC_REFERENCE["lower"][position], abs=1e-10)


@pytest.mark.parametrize("position, name", list(enumerate(ICC_TYPES)))
def test_icc_reference_upper(icc_table, position, name):
    assert icc_table.loc[name, "upper"] == pytest.approx(ICC_REFERENCE["upper"][position], abs=1e-10)


def test_icc_degrees_of_freedom(icc_table):
    # 20 targets and 6 raters: one-way df2 = 20 * 5, two-way df2 = 19 * 5.
    assert icc_table[["df1", "df2"]].to_numpy().tolist() == [[19, 100], [19, 95], [19, 95],
                                                             [19, 100], [19, 95], [19, 95]]


def test_icc_p_values_small(icc_table):
    assert (icc_table["p"] < 1e-12).all()


def test_icc_form_in_words(icc_table):
    assert icc_table.loc["ICC2", "form"] == "ICC2: two-way random effects, absolute agreement, single rater"


def test_icc_unchanged_by_shift_and_scale():
    ratings = pd.read_csv(DATA / "icc.csv")
    original = intraclass_correlations(ratings)["icc"].to_numpy()
    transformed = intraclass_correlations(ratings * 2.5 + 7)["icc"].to_numpy()
    np.testing.assert_allclose(transformed, original, atol=1e-12)


def test_icc_identical_raters_are_one():
    targets = np.arange(1.0, 9.0)
    result = intraclass_correlations(np.column_stack([targets] * 4))
    np.testing.assert_allclose(result["icc"], 1.0, atol=1e-12)


def test_icc_identical_raters_bounds_are_one():
    targets = np.arange(1.0, 9.0)
    result = intraclass_correlations(np.column_stack([targets] * 4))
    np.testing.assert_allclose(result[["lower", "upper"]].to_numpy(), 1.0, atol=1e-9)


def test_icc_shifted_rater_consistency_one():
    targets = np.arange(1.0, 9.0)
    result = intraclass_correlations(np.column_stack([targets, targets + 1, targets + 2])).set_index("type")
    assert result.loc["ICC3", "icc"] == pytest.approx(1.0, abs=1e-12)


def test_icc_shifted_rater_agreement_below_one():
    targets = np.arange(1.0, 9.0)
    result = intraclass_correlations(np.column_stack([targets, targets + 1, targets + 2])).set_index("type")
    assert result.loc["ICC2", "icc"] < 0.9


def test_icc_shifted_rater_agreement_bounds():
    targets = np.arange(1.0, 9.0)
    result = intraclass_correlations(np.column_stack([targets, targets + 1, targets + 2])).set_index("type")
    assert result.loc["ICC2", "lower"] < result.loc["ICC2", "icc"] < result.loc["ICC2", "upper"]


def test_icc_all_equal_is_nan():
    result = intraclass_correlations(np.full((5, 3), 4.0))
    assert result[["icc", "f", "p", "lower", "upper"]].isna().all().all()


def test_icc_equal_targets_one_way():
    # Every target has the same mean, so ICC1 reaches its minimum -1/(k-1).
    ratings = np.array([[1, 2, 3], [3, 1, 2], [2, 3, 1]], dtype=float)
    result = intraclass_correlations(ratings).set_index("type")
    assert result.loc["ICC1", "icc"] == pytest.approx(-0.5, abs=1e-12)


def test_icc_equal_targets_average_nan():
    ratings = np.array([[1, 2, 3], [3, 1, 2], [2, 3, 1]], dtype=float)
    result = intraclass_correlations(ratings).set_index("type")
    assert math.isnan(result.loc["ICC1k", "icc"])


def test_icc_degenerate_prints_no_warning():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        intraclass_correlations(np.full((5, 3), 4.0))
        intraclass_correlations(np.column_stack([np.arange(1.0, 6.0)] * 3))
        intraclass_correlations(np.array([[1, 2, 3], [3, 1, 2], [2, 3, 1]], dtype=float))
    assert [str(warning.message) for warning in caught] == []


def test_icc_rejects_missing_values():
    with pytest.raises(ValueError, match="contains NaN"):
        intraclass_correlations(np.array([[1, 2], [3, np.nan], [4, 5]]))


# Test-retest of one model

def test_retest_columns():
    assert tuple(retest_reliability(model_ratings(5)).columns) == RETEST_COLUMNS


def test_retest_matches_icc():
    ratings = model_ratings(5)
    expected = intraclass_correlations(ratings.to_numpy().T)["icc"].to_numpy()
    np.testing.assert_allclose(retest_reliability(ratings)["icc"].to_numpy(), expected, atol=1e-12)


def test_retest_counts_items_and_trials():
    result = retest_reliability(model_ratings(5))
    assert (result.loc[0, "n_items"], result.loc[0, "n_trials"]) == (N_ITEMS, 5)


def test_retest_drops_item_missing_once():
    ratings = model_ratings(5)
    ratings.loc[2, 40] = np.nan
    assert retest_reliability(ratings).loc[0, "n_items"] == N_ITEMS - 1


def test_retest_drops_empty_trial():
    ratings = model_ratings(5)
    ratings.loc[3, :] = np.nan
    assert retest_reliability(ratings).loc[0, "n_trials"] == 4


def test_retest_stubborn_model_is_one():
    result = retest_reliability(stubborn_ratings(4)).set_index("type")
    assert result.loc["ICC2", "icc"] == pytest.approx(1.0, abs=1e-12)


def test_retest_identical_ratings_reason():
    ratings = pd.DataFrame(np.full((4, N_ITEMS), 3.0), columns=range(1, N_ITEMS + 1))
    assert (retest_reliability(ratings)["reason"] == "all ratings identical").all()


def test_retest_identical_ratings_nan():
    ratings = pd.DataFrame(np.full((4, N_ITEMS), 3.0), columns=range(1, N_ITEMS + 1))
    assert retest_reliability(ratings)["icc"].isna().all()


def test_retest_one_trial_reason():
    assert (retest_reliability(model_ratings(1))["reason"] == "fewer than 2 trials with ratings").all()


def test_retest_one_common_item_reason():
    ratings = model_ratings(3)
    ratings.loc[0, 2:] = np.nan
    assert (retest_reliability(ratings)["reason"] == "fewer than 2 items rated in every trial").all()


def test_retest_no_reason_when_defined():
    assert (retest_reliability(model_ratings(5))["reason"] == "").all()


def test_heywood_reason_names_item_labels():
    # Items 16 and 30 nearly identical: the one-factor fit puts their uniquenesses at the bound.
    generator = np.random.default_rng(4)
    base = generator.integers(1, 7, size=12).astype(float)
    table = pd.DataFrame({16: base, 30: base + generator.choice([0.0, 0.01], size=12),
                          56: base + generator.integers(-2, 3, size=12)})
    result = scale_reliability(table, case_name="trials")
    assert "Heywood case, items 16 and 30" in result.reason
    assert math.isnan(result.omega_total)
