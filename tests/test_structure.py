"""Confirmatory MDS of values: dissimilarities, fits, permutation test, random-stress norm."""

import numpy as np
import pandas as pd
import pytest

from llmvalues.structure import (
    MDSSettings,
    correlation_dissimilarities,
    fit_structure,
    permutation_p_value,
    permutation_test,
    random_stress,
    usable_variables,
    value_theory,
)
from llmvalues.structure_study import POOLED, analyze_structure, study_variables
from llmvalues.values import CIRCLE_ORDER

CODES = list(CIRCLE_ORDER)
THEORY = value_theory(CODES)

# R 4.2.2 Patched, smacof 2.1-7: set.seed(1); randomstress(n=19, ndim=2, nrep=500, type='ordinal').
# The norm is random, so a norm from another generator is accepted when its mean is within
# 3 standard errors (sd / sqrt(500)) of R's mean and its sd within 20% of R's sd.
R_RANDOM_STRESS_19_MEAN = 0.292581894114685
R_RANDOM_STRESS_19_SD = 0.00922780050329147


def circular_scores(n_trials, seed, noise=0.6):
    """Simulate trials whose 19 value scores follow the circle: neighbours correlate, opposites conflict."""
    generator = np.random.default_rng(seed)
    angles = 2.0 * np.pi * np.arange(19) / 19
    latent = generator.standard_normal((n_trials, 2))
    scores = latent @ np.vstack([np.cos(angles), np.sin(angles)]) + noise * generator.standard_normal((n_trials, 19))
    return pd.DataFrame(scores, columns=CODES)


def test_dissimilarity_sqrt_formula():
    r = np.array([[1.0, 0.5, -1.0], [0.5, 1.0, 0.0], [-1.0, 0.0, 1.0]])
    delta = correlation_dissimilarities(r, "sqrt(2(1-r))")
    assert delta[0, 1] == pytest.approx(1.0)
    assert delta[0, 2] == pytest.approx(2.0)
    assert np.all(np.diag(delta) == 0.0)


def test_dissimilarity_linear_formula():
    r = np.array([[1.0, 0.5, -1.0], [0.5, 1.0, 0.0], [-1.0, 0.0, 1.0]])
    delta = correlation_dissimilarities(r, "1-r")
    assert delta[0, 1] == pytest.approx(0.5)
    assert delta[1, 2] == pytest.approx(1.0)


def test_circle_recovered_from_scores():
    fit = fit_structure(circular_scores(400, seed=1), THEORY, MDSSettings())
    assert fit.out_of_order == []
    assert fit.fit.congruence > 0.99
    assert fit.mds.stress1 < 0.1


def test_constant_value_dropped_with_warning():
    data = circular_scores(60, seed=2)
    data["HUM"] = 3.0
    fit = fit_structure(data, THEORY, MDSSettings())
    assert fit.dropped == ["HUM"]
    assert "HUM" not in fit.labels
    assert any("zero variance" in warning and "HUM" in warning for warning in fit.warnings)


def test_few_trials_warned():
    fit = fit_structure(circular_scores(12, seed=3), THEORY, MDSSettings(), warn_below_cases=30)
    assert any("only 12 trials" in warning for warning in fit.warnings)


def test_incomplete_trial_left_out():
    data = circular_scores(40, seed=4)
    data.loc[5, "AC"] = np.nan
    assert fit_structure(data, THEORY, MDSSettings()).n_cases == 39


def test_too_few_trials_rejected():
    with pytest.raises(ValueError, match="at least 3 complete trials"):
        fit_structure(circular_scores(2, seed=5), THEORY, MDSSettings())


def test_all_constant_rejected():
    data = pd.DataFrame(np.ones((10, 19)), columns=CODES)
    with pytest.raises(ValueError, match="at least 3 variables with variance"):
        fit_structure(data, THEORY, MDSSettings())


def test_usable_variables_reports_constants():
    data = circular_scores(10, seed=6)
    data["SDT"] = 1.0
    data["UNT"] = 2.0
    usable, dropped = usable_variables(data)
    assert dropped == ["SDT", "UNT"]
    assert usable.shape == (10, 17)


def test_permutations_reproducible():
    data = circular_scores(20, seed=7)
    first = permutation_test(data, THEORY, MDSSettings(), permutations=5, seed=11, recenter=False, keep=CODES)
    second = permutation_test(data, THEORY, MDSSettings(), permutations=5, seed=11, recenter=False, keep=CODES)
    assert first.equals(second)


def test_permutation_beats_structure():
    data = circular_scores(40, seed=8)
    observed = fit_structure(data, THEORY, MDSSettings()).mds.stress1
    permuted = permutation_test(data, THEORY, MDSSettings(), permutations=30, seed=12, recenter=False, keep=CODES)
    assert permuted["stress1"].min() > observed
    assert permutation_p_value(observed, permuted["stress1"]) == pytest.approx(1 / 31)
    assert permuted["congruence"].max() < 0.99


def test_recentering_keeps_test_calibrated():
    # Unrelated raw scores, a few with a large spread, centered per trial as the scorer
    # centers them: the trial mean then moves every centered score together. Shuffling the
    # centered columns breaks that dependence and rejects far too often; shuffling the
    # raw scores and re-centering keeps it in the null distribution.
    settings = MDSSettings()
    spread = np.array([4.0] * 3 + [0.3] * 16)
    rejections = {True: 0, False: 0}
    for seed in range(8):
        raw = pd.DataFrame(np.random.default_rng(100 + seed).normal(size=(12, 19)) * spread, columns=CODES)
        centered = raw.sub(raw.mean(axis=1), axis=0)
        observed = fit_structure(centered, THEORY, settings).mds.stress1
        for recenter in (True, False):
            source = raw if recenter else centered
            permuted = permutation_test(source, THEORY, settings, permutations=39, seed=seed, recenter=recenter,
                                        keep=CODES)
            rejections[recenter] += permutation_p_value(observed, permuted["stress1"]) <= 0.05
    assert rejections[True] <= 2
    assert rejections[False] >= 4


def test_p_value_counts_ties():
    assert permutation_p_value(0.2, np.array([0.1, 0.2, 0.3, 0.4])) == pytest.approx(3 / 5)


def test_p_value_larger_is_better():
    assert permutation_p_value(0.9, np.array([0.95, 0.9, 0.3, np.nan]), larger_is_better=True) == pytest.approx(3 / 4)


def test_random_stress_matches_smacof_band():
    norm = random_stress(19, replications=500, seed=1)
    standard_error = R_RANDOM_STRESS_19_SD / np.sqrt(500)
    assert abs(norm.mean() - R_RANDOM_STRESS_19_MEAN) < 3 * standard_error
    assert abs(norm.std(ddof=1) / R_RANDOM_STRESS_19_SD - 1.0) < 0.2


def scores_table(models, n_trials):
    rows = []
    for position, model in enumerate(models):
        data = circular_scores(n_trials, seed=20 + position)
        for trial in range(n_trials):
            row = {"model": model, "trial": trial + 1, "mrat": 3.5}
            for code in CODES:
                row[f"{code}_centered"] = data.loc[trial, code]
                row[f"{code}_raw"] = data.loc[trial, code] + 3.5
            rows.append(row)
    return pd.DataFrame(rows)


def test_study_fits_models_and_pooled():
    tables = study_variables(scores_table(["a", "b"], 25), ["a", "b"], level="value", kind="centered")
    study = analyze_structure(tables, level="value", settings=MDSSettings(), pooled=True, permutations=3,
                              replications=4, seed=1, warn_below_trials=30)
    assert list(study.metrics["units"]) == ["a", "b", POOLED]
    assert study.metrics["units"][POOLED]["n_trials"] == 50
    assert study.metrics["units"]["a"]["permutation"]["permutations"] == 3
    assert len(study.random_stress) == 4  # one norm shared by all units of 19 points
    assert set(study.configurations["unit"]) == {"a", "b", POOLED}


def test_stubborn_model_not_fitted():
    scores = scores_table(["a", "b"], 10)
    for code in CODES:
        scores.loc[scores["model"] == "b", f"{code}_centered"] = 0.0
    tables = study_variables(scores, ["a", "b"], level="value", kind="centered")
    messages = []
    study = analyze_structure(tables, level="value", settings=MDSSettings(), pooled=False, permutations=0,
                              replications=0, seed=1, warn_below_trials=0, log=messages.append)
    assert study.metrics["units"]["b"]["fitted"] is False
    assert "variables with variance" in study.metrics["units"]["b"]["reason"]
    assert any(message.startswith("structure: b: not fitted") for message in messages)
    assert study.metrics["units"]["a"]["fitted"] is True


def test_item_level_fits_57_points():
    generator = np.random.default_rng(3)
    scores = scores_table(["a"], 30)
    index = pd.MultiIndex.from_product([["a"], range(1, 31)], names=["model", "trial"])
    ratings = pd.DataFrame(generator.integers(1, 7, size=(30, 57)).astype(float), index=index,
                           columns=list(range(1, 58)))
    tables = study_variables(scores, ["a"], level="item", kind="centered", ratings=ratings)
    assert tables["a"].shape == (30, 57)
    study = analyze_structure(tables, level="item", settings=MDSSettings(), pooled=True, permutations=0,
                              replications=0, seed=1, warn_below_trials=0)
    unit = study.metrics["units"]["a"]
    assert unit["n_points"] == 57
    assert set(unit["out_of_order"]) <= set(CODES)


def test_dissimilarities_symmetric_from_three_trials():
    # Three trials put 19 variables on a plane: many correlations are +-1 up to rounding.
    for seed in range(20):
        data = np.random.default_rng(seed).normal(size=(3, 19))
        delta = correlation_dissimilarities(np.corrcoef(data, rowvar=False), "sqrt(2(1-r))")
        assert np.array_equal(delta, delta.T)
