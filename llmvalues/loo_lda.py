"""Leave-one-out predictions of shrinkage LDA for many labelings of the same cases at once.

A permutation test of the leave-one-out accuracy fits one LDA per case per
permutation: 20,000 fits for 20 trials and 1,000 permutations. Through
scikit-learn each fit costs about 2.5 ms, nearly all of it input checks and
estimator set-up around a few 19 x 19 matrix operations. Here the same
arithmetic runs as stacked numpy operations over all folds of a chunk of
permutations.

The classifier is scikit-learn 1.7's ``LinearDiscriminantAnalysis(solver="eigen",
shrinkage="auto")``: each class's covariance is the Ledoit-Wolf estimate on
standardised features, scaled back; the within-class covariance Sw is their
sum weighted by the class shares of the training cases; a case goes to the
class with the largest ``x Sw^-1 m_c - m_c Sw^-1 m_c / 2 + log(prior_c)``.
scikit-learn computes ``Sw^-1`` through the generalised eigenvectors of the
between- and within-class scatter and this module through ``numpy.linalg.solve``,
so a case whose two largest scores differ by rounding error only can be
classified differently. ``llmvalues.discriminant`` therefore checks these
predictions against scikit-learn's on the observed labels before it uses them.
"""

from __future__ import annotations

import numpy as np

# Floats held at once by the largest stacked array of one chunk of permutations.
CHUNK_FLOATS = 4_000_000


def ledoit_wolf_covariances(data: np.ndarray) -> np.ndarray:
    """Return the Ledoit-Wolf covariance of each stacked sample, as scikit-learn's LDA estimates it.

    ``data`` is (..., m, p): samples of m cases of p features. Features are
    standardised (population standard deviation, 1 where it is 0), shrunk with
    the Ledoit-Wolf coefficient and scaled back, as ``_cov(X, shrinkage="auto")``
    in scikit-learn 1.7. Returns (..., p, p).
    """
    cases, features = data.shape[-2], data.shape[-1]
    centered = data - data.mean(axis=-2, keepdims=True)
    scale = np.sqrt(np.mean(centered**2, axis=-2))
    scale = np.where(scale < 10 * np.finfo(float).eps, 1.0, scale)
    standard = centered / scale[..., None, :]
    standard = standard - standard.mean(axis=-2, keepdims=True)
    empirical = np.einsum("...ki,...kj->...ij", standard, standard) / cases
    if features == 1:
        shrunk = empirical
    else:
        squares = standard**2
        trace = np.trace(empirical, axis1=-2, axis2=-1)
        mu = trace / features
        beta_sum = np.sum(np.sum(squares, axis=-1) ** 2, axis=-1)
        delta_sum = np.sum(empirical**2, axis=(-2, -1))
        beta = (beta_sum / cases - delta_sum) / (features * cases)
        delta = (delta_sum - 2.0 * mu * trace + features * mu**2) / features
        beta = np.minimum(beta, delta)
        with np.errstate(invalid="ignore", divide="ignore"):
            shrinkage = np.where(beta == 0, 0.0, beta / delta)
        shrunk = (1.0 - shrinkage)[..., None, None] * empirical
        shrunk = shrunk + (shrinkage * mu)[..., None, None] * np.eye(features)
    return scale[..., :, None] * shrunk * scale[..., None, :]


def loo_predictions(x: np.ndarray, labelings: np.ndarray, n_classes: int) -> np.ndarray:
    """Return the leave-one-out predicted class of every case under every labeling.

    Parameters
    ----------
    x : array, n x p
        The cases.
    labelings : int array, B x n
        Class codes 0 .. n_classes - 1, one row per labeling. Every row must have
        the same number of cases in each class (rows of permuted labels do), and
        every class at least 3 cases, so that each training set has 2 per class.

    Raises
    ------
    ValueError
        When the class sizes differ between rows or a class has fewer than 3 cases.
    numpy.linalg.LinAlgError
        When a within-class covariance is singular.
    """
    labelings = np.asarray(labelings)
    counts = np.stack([np.sum(labelings == code, axis=1) for code in range(n_classes)], axis=1)
    if (counts != counts[0]).any():
        raise ValueError("every labeling must have the same number of cases in each class")
    if (counts[0] < 3).any():
        raise ValueError("every class needs at least 3 cases for leave-one-out shrinkage LDA")
    n_cases, n_features = x.shape
    largest = int(counts[0].max())
    per_labeling = n_cases * n_features * max(n_features, largest)
    chunk = max(1, CHUNK_FLOATS // per_labeling)
    return np.concatenate([_chunk_predictions(x, labelings[start:start + chunk], counts[0])
                           for start in range(0, len(labelings), chunk)])


def _chunk_predictions(x: np.ndarray, labelings: np.ndarray, counts: np.ndarray) -> np.ndarray:
    n_labelings, n_cases = labelings.shape
    n_classes = counts.size
    # members[c]: (B, m_c) indices of the cases of class c, in case order.
    order = np.argsort(labelings, axis=1, kind="stable")
    bounds = np.concatenate([[0], np.cumsum(counts)])
    members = [order[:, bounds[code]:bounds[code + 1]] for code in range(n_classes)]

    full_covariance = []
    full_mean = []
    held_out_covariance = np.empty((n_labelings, n_cases, x.shape[1], x.shape[1]))
    held_out_mean = np.empty((n_labelings, n_cases, x.shape[1]))
    for code, indices in enumerate(members):
        size = indices.shape[1]
        data = x[indices]  # (B, m, p)
        full_covariance.append(ledoit_wolf_covariances(data))
        full_mean.append(data.mean(axis=1))
        # Training sets of the folds that leave out one case of this class: (B, m, m - 1, p).
        keep = np.array([[other for other in range(size) if other != left] for left in range(size)])
        reduced = data[:, keep]
        rows = np.arange(n_labelings)[:, None]
        held_out_covariance[rows, indices] = ledoit_wolf_covariances(reduced)
        held_out_mean[rows, indices] = reduced.mean(axis=2)

    # Per fold: the class of the left-out case loses that case; the others keep all of theirs.
    fold_class = labelings  # (B, n)
    within = np.zeros((n_labelings, n_cases, x.shape[1], x.shape[1]))
    means = np.empty((n_labelings, n_cases, n_classes, x.shape[1]))
    priors = np.empty((n_labelings, n_cases, n_classes))
    for code in range(n_classes):
        own = fold_class == code
        size = np.where(own, counts[code] - 1, counts[code])
        priors[:, :, code] = size / (n_cases - 1)
        covariance = np.where(own[..., None, None], held_out_covariance, full_covariance[code][:, None])
        within += priors[:, :, code, None, None] * covariance
        means[:, :, code] = np.where(own[..., None], held_out_mean, full_mean[code][:, None])

    coefficients = np.linalg.solve(within, np.swapaxes(means, -1, -2))  # (B, n, p, k)
    intercepts = -0.5 * np.einsum("bnkp,bnpk->bnk", means, coefficients) + np.log(priors)
    scores = np.einsum("np,bnpk->bnk", x, coefficients) + intercepts
    return np.argmax(scores, axis=2)
