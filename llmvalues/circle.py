"""Compare an MDS configuration with the theoretical circle of values.

- ``theoretical_circle``: points evenly spaced on the unit circle in a given order.
- ``procrustes``: the one-sided Procrustes fit of a configuration to a target
  (orthogonal rotation with reflection, dilation, translation), with the
  congruence and alienation coefficients, as ``smacof::Procrustes`` (R smacof
  2.1-7) computes them. ``scipy.spatial.procrustes`` is a different, symmetric
  procedure that standardises both configurations.
- ``out_of_order``: the values whose angular position breaks the theoretical sequence.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ProcrustesFit:
    """A configuration fitted to a target: ``fitted = dilation * testee @ rotation + translation``.

    ``congruence`` is the congruence coefficient between the two sets of
    inter-point distances and ``alienation`` is sqrt(1 - congruence^2).
    """

    fitted: np.ndarray
    rotation: np.ndarray
    dilation: float
    translation: np.ndarray
    congruence: float
    alienation: float


def theoretical_circle(n: int) -> np.ndarray:
    """Return n points on the unit circle, 360/n degrees apart, counter-clockwise from angle 0."""
    if n < 3:
        raise ValueError(f"a circle needs at least 3 points, got {n}")
    angles = 2.0 * np.pi * np.arange(n) / n
    return np.column_stack([np.cos(angles), np.sin(angles)])


def procrustes(target: np.ndarray, testee: np.ndarray) -> ProcrustesFit:
    """Fit ``testee`` to ``target`` by rotation (reflection allowed), dilation and translation.

    Minimises the squared distances between ``target`` and the transformed
    ``testee``, rows matched by position.
    The congruence coefficient compares the inter-point distances of the two
    configurations, which the fit does not change up to scale.
    """
    x = np.asarray(target, dtype=float)
    y = np.asarray(testee, dtype=float)
    if x.shape != y.shape or x.ndim != 2:
        raise ValueError(f"target and testee must have the same n x p shape, got {x.shape} and {y.shape}")
    n = x.shape[0]
    x_centered = x - x.mean(axis=0)
    y_centered = y - y.mean(axis=0)
    cross = x_centered.T @ y_centered
    u, _, vt = np.linalg.svd(cross)
    rotation = vt.T @ u.T
    spread = np.sum(y_centered**2)
    if spread == 0:
        raise ValueError("the testee configuration has all points in one place")
    dilation = float(np.trace(cross @ rotation) / spread)
    translation = (x - dilation * y @ rotation).mean(axis=0)
    fitted = dilation * y @ rotation + translation

    upper = np.triu_indices(n, k=1)
    target_distances = _distances(x)[upper]
    testee_distances = _distances(y)[upper]
    congruence = float(np.sum(target_distances * testee_distances)
                       / np.sqrt(np.sum(target_distances**2) * np.sum(testee_distances**2)))
    alienation = float(np.sqrt(max(0.0, 1.0 - congruence**2)))
    return ProcrustesFit(fitted, rotation, dilation, translation, congruence, alienation)


def angles_degrees(configuration: np.ndarray) -> np.ndarray:
    """Return each point's angle around the configuration's centroid, in degrees from 0 to 360."""
    centered = np.asarray(configuration, dtype=float)[:, :2]
    centered = centered - centered.mean(axis=0)
    return np.degrees(np.arctan2(centered[:, 1], centered[:, 0])) % 360.0


def out_of_order(angles: np.ndarray) -> list[int]:
    """Return the positions (in theoretical order) of the points that break the circular sequence.

    ``angles`` gives each point's angle, points listed in their theoretical
    order, which runs counter-clockwise. The points kept are the largest set
    that appears in theoretical order when one goes once around the circle,
    starting anywhere. The others are out of order. A configuration fitted to
    the theoretical circle by ``procrustes`` has the theoretical orientation, so
    its angles can be passed directly. Ties between equally large sets go to
    the set found from the earliest starting point.
    """
    angles = np.asarray(angles, dtype=float)
    n = angles.size
    if n == 0:
        return []
    # Plain lists: with about 19 points, numpy's per-call cost exceeds the work, and a
    # permutation test calls this once per permutation.
    around = [int(position) for position in np.argsort(angles, kind="stable")]  # theoretical positions in angular order
    best: list[int] = []
    for start in range(n):
        sequence = around[start:] + around[:start]
        # Positions are compared relative to the first point's, so wrapping past the
        # last value back to the first still counts as in order.
        relative = [(position - sequence[0]) % n for position in sequence]
        in_order = _longest_increasing(relative)
        if len(in_order) > len(best):
            best = [sequence[index] for index in in_order]
    return sorted(set(range(n)) - set(best))


def _longest_increasing(sequence: list[int]) -> list[int]:
    """Return the indices of one longest strictly increasing subsequence (patience sorting)."""
    tails: list[int] = []
    tail_index: list[int] = []
    previous = [-1] * len(sequence)
    for index, value in enumerate(sequence):
        low, high = 0, len(tails)
        while low < high:
            middle = (low + high) // 2
            if tails[middle] < value:
                low = middle + 1
            else:
                high = middle
        if low > 0:
            previous[index] = tail_index[low - 1]
        if low == len(tails):
            tails.append(value)
            tail_index.append(index)
        else:
            tails[low] = value
            tail_index[low] = index
    result = []
    index = tail_index[-1] if tail_index else -1
    while index >= 0:
        result.append(index)
        index = previous[index]
    return result[::-1]


def _distances(configuration: np.ndarray) -> np.ndarray:
    difference = configuration[:, None, :] - configuration[None, :, :]
    return np.sqrt(np.einsum("ijk,ijk->ij", difference, difference))
