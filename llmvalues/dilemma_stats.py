"""Statistics of the dilemma analysis: does a model's value profile predict the side it takes?

Input is a DataFrame with one row per answered (model, trial, dilemma) and the columns
``model``, ``trial``, ``dilemma``, ``value_diff`` (the model's centered score of option A's
value minus that of option B's value), ``chose_a`` (1 when the reply favours option A),
``strength`` (1 = "definitely B" to 6 = "definitely A") and, for the position bias,
``chose_shown_first`` (1 when the reply favours the option shown first). A model that acts
on its values has a positive slope on ``value_diff``. Each function checks only the columns
it uses.

The side regression follows R's ``glm(chose_a ~ value_diff + model, binomial)`` with
``sandwich::vcovCL(cluster = ~dilemma)``, and the strength regression follows
``ordinal::clm(ordered(strength) ~ value_diff + model, link = "logit")``. The tests compare
both with R. Model terms use treatment coding with the first model in sorted order as the
reference. Python sorts by code point, so names that differ only in case can sort
differently from R's locale order.

Data that leave a fit undefined (one outcome only, separation, a constant or collinear
``value_diff``, fewer than 2 dilemmas) give NaN numbers and a ``reason``, never an exception.
Malformed input (a missing column, NaN, a value outside its domain) raises ``InputError``.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import optimize, special, stats
from statsmodels.discrete.discrete_model import Logit
from statsmodels.miscmodels.ordinal_model import OrderedModel
from statsmodels.tools.sm_exceptions import ConvergenceWarning, HessianInversionWarning, PerfectSeparationWarning

from .errors import InputError

DEFAULT_CONFIDENCE = 0.95
DEFAULT_SOURCE = "dilemma data"
STRENGTH_CATEGORIES = (1, 2, 3, 4, 5, 6)
INTERCEPT = "(Intercept)"
SLOPE = "value_diff"

CONSISTENCY_COLUMNS = (
    "model", "n_rows", "n_ties", "n", "n_consistent", "share", "ci_low", "ci_high", "p", "reason",
)
POSITION_COLUMNS = ("model", "n", "n_shown_first", "share", "ci_low", "ci_high", "p", "reason")
FOLD_COLUMNS = ("dilemma", "n", "accuracy", "log_loss", "baseline_accuracy", "baseline_log_loss", "reason")

# Newton-Raphson for the logistic log-likelihood typically converges in under 10 steps
# when the maximum-likelihood estimate exists. Separated data never converge, so the cap
# ends them.
_NEWTON_MAX_ITERATIONS = 100
_NEWTON_STEP_TOLERANCE = 1e-10

# A fitted linear predictor beyond this size (a probability within 1e-13 of 0 or 1) is
# rare without separation, so such a fit gets the exact separation check.
_SATURATED_LINEAR_PREDICTOR = 30.0

# Permutations are fitted in blocks to bound memory, because a block stores
# block x rows x terms floats (256 x 1,000 x 4 x 8 bytes = 8 MB).
_PERMUTATION_BLOCK = 256

_NAN = math.nan


# Result types --------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class SlopeFit:
    """A regression of the dilemma answers on ``value_diff`` and the model terms.

    Coefficient arrays follow ``terms``. ``se_model`` is the model-based standard error
    (inverse observed information). ``se_cluster`` is the dilemma-clustered CR1 sandwich
    error: HC0 times G/(G-1) * (N-1)/(N-K) for G dilemmas, N rows and K coefficients,
    which is ``sandwich::vcovCL(type = "HC1")`` and statsmodels' default.
    ``se_cluster_hc0`` is the same sandwich without either factor.

    The slope's ``z``, ``p`` and Wald interval use ``se_cluster`` and the normal
    distribution. With few dilemmas that interval is somewhat too narrow, so the
    permutation test is the safer p value then.

    ``loglik_null`` is the log-likelihood without predictors (intercept or thresholds
    only) and ``loglik_models`` that with the model terms but without ``value_diff``.
    ``mcfadden_r2`` is 1 - loglik / loglik_null, the usual McFadden pseudo-R2, so it
    credits the model terms too. ``mcfadden_r2_value_diff`` is 1 - loglik / loglik_models,
    the part explained by ``value_diff`` beyond the models' own tendencies.
    ``lr_value_diff`` is 2 * (loglik - loglik_models) with its chi-square (1 df) p value
    ``lr_value_diff_p``. That p value treats rows as independent, so it overstates the
    evidence when answers cluster by dilemma.

    ``reason`` is empty when every number is defined. Otherwise it gives the cause.
    Data without a maximum-likelihood fit leave every estimate NaN, while ``terms``,
    ``n`` and the counts still describe the data. A clustered standard error of 0 for
    the slope keeps the coefficients but leaves ``z``, ``p`` and the intervals NaN.
    """

    terms: tuple[str, ...]
    coef: np.ndarray
    se_model: np.ndarray
    se_cluster: np.ndarray
    se_cluster_hc0: np.ndarray
    slope: float
    slope_se: float
    z: float
    p: float
    ci_low: float
    ci_high: float
    odds_ratio: float
    odds_ratio_low: float
    odds_ratio_high: float
    loglik: float
    loglik_null: float
    loglik_models: float
    mcfadden_r2: float
    mcfadden_r2_value_diff: float
    lr_value_diff: float
    lr_value_diff_p: float
    n: int
    n_clusters: int
    models: tuple[str, ...]
    confidence: float
    reason: str

    def table(self) -> pd.DataFrame:
        """Return one row per term with the coefficient and its three standard errors."""
        return pd.DataFrame({
            "term": list(self.terms),
            "coef": self.coef,
            "se_model": self.se_model,
            "se_cluster": self.se_cluster,
            "se_cluster_hc0": self.se_cluster_hc0,
        })


@dataclass(frozen=True, eq=False)
class StrengthFit(SlopeFit):
    """A cumulative-logit regression of ``strength``, parameterised as ``ordinal::clm``.

    The model is logit P(strength <= j) = theta_j - x'beta, so a positive slope moves
    answers towards "definitely A". ``terms`` and ``coef`` hold the thresholds first,
    named ``"1|2"`` and so on as clm names them, then the betas. Only observed
    categories get thresholds: ``categories`` lists them and ``absent_categories`` the
    categories of 1-6 that nobody answered. K in the CR1 factor counts thresholds and
    betas.
    """

    categories: tuple[int, ...]
    absent_categories: tuple[int, ...]

    @property
    def thresholds(self) -> np.ndarray:
        """Thresholds theta_1 .. theta_{K-1} on clm's scale."""
        return self.coef[: max(len(self.categories) - 1, 0)]


@dataclass(frozen=True, eq=False)
class LeaveOneOut:
    """Leave-one-dilemma-out predictions of the side, with and without ``value_diff``.

    ``accuracy`` and ``log_loss`` (mean negative log-likelihood per row, natural log)
    come from ``chose_a ~ value_diff + model``. The baseline columns come from
    ``chose_a ~ model``, so the difference is what ``value_diff`` adds. A fold whose
    training data leave a fit undefined is skipped for both, and ``folds`` gives the
    reason. ``n`` counts the predicted rows.
    """

    accuracy: float
    log_loss: float
    baseline_accuracy: float
    baseline_log_loss: float
    n: int
    n_dilemmas: int
    skipped_dilemmas: tuple[str, ...]
    folds: pd.DataFrame
    reason: str


@dataclass(frozen=True)
class PermutationTest:
    """A permutation test of the side-logit slope: ``value_diff`` shuffled by row within model, or by dilemma.

    ``shuffle`` is the unit shuffled, ``"rows"`` or ``"dilemmas"``, and
    ``p`` is (1 + #{|b*| >= |b|}) / (1 + permutations). ``null_mean`` and ``null_sd``
    describe the slopes of the permuted data whose fit is defined. A permuted fit that is
    undefined (separation, no convergence) counts as at least as extreme as the observed
    slope, which keeps the test conservative, and ``n_failed`` counts such fits.
    """

    slope: float
    p: float
    permutations: int
    seed: int
    shuffle: str
    null_mean: float
    null_sd: float
    n_failed: int
    reason: str


# Public functions ----------------------------------------------------------------------


def fit_side_logit(data: pd.DataFrame, *, confidence: float = DEFAULT_CONFIDENCE,
                   source: str = DEFAULT_SOURCE, covariates: tuple[str, ...] = ()) -> SlopeFit:
    """Fit the logistic regression ``chose_a ~ value_diff + model`` with dilemma-clustered errors.

    Parameters
    ----------
    data : DataFrame
        Columns ``model``, ``dilemma``, ``value_diff`` and ``chose_a`` (see the module),
        and the ``covariates``.
    confidence : float
        Level of the slope's Wald interval, between 0 and 1.
    source : str
        Name of the data in error messages, such as the file it came from.
    covariates : tuple of str
        Numeric columns added after the model terms, such as the shown order for a
        position-adjusted slope. ``loglik_models`` then includes them, so the pseudo-R2
        and likelihood-ratio test of ``value_diff`` are beyond the models and covariates.

    Returns
    -------
    SlopeFit
        Terms ``(Intercept)``, ``value_diff``, ``model[<name>]`` for each model but the
        reference (none with one model), then the covariates.

    Raises
    ------
    InputError
        When a column is missing or contains NaN or a value outside its domain, or when
        ``confidence`` is not between 0 and 1.
    """
    _check_confidence(confidence)
    table = _checked_table(data, ("model", "dilemma", "value_diff", "chose_a", *covariates), source)
    models = tuple(sorted(table["model"].unique()))
    predictors, names = _predictors(table, models)
    if covariates:
        predictors = np.column_stack([predictors, table[list(covariates)].to_numpy(dtype=float)])
        names = (*names, *covariates)
    terms = (INTERCEPT, *names)
    outcome = table["chose_a"].to_numpy(dtype=float)

    def undefined(reason: str) -> SlopeFit:
        return _undefined_fit(SlopeFit, terms, table, models, confidence, reason)

    reason = _side_problem(table, predictors, names, outcome)
    if reason:
        return undefined(reason)

    design = np.column_stack([np.ones(len(table)), predictors])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = Logit(outcome, design).fit(method="newton", maxiter=_NEWTON_MAX_ITERATIONS,
                                               tol=1e-12, disp=False)
    reason = _fit_warning_reason(caught, bool(result.mle_retvals.get("converged", False)))
    if reason:
        return undefined(reason)

    coef = np.asarray(result.params, dtype=float)
    bread = np.asarray(result.cov_params(), dtype=float)
    scores = (outcome - result.predict())[:, None] * design
    loglik_models = _binary_loglik_by_group(outcome, table["model"].to_numpy())
    if covariates:
        # The fit without value_diff: the models and the covariates alone.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            without = Logit(outcome, np.delete(design, 1, axis=1)).fit(
                method="newton", maxiter=_NEWTON_MAX_ITERATIONS, tol=1e-12, disp=False)
        loglik_models = float(without.llf) if without.mle_retvals.get("converged", False) else _NAN
    loglik_null = _binary_loglik_by_group(outcome, np.zeros(len(outcome)))
    return _assemble_fit(SlopeFit, terms, coef, bread, scores, table, models, confidence,
                         float(result.llf), loglik_null, loglik_models, {})


def fit_strength_ordinal(data: pd.DataFrame, *, confidence: float = DEFAULT_CONFIDENCE,
                         source: str = DEFAULT_SOURCE) -> StrengthFit:
    """Fit the cumulative-logit regression ``strength ~ value_diff + model`` with clustered errors.

    The fit uses statsmodels' ``OrderedModel`` (``distr="logit"``). Its thresholds,
    stored as a first cut point and log increments, are converted to clm's scale. The
    model-based and clustered covariances use the exact score and Hessian of the
    cumulative logit on that scale.

    Parameters
    ----------
    data : DataFrame
        Columns ``model``, ``dilemma``, ``value_diff`` and ``strength`` (integers 1-6).
    confidence : float
        Level of the slope's Wald interval, between 0 and 1.
    source : str
        Name of the data in error messages.

    Returns
    -------
    StrengthFit
        Thresholds for the observed categories, then ``value_diff`` and the model terms.

    Raises
    ------
    InputError
        As ``fit_side_logit``, and when a strength is not an integer from 1 to 6.
    """
    _check_confidence(confidence)
    table = _checked_table(data, ("model", "dilemma", "value_diff", "strength"), source)
    models = tuple(sorted(table["model"].unique()))
    predictors, names = _predictors(table, models)
    strength = table["strength"].to_numpy(dtype=int)
    categories = tuple(int(category) for category in np.unique(strength))
    absent = tuple(category for category in STRENGTH_CATEGORIES if category not in categories)
    threshold_names = tuple(f"{low}|{high}" for low, high in zip(categories, categories[1:]))
    terms = (*threshold_names, *names)
    codes = np.searchsorted(categories, strength)
    extra = {"categories": categories, "absent_categories": absent}

    def undefined(reason: str) -> StrengthFit:
        return _undefined_fit(StrengthFit, terms, table, models, confidence, reason, extra)

    reason = _strength_problem(table, predictors, names, codes, len(categories))
    if reason:
        return undefined(reason)

    fitted = _fit_ordered(codes, predictors)
    if isinstance(fitted, str):
        return undefined(fitted)
    coef, loglik = fitted
    scores, hessian = _cumulative_logit_derivatives(coef, predictors, codes, len(categories))
    # BFGS stops on statsmodels' numerical gradient, so the exact one confirms the optimum.
    if np.abs(scores.sum(axis=0)).max() > 1e-3:
        return undefined("the maximum-likelihood fit did not converge")
    bread, reason = _inverse_information(hessian)
    if reason:
        return undefined(reason)

    loglik_null = _multinomial_loglik(codes)
    loglik_models = loglik_null
    if len(models) > 1:
        fitted_models = _fit_ordered(codes, predictors[:, 1:])
        if isinstance(fitted_models, str):
            return undefined(f"the fit without value_diff failed: {fitted_models}")
        loglik_models = fitted_models[1]
    return _assemble_fit(StrengthFit, terms, coef, bread, scores, table, models, confidence,
                         loglik, loglik_null, loglik_models, extra)


def leave_one_dilemma_out(data: pd.DataFrame, *, source: str = DEFAULT_SOURCE) -> LeaveOneOut:
    """Predict each dilemma's sides from a side logit fitted on the other dilemmas.

    A row is predicted as option A when the fitted probability exceeds 0.5. The baseline
    ``chose_a ~ model`` predicts each model's share of A answers in the training
    dilemmas, which is that model's maximum-likelihood fit.

    Parameters
    ----------
    data : DataFrame
        Columns ``model``, ``dilemma``, ``value_diff`` and ``chose_a``.
    source : str
        Name of the data in error messages.

    Returns
    -------
    LeaveOneOut
        Accuracy and log loss over all predicted rows, the same for the baseline, and
        one row per dilemma in ``folds`` (``FOLD_COLUMNS``).
    """
    table = _checked_table(data, ("model", "dilemma", "value_diff", "chose_a"), source)
    models = tuple(sorted(table["model"].unique()))
    predictors, names = _predictors(table, models)
    design = np.column_stack([np.ones(len(table)), predictors])
    baseline_design = np.delete(design, 1, axis=1)
    outcome = table["chose_a"].to_numpy(dtype=float)
    dilemmas = table["dilemma"].to_numpy()

    folds = []
    predicted = np.zeros(len(table), dtype=bool)
    linear = np.full(len(table), _NAN)
    baseline_linear = np.full(len(table), _NAN)
    for dilemma in sorted(set(dilemmas)):
        held_out = dilemmas == dilemma
        train = ~held_out
        # Separation or collinearity without value_diff implies it with value_diff, so
        # checking the full design covers the baseline too.
        reason = _training_problem(predictors[train], outcome[train], names)
        if reason:
            folds.append(_fold_row(dilemma, outcome[held_out], None, None, reason))
            continue
        coef = _newton_logit(design[train], outcome[train])
        baseline_coef = _newton_logit(baseline_design[train], outcome[train])
        linear[held_out] = design[held_out] @ coef
        baseline_linear[held_out] = baseline_design[held_out] @ baseline_coef
        predicted[held_out] = True
        folds.append(_fold_row(dilemma, outcome[held_out], linear[held_out], baseline_linear[held_out], ""))

    fold_table = pd.DataFrame(folds, columns=list(FOLD_COLUMNS))
    skipped = tuple(str(row.dilemma) for row in fold_table.itertuples() if row.reason)
    n = int(predicted.sum())
    if n == 0:
        reason = "no dilemma could be predicted" if len(table) else "no rows"
        return LeaveOneOut(_NAN, _NAN, _NAN, _NAN, 0, len(fold_table), skipped, fold_table, reason)
    y = outcome[predicted]
    return LeaveOneOut(
        accuracy=_accuracy(y, linear[predicted]),
        log_loss=_log_loss(y, linear[predicted]),
        baseline_accuracy=_accuracy(y, baseline_linear[predicted]),
        baseline_log_loss=_log_loss(y, baseline_linear[predicted]),
        n=n,
        n_dilemmas=len(fold_table),
        skipped_dilemmas=skipped,
        folds=fold_table,
        reason="",
    )


def permutation_test_slope(data: pd.DataFrame, *, permutations: int, seed: int, shuffle: str = "rows",
                           value_diffs: pd.DataFrame | None = None,
                           source: str = DEFAULT_SOURCE) -> PermutationTest:
    """Test the side-logit slope by shuffling ``value_diff`` among rows of a model, or among whole dilemmas.

    Shuffling within model keeps each model's own tendency and its set of
    ``value_diff`` values. The null hypothesis is that the sides are independent of
    ``value_diff`` given the model. The slopes come from a Newton-Raphson logistic fit
    in numpy that reaches the same maximum-likelihood estimate as statsmodels, because
    statsmodels is too slow for thousands of refits.

    ``shuffle="rows"`` shuffles the rows of each model among themselves. That test is
    exact when the rows of one model are exchangeable under the null, such as
    independent answers. When answers cluster by dilemma (some dilemmas lean towards A
    for every trial and model) and ``value_diff`` is fixed per model and dilemma, it
    ignores the clustering and rejects too often.

    ``shuffle="dilemmas"`` reassigns whole dilemmas: one random permutation of the
    dilemmas, shared by all models and trials, gives each row the ``value_diff`` that
    its model had in its trial on the permuted dilemma. It keeps the clustering and is
    exact when dilemmas are exchangeable under the null. It needs the column ``trial``.
    The value differences of the permuted dilemmas come from ``value_diffs`` when it is
    given: one row per (model, trial) as a MultiIndex, one column per dilemma, so that
    rows left out of ``data`` (answers without a scale point) do not matter. Without
    it, ``data`` must hold exactly one row per model, trial and dilemma. Either way a
    missing value difference gives a ``reason``.

    Parameters
    ----------
    data : DataFrame
        Columns ``model``, ``dilemma``, ``value_diff`` and ``chose_a``, and ``trial``
        for ``shuffle="dilemmas"``.
    permutations : int
        Number of shuffles, at least 1.
    seed : int
        Seed of ``numpy.random.default_rng``. The same data and seed give the same result.
    shuffle : {"rows", "dilemmas"}
        Unit that is shuffled, as described above.
    value_diffs : DataFrame, optional
        Every model's value difference in every trial on every dilemma (``shuffle="dilemmas"``).
    source : str
        Name of the data in error messages.
    """
    if isinstance(permutations, bool) or not isinstance(permutations, (int, np.integer)) or permutations < 1:
        raise InputError("permutations", None, f"must be a positive integer, got {permutations!r}",
                         "use for example 999")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise InputError("seed", None, f"must be an integer, got {seed!r}", "use for example 1")
    if shuffle not in ("rows", "dilemmas"):
        raise InputError("shuffle", None, f"invalid value {shuffle!r}", "use 'rows' or 'dilemmas'")
    columns = ("model", "dilemma", "value_diff", "chose_a") + (("trial",) if shuffle == "dilemmas" else ())
    table = _checked_table(data, columns, source)
    models = tuple(sorted(table["model"].unique()))
    predictors, names = _predictors(table, models)
    outcome = table["chose_a"].to_numpy(dtype=float)

    def undefined(reason: str) -> PermutationTest:
        return PermutationTest(_NAN, _NAN, int(permutations), int(seed), shuffle, _NAN, _NAN, 0, reason)

    reason = _side_problem(table, predictors, names, outcome)
    cells = None
    if not reason and shuffle == "dilemmas":
        if value_diffs is None:
            reason = _dilemma_shuffle_problem(table)
            if not reason:
                cells = table.pivot(index=["model", "trial"], columns="dilemma", values="value_diff")
        else:
            cells = value_diffs
            reason = _value_table_problem(table, cells)
            if not reason:
                # The checked table holds its labels as text, so the index must too.
                cells = cells.set_axis(pd.MultiIndex.from_arrays(
                    [cells.index.get_level_values(level).astype(str) for level in (0, 1)]), axis=0)
    if reason:
        return undefined(reason)
    design = np.column_stack([np.ones(len(table)), predictors])
    observed = float(_newton_logit(design, outcome)[1])

    rng = np.random.default_rng(seed)
    null_slopes = []
    for start in range(0, permutations, _PERMUTATION_BLOCK):
        size = min(_PERMUTATION_BLOCK, permutations - start)
        if shuffle == "rows":
            shuffled = _shuffle_rows(table, rng, size)
        else:
            shuffled = _shuffle_dilemmas(table, cells, rng, size)
        null_slopes.append(_permuted_slopes(design, outcome, shuffled, names))
    null = np.concatenate(null_slopes)

    defined = np.isfinite(null)
    # A shuffle that only swaps rows with equal value_diff reproduces the data, and its
    # slope must count as at least as extreme even when it differs by rounding.
    threshold = abs(observed) - 1e-9 * (1 + abs(observed))
    extreme = np.count_nonzero(~defined) + np.count_nonzero(np.abs(null[defined]) >= threshold)
    null_sd = float(np.std(null[defined], ddof=1)) if defined.sum() > 1 else _NAN
    null_mean = float(np.mean(null[defined])) if defined.any() else _NAN
    return PermutationTest(
        slope=observed,
        p=float((1 + extreme) / (1 + permutations)),
        permutations=int(permutations),
        seed=int(seed),
        shuffle=shuffle,
        null_mean=null_mean,
        null_sd=null_sd,
        n_failed=int(np.count_nonzero(~defined)),
        reason="",
    )


def permutation_test_by_dilemma(data: pd.DataFrame, *, permutations: int, seed: int,
                                value_diffs: pd.DataFrame | None = None,
                                source: str = DEFAULT_SOURCE) -> tuple[PermutationTest, str]:
    """Test the slope by shuffling whole dilemmas, or rows within model when dilemmas cannot be shuffled.

    Returns the test and, when it fell back to shuffling rows, the reason whole
    dilemmas could not be shuffled (an empty string otherwise). Row shuffling ignores
    the clustering of answers by dilemma, so callers should report the fallback.
    """
    test = permutation_test_slope(data, permutations=permutations, seed=seed, shuffle="dilemmas",
                                  value_diffs=value_diffs, source=source)
    if not test.reason:
        return test, ""
    rows = permutation_test_slope(data, permutations=permutations, seed=seed, shuffle="rows", source=source)
    return rows, test.reason


def profile_consistency(data: pd.DataFrame, *, confidence: float = DEFAULT_CONFIDENCE,
                        source: str = DEFAULT_SOURCE) -> pd.DataFrame:
    """Measure per model how often it takes the side whose value it rates higher.

    Rows with ``value_diff == 0`` are ties: they are counted in ``n_ties`` and left out.
    ``share`` is n_consistent / n with an exact two-sided binomial test against 0.5 and
    its Clopper-Pearson interval (``scipy.stats.binomtest``).

    Returns
    -------
    DataFrame
        One row per model in sorted order, columns ``CONSISTENCY_COLUMNS``. A model
        whose rows are all ties has NaN numbers and a ``reason``.
    """
    _check_confidence(confidence)
    table = _checked_table(data, ("model", "value_diff", "chose_a"), source)
    rows = []
    for model, group in table.groupby("model", sort=True):
        value_diff = group["value_diff"].to_numpy()
        chose_a = group["chose_a"].to_numpy()
        untied = value_diff != 0
        consistent = np.where(value_diff[untied] > 0, chose_a[untied] == 1, chose_a[untied] == 0)
        row = {"model": model, "n_rows": len(group), "n_ties": int(np.count_nonzero(~untied))}
        row.update(_binomial_summary(int(consistent.sum()), int(untied.sum()), confidence,
                                     "every row is a tie (value_diff == 0)"))
        row["n_consistent"] = row.pop("successes")
        rows.append(row)
    return pd.DataFrame(rows, columns=list(CONSISTENCY_COLUMNS))


def position_bias(data: pd.DataFrame, *, confidence: float = DEFAULT_CONFIDENCE,
                  source: str = DEFAULT_SOURCE) -> pd.DataFrame:
    """Measure per model how often the reply favours the option shown first.

    ``share`` is n_shown_first / n with an exact two-sided binomial test against 0.5
    and its Clopper-Pearson interval. A share near 1 or 0 means the model picks by
    position, which a counterbalanced order keeps out of ``chose_a``.

    Returns
    -------
    DataFrame
        One row per model in sorted order, columns ``POSITION_COLUMNS``.
    """
    _check_confidence(confidence)
    table = _checked_table(data, ("model", "chose_shown_first"), source)
    rows = []
    for model, group in table.groupby("model", sort=True):
        shown_first = group["chose_shown_first"].to_numpy()
        row = {"model": model}
        row.update(_binomial_summary(int(shown_first.sum()), len(group), confidence, "no rows"))
        row["n_shown_first"] = row.pop("successes")
        rows.append(row)
    return pd.DataFrame(rows, columns=list(POSITION_COLUMNS))


# Input checks --------------------------------------------------------------------------


def _check_confidence(confidence: float) -> None:
    if isinstance(confidence, bool) or not isinstance(confidence, (int, float)) or not 0 < confidence < 1:
        raise InputError("confidence", None, f"must be a number between 0 and 1, got {confidence!r}",
                         "use for example 0.95")


def _checked_table(data: pd.DataFrame, columns: tuple[str, ...], source: str) -> pd.DataFrame:
    """Validate the named columns and return them with clean types, the index kept for messages."""
    if not isinstance(data, pd.DataFrame):
        raise InputError(source, None, f"expected a pandas DataFrame, got {type(data).__name__}",
                         "pass the dilemma table as a DataFrame")
    missing = [column for column in columns if column not in data.columns]
    if missing:
        raise InputError(source, f"column '{missing[0]}'", "missing",
                         f"add the column, because this statistic needs {', '.join(columns)}")

    table = pd.DataFrame(index=data.index)
    for column in columns:
        values = data[column]
        empty = values.isna().to_numpy()
        if empty.any():
            raise InputError(source, f"column '{column}', {values.index.name or 'row'} {values.index[empty.argmax()]}",
                             f"missing value ({empty.sum()} rows in all)",
                             "fill in the value or leave out the rows without one")
        if column in ("model", "dilemma", "trial"):
            # Identifiers only group and label rows, so their text is all that counts.
            table[column] = values.astype(str)
        else:
            table[column] = _checked_numbers(values, column, source)
    return table


def _checked_numbers(values: pd.Series, column: str, source: str) -> pd.Series:
    numbers = pd.to_numeric(values, errors="coerce")
    invalid = numbers.isna() | ~np.isfinite(numbers.astype(float))
    if column == "strength":
        invalid |= ~numbers.isin(STRENGTH_CATEGORIES)
        expected, fix = "an integer from 1 to 6", "code strength 1 (definitely B) to 6 (definitely A)"
    elif column in ("chose_a", "chose_shown_first"):
        invalid |= ~numbers.isin((0, 1))
        expected, fix = "0 or 1", f"code {column} as 1 (yes) or 0 (no)"
    else:
        expected, fix = "a finite number", f"check how {column} was computed"
    invalid = invalid.to_numpy()
    if invalid.any():
        position = int(invalid.argmax())
        value = values.iloc[position]
        # str() of a numpy scalar is the plain number, where repr() adds "np.int64(...)".
        shown = repr(value) if isinstance(value, str) else str(value)
        raise InputError(source, f"column '{column}', {values.index.name or 'row'} {values.index[position]}",
                         f"invalid value {shown}: expected {expected}", fix)
    return numbers.astype(int) if column in ("strength", "chose_a", "chose_shown_first") else numbers.astype(float)


# Degenerate data -----------------------------------------------------------------------


def _predictors(table: pd.DataFrame, models: tuple[str, ...]) -> tuple[np.ndarray, tuple[str, ...]]:
    """Build ``value_diff`` and one treatment-coded column per model after the reference."""
    model = table["model"].to_numpy()
    columns = [table["value_diff"].to_numpy(dtype=float)]
    columns += [(model == name).astype(float) for name in models[1:]]
    names = (SLOPE, *(f"model[{name}]" for name in models[1:]))
    return np.column_stack(columns), names


def _shared_problem(table: pd.DataFrame, predictors: np.ndarray) -> str:
    """Return why the data leave any slope fit undefined, or an empty string."""
    if len(table) == 0:
        return "no rows"
    if table["dilemma"].nunique() < 2:
        return "fewer than 2 dilemmas, so the dilemma-clustered standard errors are undefined"
    if np.ptp(predictors[:, 0]) == 0:
        return "value_diff is constant, so its slope is undefined"
    if not _full_rank(predictors):
        return "value_diff is collinear with the model terms (constant within each model)"
    return ""


def _side_problem(table: pd.DataFrame, predictors: np.ndarray, names: tuple[str, ...], outcome: np.ndarray) -> str:
    reason = _shared_problem(table, predictors)
    if reason:
        return reason
    if np.ptp(outcome) == 0:
        return f"every chose_a is {int(outcome[0])}, so the side cannot be modelled"
    if len(table) <= predictors.shape[1] + 1:
        return "no more rows than coefficients"
    return _separation_reason(predictors, outcome.astype(int), 2, names)


def _strength_problem(table: pd.DataFrame, predictors: np.ndarray, names: tuple[str, ...], codes: np.ndarray,
                      n_categories: int) -> str:
    reason = _shared_problem(table, predictors)
    if reason:
        return reason
    if n_categories < 2:
        return f"every strength is {table['strength'].iloc[0]}, so the strength cannot be modelled"
    if len(table) <= predictors.shape[1] + n_categories - 1:
        return "no more rows than coefficients"
    return _separation_reason(predictors, codes, n_categories, names)


def _training_problem(predictors: np.ndarray, outcome: np.ndarray, names: tuple[str, ...]) -> str:
    """Return why a leave-one-out training fit is undefined, or an empty string."""
    if len(outcome) == 0:
        return "no other dilemmas to train on"
    if np.ptp(outcome) == 0:
        return f"every chose_a in the other dilemmas is {int(outcome[0])}"
    if not _full_rank(predictors):
        return "collinear terms in the other dilemmas (a model answered only this dilemma, or value_diff " \
               "is constant within each model)"
    return _separation_reason(predictors, outcome.astype(int), 2, names)


def _full_rank(predictors: np.ndarray) -> bool:
    design = np.column_stack([np.ones(len(predictors)), predictors])
    return np.linalg.matrix_rank(design) == design.shape[1]


def _separating_direction(predictors: np.ndarray, codes: np.ndarray, n_categories: int) -> np.ndarray | None:
    """Find a direction in which the cumulative-logit likelihood rises without bound.

    The model is logit P(code <= j) = c_j - x'b for codes 0 .. K-1, which is the binary
    logit (with intercept -c_0) when K = 2. Its maximum-likelihood estimate fails to exist
    exactly when some nonzero (b, c) has x_i'b <= c_j for every row of code j < K-1 and
    x_i'b >= c_{j-1} for every row of code j > 0, with at least one strict inequality
    (complete or quasi-complete separation). The linear program maximizes the total slack
    of these inequalities in the box [-1, 1]. It is 0 exactly when no such direction
    exists, because with every category observed the constraints force c = 0 when b = 0.
    Returns the direction (b only), or None.
    """
    n_predictors = predictors.shape[1]
    n_thresholds = n_categories - 1
    upper = codes < n_thresholds
    lower = codes > 0
    # Each row of the constraint matrix is one inequality written as (b, c) . row <= 0.
    upper_rows = np.zeros((int(upper.sum()), n_predictors + n_thresholds))
    upper_rows[:, :n_predictors] = predictors[upper]
    upper_rows[np.arange(len(upper_rows)), n_predictors + codes[upper]] = -1.0
    lower_rows = np.zeros((int(lower.sum()), n_predictors + n_thresholds))
    lower_rows[:, :n_predictors] = -predictors[lower]
    lower_rows[np.arange(len(lower_rows)), n_predictors + codes[lower] - 1] = 1.0
    constraints = np.vstack([upper_rows, lower_rows])

    solution = optimize.linprog(constraints.sum(axis=0), A_ub=constraints, b_ub=np.zeros(len(constraints)),
                                bounds=(-1, 1), method="highs")
    if solution.status != 0:
        return None
    slack = -(constraints @ solution.x)
    scale = max(1.0, float(np.abs(predictors).max()))
    # HiGHS meets constraints only to its feasibility tolerance (1e-7 by default), so a
    # direction counts when its recomputed inequalities hold to 1e-9 and its slack is
    # clearly above zero.
    if slack.min() < -1e-9 * scale or slack.sum() <= 1e-6 * scale:
        return None
    return solution.x[:n_predictors]


def _separation_reason(predictors: np.ndarray, codes: np.ndarray, n_categories: int,
                       names: tuple[str, ...]) -> str:
    direction = _separating_direction(predictors, codes, n_categories)
    if direction is None:
        return ""
    involved = [name for name, weight in zip(names, direction) if abs(weight) > 1e-9]
    where = f" by {' and '.join(involved)}" if involved else ""
    return f"the answers are separated{where} (complete or quasi-complete separation), " \
           "so the maximum-likelihood estimates do not exist"


def _fit_warning_reason(caught: list[warnings.WarningMessage], converged: bool) -> str:
    categories = {type(message.message) for message in caught}
    if PerfectSeparationWarning in categories:
        return "statsmodels detected perfect separation, so the maximum-likelihood estimates do not exist"
    if ConvergenceWarning in categories or not converged:
        return "the maximum-likelihood fit did not converge"
    if HessianInversionWarning in categories:
        return "the information matrix is singular, so the standard errors are undefined"
    return ""


# Fitting and standard errors -----------------------------------------------------------


def _newton_logit(design: np.ndarray, outcome: np.ndarray) -> np.ndarray:
    """Fit one logistic regression to data checked for separation, by Newton-Raphson."""
    coef, converged = _newton_logit_batch(design[None], outcome)
    if converged[0]:
        return coef[0]
    # Plain Newton can overshoot on badly scaled data, so statsmodels' line-searched
    # fit takes over.
    result = Logit(outcome, design).fit(method="bfgs", maxiter=1000, gtol=1e-10, disp=False)
    return np.asarray(result.params, dtype=float)


def _newton_logit_batch(designs: np.ndarray, outcome: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Fit logistic regressions that share the outcome, one per design in ``designs`` (B, N, K).

    Returns the coefficients (B, K) and whether each fit's Newton step fell below the
    tolerance. Separated data can also stop there once their weights underflow, so a
    caller that has not ruled out separation must check the fitted values.
    """
    batch, _, n_terms = designs.shape
    coef = np.zeros((batch, n_terms))
    converged = np.zeros(batch, dtype=bool)
    # A ridge of 1e-12 keeps the solve defined once the weights underflow. It changes the
    # path but not the fixed point, where the gradient is zero.
    ridge = 1e-12 * np.eye(n_terms)
    for _ in range(_NEWTON_MAX_ITERATIONS):
        active = ~converged
        if not active.any():
            break
        x = designs[active]
        linear = np.einsum("bnk,bk->bn", x, coef[active])
        fitted = special.expit(linear)
        gradient = np.einsum("bnk,bn->bk", x, outcome - fitted)
        information = np.einsum("bnk,bn,bnj->bkj", x, fitted * (1 - fitted), x) + ridge
        step = np.linalg.solve(information, gradient[..., None])[..., 0]
        coef[active] += step
        small = np.abs(step).max(axis=1) < _NEWTON_STEP_TOLERANCE * (1 + np.abs(coef[active]).max(axis=1))
        converged[active] = small
    return coef, converged


def _shuffle_rows(table: pd.DataFrame, rng: np.random.Generator, size: int) -> np.ndarray:
    """Return ``size`` copies of ``value_diff``, each shuffled among the rows of each model."""
    value_diff = table["value_diff"].to_numpy()
    model = table["model"].to_numpy()
    shuffled = np.empty((size, len(table)))
    for name in sorted(set(model)):
        rows = np.flatnonzero(model == name)
        shuffled[:, rows] = rng.permuted(np.broadcast_to(value_diff[rows], (size, rows.size)), axis=1)
    return shuffled


def _dilemma_shuffle_problem(table: pd.DataFrame) -> str:
    """Return why whole dilemmas cannot be shuffled, or an empty string."""
    keys = table[["model", "trial", "dilemma"]]
    repeated = keys.duplicated()
    if repeated.any():
        model, trial, dilemma = keys[repeated].iloc[0]
        return f"shuffling dilemmas needs one row per model, trial and dilemma, but {model} has several " \
               f"in trial {trial} on {dilemma}"
    if len(table) < len(keys[["model", "trial"]].drop_duplicates()) * table["dilemma"].nunique():
        return "shuffling dilemmas needs every model to answer every dilemma in every trial"
    return ""


def _value_table_problem(table: pd.DataFrame, cells: pd.DataFrame) -> str:
    """Return why ``cells`` cannot supply the permuted value differences of ``table``, or an empty string."""
    if not isinstance(cells.index, pd.MultiIndex) or cells.index.nlevels != 2:
        return "the table of value differences needs a (model, trial) index"
    labels = pd.MultiIndex.from_arrays([cells.index.get_level_values(level).astype(str) for level in (0, 1)])
    rows = labels.get_indexer(pd.MultiIndex.from_frame(table[["model", "trial"]].astype(str)))
    if (rows < 0).any():
        model, trial = table[["model", "trial"]].iloc[int(np.flatnonzero(rows < 0)[0])]
        return f"the table of value differences has no row for {model}, trial {trial}"
    missing = sorted(set(table["dilemma"]) - set(cells.columns))
    if missing:
        return f"the table of value differences has no column for dilemma {missing[0]}"
    used = cells.to_numpy(dtype=float)[np.unique(rows)]
    if not np.isfinite(used).all():
        return "value differences are missing for some dilemmas in some trials, so whole dilemmas cannot be shuffled"
    return ""


def _shuffle_dilemmas(table: pd.DataFrame, cells: pd.DataFrame, rng: np.random.Generator, size: int) -> np.ndarray:
    """Return ``size`` copies of ``value_diff`` with the dilemmas permuted, one permutation for all rows."""
    row_index = cells.index.get_indexer(pd.MultiIndex.from_frame(table[["model", "trial"]]))
    dilemma_index = cells.columns.get_indexer(table["dilemma"])
    orders = rng.permuted(np.broadcast_to(np.arange(cells.shape[1]), (size, cells.shape[1])), axis=1)
    return cells.to_numpy()[row_index[None, :], orders[:, dilemma_index]]


def _permuted_slopes(design: np.ndarray, outcome: np.ndarray, shuffled: np.ndarray,
                     names: tuple[str, ...]) -> np.ndarray:
    """Return the slope of each shuffled ``value_diff``, or infinity where the fit is undefined."""
    designs = np.repeat(design[None], len(shuffled), axis=0)
    designs[:, :, 1] = shuffled
    coef, converged = _newton_logit_batch(designs, outcome)
    saturated = np.abs(np.einsum("bnk,bk->bn", designs, coef)).max(axis=1) >= _SATURATED_LINEAR_PREDICTOR
    slopes = coef[:, 1].copy()
    for index in np.flatnonzero(~converged | saturated):
        # Near-certain fitted probabilities can also occur without separation, so the
        # exact check decides, and a defined fit gets the slower statsmodels estimate.
        if _separation_reason(designs[index][:, 1:], outcome.astype(int), 2, names):
            slopes[index] = np.inf
            continue
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result = Logit(outcome, designs[index]).fit(method="newton", maxiter=_NEWTON_MAX_ITERATIONS,
                                                            tol=1e-12, disp=False)
        defined = not _fit_warning_reason(caught, bool(result.mle_retvals.get("converged", False)))
        slopes[index] = float(result.params[1]) if defined else np.inf
    return slopes


def _fit_ordered(codes: np.ndarray, predictors: np.ndarray) -> tuple[np.ndarray, float] | str:
    """Fit a cumulative logit with OrderedModel and return clm-scale (thresholds, betas) and loglik, or a reason."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = OrderedModel(codes, predictors, distr="logit")
        # The standard errors come from the exact Hessian below, so statsmodels' numerical
        # Hessian would only cost time.
        result = model.fit(method="bfgs", maxiter=2000, gtol=1e-8, disp=False, skip_hessian=True)
    reason = _fit_warning_reason(caught, bool(result.mle_retvals.get("converged", False)))
    if reason:
        return reason
    params = np.asarray(result.params, dtype=float)
    n_predictors = predictors.shape[1]
    # OrderedModel stores the first threshold and then log increments. The transform
    # returns the thresholds with -inf and +inf at the ends.
    thresholds = model.transform_threshold_params(params)[1:-1]
    return np.concatenate([thresholds, params[:n_predictors]]), float(result.llf)


def _cumulative_logit_derivatives(coef: np.ndarray, predictors: np.ndarray, codes: np.ndarray,
                                  n_categories: int) -> tuple[np.ndarray, np.ndarray]:
    """Return the per-row scores (N, P) and the Hessian (P, P) of the cumulative-logit log-likelihood.

    Parameters are (theta_1 .. theta_{K-1}, beta) on clm's scale. Row i contributes
    log(F(a_i) - F(b_i)) with a_i = theta_{y_i} - x_i'beta and b_i = theta_{y_i - 1} - x_i'beta,
    where theta_0 = -inf and theta_K = +inf, and F is the logistic distribution function.
    """
    n_thresholds = n_categories - 1
    thresholds = np.concatenate([[-np.inf], coef[:n_thresholds], [np.inf]])
    linear = predictors @ coef[n_thresholds:]
    upper = thresholds[codes + 1] - linear
    lower = thresholds[codes] - linear

    # Both tails are computed on the side where the logistic function keeps its precision.
    probability = np.where(lower > 0, special.expit(-lower) - special.expit(-upper),
                           special.expit(upper) - special.expit(lower))
    density_upper, slope_upper = _logistic_density(upper)
    density_lower, slope_lower = _logistic_density(lower)
    d_upper = density_upper / probability
    d_lower = -density_lower / probability
    dd_upper = slope_upper / probability - d_upper ** 2
    dd_lower = -slope_lower / probability - d_lower ** 2
    dd_cross = -d_upper * d_lower

    # Derivatives of a_i and b_i with respect to the parameters.
    n_rows, n_params = len(codes), len(coef)
    da = np.zeros((n_rows, n_params))
    db = np.zeros((n_rows, n_params))
    rows = np.arange(n_rows)
    has_upper = codes < n_thresholds
    has_lower = codes > 0
    da[rows[has_upper], codes[has_upper]] = 1.0
    db[rows[has_lower], codes[has_lower] - 1] = 1.0
    da[:, n_thresholds:] = -predictors
    db[:, n_thresholds:] = -predictors

    scores = d_upper[:, None] * da + d_lower[:, None] * db
    hessian = (np.einsum("n,ni,nj->ij", dd_upper, da, da) + np.einsum("n,ni,nj->ij", dd_lower, db, db)
               + np.einsum("n,ni,nj->ij", dd_cross, da, db) + np.einsum("n,ni,nj->ij", dd_cross, db, da))
    return scores, hessian


def _logistic_density(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return the logistic density f(x) and its derivative, both 0 at +-inf."""
    cdf = special.expit(x)
    density = cdf * (1 - cdf)
    return density, density * (1 - 2 * cdf)


def _inverse_information(hessian: np.ndarray) -> tuple[np.ndarray, str]:
    try:
        factor = np.linalg.cholesky(-hessian)
    except np.linalg.LinAlgError:
        return np.full_like(hessian, _NAN), "the information matrix is not positive definite"
    inverse_factor = np.linalg.inv(factor)
    return inverse_factor.T @ inverse_factor, ""


def _cluster_covariances(scores: np.ndarray, bread: np.ndarray, clusters: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return the clustered sandwich covariance without adjustment (HC0) and with CR1's factor."""
    _, cluster_index = np.unique(clusters, return_inverse=True)
    n_clusters = int(cluster_index.max()) + 1
    cluster_scores = np.zeros((n_clusters, scores.shape[1]))
    np.add.at(cluster_scores, cluster_index, scores)
    meat = cluster_scores.T @ cluster_scores
    hc0 = bread @ meat @ bread
    n_rows, n_params = scores.shape
    factor = n_clusters / (n_clusters - 1) * (n_rows - 1) / (n_rows - n_params)
    return hc0, factor * hc0


def _binary_loglik_by_group(outcome: np.ndarray, groups: np.ndarray) -> float:
    """Return the log-likelihood of a Bernoulli rate fitted per group."""
    total = 0.0
    for group in np.unique(groups):
        values = outcome[groups == group]
        total += _multinomial_loglik(values.astype(int))
    return total


def _multinomial_loglik(codes: np.ndarray) -> float:
    """Return sum n_j log(n_j / n), the log-likelihood of category shares fitted to the data."""
    counts = np.bincount(codes)
    counts = counts[counts > 0]
    return float(np.sum(counts * np.log(counts / counts.sum())))


def _assemble_fit(kind: type, terms: tuple[str, ...], coef: np.ndarray, bread: np.ndarray, scores: np.ndarray,
                  table: pd.DataFrame, models: tuple[str, ...], confidence: float, loglik: float,
                  loglik_null: float, loglik_models: float, extra: dict):
    hc0, cr1 = _cluster_covariances(scores, bread, table["dilemma"].to_numpy())
    se_cluster = np.sqrt(np.diag(cr1))
    slope_index = terms.index(SLOPE)
    se_model = np.sqrt(np.diag(bread))
    slope, slope_se = float(coef[slope_index]), float(se_cluster[slope_index])
    reason = ""
    # When every dilemma's scores sum to zero (a model that splits each dilemma evenly
    # between A and B), the sandwich is 0 up to rounding and the Wald test is undefined.
    if not slope_se > 1e-8 * se_model[slope_index]:
        reason = "the dilemma-clustered standard error of the slope is 0, because the scores sum to 0 " \
                 "within every dilemma, so z, p and the interval are undefined"
        slope_se = 0.0
        se_cluster[slope_index] = 0.0
    z = slope / slope_se if slope_se > 0 else _NAN
    half_width = stats.norm.ppf(0.5 + confidence / 2) * slope_se if slope_se > 0 else _NAN
    lr = max(2 * (loglik - loglik_models), 0.0)
    return kind(
        terms=terms,
        coef=coef,
        se_model=se_model,
        se_cluster=se_cluster,
        se_cluster_hc0=np.sqrt(np.diag(hc0)),
        slope=slope,
        slope_se=slope_se,
        z=z,
        p=float(2 * stats.norm.sf(abs(z))),
        ci_low=slope - half_width,
        ci_high=slope + half_width,
        odds_ratio=math.exp(slope),
        odds_ratio_low=math.exp(slope - half_width),
        odds_ratio_high=math.exp(slope + half_width),
        loglik=loglik,
        loglik_null=loglik_null,
        loglik_models=loglik_models,
        mcfadden_r2=1 - loglik / loglik_null,
        mcfadden_r2_value_diff=1 - loglik / loglik_models,
        lr_value_diff=lr,
        lr_value_diff_p=float(stats.chi2.sf(lr, 1)),
        n=len(table),
        n_clusters=int(table["dilemma"].nunique()),
        models=models,
        confidence=confidence,
        reason=reason,
        **extra,
    )


def _undefined_fit(kind: type, terms: tuple[str, ...], table: pd.DataFrame, models: tuple[str, ...],
                   confidence: float, reason: str, extra: dict | None = None):
    empty = np.full(len(terms), _NAN)
    numbers = dict.fromkeys(
        ("slope", "slope_se", "z", "p", "ci_low", "ci_high", "odds_ratio", "odds_ratio_low", "odds_ratio_high",
         "loglik", "loglik_null", "loglik_models", "mcfadden_r2", "mcfadden_r2_value_diff", "lr_value_diff",
         "lr_value_diff_p"),
        _NAN,
    )
    return kind(terms=terms, coef=empty, se_model=empty.copy(), se_cluster=empty.copy(),
                se_cluster_hc0=empty.copy(), n=len(table), n_clusters=int(table["dilemma"].nunique()),
                models=models, confidence=confidence, reason=reason, **numbers, **(extra or {}))


# Prediction and proportions ------------------------------------------------------------


def _fold_row(dilemma: str, outcome: np.ndarray, linear: np.ndarray | None, baseline_linear: np.ndarray | None,
              reason: str) -> dict:
    row = {"dilemma": dilemma, "n": len(outcome), "reason": reason}
    if linear is None:
        row.update(accuracy=_NAN, log_loss=_NAN, baseline_accuracy=_NAN, baseline_log_loss=_NAN)
        return row
    row.update(accuracy=_accuracy(outcome, linear), log_loss=_log_loss(outcome, linear),
               baseline_accuracy=_accuracy(outcome, baseline_linear),
               baseline_log_loss=_log_loss(outcome, baseline_linear))
    return row


def _accuracy(outcome: np.ndarray, linear: np.ndarray) -> float:
    # A linear predictor above 0 is a probability above 0.5, predicted as option A.
    return float(np.mean((linear > 0) == (outcome == 1)))


def _log_loss(outcome: np.ndarray, linear: np.ndarray) -> float:
    # -log p = log(1 + exp(-eta)) for A and -log(1 - p) = log(1 + exp(eta)) for B,
    # computed with logaddexp so that no probability rounds to 0.
    return float(np.mean(np.logaddexp(0, np.where(outcome == 1, -linear, linear))))


def _binomial_summary(successes: int, n: int, confidence: float, empty_reason: str) -> dict:
    if n == 0:
        return {"n": 0, "successes": 0, "share": _NAN, "ci_low": _NAN, "ci_high": _NAN, "p": _NAN,
                "reason": empty_reason}
    test = stats.binomtest(successes, n, 0.5)
    interval = test.proportion_ci(confidence_level=confidence, method="exact")
    return {"n": n, "successes": successes, "share": successes / n, "ci_low": float(interval.low),
            "ci_high": float(interval.high), "p": float(test.pvalue), "reason": ""}
