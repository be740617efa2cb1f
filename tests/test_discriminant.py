"""Linear discriminant analysis against MASS on iris, and on constructed model scores."""

import math

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_iris

from llmvalues.discriminant import choose_solver, discriminant_analysis

# R 4.2.2 Patched, MASS 7.3-58.2: MASS::lda(Species ~ ., iris).
# Proportion of trace: svd^2 / sum(svd^2); training accuracy: mean(predict(fit)$class == iris$Species).
R_PROPORTION_OF_TRACE = [0.991212604965367, 0.00878739503463279]
R_TRAINING_ACCURACY = 0.98


@pytest.fixture(scope="module")
def iris():
    data = load_iris(as_frame=True)
    return data.data, data.target.map(dict(enumerate(data.target_names)))


def test_proportion_of_trace_matches_mass(iris):
    result = discriminant_analysis(*iris, solver="svd")
    assert result.proportion_of_trace == pytest.approx(R_PROPORTION_OF_TRACE, abs=1e-12)


def test_training_accuracy_matches_mass(iris):
    assert discriminant_analysis(*iris, solver="svd").training_accuracy == R_TRAINING_ACCURACY


def test_confusion_matrix_counts(iris):
    result = discriminant_analysis(*iris, solver="svd")
    assert result.confusion_matrix.to_numpy().sum() == 150
    assert np.trace(result.confusion_matrix.to_numpy()) == round(150 * result.loo_accuracy)


def test_structure_coefficients_iris(iris):
    # Pooled within-group correlations of the first function: petal length and width
    # load most, sepal width least (signs follow the function's arbitrary direction).
    coefficients = discriminant_analysis(*iris, solver="svd").structure_coefficients["LD1"].abs()
    assert coefficients["petal length (cm)"] == pytest.approx(0.706, abs=0.001)
    assert coefficients["sepal width (cm)"] == pytest.approx(0.119, abs=0.001)


def model_scores(n_trials, shift, seed, n_values=19):
    generator = np.random.default_rng(seed)
    frames, labels = [], []
    for position, model in enumerate(["a", "b", "c"]):
        frames.append(generator.normal(loc=3.5 + shift * position, scale=0.3, size=(n_trials, n_values)))
        labels += [model] * n_trials
    columns = [f"V{index}" for index in range(n_values)]
    return pd.DataFrame(np.vstack(frames), columns=columns), pd.Series(labels)


def test_separable_models_classified():
    data, groups = model_scores(10, shift=2.0, seed=1)
    result = discriminant_analysis(data, groups)
    assert result.loo_accuracy == 1.0
    assert result.solver == "shrinkage"


def test_permutation_test_detects_separation():
    data, groups = model_scores(10, shift=2.0, seed=2)
    result = discriminant_analysis(data, groups, permutations=30, seed=3)
    assert result.permutation["p_value"] == pytest.approx(1 / 31)


def test_permutation_test_reproducible():
    data, groups = model_scores(6, shift=0.0, seed=4)
    first = discriminant_analysis(data, groups, permutations=10, seed=5).permutation
    second = discriminant_analysis(data, groups, permutations=10, seed=5).permutation
    assert first == second


def test_constant_predictor_dropped_not_nan():
    data, groups = model_scores(10, shift=0.5, seed=6)
    data["V3"] = 4.0
    result = discriminant_analysis(data, groups)
    assert "V3" in result.dropped
    assert not math.isnan(result.loo_accuracy)
    assert any("V3" in note for note in result.notes)


def test_collinear_predictors_not_nan():
    data, groups = model_scores(10, shift=0.5, seed=7)
    data["V4"] = data["V5"] * 2.0 + 1.0
    result = discriminant_analysis(data, groups, solver="svd")
    assert not math.isnan(result.loo_accuracy)
    assert all(not math.isnan(value) for value in result.proportion_of_trace)


def test_two_models_one_function():
    data, groups = model_scores(10, shift=1.0, seed=8)
    keep = groups != "c"
    result = discriminant_analysis(data[keep], groups[keep])
    assert list(result.scores.columns) == ["LD1", "model"]
    assert result.proportion_of_trace == [1.0]


def test_single_model_rejected():
    data, groups = model_scores(10, shift=1.0, seed=9)
    with pytest.raises(ValueError, match="at least 2 groups"):
        discriminant_analysis(data[groups == "a"], groups[groups == "a"])


def test_solver_choice_rule():
    assert choose_solver(20, 2, 19)[0] == "shrinkage"
    assert choose_solver(1000, 2, 19)[0] == "svd"
    assert choose_solver(20, 2, 19, "svd") == ("svd", "requested")


def test_svd_singular_covariance_noted():
    data, groups = model_scores(5, shift=0.5, seed=10)  # 15 rows, 12 within-group df, 19 predictors
    result = discriminant_analysis(data, groups, solver="svd")
    assert any("within-group covariance is singular" in note for note in result.notes)


def test_shrinkage_failure_is_value_error():
    data = pd.DataFrame([[1.0, 2.0, 3.0, 4.0, 5.0], [2.0, 1.0, 0.0, 3.0, 1.0], [5.0, 5.0, 1.0, 2.0, 2.0],
                         [0.0, 1.0, 2.0, 2.0, 9.0]])
    groups = pd.Series(["a", "a", "b", "b"])
    try:
        discriminant_analysis(data, groups, solver="shrinkage", case_name="rows")
    except ValueError as error:
        assert "rows" in str(error)


def test_no_within_group_variation_rejected():
    data = pd.DataFrame({"V1": [1.0, 1.0, 2.0, 2.0], "V2": [3.0, 3.0, 5.0, 5.0]})
    with pytest.raises(ValueError, match="no predictor varies within a group"):
        discriminant_analysis(data, pd.Series(["a", "a", "b", "b"]))
