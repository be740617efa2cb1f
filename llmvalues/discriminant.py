"""Linear discriminant analysis: can the models be distinguished by their value scores?

Built on scikit-learn's ``LinearDiscriminantAnalysis``. With the ``svd`` solver
its proportion of trace and predictions equal R's ``MASS::lda`` (scikit-learn
1.7; from 1.9 its ``scalings_`` are smaller by sqrt((n - k) / n), which changes
no prediction). Raw (uncentered) value scores are the predictors.

With few trials relative to the 19 predictors the pooled within-model
covariance matrix is singular or nearly so. The ``eigen`` solver with
Ledoit-Wolf shrinkage (``shrinkage="auto"``) then regularises it. ``solver="auto"``
picks shrinkage whenever the within-model degrees of freedom (cases minus
models) are fewer than ``SHRINKAGE_FACTOR`` times the number of predictors, and
the result records which solver ran and why.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import LeaveOneOut, cross_val_predict, permutation_test_score

from .loo_lda import loo_predictions

SOLVERS = ("auto", "svd", "shrinkage")
# With fewer within-model degrees of freedom than this many per predictor, the
# pooled covariance is estimated with shrinkage. NOTE: a rule of thumb, not a derived bound.
SHRINKAGE_FACTOR = 5


@dataclass
class DiscriminantResult:
    """An LDA of raw value scores with models as groups."""

    solver: str
    solver_reason: str
    n_cases: int
    predictors: list[str]
    dropped: list[str]
    groups: list[str]
    training_accuracy: float
    loo_accuracy: float
    confusion_matrix: pd.DataFrame
    proportion_of_trace: list[float]
    structure_coefficients: pd.DataFrame
    scores: pd.DataFrame
    permutation: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def choose_solver(n_cases: int, n_groups: int, n_predictors: int, requested: str = "auto") -> tuple[str, str]:
    """Return the solver to use ("svd" or "shrinkage") and the reason, for the output."""
    if requested not in SOLVERS:
        raise ValueError(f"solver must be one of {', '.join(SOLVERS)}, got {requested!r}")
    within = n_cases - n_groups
    if requested == "svd":
        return "svd", "requested"
    if requested == "shrinkage":
        return "shrinkage", "requested"
    if within < SHRINKAGE_FACTOR * n_predictors:
        return "shrinkage", (f"{within} within-model degrees of freedom for {n_predictors} predictors "
                             f"(fewer than {SHRINKAGE_FACTOR} per predictor): the covariance is estimated "
                             "with Ledoit-Wolf shrinkage")
    return "svd", f"{within} within-model degrees of freedom for {n_predictors} predictors"


def _model(solver: str) -> LinearDiscriminantAnalysis:
    if solver == "shrinkage":
        return LinearDiscriminantAnalysis(solver="eigen", shrinkage="auto")
    return LinearDiscriminantAnalysis(solver="svd")


def discriminant_analysis(data: pd.DataFrame, groups: pd.Series, *, solver: str = "auto", permutations: int = 0,
                          seed: int = 0, case_name: str = "trials") -> DiscriminantResult:
    """Fit an LDA, its leave-one-out accuracy, structure coefficients and a permutation test.

    Parameters
    ----------
    data : DataFrame
        One row per case (trial), one column per predictor (raw value scores).
    groups : Series
        The group (model) of each row, aligned with ``data``.
    solver : {"auto", "svd", "shrinkage"}
        See the module docstring.
    permutations : int
        Permutations of the group labels for the test of the leave-one-out
        accuracy (0 skips it); seeded by ``seed``.
    case_name : str
        Plural noun for the rows in notes ("trials" in the pipeline, "rows" for a user's file).

    Returns
    -------
    DiscriminantResult
        Rows with a missing score are dropped, and predictors constant across
        the remaining cases are dropped with a note (they carry no information
        and would make the covariance singular). Structure coefficients are the
        pooled within-group correlations between each predictor and each
        discriminant function. The proportion of trace is each function's share
        of the between-group variance.

    Raises
    ------
    ValueError
        When fewer than 2 groups, a group with fewer than 2 cases, or no
        predictor with variance remains.
    """
    frame = data.copy()
    frame["__group"] = groups.astype(str).to_numpy()
    frame = frame.dropna()
    labels = frame.pop("__group")
    notes = []
    dropped_rows = len(data) - len(frame)
    if dropped_rows:
        notes.append(f"{dropped_rows} {case_name if dropped_rows != 1 else case_name[:-1]} with a missing "
                     "value left out")
    constant = [str(column) for column in frame.columns if frame[column].nunique() < 2]
    if constant:
        notes.append(f"constant across {case_name}, so left out: {', '.join(constant)}")
        frame = frame.drop(columns=constant)
    names = list(dict.fromkeys(labels))
    counts = labels.value_counts()
    if len(names) < 2:
        raise ValueError(f"needs at least 2 groups with complete {case_name}, found {len(names)}")
    if (counts < 2).any():
        raise ValueError(f"group {counts.idxmin()!r} has {counts.min()} complete {case_name[:-1]}; every group "
                         f"needs at least 2")
    if frame.shape[1] == 0:
        raise ValueError(f"no predictor varies across {case_name}")

    chosen, reason = choose_solver(len(frame), len(names), frame.shape[1], solver)
    x = frame.to_numpy(dtype=float)
    y = labels.to_numpy()
    within = x - frame.groupby(labels.to_numpy()).transform("mean").to_numpy(dtype=float)
    rank = np.linalg.matrix_rank(within)
    if rank == 0:
        raise ValueError(f"no predictor varies within a group (every {case_name[:-1]} of a group has the same "
                         "values), so the within-group covariance is zero and LDA is undefined")
    if chosen == "svd" and rank < x.shape[1]:
        notes.append(f"the pooled within-group covariance is singular (rank {rank} for {x.shape[1]} predictors: "
                     f"too few {case_name} per predictor, or collinear predictors), so the svd solver's "
                     "accuracy is unstable; the shrinkage solver is the safer choice")
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            model = _model(chosen).fit(x, y)
            predicted = cross_val_predict(_model(chosen), x, y, cv=LeaveOneOut())
    except np.linalg.LinAlgError as error:
        raise ValueError(f"the {chosen} solver failed ({error}); too few {case_name} per group for "
                         f"{x.shape[1]} predictors") from None
    for message in dict.fromkeys(str(warning.message) for warning in caught
                                 if issubclass(warning.category, (UserWarning, ConvergenceWarning))):
        notes.append(f"scikit-learn warned: {message}")

    classes = list(model.classes_)
    order = [name for name in names if name in classes]
    confusion = pd.crosstab(pd.Categorical(y, categories=order), pd.Categorical(predicted, categories=order),
                            rownames=["model"], colnames=["predicted"], dropna=False)
    scores = model.transform(x)
    n_functions = min(len(classes) - 1, x.shape[1])
    scores = scores[:, :n_functions]
    function_names = [f"LD{index + 1}" for index in range(n_functions)]
    # The eigen solver's ratios cover all predictors' eigenvalues, which shrinkage makes
    # non-zero beyond the k - 1 functions, so the shares are taken among the functions.
    ratio = np.asarray(model.explained_variance_ratio_, dtype=float)[:n_functions]
    ratio = ratio / ratio.sum() if ratio.sum() > 0 else np.full(n_functions, math.nan)

    result = DiscriminantResult(
        solver=chosen,
        solver_reason=reason,
        n_cases=len(frame),
        predictors=[str(column) for column in frame.columns],
        dropped=constant,
        groups=order,
        training_accuracy=float(np.mean(model.predict(x) == y)),
        loo_accuracy=float(np.mean(predicted == y)),
        confusion_matrix=confusion,
        proportion_of_trace=[float(value) for value in ratio],
        structure_coefficients=pd.DataFrame(_structure_coefficients(x, scores, y), index=list(frame.columns),
                                            columns=function_names),
        scores=pd.DataFrame(scores, index=frame.index, columns=function_names).assign(model=y),
        notes=notes,
    )
    if permutations:
        observed, permuted = _permutation_scores(chosen, x, y, predicted, permutations, seed, case_name)
        result.permutation = {"permutations": permutations,
                              "p_value": float((np.sum(permuted >= observed) + 1.0) / (permutations + 1)),
                              "mean_accuracy": float(np.mean(permuted)),
                              "chance_accuracy": float(counts.max() / counts.sum())}
    return result


def _permutation_scores(solver: str, x: np.ndarray, y: np.ndarray, predicted: np.ndarray, permutations: int,
                        seed: int, case_name: str) -> tuple[float, np.ndarray]:
    """Return the observed leave-one-out accuracy and its value under each permutation of the labels.

    The permutations are scikit-learn's ``permutation_test_score`` ones for the
    same seed. For the shrinkage solver the folds are computed together by
    ``llmvalues.loo_lda``, but only when its predictions for the observed labels
    equal scikit-learn's (``predicted``); otherwise, and for the svd solver,
    scikit-learn fits every fold.
    """
    classes, codes = np.unique(y, return_inverse=True)
    counts = np.bincount(codes)
    if solver == "shrinkage" and counts.min() >= 3:
        generator = np.random.RandomState(seed)
        labelings = np.stack([codes] + [codes[generator.permutation(len(codes))] for _ in range(permutations)])
        try:
            fast = loo_predictions(x, labelings, len(classes))
        except np.linalg.LinAlgError:
            fast = None
        if fast is not None and np.array_equal(classes[fast[0]], predicted):
            accuracies = np.mean(fast == labelings, axis=1)
            return float(accuracies[0]), accuracies[1:]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", category=UserWarning)
            observed, permuted, _ = permutation_test_score(
                _model(solver), x, y, cv=LeaveOneOut(), n_permutations=permutations, random_state=seed)
    except np.linalg.LinAlgError as error:
        raise ValueError(f"the {solver} solver failed on permuted labels ({error}); too few {case_name} per "
                         f"group for {x.shape[1]} predictors") from None
    return float(observed), np.asarray(permuted, dtype=float)


def _structure_coefficients(x: np.ndarray, scores: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Pooled within-group correlations between each predictor (rows) and each function (columns)."""
    x_within = x.copy()
    s_within = scores.copy()
    for label in np.unique(y):
        rows = y == label
        x_within[rows] -= x_within[rows].mean(axis=0)
        s_within[rows] -= s_within[rows].mean(axis=0)
    covariance = x_within.T @ s_within
    norms = np.sqrt(np.sum(x_within**2, axis=0))[:, None] * np.sqrt(np.sum(s_within**2, axis=0))[None, :]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(norms > 0, covariance / norms, np.nan)
