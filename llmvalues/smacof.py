"""Multidimensional scaling by SMACOF, with the conventions of R's smacof package (2.1-7).

``smacof`` fits a configuration of points whose distances approximate a matrix of
dissimilarities by majorization. It mirrors ``smacof::smacofSym``:

- transformations of the dissimilarities into disparities: ratio, interval and
  ordinal, the ordinal one with primary ties (tied dissimilarities may get
  different disparities; smacof's default) or secondary ties (they may not);
- optional weights (0 marks a missing dissimilarity);
- disparities scaled so that their weighted sum of squares is n(n-1)/2;
- stress-1 = sqrt(sum w (dhat - d)^2 / (n(n-1)/2)), smacof's reported stress;
- the stopping rule: stop when the decrease in that normalised raw stress,
  computed after the disparity update, falls below ``eps``.

scikit-learn's ``MDS`` has no primary ties and no weights, and treats a zero
dissimilarity as missing in non-metric MDS; here a zero dissimilarity is the
smallest dissimilarity like any other.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import smacof_loop

KINDS = ("ratio", "interval", "ordinal")
TIES = ("primary", "secondary")
DEFAULT_EPS = 1e-6
DEFAULT_MAX_ITERATIONS = 1000


@dataclass(frozen=True)
class MDSResult:
    """A fitted SMACOF solution.

    ``configuration`` is n x ndim. ``disparities`` and ``distances`` are n x n, and the
    disparities are on the normalised scale (weighted sum of squares n(n-1)/2 over pairs).
    """

    configuration: np.ndarray
    stress1: float
    iterations: int
    converged: bool
    disparities: np.ndarray
    distances: np.ndarray


def check_dissimilarities(matrix: np.ndarray) -> np.ndarray:
    """Return ``matrix`` as a float array after checking that it is a dissimilarity matrix.

    Raises
    ------
    ValueError
        When it is not square, has fewer than 3 rows, is not symmetric, has a
        non-zero diagonal, or contains a negative or infinite value. NaN marks a
        missing dissimilarity and is allowed off the diagonal.
    """
    delta = np.asarray(matrix, dtype=float)
    if delta.ndim != 2 or delta.shape[0] != delta.shape[1]:
        raise ValueError(f"dissimilarities must be a square matrix, got shape {delta.shape}")
    n = delta.shape[0]
    if n < 3:
        raise ValueError(f"dissimilarities must be at least 3 x 3, got {n} x {n}")
    if np.isinf(delta).any():
        raise ValueError("dissimilarities must be finite; found an infinite value")
    if np.any(np.diag(delta) != 0):
        raise ValueError("the diagonal of a dissimilarity matrix must be 0")
    observed = delta[~np.isnan(delta)]
    if (observed < 0).any():
        raise ValueError(f"dissimilarities must not be negative; found {observed.min()}")
    both = ~np.isnan(delta) & ~np.isnan(delta.T)
    if not np.allclose(delta[both], delta.T[both], rtol=0, atol=1e-12 * max(1.0, float(observed.max()))):
        raise ValueError("dissimilarities must be symmetric")
    if (np.isnan(delta) != np.isnan(delta.T)).any():
        raise ValueError("missing dissimilarities (NaN) must be symmetric")
    return delta


def pairwise_distances(configuration: np.ndarray) -> np.ndarray:
    """Return the n x n Euclidean distances between the rows of ``configuration``."""
    difference = configuration[:, None, :] - configuration[None, :, :]
    return np.sqrt(np.einsum("ijk,ijk->ij", difference, difference))


def torgerson(dissimilarities: np.ndarray, ndim: int = 2) -> np.ndarray:
    """Classical (Torgerson) scaling: the start smacof calls ``init = "torgerson"``.

    Double-centres -delta^2 / 2 and returns the leading ``ndim`` eigenvectors
    scaled by the square roots of their eigenvalues (negative eigenvalues as 0).
    Missing dissimilarities are replaced by the mean of the observed ones. The
    sign of each axis is fixed so that its largest absolute coordinate is
    positive; an eigenvector's sign is otherwise arbitrary.
    """
    delta = check_dissimilarities(dissimilarities)
    n = delta.shape[0]
    if np.isnan(delta).any():
        delta = np.where(np.isnan(delta), np.nanmean(delta[~np.eye(n, dtype=bool)]), delta)
        np.fill_diagonal(delta, 0.0)
    centering = np.eye(n) - 1.0 / n
    inner = -0.5 * centering @ (delta**2) @ centering
    eigenvalues, eigenvectors = np.linalg.eigh(inner)
    order = np.argsort(eigenvalues)[::-1][:ndim]
    configuration = eigenvectors[:, order] * np.sqrt(np.maximum(eigenvalues[order], 0.0))
    largest = np.argmax(np.abs(configuration), axis=0)
    signs = np.sign(configuration[largest, np.arange(ndim)])
    signs[signs == 0] = 1.0
    return configuration * signs


def _normalised(disparities: np.ndarray, weights: np.ndarray, normq: float) -> np.ndarray:
    total = np.sum(weights * disparities**2)
    if total == 0:
        return disparities
    return disparities * np.sqrt(normq / total)


def _kind_code(kind: str, ties: str) -> int:
    if kind == "ratio":
        return smacof_loop.RATIO
    if kind == "interval":
        return smacof_loop.INTERVAL
    return smacof_loop.ORDINAL_PRIMARY if ties == "primary" else smacof_loop.ORDINAL_SECONDARY


def smacof(
    dissimilarities: np.ndarray,
    *,
    ndim: int = 2,
    kind: str = "ordinal",
    ties: str = "primary",
    weights: np.ndarray | None = None,
    init: str | np.ndarray = "torgerson",
    eps: float = DEFAULT_EPS,
    max_iterations: int = DEFAULT_MAX_ITERATIONS,
) -> MDSResult:
    """Fit a SMACOF configuration to a symmetric dissimilarity matrix, as ``smacof::smacofSym``.

    Parameters
    ----------
    dissimilarities : array, n x n
        Symmetric, zero diagonal, non-negative. NaN marks a missing pair (weight 0).
    ndim : int
        Dimensions of the configuration.
    kind : {"ratio", "interval", "ordinal"}
        How dissimilarities become disparities.
    ties : {"primary", "secondary"}
        Ordinal MDS only: whether tied dissimilarities may get different
        disparities (primary) or must get the same (secondary).
    weights : array, n x n, optional
        Non-negative, symmetric; 0 leaves a pair out. The pairs with positive
        weight must connect all points.
    init : "torgerson" or array, n x ndim
        The start: classical scaling of the dissimilarities, or a given configuration.
    eps : float
        Stop when the normalised raw stress decreases by less than this.
    max_iterations : int
        Stop after this many iterations (``converged`` is then False).

    Returns
    -------
    MDSResult
        ``stress1`` is smacof's stress-1. Rows of the configuration follow the
        rows of ``dissimilarities``. The configuration is determined up to
        rotation, reflection and translation.
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")
    if ties not in TIES:
        raise ValueError(f"ties must be one of {', '.join(TIES)}, got {ties!r}")
    if ndim < 1:
        raise ValueError(f"ndim must be at least 1, got {ndim}")
    delta = check_dissimilarities(dissimilarities)
    n = delta.shape[0]
    largest = np.nanmax(delta)
    if not largest > 0:
        raise ValueError("every dissimilarity is 0, so there is nothing to scale")
    # Stress and the normalised solution do not depend on the scale of the
    # dissimilarities; dividing by the largest keeps squares away from overflow and underflow.
    delta = delta / largest
    if ndim >= n:
        raise ValueError(f"ndim must be smaller than the number of points ({n}), got {ndim}")

    weight_matrix = _weight_matrix(weights, delta)
    upper = np.triu_indices(n, k=1)
    pair_weights = weight_matrix[upper]
    keep = pair_weights > 0
    rows, columns = upper[0][keep], upper[1][keep]
    pair_weights = pair_weights[keep]
    normq = n * (n - 1) / 2.0
    pair_delta = delta[rows, columns]
    disparities = _normalised(pair_delta.copy(), pair_weights, normq)
    # Tie blocks: pairs with equal dissimilarity share a block, numbered in increasing order.
    _, blocks = np.unique(pair_delta, return_inverse=True)
    block_weights = np.bincount(blocks, weights=pair_weights)
    block_order = np.argsort(blocks, kind="stable")
    block_starts = np.searchsorted(blocks[block_order], np.arange(block_weights.size + 1))

    unweighted = bool(np.all(weight_matrix[~np.eye(n, dtype=bool)] == 1.0))
    v_inverse = np.zeros((n, n)) if unweighted else _v_inverse(weight_matrix)

    x = _start(init, delta, ndim)
    distances = _pair_distances(x[rows] - x[columns])
    denominator = np.sum(pair_weights * distances**2)
    if denominator == 0:
        raise ValueError("the start configuration has all points in one place")
    scale = np.sum(pair_weights * distances * disparities) / denominator
    # C order for every array: numba compiles one version of the loop per memory layout.
    x = np.ascontiguousarray(x * scale)
    distances = distances * scale

    y, disparities, _, old_stress, new_stress, iteration = smacof_loop.iterate(
        x, disparities, distances, rows, columns, pair_weights, unweighted, v_inverse, _kind_code(kind, ties),
        pair_delta, block_order, block_starts, blocks, block_weights, bool(block_weights.size < pair_delta.size),
        normq, float(eps), int(max_iterations))

    converged = old_stress - new_stress < eps
    disparity_matrix = np.zeros((n, n))
    disparity_matrix[rows, columns] = disparities
    disparity_matrix[columns, rows] = disparities
    return MDSResult(
        configuration=y,
        stress1=float(np.sqrt(new_stress)),
        iterations=iteration,
        converged=bool(converged),
        disparities=disparity_matrix,
        distances=pairwise_distances(y),
    )


def _pair_distances(differences: np.ndarray) -> np.ndarray:
    return np.sqrt(np.einsum("ij,ij->i", differences, differences))


def smacof_best(dissimilarities: np.ndarray, starts: list[str | np.ndarray], **options) -> tuple[MDSResult, int]:
    """Fit from each start and return the solution with the lowest stress-1 and its start's index.

    Ties go to the earlier start, so list the preferred start (the theoretical
    configuration in a confirmatory analysis) first.
    """
    if not starts:
        raise ValueError("give at least one start")
    best, best_index = None, -1
    for index, start in enumerate(starts):
        result = smacof(dissimilarities, init=start, **options)
        if best is None or result.stress1 < best.stress1:
            best, best_index = result, index
    return best, best_index


def random_starts(n: int, ndim: int, count: int, seed: int) -> list[np.ndarray]:
    """Return ``count`` seeded random configurations (standard normal coordinates)."""
    generator = np.random.default_rng(seed)
    return [generator.standard_normal((n, ndim)) for _ in range(count)]


def _weight_matrix(weights: np.ndarray | None, delta: np.ndarray) -> np.ndarray:
    n = delta.shape[0]
    if weights is None:
        matrix = np.ones((n, n))
    else:
        matrix = np.asarray(weights, dtype=float)
        if matrix.shape != delta.shape:
            raise ValueError(f"weights must have the shape of the dissimilarities {delta.shape}, got {matrix.shape}")
        if not np.isfinite(matrix).all() or (matrix < 0).any():
            raise ValueError("weights must be finite and non-negative")
        if not np.allclose(matrix, matrix.T):
            raise ValueError("weights must be symmetric")
        matrix = matrix.copy()
    matrix[np.isnan(delta)] = 0.0
    np.fill_diagonal(matrix, 0.0)
    if not _connected(matrix > 0):
        raise ValueError("the pairs with positive weight must connect all points")
    return matrix


def _connected(adjacency: np.ndarray) -> bool:
    reached = np.zeros(adjacency.shape[0], dtype=bool)
    reached[0] = True
    while True:
        grown = reached | adjacency[reached].any(axis=0)
        if grown.sum() == reached.sum():
            return bool(reached.all())
        reached = grown


def _v_inverse(weight_matrix: np.ndarray) -> np.ndarray:
    """Moore-Penrose inverse of V = diag(rowsums W) - W, through the shift by 1/n that makes V invertible."""
    n = weight_matrix.shape[0]
    v = np.diag(weight_matrix.sum(axis=1)) - weight_matrix
    return np.linalg.inv(v + 1.0 / n) - 1.0 / n


def _start(init: str | np.ndarray, delta: np.ndarray, ndim: int) -> np.ndarray:
    if isinstance(init, str):
        if init != "torgerson":
            raise ValueError(f"init must be 'torgerson' or a configuration, got {init!r}")
        return torgerson(delta, ndim)
    start = np.asarray(init, dtype=float)
    if start.shape != (delta.shape[0], ndim):
        raise ValueError(f"the start configuration must be {delta.shape[0]} x {ndim}, got {start.shape}")
    if not np.isfinite(start).all():
        raise ValueError("the start configuration must be finite")
    start = start - start.mean(axis=0)
    largest = np.abs(start).max()
    return start / largest if largest > 0 else start  # the scale of a start does not matter
