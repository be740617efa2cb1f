"""Stacked leave-one-out shrinkage LDA against scikit-learn's fold-by-fold fits."""

import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from sklearn.model_selection import LeaveOneOut, cross_val_predict, permutation_test_score

from llmvalues.discriminant import discriminant_analysis
from llmvalues.loo_lda import ledoit_wolf_covariances, loo_predictions


def shrinkage_lda():
    return LinearDiscriminantAnalysis(solver="eigen", shrinkage="auto")


def sklearn_loo(x, codes):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return cross_val_predict(shrinkage_lda(), x, codes, cv=LeaveOneOut())


def constructed(n_per_class, n_classes, n_features, shift, seed, rounded=False):
    generator = np.random.default_rng(seed)
    codes = np.repeat(np.arange(n_classes), n_per_class)
    x = generator.normal(3.5, 1.0, size=(codes.size, n_features)) + shift * codes[:, None]
    if rounded:  # scores are means of three ratings 1-6, so many values repeat
        x = np.round(x * 3) / 3
    return x, codes


@pytest.mark.parametrize("n_per_class, n_classes, n_features, shift, rounded", [
    (10, 2, 19, 0.3, False),
    (10, 2, 19, 0.0, True),
    (10, 3, 19, 0.5, False),
    (5, 4, 19, 0.2, True),
    (30, 2, 5, 0.3, False),
    (3, 2, 2, 1.0, False),
])
def test_predictions_equal_sklearn(n_per_class, n_classes, n_features, shift, rounded):
    x, codes = constructed(n_per_class, n_classes, n_features, shift, seed=n_per_class * n_features, rounded=rounded)
    generator = np.random.RandomState(7)
    labelings = np.stack([codes] + [codes[generator.permutation(codes.size)] for _ in range(12)])
    fast = loo_predictions(x, labelings, n_classes)
    for row, labels in enumerate(labelings):
        np.testing.assert_array_equal(fast[row], sklearn_loo(x, labels))


def test_unequal_class_sizes_equal_sklearn():
    x, _ = constructed(7, 3, 6, 0.4, seed=3)
    codes = np.array([0] * 4 + [1] * 9 + [2] * 8)
    fast = loo_predictions(x, codes[None, :], 3)
    np.testing.assert_array_equal(fast[0], sklearn_loo(x, codes))


def test_within_covariance_equals_sklearn():
    x, codes = constructed(8, 3, 5, 0.4, seed=11)
    fitted = shrinkage_lda().fit(x, codes)
    stacked = ledoit_wolf_covariances(np.stack([x[codes == code] for code in range(3)]))
    within = np.tensordot(fitted.priors_, stacked, axes=1)
    np.testing.assert_allclose(within, fitted.covariance_, rtol=1e-12, atol=1e-14)


def test_constant_feature_covariance_finite():
    x, codes = constructed(6, 2, 4, 0.4, seed=5)
    x[:, 2] = 4.0
    covariance = ledoit_wolf_covariances(x[codes == 0])
    assert np.isfinite(covariance).all()
    assert covariance[2, 2] > 0  # shrinkage towards the mean variance keeps it invertible


def test_chunks_give_same_predictions(monkeypatch):
    x, codes = constructed(6, 2, 4, 0.2, seed=9)
    generator = np.random.RandomState(1)
    labelings = np.stack([codes[generator.permutation(codes.size)] for _ in range(20)])
    whole = loo_predictions(x, labelings, 2)
    monkeypatch.setattr("llmvalues.loo_lda.CHUNK_FLOATS", 1)  # one labeling per chunk
    np.testing.assert_array_equal(loo_predictions(x, labelings, 2), whole)


def test_unequal_labelings_rejected():
    x, codes = constructed(4, 2, 3, 0.0, seed=2)
    unequal = codes.copy()
    unequal[0] = 1
    with pytest.raises(ValueError, match="same number of cases"):
        loo_predictions(x, np.stack([codes, unequal]), 2)


def test_small_class_rejected():
    x, _ = constructed(4, 2, 3, 0.0, seed=2)
    codes = np.array([0, 0, 1, 1, 1, 1, 1, 1])
    with pytest.raises(ValueError, match="at least 3 cases"):
        loo_predictions(x, codes[None, :], 2)


def test_permutation_test_equals_sklearn():
    x, codes = constructed(10, 2, 19, 0.15, seed=21, rounded=True)
    labels = np.array(["first", "second"])[codes]
    result = discriminant_analysis(pd.DataFrame(x), pd.Series(labels), solver="shrinkage", permutations=60, seed=4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        observed, permuted, p_value = permutation_test_score(shrinkage_lda(), x, labels, cv=LeaveOneOut(),
                                                             n_permutations=60, random_state=4)
    assert result.loo_accuracy == observed
    assert result.permutation["p_value"] == p_value
    assert result.permutation["mean_accuracy"] == np.mean(permuted)


def test_two_case_class_uses_sklearn():
    # Leave-one-out leaves one case in a class of two, outside the stacked path's range.
    x, _ = constructed(5, 2, 3, 1.0, seed=8)
    labels = pd.Series(["a"] * 2 + ["b"] * 8)
    result = discriminant_analysis(pd.DataFrame(x), labels, solver="shrinkage", permutations=15, seed=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _, permuted, p_value = permutation_test_score(shrinkage_lda(), x, labels.to_numpy(), cv=LeaveOneOut(),
                                                      n_permutations=15, random_state=2)
    assert result.permutation["p_value"] == p_value
    assert result.permutation["mean_accuracy"] == np.mean(permuted)
