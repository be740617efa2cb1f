"""The SMACOF iterations, compiled with numba.

``llmvalues.smacof.smacof`` checks its input, prepares the pair vectors and the
start, and hands the loop to ``iterate``. A permutation test fits a thousand
small maps, each in a few hundred iterations of a few hundred pairs, so the
time of one iteration is the cost of the numpy calls it makes, not of the
arithmetic. Compiled, one iteration costs about what its arithmetic costs.

The functions are compiled on first use, which took about 7 s on 2 cores. The
machine code is cached beside this file (``__pycache__``), or in numba's user
cache folder when that folder is not writable. Later processes load it instead
of compiling again.
"""

from __future__ import annotations

import numpy as np
from numba import njit

# Kinds of transformation, as ``iterate`` receives them.
RATIO, INTERVAL, ORDINAL_PRIMARY, ORDINAL_SECONDARY = 0, 1, 2, 3


def compiled(function):
    """Compile ``function`` with numba, with its machine code cached on disk where numba finds a writable place."""
    try:
        return njit(cache=True)(function)
    except RuntimeError:
        # numba found no writable cache location (the package folder, NUMBA_CACHE_DIR, the
        # user cache folder): compile in memory instead, again in every process.
        return njit(function)


@compiled
def isotonic(values, weights, fitted):
    """Write the weighted least-squares non-decreasing fit to ``values`` into ``fitted`` (pool adjacent violators)."""
    size = values.size
    means = np.empty(size)
    totals = np.empty(size)
    ends = np.empty(size, dtype=np.int64)
    top = -1
    for index in range(size):
        top += 1
        means[top] = values[index]
        totals[top] = weights[index]
        ends[top] = index
        while top > 0 and means[top - 1] > means[top]:
            pooled = totals[top - 1] + totals[top]
            means[top - 1] = (totals[top - 1] * means[top - 1] + totals[top] * means[top]) / pooled
            totals[top - 1] = pooled
            ends[top - 1] = ends[top]
            top -= 1
    start = 0
    for block in range(top + 1):
        for index in range(start, ends[block] + 1):
            fitted[index] = means[block]
        start = ends[block] + 1


@compiled
def _normalise(disparities, weights, normq):
    total = 0.0
    for pair in range(disparities.size):
        total += weights[pair] * disparities[pair] ** 2
    if total > 0:
        factor = np.sqrt(normq / total)
        for pair in range(disparities.size):
            disparities[pair] *= factor


@compiled
def _transform(kind, distances, delta, weights, block_order, block_starts, blocks, block_weights, has_ties, normq,
               disparities):
    """Write the normalised disparities for the current ``distances`` into ``disparities``."""
    size = distances.size
    if kind == RATIO:
        disparities[:] = delta
    elif kind == INTERVAL:
        # Weighted least squares of the distances on (1, delta).
        weight_sum, mean_delta, mean_distance = 0.0, 0.0, 0.0
        for pair in range(size):
            weight_sum += weights[pair]
            mean_delta += weights[pair] * delta[pair]
            mean_distance += weights[pair] * distances[pair]
        mean_delta /= weight_sum
        mean_distance /= weight_sum
        covariance, variance = 0.0, 0.0
        for pair in range(size):
            centered = delta[pair] - mean_delta
            covariance += weights[pair] * centered * (distances[pair] - mean_distance)
            variance += weights[pair] * centered * centered
        slope = covariance / variance if variance > 0 else 0.0
        for pair in range(size):
            disparities[pair] = mean_distance + slope * (delta[pair] - mean_delta)
    elif kind == ORDINAL_PRIMARY:
        # Within a tie block the order is free: sorting by the current distances
        # gives the least-squares monotone fit.
        order = block_order.copy()
        if has_ties:
            for block in range(block_starts.size - 1):
                first, last = block_starts[block], block_starts[block + 1]
                if last - first > 1:
                    members = block_order[first:last]
                    order[first:last] = members[np.argsort(distances[members], kind="mergesort")]
        fitted = np.empty(size)
        isotonic(distances[order], weights[order], fitted)
        for position in range(size):
            disparities[order[position]] = fitted[position]
    else:
        count = block_weights.size
        sums = np.zeros(count)
        for pair in range(size):
            sums[blocks[pair]] += weights[pair] * distances[pair]
        fitted = np.empty(count)
        isotonic(sums / block_weights, block_weights, fitted)
        for pair in range(size):
            disparities[pair] = fitted[blocks[pair]]
    _normalise(disparities, weights, normq)


@compiled
def _distances(configuration, rows, columns, differences, distances):
    for pair in range(rows.size):
        total = 0.0
        for axis in range(configuration.shape[1]):
            difference = configuration[rows[pair], axis] - configuration[columns[pair], axis]
            differences[pair, axis] = difference
            total += difference * difference
        distances[pair] = np.sqrt(total)


@compiled
def iterate(x, disparities, distances, rows, columns, weights, unweighted, v_inverse, kind, delta, block_order,
            block_starts, blocks, block_weights, has_ties, normq, eps, max_iterations):
    """Run Guttman transforms and disparity updates from ``x`` until the stress stops decreasing by ``eps``.

    ``x`` is the scaled start, ``disparities`` and ``distances`` its pair vectors.
    Returns the last configuration, its disparities and distances, the normalised
    raw stress before and after the last iteration, and the number of iterations.
    """
    n, ndim = x.shape
    size = rows.size
    old_stress = 0.0
    for pair in range(size):
        old_stress += weights[pair] * (disparities[pair] - distances[pair]) ** 2
    old_stress /= normq

    differences = np.empty((size, ndim))
    _distances(x, rows, columns, differences, np.empty(size))
    new_distances = np.empty(size)
    new_disparities = np.empty(size)
    iteration = 1
    while True:
        # Guttman transform: y = V^+ B(x) x, where B(x) x sums w * dhat / d * (x_i - x_j)
        # over the pairs of each point (pairs at distance 0 add nothing).
        b_x = np.zeros((n, ndim))
        for pair in range(size):
            if distances[pair] > 0:
                ratio = weights[pair] * disparities[pair] / distances[pair]
                for axis in range(ndim):
                    term = ratio * differences[pair, axis]
                    b_x[rows[pair], axis] += term
                    b_x[columns[pair], axis] -= term
        y = b_x / n if unweighted else v_inverse @ b_x
        _distances(y, rows, columns, differences, new_distances)
        _transform(kind, new_distances, delta, weights, block_order, block_starts, blocks, block_weights, has_ties,
                   normq, new_disparities)
        new_stress = 0.0
        for pair in range(size):
            new_stress += weights[pair] * (new_disparities[pair] - new_distances[pair]) ** 2
        new_stress /= normq
        if old_stress - new_stress < eps or iteration == max_iterations:
            return y, new_disparities, new_distances, old_stress, new_stress, iteration
        distances, new_distances = new_distances, distances
        disparities, new_disparities = new_disparities, disparities
        old_stress = new_stress
        iteration += 1
