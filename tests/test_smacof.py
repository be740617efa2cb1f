"""SMACOF against R's smacof and against properties with known answers.

Reference values: R 4.2.2 Patched (2022-11-10 r83330), smacof 2.1-7, from
    smacofSym(d, ndim=2, type=TYPE, ties=TIES, init='torgerson', eps=1e-12, itmax=1e5)
with TYPE in ratio, interval, ordinal and TIES in primary, secondary, on three
matrices made for this project: diss6 (6 points), circ10 (10 points on a jittered
circle in value order) and circ10_tied (circ10 rounded to one decimal, so with ties).
"""

import numpy as np
import pytest

from llmvalues.circle import theoretical_circle
from llmvalues.smacof import pairwise_distances, smacof, smacof_best, torgerson

DISS6 = np.array([
    [0.0, 0.78, 1.55, 1.96, 1.6, 0.83],
    [0.78, 0.0, 1.13, 1.77, 1.87, 1.58],
    [1.55, 1.13, 0.0, 1.06, 1.72, 1.98],
    [1.96, 1.77, 1.06, 0.0, 0.96, 1.57],
    [1.6, 1.87, 1.72, 0.96, 0.0, 0.97],
    [0.83, 1.58, 1.98, 1.57, 0.97, 0.0],
])
CIRC10 = np.array([
    [0.0, 0.612, 1.136, 1.563, 1.932, 2.107, 1.732, 1.502, 1.151, 0.708],
    [0.612, 0.0, 0.531, 0.966, 1.605, 1.828, 1.909, 1.907, 1.52, 1.234],
    [1.136, 0.531, 0.0, 0.54, 1.214, 1.546, 1.862, 1.955, 1.757, 1.599],
    [1.563, 0.966, 0.54, 0.0, 0.597, 1.18, 1.523, 1.919, 1.902, 1.697],
    [1.932, 1.605, 1.214, 0.597, 0.0, 0.611, 1.185, 1.741, 1.679, 1.868],
    [2.107, 1.828, 1.546, 1.18, 0.611, 0.0, 0.683, 1.412, 1.547, 1.887],
    [1.732, 1.909, 1.862, 1.523, 1.185, 0.683, 0.0, 0.65, 1.024, 1.435],
    [1.502, 1.907, 1.955, 1.919, 1.741, 1.412, 0.65, 0.0, 0.343, 0.81],
    [1.151, 1.52, 1.757, 1.902, 1.679, 1.547, 1.024, 0.343, 0.0, 0.555],
    [0.708, 1.234, 1.599, 1.697, 1.868, 1.887, 1.435, 0.81, 0.555, 0.0],
])
CIRC10_TIED = np.array([
    [0.0, 0.6, 1.1, 1.6, 1.9, 2.1, 1.7, 1.5, 1.2, 0.7],
    [0.6, 0.0, 0.5, 1.0, 1.6, 1.8, 1.9, 1.9, 1.5, 1.2],
    [1.1, 0.5, 0.0, 0.5, 1.2, 1.5, 1.9, 2.0, 1.8, 1.6],
    [1.6, 1.0, 0.5, 0.0, 0.6, 1.2, 1.5, 1.9, 1.9, 1.7],
    [1.9, 1.6, 1.2, 0.6, 0.0, 0.6, 1.2, 1.7, 1.7, 1.9],
    [2.1, 1.8, 1.5, 1.2, 0.6, 0.0, 0.7, 1.4, 1.5, 1.9],
    [1.7, 1.9, 1.9, 1.5, 1.2, 0.7, 0.0, 0.6, 1.0, 1.4],
    [1.5, 1.9, 2.0, 1.9, 1.7, 1.4, 0.6, 0.0, 0.3, 0.8],
    [1.2, 1.5, 1.8, 1.9, 1.7, 1.5, 1.0, 0.3, 0.0, 0.6],
    [0.7, 1.2, 1.6, 1.7, 1.9, 1.9, 1.4, 0.8, 0.6, 0.0],
])
MATRICES = {"diss6": DISS6, "circ10": CIRC10, "circ10_tied": CIRC10_TIED}

# (matrix, type, ties) -> (stress-1, iterations) from smacof 2.1-7.
R_RESULTS = {
    ("diss6", "ratio", "primary"): (0.0301755454802246, 17),
    ("diss6", "interval", "primary"): (0.0295975264149954, 17),
    ("diss6", "ordinal", "primary"): (8.93656768208963e-06, 1078),
    ("diss6", "ordinal", "secondary"): (8.93656768208963e-06, 1078),
    ("circ10", "ratio", "primary"): (0.0309704331436619, 17),
    ("circ10", "interval", "primary"): (0.029879620261996, 17),
    ("circ10", "ordinal", "primary"): (0.0109436675341308, 119),
    ("circ10", "ordinal", "secondary"): (0.0109436675341308, 119),
    ("circ10_tied", "ratio", "primary"): (0.0365465529054212, 17),
    ("circ10_tied", "interval", "primary"): (0.0342082890328171, 17),
    ("circ10_tied", "ordinal", "primary"): (5.59065240189459e-06, 359),
    ("circ10_tied", "ordinal", "secondary"): (0.0164873513286578, 72),
}

# smacof's ratio configuration of diss6 and torgerson(diss6); axes may differ in sign.
R_DISS6_RATIO_CONFIGURATION = np.array([
    [-0.54480509833286, 0.236191872210791],
    [-0.579285277848844, -0.293321562336316],
    [0.0514615538346671, -0.685027517744703],
    [0.629456817374337, -0.247979319821571],
    [0.519501084662327, 0.376742174774436],
    [-0.0763290796896265, 0.613394352917362],
])
R_DISS6_TORGERSON = np.array([
    [-0.857931781451801, 0.337513126520836],
    [-0.823676368085496, -0.432868199463306],
    [0.057214899279771, -1.02320415107382],
    [0.954058151950164, -0.355626975238736],
    [0.744406999072819, 0.537640057281792],
    [-0.0740719007654573, 0.936546141973235],
])


def same_up_to_axis_signs(a, b, tolerance):
    signs = np.sign(np.sum(a * b, axis=0))
    return np.allclose(a * signs, b, atol=tolerance, rtol=0)


@pytest.mark.parametrize("case", sorted(R_RESULTS), ids=lambda case: "-".join(case))
def test_stress1_matches_smacof(case):
    matrix, kind, ties = case
    result = smacof(MATRICES[matrix], kind=kind, ties=ties, eps=1e-12, max_iterations=100_000)
    expected_stress, _ = R_RESULTS[case]
    assert result.stress1 == pytest.approx(expected_stress, abs=1e-6)
    assert result.converged


@pytest.mark.parametrize("case", sorted(R_RESULTS), ids=lambda case: "-".join(case))
def test_iterations_match_smacof(case):
    matrix, kind, ties = case
    result = smacof(MATRICES[matrix], kind=kind, ties=ties, eps=1e-12, max_iterations=100_000)
    assert result.iterations == R_RESULTS[case][1]


def test_torgerson_matches_smacof():
    assert same_up_to_axis_signs(torgerson(DISS6), R_DISS6_TORGERSON, 1e-9)


def test_ratio_configuration_matches_smacof():
    result = smacof(DISS6, kind="ratio", eps=1e-12, max_iterations=100_000)
    assert same_up_to_axis_signs(result.configuration, R_DISS6_RATIO_CONFIGURATION, 1e-6)


def test_ratio_matches_scikit_learn():
    # scikit-learn's metric SMACOF from the same start reaches the same configuration
    # on the unnormalised scale; its stopping rule differs, so both run to convergence.
    from sklearn.manifold import smacof as sklearn_smacof

    start = torgerson(CIRC10)
    ours = smacof(CIRC10, kind="ratio", init=start, eps=1e-14, max_iterations=100_000)
    theirs, _ = sklearn_smacof(CIRC10, metric=True, n_components=2, init=start, n_init=1,
                               max_iter=100_000, eps=1e-14)
    scale = np.sqrt(45.0 / np.sum(np.triu(CIRC10) ** 2))  # our disparities' normalisation
    assert np.allclose(ours.configuration / scale, theirs - theirs.mean(axis=0), atol=1e-6)


def test_circle_recovered_exactly():
    points = theoretical_circle(19)
    distances = pairwise_distances(points)
    for kind in ("ratio", "interval", "ordinal"):
        result = smacof(distances, kind=kind, init=points)
        assert result.stress1 < 1e-6, kind


def test_stress_invariant_to_rescaling():
    for kind in ("ratio", "interval", "ordinal"):
        first = smacof(CIRC10, kind=kind, eps=1e-10)
        scaled = smacof(CIRC10 * 37.5, kind=kind, eps=1e-10)
        assert scaled.stress1 == pytest.approx(first.stress1, rel=1e-9), kind


def test_ordinal_invariant_to_monotone_transform():
    # Only the first iteration sees the dissimilarities themselves, so both runs
    # reach the same minimum from the same start.
    start = torgerson(CIRC10)
    first = smacof(CIRC10, kind="ordinal", init=start, eps=1e-15, max_iterations=100_000)
    transformed = smacof(np.sqrt(CIRC10), kind="ordinal", init=start, eps=1e-15, max_iterations=100_000)
    assert transformed.stress1 == pytest.approx(first.stress1, abs=1e-8)


def test_stress_never_increases():
    stresses = [smacof(CIRC10_TIED, kind="ordinal", eps=0.0, max_iterations=k).stress1 for k in range(1, 60)]
    assert all(later <= earlier + 1e-15 for earlier, later in zip(stresses, stresses[1:]))


def test_primary_ties_fit_better_than_secondary():
    primary = smacof(CIRC10_TIED, kind="ordinal", ties="primary", eps=1e-12, max_iterations=100_000)
    secondary = smacof(CIRC10_TIED, kind="ordinal", ties="secondary", eps=1e-12, max_iterations=100_000)
    assert primary.stress1 < secondary.stress1 / 100


def test_secondary_ties_share_disparity():
    result = smacof(CIRC10_TIED, kind="ordinal", ties="secondary", eps=1e-12, max_iterations=100_000)
    upper = np.triu_indices(10, k=1)
    for value in np.unique(CIRC10_TIED[upper]):
        tied = result.disparities[upper][CIRC10_TIED[upper] == value]
        assert np.ptp(tied) < 1e-12, value


def test_ordinal_disparities_monotone():
    result = smacof(CIRC10, kind="ordinal")
    upper = np.triu_indices(10, k=1)
    order = np.argsort(CIRC10[upper])
    assert np.all(np.diff(result.disparities[upper][order]) >= -1e-12)


def test_disparities_normalised():
    result = smacof(CIRC10, kind="interval")
    assert np.sum(np.triu(result.disparities) ** 2) == pytest.approx(45.0)


def test_zero_dissimilarity_kept():
    # Points 0 and 1 coincide. scikit-learn's non-metric MDS would treat the 0 as
    # missing; here it is the smallest dissimilarity and the fit puts them together.
    points = theoretical_circle(8)
    points[1] = points[0]
    distances = pairwise_distances(points)
    start = points + np.random.default_rng(5).normal(scale=0.05, size=points.shape)
    result = smacof(distances, kind="ordinal", init=start, eps=1e-12, max_iterations=100_000)
    upper = np.triu_indices(8, k=1)
    assert result.stress1 < 1e-3
    assert result.disparities[0, 1] == result.disparities[upper].min()
    assert result.distances[0, 1] == result.distances[upper].min()
    assert result.distances[0, 1] < 0.05


def test_equal_weights_change_only_scale():
    # As in smacof, disparities are scaled so that their weighted sum of squares is
    # n(n-1)/2, so doubling every weight shrinks the configuration by sqrt(2).
    plain = smacof(CIRC10, kind="ordinal")
    weighted = smacof(CIRC10, kind="ordinal", weights=np.ones((10, 10)) * 2.0)
    assert weighted.iterations == plain.iterations
    assert np.allclose(weighted.distances * np.sqrt(2.0), plain.distances, atol=1e-8)


def test_missing_pair_ignored():
    points = theoretical_circle(9)
    distances = pairwise_distances(points)
    distances[2, 7] = distances[7, 2] = np.nan
    result = smacof(distances, kind="ratio", init=points)
    assert result.stress1 < 1e-6
    assert result.disparities[2, 7] == 0.0


def test_zero_weight_pair_ignored():
    points = theoretical_circle(9)
    distances = pairwise_distances(points)
    distances[2, 7] = distances[7, 2] = 50.0  # a wild value that the weight leaves out
    weights = np.ones((9, 9))
    weights[2, 7] = weights[7, 2] = 0.0
    result = smacof(distances, kind="ratio", weights=weights, init=points)
    assert result.stress1 < 1e-6


def test_best_start_chosen():
    starts = [np.random.default_rng(seed).standard_normal((10, 2)) for seed in range(4)] + ["torgerson"]
    best, index = smacof_best(CIRC10, starts, kind="ordinal")
    each = [smacof(CIRC10, kind="ordinal", init=start).stress1 for start in starts]
    assert best.stress1 == min(each)
    assert index == int(np.argmin(each))


def test_max_iterations_reported():
    result = smacof(DISS6, kind="ordinal", eps=1e-12, max_iterations=5)
    assert result.iterations == 5
    assert not result.converged


BAD_MATRICES = [
    ("not square", np.zeros((3, 4)), "square"),
    ("too small", np.zeros((2, 2)), "at least 3"),
    ("asymmetric", np.array([[0, 1, 2], [1, 0, 3], [2, 4, 0]], dtype=float), "symmetric"),
    ("negative", np.array([[0, -1, 2], [-1, 0, 3], [2, 3, 0]], dtype=float), "negative"),
    ("diagonal", np.array([[1, 1, 2], [1, 0, 3], [2, 3, 0]], dtype=float), "diagonal"),
    ("infinite", np.array([[0, np.inf, 2], [np.inf, 0, 3], [2, 3, 0]]), "finite"),
]


@pytest.mark.parametrize("name, matrix, message", BAD_MATRICES, ids=[case[0] for case in BAD_MATRICES])
def test_bad_matrix_rejected(name, matrix, message):
    with pytest.raises(ValueError, match=message):
        smacof(matrix)


def test_bad_start_rejected():
    with pytest.raises(ValueError, match="start configuration must be 6 x 2"):
        smacof(DISS6, init=np.zeros((5, 2)))


def test_collapsed_start_rejected():
    with pytest.raises(ValueError, match="all points in one place"):
        smacof(DISS6, init=np.ones((6, 2)))


@pytest.mark.parametrize("seed", range(5))
def test_compiled_isotonic_matches_scipy(seed):
    from scipy.optimize import isotonic_regression

    from llmvalues.smacof_loop import isotonic

    generator = np.random.default_rng(seed)
    values = generator.normal(size=171).cumsum() * 0.1 + generator.normal(size=171)
    values[40:50] = values[40]  # a run of equal values
    weights = generator.uniform(0.5, 2.0, size=171)
    fitted = np.empty(171)
    isotonic(values, weights, fitted)
    np.testing.assert_allclose(fitted, isotonic_regression(values, weights=weights).x, rtol=0, atol=1e-12)
    assert np.all(np.diff(fitted) >= 0)


def test_uncacheable_function_still_compiles():
    # A function without a source file has no cache location, as when no folder is writable.
    from llmvalues.smacof_loop import compiled

    namespace = {}
    exec("def double(value):\n    return 2 * value\n", namespace)
    assert compiled(namespace["double"])(21) == 42
