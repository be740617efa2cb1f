"""Dilemma statistics: R references, simulated data with a known slope, and properties."""

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy import special, stats
from statsmodels.miscmodels.ordinal_model import OrderedModel

from llmvalues import dilemma_stats
from llmvalues.dilemma_stats import (
    fit_side_logit,
    fit_strength_ordinal,
    leave_one_dilemma_out,
    permutation_test_by_dilemma,
    permutation_test_slope,
    position_bias,
    profile_consistency,
)
from llmvalues.errors import InputError

DATA = Path(__file__).parent / "data"

# R 4.2.2 Patched (2022-11-10 r83330), sandwich 3.0.2, on dilemmas.csv (3 models x 8 trials x 24 dilemmas):
#   fit <- glm(chose_a ~ value_diff + model, family = binomial, data = d)
#   sqrt(diag(vcov(fit)))
#   sqrt(diag(sandwich::vcovCL(fit, cluster = ~dilemma, type = "HC0", cadjust = FALSE)))
#   sqrt(diag(sandwich::vcovCL(fit, cluster = ~dilemma, type = "HC1")))  # cadjust G/(G-1) by default
# R names the model terms modelm2 and modelm3.
R_LOGIT_TERMS = ("(Intercept)", "value_diff", "model[m2]", "model[m3]")
R_LOGIT_COEF = [-0.397950733483885, 0.783377339103952, 0.593452088453815, 0.545837603617864]
R_LOGIT_SE_MODEL = [0.155685096206744, 0.104148367715944, 0.21891381694895, 0.219069035870029]
R_LOGIT_SE_HC0 = [0.145420256021308, 0.112954907124283, 0.182850051530602, 0.197786523227068]
R_LOGIT_SE_HC1 = [0.148936970504924, 0.115686508406991, 0.187271934988526, 0.202569617067825]

# R 4.2.2 Patched (2022-11-10 r83330), ordinal 2022.11.16, on dilemmas.csv:
#   fit <- ordinal::clm(ordered(strength) ~ value_diff + model, link = "logit", data = d)
#   coef(fit); logLik(fit)
R_CLM_TERMS = ("1|2", "2|3", "3|4", "4|5", "5|6", "value_diff", "model[m2]", "model[m3]")
R_CLM_COEF = [-3.04204564651826, -1.33244554160197, 0.590077307434512, 2.24504718272249, 3.91452732124387,
              1.8870030894616, 0.573934423009042, 1.19991406333854]
R_CLM_LOGLIK = -777.027109345785

TRUE_SLOPE = 0.8
MODEL_EFFECTS = (0.0, 0.5, -0.4)
# Thresholds of the simulated strength. The middle one is 0, so strength >= 4 exactly
# when the latent answer favours A, which makes chose_a and strength agree.
TRUE_THRESHOLDS = (-3.0, -1.5, 0.0, 1.5, 3.0)
COVERAGE_SEEDS = 40
MIN_COVERAGE = 0.8


@pytest.fixture(scope="module")
def dilemmas() -> pd.DataFrame:
    return pd.read_csv(DATA / "dilemmas.csv")


@pytest.fixture(scope="module")
def side(dilemmas):
    return fit_side_logit(dilemmas)


@pytest.fixture(scope="module")
def strength(dilemmas):
    return fit_strength_ordinal(dilemmas)


def simulate(seed: int, *, slope: float = TRUE_SLOPE, n_dilemmas: int = 24, n_trials: int = 5,
             correlation: float = 0.3) -> pd.DataFrame:
    """Simulate dilemma answers whose side and strength follow the logit models exactly.

    Each row's latent answer is eta + logit(U), where eta is the model effect plus
    slope * value_diff and U is uniform. The uniforms of one dilemma are correlated
    through a Gaussian copula, so answers cluster by dilemma while each row still has
    P(chose_a) = expit(eta) and P(strength <= j) = expit(theta_j - eta). Random
    intercepts in the linear predictor would shrink the population slope below the
    true one and bias the coverage checks.
    """
    rng = np.random.default_rng(seed)
    rows = []
    for model_index, effect in enumerate(MODEL_EFFECTS):
        value_diff = rng.normal(size=n_dilemmas)
        for dilemma in range(n_dilemmas):
            for trial in range(1, n_trials + 1):
                rows.append((f"m{model_index + 1}", trial, f"d{dilemma:02d}", value_diff[dilemma],
                             effect + slope * value_diff[dilemma]))
    table = pd.DataFrame(rows, columns=["model", "trial", "dilemma", "value_diff", "eta"])

    shared = rng.normal(size=n_dilemmas)[table["dilemma"].str[1:].astype(int)]
    normal = math.sqrt(correlation) * shared + math.sqrt(1 - correlation) * rng.normal(size=len(table))
    latent = table["eta"].to_numpy() + special.logit(stats.norm.cdf(normal))
    table["chose_a"] = (latent > 0).astype(int)
    table["strength"] = 1 + np.searchsorted(TRUE_THRESHOLDS, latent)
    return table.drop(columns="eta")


def swap_sides(table: pd.DataFrame) -> pd.DataFrame:
    """Relabel option A as B: negate value_diff, flip chose_a, mirror strength.

    Both the predictor and the outcome change sign, so the slope stays the same while
    the intercept, the model effects and the thresholds change sign.
    """
    swapped = table.copy()
    swapped["value_diff"] = -swapped["value_diff"]
    swapped["chose_a"] = 1 - swapped["chose_a"]
    swapped["strength"] = 7 - swapped["strength"]
    return swapped


def flip_answers(table: pd.DataFrame) -> pd.DataFrame:
    """Flip chose_a and mirror strength but keep value_diff, which negates the slope."""
    flipped = table.copy()
    flipped["chose_a"] = 1 - flipped["chose_a"]
    flipped["strength"] = 7 - flipped["strength"]
    return flipped


def rename_models(table: pd.DataFrame) -> pd.DataFrame:
    """Rename the models so that another one sorts first and becomes the reference."""
    renamed = table.copy()
    renamed["model"] = renamed["model"].map({"m1": "zeta", "m2": "alpha", "m3": "mu"})
    return renamed


# Side logit against R --------------------------------------------------------------------


def test_logit_terms_follow_r(side):
    assert side.terms == R_LOGIT_TERMS


def test_logit_coef_matches_r(side):
    np.testing.assert_allclose(side.coef, R_LOGIT_COEF, rtol=0, atol=1e-6)


def test_logit_se_model_matches_r(side):
    np.testing.assert_allclose(side.se_model, R_LOGIT_SE_MODEL, rtol=0, atol=1e-6)


def test_logit_se_hc0_matches_sandwich(side):
    np.testing.assert_allclose(side.se_cluster_hc0, R_LOGIT_SE_HC0, rtol=0, atol=1e-6)


def test_logit_se_cluster_matches_sandwich_hc1(side):
    np.testing.assert_allclose(side.se_cluster, R_LOGIT_SE_HC1, rtol=0, atol=1e-6)


def test_logit_se_cluster_matches_statsmodels(dilemmas, side):
    design = sm.add_constant(pd.get_dummies(dilemmas["model"], drop_first=True, dtype=float)
                             .assign(value_diff=dilemmas["value_diff"])[["value_diff", "m2", "m3"]])
    groups = pd.factorize(dilemmas["dilemma"])[0]
    result = sm.Logit(dilemmas["chose_a"], design).fit(disp=False, cov_type="cluster", cov_kwds={"groups": groups})
    np.testing.assert_allclose(side.se_cluster, result.bse.to_numpy(), rtol=1e-8)


def test_logit_slope_inference(side):
    assert side.slope == side.coef[1]
    assert side.slope_se == side.se_cluster[1]
    assert side.z == pytest.approx(side.slope / side.slope_se, rel=1e-12)
    assert side.p == pytest.approx(2 * stats.norm.sf(abs(side.z)), rel=1e-12)
    assert side.ci_low == pytest.approx(side.slope - 1.959963984540054 * side.slope_se, rel=1e-12)
    assert side.ci_high == pytest.approx(side.slope + 1.959963984540054 * side.slope_se, rel=1e-12)


def test_logit_odds_ratio(side):
    assert side.odds_ratio == pytest.approx(math.exp(side.slope), rel=1e-12)
    assert side.odds_ratio_low == pytest.approx(math.exp(side.ci_low), rel=1e-12)
    assert side.odds_ratio_high == pytest.approx(math.exp(side.ci_high), rel=1e-12)


def test_logit_counts(side):
    assert side.n == 576
    assert side.n_clusters == 24
    assert side.models == ("m1", "m2", "m3")
    assert side.reason == ""


def test_logit_mcfadden_matches_statsmodels(dilemmas, side):
    models = pd.get_dummies(dilemmas["model"], drop_first=True, dtype=float)
    full = sm.Logit(dilemmas["chose_a"], sm.add_constant(models.assign(value_diff=dilemmas["value_diff"])))
    full_fit = full.fit(disp=False)
    models_fit = sm.Logit(dilemmas["chose_a"], sm.add_constant(models)).fit(disp=False)
    assert side.mcfadden_r2 == pytest.approx(full_fit.prsquared, rel=1e-9)
    assert side.loglik_models == pytest.approx(models_fit.llf, rel=1e-9)
    assert side.mcfadden_r2_value_diff == pytest.approx(1 - full_fit.llf / models_fit.llf, rel=1e-9)


def test_logit_lr_value_diff(side):
    assert side.lr_value_diff == pytest.approx(2 * (side.loglik - side.loglik_models), rel=1e-12)
    assert side.lr_value_diff_p == pytest.approx(stats.chi2.sf(side.lr_value_diff, 1), rel=1e-9)


def test_logit_confidence_level(dilemmas):
    fit = fit_side_logit(dilemmas, confidence=0.9)
    assert fit.ci_high - fit.slope == pytest.approx(stats.norm.ppf(0.95) * fit.slope_se, rel=1e-12)


# Ordinal strength against R --------------------------------------------------------------


def test_ordinal_terms_follow_clm(strength):
    assert strength.terms == R_CLM_TERMS


def test_ordinal_coef_matches_clm(strength):
    np.testing.assert_allclose(strength.coef, R_CLM_COEF, rtol=0, atol=1e-4)


def test_ordinal_loglik_matches_clm(strength):
    assert strength.loglik == pytest.approx(R_CLM_LOGLIK, abs=1e-4)


def test_ordinal_thresholds(strength):
    np.testing.assert_array_equal(strength.thresholds, strength.coef[:5])
    assert strength.categories == (1, 2, 3, 4, 5, 6)
    assert strength.absent_categories == ()


def statsmodels_clm_covariances(dilemmas):
    """Fit OrderedModel and carry its covariances to clm's threshold scale by the delta method."""
    predictors = pd.get_dummies(dilemmas["model"], drop_first=True, dtype=float)
    predictors.insert(0, "value_diff", dilemmas["value_diff"])
    model = OrderedModel(dilemmas["strength"].to_numpy(), predictors.to_numpy(), distr="logit")
    fit = dict(method="bfgs", gtol=1e-8, maxiter=2000, disp=False)
    plain = model.fit(**fit)
    clustered = model.fit(**fit, cov_type="cluster", cov_kwds={"groups": pd.factorize(dilemmas["dilemma"])[0]})

    # statsmodels orders (betas, first threshold, log increments) and clm (thresholds, betas).
    # theta_j = a_1 + sum_{i=2..j} exp(a_i), so d theta_j / d a_i = exp(a_i) for 2 <= i <= j.
    n_betas, params = 3, plain.params
    jacobian = np.zeros((8, 8))
    for j in range(5):
        jacobian[j, n_betas] = 1.0
        for i in range(1, j + 1):
            jacobian[j, n_betas + i] = math.exp(params[n_betas + i])
    for i in range(n_betas):
        jacobian[5 + i, i] = 1.0
    return jacobian @ plain.cov_params() @ jacobian.T, jacobian @ clustered.cov_params() @ jacobian.T


def test_ordinal_se_match_statsmodels(dilemmas, strength):
    model_based, clustered = statsmodels_clm_covariances(dilemmas)
    # statsmodels differentiates numerically, which agrees to about 1e-7.
    np.testing.assert_allclose(strength.se_model, np.sqrt(np.diag(model_based)), rtol=1e-5)
    np.testing.assert_allclose(strength.se_cluster, np.sqrt(np.diag(clustered)), rtol=1e-5)


def test_ordinal_scores_match_numerical_gradient(dilemmas, strength):
    predictors = np.column_stack([dilemmas["value_diff"], dilemmas["model"] == "m2", dilemmas["model"] == "m3"])
    predictors = predictors.astype(float)
    codes = dilemmas["strength"].to_numpy() - 1
    scores, hessian = dilemma_stats._cumulative_logit_derivatives(strength.coef, predictors, codes, 6)

    def row_logliks(coef):
        thresholds = np.concatenate([[-np.inf], coef[:5], [np.inf]])
        linear = predictors @ coef[5:]
        return np.log(special.expit(thresholds[codes + 1] - linear) - special.expit(thresholds[codes] - linear))

    step = 1e-6
    for index in range(8):
        shift = np.zeros(8)
        shift[index] = step
        numerical = (row_logliks(strength.coef + shift) - row_logliks(strength.coef - shift)) / (2 * step)
        np.testing.assert_allclose(scores[:, index], numerical, rtol=1e-5, atol=1e-8)
        numerical_column = (dilemma_stats._cumulative_logit_derivatives(strength.coef + shift, predictors, codes, 6)[0]
                            - dilemma_stats._cumulative_logit_derivatives(strength.coef - shift, predictors, codes,
                                                                          6)[0]).sum(axis=0) / (2 * step)
        np.testing.assert_allclose(hessian[:, index], numerical_column, rtol=1e-5, atol=1e-6)


def test_ordinal_mcfadden(dilemmas, strength):
    counts = dilemmas["strength"].value_counts().to_numpy()
    assert strength.loglik_null == pytest.approx(np.sum(counts * np.log(counts / counts.sum())), rel=1e-12)
    assert strength.mcfadden_r2 == pytest.approx(1 - strength.loglik / strength.loglik_null, rel=1e-12)
    assert strength.loglik_models < strength.loglik
    assert strength.loglik_models > strength.loglik_null


def test_ordinal_absent_category(dilemmas):
    # Strength 2 becomes 3, so the categories 1, 3, 4, 5, 6 remain and 2 is absent.
    merged = dilemmas.assign(strength=dilemmas["strength"].replace(2, 3))
    fit = fit_strength_ordinal(merged)
    assert fit.reason == ""
    assert fit.categories == (1, 3, 4, 5, 6)
    assert fit.absent_categories == (2,)
    assert fit.terms[:4] == ("1|3", "3|4", "4|5", "5|6")


def test_ordinal_absent_category_matches_consecutive_codes(dilemmas):
    merged = dilemmas.assign(strength=dilemmas["strength"].replace(2, 3))
    consecutive = merged.assign(strength=merged["strength"].replace({3: 2, 4: 3, 5: 4, 6: 5}))
    np.testing.assert_allclose(fit_strength_ordinal(merged).coef, fit_strength_ordinal(consecutive).coef,
                               rtol=0, atol=1e-6)


# Known slope: interval coverage over seeds -----------------------------------------------


@pytest.fixture(scope="module")
def simulated_side():
    return [fit_side_logit(simulate(seed)) for seed in range(COVERAGE_SEEDS)]


@pytest.fixture(scope="module")
def simulated_strength():
    return [fit_strength_ordinal(simulate(seed)) for seed in range(COVERAGE_SEEDS)]


def test_logit_interval_covers_true_slope(simulated_side):
    covered = [fit.ci_low <= TRUE_SLOPE <= fit.ci_high for fit in simulated_side]
    assert np.mean(covered) >= MIN_COVERAGE


def test_logit_slope_unbiased(simulated_side):
    assert np.mean([fit.slope for fit in simulated_side]) == pytest.approx(TRUE_SLOPE, abs=0.1)


def test_ordinal_interval_covers_true_slope(simulated_strength):
    covered = [fit.ci_low <= TRUE_SLOPE <= fit.ci_high for fit in simulated_strength]
    assert np.mean(covered) >= MIN_COVERAGE


def test_ordinal_slope_unbiased(simulated_strength):
    assert np.mean([fit.slope for fit in simulated_strength]) == pytest.approx(TRUE_SLOPE, abs=0.1)


def test_ordinal_thresholds_recover_truth(simulated_strength):
    mean_thresholds = np.mean([fit.thresholds for fit in simulated_strength], axis=0)
    np.testing.assert_allclose(mean_thresholds, TRUE_THRESHOLDS, atol=0.25)


# Permutation test ------------------------------------------------------------------------


def test_permutation_slope_matches_statsmodels(dilemmas, side):
    result = permutation_test_slope(dilemmas, permutations=10, seed=1)
    assert result.slope == pytest.approx(side.slope, abs=1e-9)


def test_permutation_newton_matches_statsmodels(dilemmas):
    rng = np.random.default_rng(5)
    design = sm.add_constant(np.column_stack([rng.normal(size=576), dilemmas["model"] == "m2"]).astype(float))
    expected = sm.Logit(dilemmas["chose_a"].to_numpy(), design).fit(disp=False, tol=1e-12).params
    np.testing.assert_allclose(dilemma_stats._newton_logit(design, dilemmas["chose_a"].to_numpy(float)), expected,
                               rtol=0, atol=1e-9)


def test_permutation_is_deterministic(dilemmas):
    first = permutation_test_slope(dilemmas, permutations=50, seed=3)
    second = permutation_test_slope(dilemmas, permutations=50, seed=3)
    assert first == second


def test_permutation_seed_changes_null(dilemmas):
    first = permutation_test_slope(dilemmas, permutations=50, seed=3)
    second = permutation_test_slope(dilemmas, permutations=50, seed=4)
    assert first.null_mean != second.null_mean


def test_permutation_strong_effect(dilemmas):
    result = permutation_test_slope(dilemmas, permutations=199, seed=1)
    assert result.p == pytest.approx(1 / 200)
    assert result.n_failed == 0
    assert abs(result.null_mean) < 0.05
    assert result.null_sd == pytest.approx(0.09, abs=0.03)


def test_permutation_keeps_values_within_model():
    # m2's value_diff is 50 in every row, so within-model shuffles leave m2's rows as they
    # are and the null slopes match those of m1 alone. A shuffle across models would move
    # the 50s into m1's rows and shrink the slopes.
    table = simulate(2, slope=0.0)
    table = table[table["model"] != "m3"].copy()
    table.loc[table["model"] == "m2", "value_diff"] = 50.0
    alone = permutation_test_slope(table[table["model"] == "m1"], permutations=2000, seed=1)
    together = permutation_test_slope(table, permutations=2000, seed=2)
    assert together.slope == pytest.approx(alone.slope, abs=1e-8)
    assert together.null_sd == pytest.approx(alone.null_sd, rel=0.1)


def test_permutation_counts_separated_shuffles():
    # One overlap keeps the observed data unseparated, but shuffles that sort the four
    # A answers above the four B answers separate them and count as extreme.
    table = pd.DataFrame({"model": "a", "dilemma": [f"d{i}" for i in range(8)],
                          "value_diff": np.arange(8.0), "chose_a": [0, 0, 0, 1, 0, 1, 1, 1]})
    result = permutation_test_slope(table, permutations=500, seed=1)
    assert result.reason == ""
    assert result.n_failed > 0
    assert result.p >= (1 + result.n_failed) / 501
    assert math.isfinite(result.null_sd)


def null_rejections(shuffle: str, correlation: float) -> int:
    p_values = [permutation_test_slope(simulate(seed, slope=0.0, n_dilemmas=12, n_trials=3, correlation=correlation),
                                       permutations=199, seed=seed, shuffle=shuffle).p for seed in range(200)]
    return sum(p <= 0.05 for p in p_values)


# With no effect and exchangeable units, 199 permutations reject at exactly 10/200 = 0.05,
# so 200 data sets give Binomial(200, 0.05) rejections, which lie in [3, 19] with
# probability 0.995.
NULL_REJECTIONS_LOW = 3
NULL_REJECTIONS_HIGH = 19


def test_permutation_rows_null_rate():
    # Independent answers (no dilemma clustering) make the rows exchangeable.
    rejections = null_rejections("rows", correlation=0.0)
    assert rejections >= NULL_REJECTIONS_LOW
    assert rejections <= NULL_REJECTIONS_HIGH


def test_permutation_dilemmas_null_rate_clustered():
    rejections = null_rejections("dilemmas", correlation=0.3)
    assert rejections >= NULL_REJECTIONS_LOW
    assert rejections <= NULL_REJECTIONS_HIGH


def test_permutation_dilemmas_keeps_cells():
    table = simulate(3)
    result = permutation_test_slope(table, permutations=199, seed=1, shuffle="dilemmas")
    rows = permutation_test_slope(table, permutations=199, seed=1)
    assert result.reason == ""
    assert result.slope == rows.slope
    # Shuffling whole dilemmas keeps the clustering, so its null slopes spread wider.
    assert result.null_sd > rows.null_sd


def test_permutation_dilemmas_on_reference_data(dilemmas):
    # The reference data vary value_diff by trial, and the shuffle keeps each row's trial.
    result = permutation_test_slope(dilemmas, permutations=99, seed=1, shuffle="dilemmas")
    assert result.reason == ""
    assert result.p == pytest.approx(1 / 100)


def test_permutation_dilemmas_needs_complete_grid(dilemmas):
    incomplete = dilemmas[~((dilemmas["model"] == "m1") & (dilemmas["dilemma"] == "d03") & (dilemmas["trial"] == 2))]
    result = permutation_test_slope(incomplete, permutations=9, seed=1, shuffle="dilemmas")
    assert "every model to answer every dilemma in every trial" in result.reason
    assert math.isnan(result.p)


def test_permutation_value_table_matches_grid(dilemmas):
    cells = dilemmas.pivot(index=["model", "trial"], columns="dilemma", values="value_diff")
    from_grid = permutation_test_slope(dilemmas, permutations=49, seed=3, shuffle="dilemmas")
    from_table = permutation_test_slope(dilemmas, permutations=49, seed=3, shuffle="dilemmas", value_diffs=cells)
    assert from_table.p == from_grid.p
    assert from_table.null_mean == from_grid.null_mean


def test_permutation_value_table_allows_missing_answers(dilemmas):
    cells = dilemmas.pivot(index=["model", "trial"], columns="dilemma", values="value_diff")
    incomplete = dilemmas[~((dilemmas["model"] == "m1") & (dilemmas["dilemma"] == "d03") & (dilemmas["trial"] == 2))]
    result = permutation_test_slope(incomplete, permutations=9, seed=1, shuffle="dilemmas", value_diffs=cells)
    assert result.reason == ""
    assert math.isfinite(result.p)


@pytest.mark.parametrize("change, expected", [
    (lambda cells: cells.drop(columns="d05"), "no column for dilemma d05"),
    (lambda cells: cells.drop(index=("m2", 3)), "no row for m2, trial 3"),
    (lambda cells: cells.assign(d07=np.nan), "value differences are missing"),
    (lambda cells: cells.reset_index(drop=True), "(model, trial) index"),
])
def test_permutation_value_table_problems(dilemmas, change, expected):
    cells = change(dilemmas.pivot(index=["model", "trial"], columns="dilemma", values="value_diff"))
    result = permutation_test_slope(dilemmas, permutations=9, seed=1, shuffle="dilemmas", value_diffs=cells)
    assert expected in result.reason
    assert math.isnan(result.p)


def test_permutation_dilemmas_needs_one_row_per_cell(dilemmas):
    doubled = pd.concat([dilemmas, dilemmas.iloc[:1]], ignore_index=True)
    result = permutation_test_slope(doubled, permutations=9, seed=1, shuffle="dilemmas")
    assert "one row per model, trial and dilemma" in result.reason


def test_permutation_dilemmas_needs_trial(dilemmas):
    with pytest.raises(InputError, match="column 'trial'"):
        permutation_test_slope(dilemmas.drop(columns="trial"), permutations=9, seed=1, shuffle="dilemmas")


def test_permutation_bad_shuffle_raises(dilemmas):
    with pytest.raises(InputError, match="shuffle"):
        permutation_test_slope(dilemmas, permutations=9, seed=1, shuffle="trials")


# Leave one dilemma out -------------------------------------------------------------------


def test_loo_beats_baseline(dilemmas):
    result = leave_one_dilemma_out(dilemmas)
    assert result.reason == ""
    assert result.n == 576
    assert result.n_dilemmas == 24
    assert result.accuracy > result.baseline_accuracy
    assert result.log_loss < result.baseline_log_loss


def test_loo_fold_matches_statsmodels(dilemmas):
    result = leave_one_dilemma_out(dilemmas)
    train = dilemmas[dilemmas["dilemma"] != "d05"]
    test = dilemmas[dilemmas["dilemma"] == "d05"]

    def design(table):
        dummies = pd.get_dummies(table["model"], dtype=float).reindex(columns=["m2", "m3"], fill_value=0.0)
        return sm.add_constant(dummies.assign(value_diff=table["value_diff"]), has_constant="add")

    fitted = sm.Logit(train["chose_a"], design(train)).fit(disp=False)
    probability = fitted.predict(design(test))
    fold = result.folds.set_index("dilemma").loc["d05"]
    assert fold["accuracy"] == pytest.approx(np.mean((probability > 0.5) == (test["chose_a"] == 1)), abs=1e-12)
    expected_loss = -np.mean(np.where(test["chose_a"] == 1, np.log(probability), np.log(1 - probability)))
    assert fold["log_loss"] == pytest.approx(expected_loss, rel=1e-8)


def test_loo_baseline_is_model_share(dilemmas):
    result = leave_one_dilemma_out(dilemmas)
    train = dilemmas[dilemmas["dilemma"] != "d05"]
    test = dilemmas[dilemmas["dilemma"] == "d05"]
    share = test["model"].map(train.groupby("model")["chose_a"].mean())
    expected_loss = -np.mean(np.where(test["chose_a"] == 1, np.log(share), np.log(1 - share)))
    fold = result.folds.set_index("dilemma").loc["d05"]
    assert fold["baseline_log_loss"] == pytest.approx(expected_loss, rel=1e-8)


def test_loo_totals_weight_folds(dilemmas):
    result = leave_one_dilemma_out(dilemmas)
    weights = result.folds["n"] / result.folds["n"].sum()
    assert result.accuracy == pytest.approx(np.sum(weights * result.folds["accuracy"]), rel=1e-12)
    assert result.log_loss == pytest.approx(np.sum(weights * result.folds["log_loss"]), rel=1e-12)


def test_loo_skips_model_with_one_dilemma(dilemmas):
    extra = pd.DataFrame({"model": ["m4", "m4"], "trial": [1, 2], "dilemma": ["d01", "d01"],
                          "value_diff": [0.5, 0.5], "chose_a": [1, 0]})
    result = leave_one_dilemma_out(pd.concat([dilemmas, extra], ignore_index=True))
    assert result.skipped_dilemmas == ("d01",)
    assert "collinear" in result.folds.set_index("dilemma").loc["d01", "reason"]
    assert result.n == 576 - 24


# Position bias ---------------------------------------------------------------------------


def position_follower(seed: int, *, balanced_per_dilemma: bool) -> pd.DataFrame:
    """A model that always favours the option shown first, with counterbalanced order.

    Option A is shown first in half of the trials, so chose_a follows the order and not
    value_diff. Balanced per dilemma, every dilemma gets A first in trials 1-4; otherwise
    the half of the rows with A first is drawn at random.
    """
    rng = np.random.default_rng(seed)
    n_dilemmas, n_trials = 20, 8
    value_diff = rng.normal(size=n_dilemmas)
    rows = [(trial, f"d{dilemma:02d}", value_diff[dilemma]) for dilemma in range(n_dilemmas)
            for trial in range(1, n_trials + 1)]
    table = pd.DataFrame(rows, columns=["trial", "dilemma", "value_diff"]).assign(model="m1")
    if balanced_per_dilemma:
        a_first = table["trial"].to_numpy() <= n_trials // 2
    else:
        a_first = rng.permutation(np.arange(len(table)) < len(table) // 2)
    table["chose_shown_first"] = 1
    table["chose_a"] = a_first.astype(int)
    table["strength"] = np.where(a_first, 6, 1)
    return table


def test_position_bias_detected():
    table = position_bias(position_follower(1, balanced_per_dilemma=False)).iloc[0]
    assert table["share"] == 1.0
    assert table["n_shown_first"] == 160
    assert table["p"] < 1e-40
    assert table["ci_high"] == 1.0


def test_position_follower_consistency_half():
    table = profile_consistency(position_follower(1, balanced_per_dilemma=True)).iloc[0]
    assert table["share"] == 0.5
    assert table["p"] == 1.0


def test_position_follower_slope_not_significant():
    fit = fit_side_logit(position_follower(1, balanced_per_dilemma=False))
    assert fit.reason == ""
    assert fit.p > 0.05


def test_position_follower_strength_not_significant():
    fit = fit_strength_ordinal(position_follower(1, balanced_per_dilemma=False))
    assert fit.reason == ""
    assert fit.p > 0.05


def test_position_follower_balanced_slope_zero():
    # Every dilemma is split 4:4 at one value_diff, so the slope is 0 and so is every
    # dilemma's score sum, which leaves the clustered test undefined.
    fit = fit_side_logit(position_follower(1, balanced_per_dilemma=True))
    assert fit.slope == pytest.approx(0.0, abs=1e-10)
    assert math.isnan(fit.p)
    assert "clustered standard error of the slope is 0" in fit.reason


# Profile consistency and position bias by hand -------------------------------------------


def test_consistency_counts_ties():
    table = pd.DataFrame({"model": ["a"] * 10,
                          "value_diff": [1.0, 2.0, 0.5, -1.0, -0.2, -3.0, 1.5, 0.7, 0.0, 0.0],
                          "chose_a": [1, 1, 1, 0, 0, 0, 1, 1, 1, 0]})
    row = profile_consistency(table).iloc[0]
    assert row["n_rows"] == 10
    assert row["n_ties"] == 2
    assert row["n"] == 8
    assert row["n_consistent"] == 8
    assert row["share"] == 1.0


def test_consistency_exact_binomial():
    table = pd.DataFrame({"model": ["a"] * 8, "value_diff": [1.0] * 8, "chose_a": [1] * 8})
    row = profile_consistency(table).iloc[0]
    # The two-sided exact p of 8 of 8 is 2 * 0.5^8. The Clopper-Pearson lower bound is 0.025^(1/8).
    assert row["p"] == pytest.approx(2 * 0.5 ** 8, rel=1e-12)
    assert row["ci_low"] == pytest.approx(0.025 ** (1 / 8), rel=1e-9)
    assert row["ci_high"] == 1.0


def test_consistency_against_values():
    table = pd.DataFrame({"model": ["a"] * 4, "value_diff": [1.0, 2.0, -1.0, -2.0], "chose_a": [0, 0, 1, 1]})
    row = profile_consistency(table).iloc[0]
    assert row["share"] == 0.0
    assert row["n_consistent"] == 0


def test_consistency_all_ties():
    table = pd.DataFrame({"model": ["a", "a", "b"], "value_diff": [0.0, 0.0, 1.0], "chose_a": [1, 0, 1]})
    result = profile_consistency(table)
    assert list(result["model"]) == ["a", "b"]
    assert math.isnan(result.loc[0, "share"])
    assert "tie" in result.loc[0, "reason"]
    assert result.loc[1, "share"] == 1.0


def test_consistency_matches_simulated_rate():
    # A model with effect e takes the higher-valued side with probability
    # E[expit(e + 0.8 |v|)] for v > 0 and E[1 - expit(e - 0.8 |v|)] for v < 0, v ~ N(0, 1),
    # which averages to E[(expit(e + 0.8 |v|) + expit(-e + 0.8 |v|)) / 2].
    nodes, weights = np.polynomial.hermite_e.hermegauss(80)
    weights = weights / weights.sum()
    expected = [np.sum(weights * (special.expit(effect + TRUE_SLOPE * np.abs(nodes))
                                  + special.expit(-effect + TRUE_SLOPE * np.abs(nodes))) / 2)
                for effect in MODEL_EFFECTS]
    shares = np.mean([profile_consistency(simulate(seed))["share"] for seed in range(20)], axis=0)
    np.testing.assert_allclose(shares, expected, atol=0.04)


def test_position_bias_half():
    table = pd.DataFrame({"model": ["a"] * 6, "chose_shown_first": [1, 0, 1, 0, 1, 0]})
    row = position_bias(table).iloc[0]
    assert row["share"] == 0.5
    assert row["p"] == 1.0


def test_position_bias_interval_level():
    table = pd.DataFrame({"model": ["a"] * 10, "chose_shown_first": [1] * 10})
    row = position_bias(table, confidence=0.9).iloc[0]
    assert row["ci_low"] == pytest.approx(0.05 ** (1 / 10), rel=1e-9)


# Properties ------------------------------------------------------------------------------


def test_logit_swap_keeps_slope(dilemmas, side):
    swapped = fit_side_logit(swap_sides(dilemmas))
    assert swapped.slope == pytest.approx(side.slope, abs=1e-9)
    assert swapped.slope_se == pytest.approx(side.slope_se, rel=1e-8)
    np.testing.assert_allclose(swapped.coef[[0, 2, 3]], -side.coef[[0, 2, 3]], rtol=0, atol=1e-9)


def test_logit_flip_negates_slope(dilemmas, side):
    flipped = fit_side_logit(flip_answers(dilemmas))
    assert flipped.slope == pytest.approx(-side.slope, abs=1e-9)
    assert flipped.ci_low == pytest.approx(-side.ci_high, abs=1e-9)


def test_ordinal_swap_keeps_slope(dilemmas, strength):
    swapped = fit_strength_ordinal(swap_sides(dilemmas))
    assert swapped.slope == pytest.approx(strength.slope, abs=1e-5)
    # Mirroring the scale reverses and negates the thresholds.
    np.testing.assert_allclose(swapped.thresholds, -strength.thresholds[::-1], rtol=0, atol=1e-5)
    np.testing.assert_allclose(swapped.coef[6:], -strength.coef[6:], rtol=0, atol=1e-5)


def test_ordinal_flip_negates_slope(dilemmas, strength):
    flipped = fit_strength_ordinal(flip_answers(dilemmas))
    assert flipped.slope == pytest.approx(-strength.slope, abs=1e-5)
    assert flipped.slope_se == pytest.approx(strength.slope_se, rel=1e-4)


def test_logit_rename_keeps_slope(dilemmas, side):
    renamed = fit_side_logit(rename_models(dilemmas))
    assert renamed.terms == ("(Intercept)", "value_diff", "model[mu]", "model[zeta]")
    assert renamed.slope == pytest.approx(side.slope, abs=1e-9)
    assert renamed.slope_se == pytest.approx(side.slope_se, rel=1e-8)
    assert renamed.loglik == pytest.approx(side.loglik, rel=1e-12)


def test_ordinal_rename_keeps_slope(dilemmas, strength):
    renamed = fit_strength_ordinal(rename_models(dilemmas))
    assert renamed.slope == pytest.approx(strength.slope, abs=1e-5)
    assert renamed.loglik == pytest.approx(strength.loglik, abs=1e-6)


def test_permutation_flip_negates_slope(dilemmas):
    original = permutation_test_slope(dilemmas, permutations=20, seed=1)
    flipped = permutation_test_slope(flip_answers(dilemmas), permutations=20, seed=1)
    assert flipped.slope == pytest.approx(-original.slope, abs=1e-9)
    assert flipped.null_mean == pytest.approx(-original.null_mean, abs=1e-9)
    assert flipped.p == original.p


def test_consistency_swap_invariant(dilemmas):
    original = profile_consistency(dilemmas)
    swapped = profile_consistency(swap_sides(dilemmas))
    pd.testing.assert_frame_equal(original, swapped)


def test_loo_swap_invariant(dilemmas):
    original = leave_one_dilemma_out(dilemmas)
    swapped = leave_one_dilemma_out(swap_sides(dilemmas))
    assert swapped.accuracy == pytest.approx(original.accuracy, abs=1e-12)
    assert swapped.log_loss == pytest.approx(original.log_loss, rel=1e-8)


def test_row_order_irrelevant(dilemmas, side):
    shuffled = dilemmas.sample(frac=1.0, random_state=3)
    assert fit_side_logit(shuffled).slope == pytest.approx(side.slope, abs=1e-10)


def test_single_model_has_no_model_term(dilemmas):
    fit = fit_side_logit(dilemmas[dilemmas["model"] == "m2"])
    assert fit.terms == ("(Intercept)", "value_diff")
    assert fit.reason == ""


# Degenerate data -------------------------------------------------------------------------


def small_table(**columns) -> pd.DataFrame:
    base = {"model": ["a", "a", "b", "b", "a", "b"] * 2,
            "dilemma": ["d1", "d2", "d1", "d2", "d3", "d3"] * 2,
            "value_diff": [0.1, -0.4, 0.8, 0.3, -1.2, 0.5, 0.9, -0.1, -0.6, 1.1, 0.2, -0.8],
            "chose_a": [1, 0, 1, 0, 0, 1, 1, 1, 0, 1, 0, 0],
            "strength": [5, 2, 6, 3, 1, 4, 5, 4, 2, 6, 3, 1]}
    base.update(columns)
    return pd.DataFrame(base)


DEGENERATE_SIDE = {
    "no rows": (small_table().iloc[:0], "no rows"),
    "all A": (small_table(chose_a=[1] * 12), "every chose_a is 1"),
    "separated": (small_table(chose_a=[int(v > 0) for v in small_table()["value_diff"]]), "separated by value_diff"),
    "model always A": (small_table(chose_a=[1, 0, 1, 1, 0, 1, 1, 0, 1, 1, 0, 1]), "separated by model[b]"),
    "constant value_diff": (small_table(value_diff=[0.3] * 12), "value_diff is constant"),
    "value_diff by model": (small_table(value_diff=[0.3, 0.3, -0.2, -0.2, 0.3, -0.2] * 2), "collinear"),
    "one dilemma": (small_table(dilemma=["d1"] * 12), "fewer than 2 dilemmas"),
}


@pytest.mark.parametrize("case", DEGENERATE_SIDE)
def test_logit_degenerate_gives_reason(case):
    table, reason = DEGENERATE_SIDE[case]
    fit = fit_side_logit(table)
    assert reason in fit.reason
    assert np.isnan(fit.coef).all()
    assert math.isnan(fit.slope)
    assert math.isnan(fit.p)


@pytest.mark.parametrize("case", DEGENERATE_SIDE)
def test_permutation_degenerate_gives_reason(case):
    table, reason = DEGENERATE_SIDE[case]
    result = permutation_test_slope(table, permutations=9, seed=1)
    assert reason in result.reason
    assert math.isnan(result.p)


def test_logit_quasi_separation():
    # value_diff > 0 gives A and < 0 gives B, with both answers at value_diff == 0.
    table = small_table(value_diff=[0.1, -0.4, 0.8, 0.3, -1.2, 0.0, 0.9, -0.1, -0.6, 1.1, 0.0, -0.8],
                        chose_a=[1, 0, 1, 1, 0, 1, 1, 0, 0, 1, 0, 0])
    fit = fit_side_logit(table)
    assert "quasi-complete separation" in fit.reason
    assert math.isnan(fit.slope)


DEGENERATE_STRENGTH = {
    "one category": (small_table(strength=[4] * 12), "every strength is 4"),
    "separated": (small_table(strength=[4 + int(v > 0) for v in small_table()["value_diff"]]), "separated"),
    "constant value_diff": (small_table(value_diff=[0.3] * 12), "value_diff is constant"),
    "one dilemma": (small_table(dilemma=["d1"] * 12), "fewer than 2 dilemmas"),
}


@pytest.mark.parametrize("case", DEGENERATE_STRENGTH)
def test_ordinal_degenerate_gives_reason(case):
    table, reason = DEGENERATE_STRENGTH[case]
    fit = fit_strength_ordinal(table)
    assert reason in fit.reason
    assert np.isnan(fit.coef).all()
    assert math.isnan(fit.slope)


def test_ordinal_ordered_separation():
    # Strength rises with value_diff without overlap: separated although there are 6 categories.
    value_diff = small_table()["value_diff"]
    ranks = value_diff.rank(method="first").astype(int)
    fit = fit_strength_ordinal(small_table(strength=np.minimum(6, (ranks + 1) // 2)))
    assert "separated" in fit.reason


def test_loo_degenerate_gives_reason():
    result = leave_one_dilemma_out(small_table(chose_a=[1] * 12))
    assert result.n == 0
    assert math.isnan(result.accuracy)
    assert result.reason == "no dilemma could be predicted"
    assert result.skipped_dilemmas == ("d1", "d2", "d3")


def test_empty_tables_give_empty_frames():
    empty = small_table().iloc[:0].assign(chose_shown_first=[])
    assert profile_consistency(empty).empty
    assert position_bias(empty).empty
    assert leave_one_dilemma_out(empty).reason == "no rows"


# Bad input -------------------------------------------------------------------------------


BAD_INPUT = {
    "missing column": (small_table().drop(columns="value_diff"), "column 'value_diff'"),
    "NaN value_diff": (small_table(value_diff=[np.nan] + [0.1] * 11), "missing value"),
    "infinite value_diff": (small_table(value_diff=[np.inf] + [0.1] * 11), "expected a finite number"),
    "text value_diff": (small_table(value_diff=["high"] + [0.1] * 11), "'high'"),
    "chose_a 2": (small_table(chose_a=[2] + [1] * 11), "expected 0 or 1"),
    "missing model": (small_table(model=[None] + ["a"] * 11), "column 'model', row 0"),
}


@pytest.mark.parametrize("case", BAD_INPUT)
def test_logit_bad_input_raises(case):
    table, message = BAD_INPUT[case]
    with pytest.raises(InputError, match=message):
        fit_side_logit(table)


@pytest.mark.parametrize("strength", [0, 7, 2.5])
def test_ordinal_bad_strength_raises(strength):
    with pytest.raises(InputError, match="expected an integer from 1 to 6"):
        fit_strength_ordinal(small_table(strength=[strength] + [3] * 11))


def test_error_names_source_and_row():
    table = small_table(value_diff=[0.1] * 5 + [np.nan] + [0.1] * 6)
    with pytest.raises(InputError, match=r"^answers\.csv: column 'value_diff', row 5: missing value"):
        fit_side_logit(table, source="answers.csv")


def test_not_a_dataframe_raises():
    with pytest.raises(InputError, match="expected a pandas DataFrame"):
        fit_side_logit({"model": ["a"]})


@pytest.mark.parametrize("confidence", [0, 1, 1.5, "0.95", True])
def test_bad_confidence_raises(dilemmas, confidence):
    with pytest.raises(InputError, match="confidence"):
        fit_side_logit(dilemmas, confidence=confidence)


@pytest.mark.parametrize("permutations", [0, -5, 2.5, True])
def test_bad_permutations_raise(dilemmas, permutations):
    with pytest.raises(InputError, match="permutations"):
        permutation_test_slope(dilemmas, permutations=permutations, seed=1)


def test_bad_seed_raises(dilemmas):
    with pytest.raises(InputError, match="seed"):
        permutation_test_slope(dilemmas, permutations=9, seed="one")


def test_position_bias_needs_its_column(dilemmas):
    with pytest.raises(InputError, match="column 'chose_shown_first'"):
        position_bias(dilemmas)


def test_position_bias_rejects_non_binary():
    with pytest.raises(InputError, match="expected 0 or 1"):
        position_bias(pd.DataFrame({"model": ["a", "a"], "chose_shown_first": [1, 3]}))


def test_logit_covariates_match_statsmodels(dilemmas):
    table = dilemmas.assign(extra=(dilemmas["trial"] % 2).astype(float))
    fit = fit_side_logit(table, covariates=("extra",))
    design = np.column_stack([np.ones(len(table)), table["value_diff"],
                              (table["model"] == "m2").astype(float), (table["model"] == "m3").astype(float),
                              table["extra"]])
    reference = sm.Logit(table["chose_a"].to_numpy(), design).fit(disp=False, tol=1e-12)
    assert fit.terms[-1] == "extra"
    assert np.allclose(fit.coef, reference.params, atol=1e-8)
    without = sm.Logit(table["chose_a"].to_numpy(), np.delete(design, 1, axis=1)).fit(disp=False, tol=1e-12)
    assert fit.loglik_models == pytest.approx(without.llf, abs=1e-8)


def test_logit_without_covariates_unchanged(dilemmas, side):
    assert np.array_equal(fit_side_logit(dilemmas, covariates=()).coef, side.coef)


def test_permutation_by_dilemma_falls_back(dilemmas):
    complete, fallback = permutation_test_by_dilemma(dilemmas, permutations=9, seed=1)
    assert complete.shuffle == "dilemmas"
    assert fallback == ""
    incomplete = dilemmas.drop(index=[5])
    test, fallback = permutation_test_by_dilemma(incomplete, permutations=9, seed=1)
    assert test.shuffle == "rows"
    assert "every model to answer every dilemma" in fallback
    assert math.isfinite(test.p)
