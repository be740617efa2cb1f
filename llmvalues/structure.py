"""Confirmatory MDS: do a model's ratings reproduce the circle of values?

For one set of respondents (the trials of one model, or of all models pooled)
the steps are:

1. correlate the values (or items) across respondents, from centered scores by
   default, and turn the correlations into dissimilarities, sqrt(2(1 - r)) or 1 - r;
2. fit a 2-dimensional SMACOF configuration, starting from the theoretical
   circle (``llmvalues.smacof``);
3. judge the fit: stress-1 (smacof's convention), a permutation test of the
   stress, the stress of random dissimilarities for the same number of points,
   the Procrustes fit to the theoretical circle and the values out of order
   (``llmvalues.circle``).

Everything here is a pure function of its arguments; the seeds are arguments.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .circle import ProcrustesFit, angles_degrees, out_of_order, procrustes, theoretical_circle
from .smacof import MDSResult, random_starts, smacof, smacof_best

DISSIMILARITIES = ("sqrt(2(1-r))", "1-r")
INITS = ("theory", "torgerson")


@dataclass(frozen=True)
class MDSSettings:
    """Fit settings shared by every configuration of one analysis (the observed one and the permuted ones)."""

    kind: str = "ordinal"
    ties: str = "primary"
    dissimilarity: str = "sqrt(2(1-r))"
    init: str | np.ndarray = "theory"
    random_starts: int = 0
    seed: int = 0
    eps: float = 1e-6
    max_iterations: int = 1000

    def __post_init__(self):
        if self.dissimilarity not in DISSIMILARITIES:
            raise ValueError(f"dissimilarity must be one of {', '.join(DISSIMILARITIES)}, got {self.dissimilarity!r}")
        if isinstance(self.init, str) and self.init not in INITS:
            raise ValueError(f"init must be one of {', '.join(INITS)} or a configuration, got {self.init!r}")


@dataclass
class StructureFit:
    """The confirmatory MDS of one set of respondents."""

    labels: list[str]
    n_cases: int
    dropped: list[str]
    correlations: np.ndarray
    dissimilarities: np.ndarray
    mds: MDSResult
    start: str
    theory: np.ndarray
    fit: ProcrustesFit
    angles: np.ndarray
    out_of_order: list[str]
    warnings: list[str] = field(default_factory=list)


def correlation_dissimilarities(correlations: np.ndarray, method: str) -> np.ndarray:
    """Turn a correlation matrix into dissimilarities: sqrt(2(1 - r)) or 1 - r, with a zero diagonal.

    sqrt(2(1 - r)) is the Euclidean distance between standardised variables
    divided by sqrt(n - 1); 1 - r is the simpler choice. Both keep a perfect
    correlation (r = 1) at dissimilarity 0.
    """
    r = np.asarray(correlations, dtype=float)
    # np.corrcoef can differ from its transpose in the last bit, and the square root
    # turns a difference of 1e-16 near r = 1 into 1e-8, so symmetrise first.
    r = np.clip((r + r.T) / 2.0, -1.0, 1.0)
    if method == "sqrt(2(1-r))":
        delta = np.sqrt(2.0 * (1.0 - r))
    elif method == "1-r":
        delta = 1.0 - r
    else:
        raise ValueError(f"dissimilarity must be one of {', '.join(DISSIMILARITIES)}, got {method!r}")
    np.fill_diagonal(delta, 0.0)
    return delta


def usable_variables(data: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """Keep the complete cases and drop the variables with zero variance across them.

    Returns the table that remains and the names of the dropped variables. A
    variable without variance has no correlation with anything, so it cannot be
    placed on a map.
    """
    complete = data.dropna(axis=0, how="any")
    spread = complete.std(axis=0, ddof=1) if len(complete) > 1 else pd.Series(0.0, index=complete.columns)
    constant = [str(name) for name in complete.columns if not spread[name] > 0]
    return complete.drop(columns=constant), constant


def fit_structure(data: pd.DataFrame, theory: pd.DataFrame, settings: MDSSettings, *,
                  warn_below_cases: int = 0, circle_of: dict[str, str] | None = None) -> StructureFit:
    """Fit the confirmatory MDS of one set of respondents.

    Parameters
    ----------
    data : DataFrame
        Respondents in rows, variables (values or items) in columns, named.
    theory : DataFrame
        The theoretical configuration: index the variable names, columns x and y.
        Variables dropped for zero variance are dropped from it too.
    settings : MDSSettings
    warn_below_cases : int
        Add a warning when fewer complete respondents remain.
    circle_of : dict of str to str, optional
        Variable -> value code, for item-level maps: the values out of order are
        then judged from the mean angle of each value's items.

    Raises
    ------
    ValueError
        When fewer than 3 respondents or fewer than 3 variables with variance remain.
    """
    usable, dropped = usable_variables(data)
    warnings = []
    if dropped:
        warnings.append(f"dropped for zero variance across trials: {', '.join(dropped)}")
    n_cases = len(usable)
    if n_cases < 3:
        raise ValueError(f"needs at least 3 complete trials, found {n_cases}")
    if usable.shape[1] < 3:
        raise ValueError(f"needs at least 3 variables with variance, found {usable.shape[1]}")
    if n_cases < warn_below_cases:
        warnings.append(f"only {n_cases} trials: correlations between {usable.shape[1]} variables are unstable "
                        f"below {warn_below_cases} trials, so read the map with care")

    labels = [str(name) for name in usable.columns]
    correlations = np.corrcoef(usable.to_numpy(dtype=float), rowvar=False)
    delta = correlation_dissimilarities(correlations, settings.dissimilarity)
    target = theory.loc[labels, ["x", "y"]].to_numpy(dtype=float)
    mds, start = _fit(delta, target, settings)
    fit = procrustes(target, mds.configuration)
    angles = angles_degrees(fit.fitted)
    return StructureFit(
        labels=labels,
        n_cases=n_cases,
        dropped=dropped,
        correlations=correlations,
        dissimilarities=delta,
        mds=mds,
        start=start,
        theory=target,
        fit=fit,
        angles=angles,
        out_of_order=_values_out_of_order(labels, angles, circle_of),
        warnings=warnings,
    )


def _fit(delta: np.ndarray, theory: np.ndarray, settings: MDSSettings) -> tuple[MDSResult, str]:
    n = delta.shape[0]
    starts: list[str | np.ndarray]
    names: list[str]
    if isinstance(settings.init, str):
        starts = [theory if settings.init == "theory" else "torgerson"]
        names = [settings.init]
    else:
        starts, names = [settings.init], ["given"]
    starts += random_starts(n, 2, settings.random_starts, settings.seed)
    names += [f"random {index + 1}" for index in range(settings.random_starts)]
    result, index = smacof_best(delta, starts, ndim=2, kind=settings.kind, ties=settings.ties,
                                eps=settings.eps, max_iterations=settings.max_iterations)
    return result, names[index]


def _values_out_of_order(labels: list[str], angles: np.ndarray, circle_of: dict[str, str] | None) -> list[str]:
    if circle_of is None:
        return [labels[position] for position in out_of_order(angles)]
    codes = list(dict.fromkeys(circle_of[label] for label in labels))
    radians = np.radians(angles)
    means = []
    for code in codes:
        members = [index for index, label in enumerate(labels) if circle_of[label] == code]
        means.append(np.degrees(np.arctan2(np.sin(radians[members]).mean(), np.cos(radians[members]).mean())) % 360)
    return [codes[position] for position in out_of_order(np.array(means))]


def permutation_test(data: pd.DataFrame, theory: pd.DataFrame, settings: MDSSettings, *, permutations: int,
                     seed: int, recenter: bool, keep: list[str], circle_of: dict[str, str] | None = None) -> pd.DataFrame:
    """Refit the map to permuted data and return each permutation's stress-1, congruence and values out of order.

    Each permutation shuffles every variable's scores across respondents
    independently, which keeps each variable's distribution and breaks the
    correlations between them. The null hypothesis is that the variables are
    unrelated.

    Parameters
    ----------
    data : DataFrame
        The uncentered scores of the complete respondents, every variable
        (constant ones too), as the observed fit's respondents.
    recenter : bool
        Subtract each respondent's mean over all variables after shuffling. Centered
        scores must be permuted this way: shuffling already-centered columns
        removes the dependence that centering builds in (the scores of one
        respondent sum to zero), and the test then rejects too often. The mean
        over the 19 value scores equals MRAT when every item has a rating.
    keep : list of str
        The variables the observed map was fitted to (those with variance).

    Returns
    -------
    DataFrame
        One row per permutation with ``stress1``, ``congruence`` and
        ``n_out_of_order``, each fit made with the observed fit's settings and start.
    """
    generator = np.random.default_rng(seed)
    values = data.to_numpy(dtype=float)
    columns = [data.columns.get_loc(name) for name in keep]
    labels = [str(name) for name in keep]
    target = theory.loc[labels, ["x", "y"]].to_numpy(dtype=float)
    n_cases = values.shape[0]
    index = np.tile(np.arange(n_cases)[:, None], (1, values.shape[1]))
    rows = []
    for _ in range(permutations):
        shuffled = np.take_along_axis(values, generator.permuted(index, axis=0), axis=0)
        if recenter:
            shuffled = shuffled - shuffled.mean(axis=1, keepdims=True)
        fitted_columns = shuffled[:, columns]
        if (np.ptp(fitted_columns, axis=0) == 0).any():  # re-centering can leave a column constant
            rows.append({"stress1": np.nan, "congruence": np.nan, "n_out_of_order": np.nan})
            continue
        delta = correlation_dissimilarities(np.corrcoef(fitted_columns, rowvar=False), settings.dissimilarity)
        mds = _fit(delta, target, settings)[0]
        fit = procrustes(target, mds.configuration)
        out = _values_out_of_order(labels, angles_degrees(fit.fitted), circle_of)
        rows.append({"stress1": mds.stress1, "congruence": fit.congruence, "n_out_of_order": len(out)})
    return pd.DataFrame(rows, columns=["stress1", "congruence", "n_out_of_order"])


def permutation_p_value(observed: float, permuted: np.ndarray, *, larger_is_better: bool = False) -> float:
    """Return the permutation p value: (permuted fits at least as good as the observed + 1) / (permutations + 1).

    For stress, lower is better, so a fit is at least as good when its stress is
    at most the observed; for congruence pass ``larger_is_better=True``. The added
    1 counts the observed data as one of the permutations, so p is never 0.
    Permutations without a result (NaN) are left out.
    """
    permuted = np.asarray(permuted, dtype=float)
    permuted = permuted[~np.isnan(permuted)]
    as_good = permuted >= observed if larger_is_better else permuted <= observed
    return float((np.sum(as_good) + 1) / (permuted.size + 1))


def random_stress(n: int, *, replications: int, seed: int, kind: str = "ordinal", ties: str = "primary",
                  eps: float = 1e-6, max_iterations: int = 1000) -> np.ndarray:
    """Return the stress-1 of 2-dimensional fits to ``replications`` random dissimilarity matrices.

    As ``smacof::randomstress``: dissimilarities drawn uniformly from (0, 1),
    fitted from the Torgerson start. A fit whose stress is near this norm
    describes no more structure than random numbers would.
    """
    if n < 3:
        raise ValueError(f"needs at least 3 points, got {n}")
    generator = np.random.default_rng(seed)
    upper = np.triu_indices(n, k=1)
    stresses = np.empty(replications)
    for index in range(replications):
        delta = np.zeros((n, n))
        delta[upper] = generator.uniform(size=upper[0].size)
        delta = delta + delta.T
        stresses[index] = smacof(delta, kind=kind, ties=ties, eps=eps, max_iterations=max_iterations).stress1
    return stresses


def value_theory(codes: list[str]) -> pd.DataFrame:
    """Return the theoretical circle for values listed in circle order: columns x and y, index the codes."""
    points = theoretical_circle(len(codes))
    return pd.DataFrame(points, index=list(codes), columns=["x", "y"])


def item_theory(items_by_value: dict[str, list[int]]) -> pd.DataFrame:
    """Return a theoretical circle for items: each value's items side by side at the value's place.

    Values are taken in the order given (circle order) and each one's items in
    the order listed, all points evenly spaced, so the items of a value sit
    around the value's angle on the value-level circle. Index: item numbers as text.
    """
    labels = [str(item) for code in items_by_value for item in items_by_value[code]]
    points = theoretical_circle(len(labels))
    return pd.DataFrame(points, index=labels, columns=["x", "y"])


def summarize_fit(fit: StructureFit, permuted: pd.DataFrame | None, norm: np.ndarray | None) -> dict[str, Any]:
    """Collect the numbers of one fit for the metrics file and the report."""
    summary: dict[str, Any] = {
        "n_trials": fit.n_cases,
        "n_points": len(fit.labels),
        "dropped": fit.dropped,
        "stress1": fit.mds.stress1,
        "iterations": fit.mds.iterations,
        "converged": fit.mds.converged,
        "start": fit.start,
        "congruence": fit.fit.congruence,
        "alienation": fit.fit.alienation,
        "dilation": fit.fit.dilation,
        "n_out_of_order": len(fit.out_of_order),
        "out_of_order": fit.out_of_order,
        "warnings": fit.warnings,
    }
    if permuted is not None:
        stress = permuted["stress1"].dropna().to_numpy()
        summary["permutation"] = {
            "permutations": int(len(permuted)),
            "permutations_fitted": int(stress.size),
            "p_value": permutation_p_value(fit.mds.stress1, stress),
            "mean_stress1": float(np.mean(stress)) if stress.size else float("nan"),
            "sd_stress1": float(np.std(stress, ddof=1)) if stress.size > 1 else float("nan"),
            "congruence_p_value": permutation_p_value(fit.fit.congruence, permuted["congruence"].to_numpy(),
                                                      larger_is_better=True),
            "mean_congruence": float(permuted["congruence"].mean()),
            "mean_out_of_order": float(permuted["n_out_of_order"].mean()),
        }
    if norm is not None:
        summary["random_stress"] = {
            "replications": int(norm.size),
            "mean_stress1": float(np.mean(norm)),
            "sd_stress1": float(np.std(norm, ddof=1)) if norm.size > 1 else float("nan"),
            "quantile_05": float(np.quantile(norm, 0.05)),
        }
    return summary


def configuration_table(unit: str, fit: StructureFit, circle_of: dict[str, str] | None = None) -> pd.DataFrame:
    """Return one row per point: raw, Procrustes-aligned and map coordinates, the theory point and the angle.

    ``map_x`` and ``map_y`` are the configuration rotated (and reflected) as the
    Procrustes fit rotates it, scaled to a root-mean-square radius of 1, so that
    it can be drawn on the unit circle whatever the fit.
    """
    out_of_order_codes = set(fit.out_of_order)
    # For the map: the configuration turned as the Procrustes fit turns it, but scaled to a
    # root-mean-square radius of 1 instead of by the fitted dilation, which shrinks a poor
    # fit towards the centre until its points overlap.
    centered = fit.mds.configuration - fit.mds.configuration.mean(axis=0)
    turned = centered @ fit.fit.rotation
    radius = np.sqrt(np.mean(np.sum(turned**2, axis=1)))
    map_coordinates = turned / radius if radius > 0 else turned
    rows = []
    for index, label in enumerate(fit.labels):
        code = circle_of[label] if circle_of else label
        rows.append({
            "unit": unit,
            "point": label,
            "value": code,
            "x": fit.mds.configuration[index, 0],
            "y": fit.mds.configuration[index, 1],
            "aligned_x": fit.fit.fitted[index, 0],
            "aligned_y": fit.fit.fitted[index, 1],
            "map_x": map_coordinates[index, 0],
            "map_y": map_coordinates[index, 1],
            "theory_x": fit.theory[index, 0],
            "theory_y": fit.theory[index, 1],
            "angle": fit.angles[index],
            "out_of_order": code in out_of_order_codes,
        })
    return pd.DataFrame(rows)
