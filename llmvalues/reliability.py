"""Reliability statistics: Cronbach's alpha, Feldt's interval, omega total and intraclass correlations.

Each statistic follows the definition of the R package psych (version 2.2.9), so that
results can be checked against R: ``psych::alpha`` for alpha and its Feldt interval,
``psych::omega(x, nfactors=1)`` for omega total, and ``psych::ICC(x, lmer=FALSE)`` for
the six Shrout-Fleiss intraclass correlations.

In model data one trial of one model is one respondent. A model that gives the same
rating in every trial is common, so zero variance is an expected result here and not an
error. A statistic that the data leave undefined is NaN, and the functions that return a
``reason`` give the cause. Malformed input (NaN where complete cases are required, fewer than
two items) raises ValueError.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import pandas as pd
from factor_analyzer import FactorAnalyzer
from scipy import stats

from .values import CIRCLE_ORDER, SCORING_KEY

DEFAULT_LEVEL = 0.95

# Fewer complete cases leave alpha and the item correlations without meaning: with two
# cases every correlation is +1 or -1.
MIN_CASES = 3

# factor-analyzer 0.5.1 bounds minres uniquenesses to [0.005, 1]. A uniqueness at the
# lower bound is treated as a Heywood case, because the bound and not the data then sets
# that item's communality.
MIN_UNIQUENESS = 0.005
_BOUND_TOLERANCE = 1e-6

ICC_TYPES: tuple[str, ...] = ("ICC1", "ICC2", "ICC3", "ICC1k", "ICC2k", "ICC3k")

# The Shrout and Fleiss (1979) forms in the words of McGraw and Wong (1996).
ICC_FORMS: dict[str, str] = {
    "ICC1": "ICC1: one-way random effects, absolute agreement, single rater",
    "ICC2": "ICC2: two-way random effects, absolute agreement, single rater",
    "ICC3": "ICC3: two-way mixed effects, consistency, single rater",
    "ICC1k": "ICC1k: one-way random effects, absolute agreement, mean of k raters",
    "ICC2k": "ICC2k: two-way random effects, absolute agreement, mean of k raters",
    "ICC3k": "ICC3k: two-way mixed effects, consistency, mean of k raters",
}

ICC_COLUMNS: tuple[str, ...] = ("type", "form", "icc", "f", "df1", "df2", "p", "lower", "upper")
RETEST_COLUMNS: tuple[str, ...] = ICC_COLUMNS + ("n_items", "n_trials", "reason")
VALUE_RELIABILITY_COLUMNS: tuple[str, ...] = (
    "value", "n", "alpha_raw", "alpha_std", "feldt_lower", "feldt_upper",
    "omega_total", "constant_items", "reason",
)

_NAN = float("nan")


class Alpha(NamedTuple):
    """Raw and standardized Cronbach's alpha of one scale."""

    raw: float
    standardized: float


class OneFactorFit(NamedTuple):
    """A one-factor minres model of the item correlations, and omega total from it.

    ``problem`` is empty when the fit succeeded. Otherwise it explains the failure,
    and ``loadings``, ``uniquenesses`` and ``omega_total`` are NaN.
    """

    loadings: np.ndarray
    uniquenesses: np.ndarray
    omega_total: float
    problem: str


@dataclass(frozen=True)
class ScaleReliability:
    """Alpha, Feldt's interval and omega total of one scale, with the cases used.

    ``n`` is the number of complete cases used and ``n_dropped`` the number of cases
    dropped because a rating was missing. ``constant_items`` lists the labels of the
    items with zero variance across the cases used. ``reason`` is empty when every
    statistic is a number, and otherwise gives the cause of each NaN.
    """

    n: int
    n_dropped: int
    k: int
    alpha_raw: float
    alpha_std: float
    feldt_lower: float
    feldt_upper: float
    omega_total: float
    constant_items: tuple[str, ...]
    reason: str


def cronbach_alpha(items) -> Alpha:
    """Compute raw and standardized Cronbach's alpha as ``psych::alpha`` defines them.

    Parameters
    ----------
    items : array-like or DataFrame, shape (n_cases, n_items)
        Complete cases (no NaN), at least 2 cases and 2 items.

    Returns
    -------
    Alpha
        ``raw`` is k/(k-1) * (1 - sum of the item variances / variance of the total
        score), psych's ``raw_alpha``. ``standardized`` is k*rbar / (1 + (k-1)*rbar),
        where rbar is the mean correlation between distinct items, psych's
        ``std_alpha``. Both are unitless, at most 1, and can be negative.

    Notes
    -----
    ``raw`` is NaN when the total score is constant across cases, which includes the
    case where every item is constant. ``standardized`` is NaN when any item is
    constant, because that item's correlations are undefined, and when rbar is
    -1/(k-1), where the formula divides by zero.
    """
    data, _ = _complete_matrix(items, minimum_rows=2)
    n_items = data.shape[1]
    constant = _constant_columns(data)

    variances = np.where(constant, 0.0, data.var(axis=0, ddof=1))
    total = data.sum(axis=1)
    if np.ptp(total) == 0:
        raw = _NAN
    else:
        raw = n_items / (n_items - 1) * (1.0 - variances.sum() / total.var(ddof=1))

    standardized = _NAN
    if not constant.any():
        correlations = np.corrcoef(data, rowvar=False)
        mean_correlation = correlations[~np.eye(n_items, dtype=bool)].mean()
        denominator = 1.0 + (n_items - 1) * mean_correlation
        if denominator != 0:
            standardized = n_items * mean_correlation / denominator
    return Alpha(raw=float(raw), standardized=float(standardized))


def feldt_interval(alpha: float, n_cases: int, n_items: int,
                   level: float = DEFAULT_LEVEL) -> tuple[float, float]:
    """Compute Feldt's confidence interval for Cronbach's alpha, as ``psych::alpha`` prints it.

    With tail = (1 - level) / 2, df1 = n_cases - 1 and df2 = (n_cases - 1)(n_items - 1),
    the bounds are lower = 1 - (1 - alpha) * F(1 - tail; df1, df2) and
    upper = 1 - (1 - alpha) * F(tail; df1, df2), where F(q; df1, df2) is the q quantile
    of the F distribution (Feldt, Woodruff and Salih 1987).

    Parameters
    ----------
    alpha : float
        Raw alpha (psych computes the interval from ``raw_alpha``). NaN gives (NaN, NaN).
    n_cases : int
        Number of cases alpha was computed from, at least 2.
    n_items : int
        Number of items, at least 2.
    level : float, default=0.95
        Confidence level, between 0 and 1.

    Returns
    -------
    tuple of float
        (lower, upper).
    """
    if not 0 < level < 1:
        raise ValueError(f"level must be between 0 and 1, got {level}")
    if n_cases < 2 or n_items < 2:
        raise ValueError(f"the Feldt interval needs at least 2 cases and 2 items, got {n_cases} and {n_items}")
    if math.isnan(alpha):
        return _NAN, _NAN
    tail = (1.0 - level) / 2.0
    df1 = n_cases - 1
    df2 = (n_cases - 1) * (n_items - 1)
    lower = 1.0 - (1.0 - alpha) * stats.f.ppf(1.0 - tail, df1, df2)
    upper = 1.0 - (1.0 - alpha) * stats.f.ppf(tail, df1, df2)
    return float(lower), float(upper)


def fit_one_factor(items) -> OneFactorFit:
    """Fit a one-factor minres model to the item correlations and compute omega total.

    The model is ``factor_analyzer.FactorAnalyzer(n_factors=1, rotation=None,
    method="minres")`` fitted to the Pearson correlation matrix R. Omega total is
    psych's definition for one factor: 1 - sum(uniquenesses) / sum(R), where sum(R)
    adds every entry of R, the variance of the sum of the standardized items.

    Parameters
    ----------
    items : array-like or DataFrame, shape (n_cases, n_items)
        Complete cases (no NaN), at least 3 cases and 2 items (omega needs 3 items).

    Returns
    -------
    OneFactorFit
        Loadings (their sum made non-negative, as psych reports them), uniquenesses
        (1 - squared loading), omega total (unitless, at most 1) and ``problem``.

    Notes
    -----
    The fit fails, with NaN results and the reason in ``problem``, when

    - an item is constant,
    - factor-analyzer or numpy warns or raises (failed convergence, a singular
      correlation matrix, invalid arithmetic),
    - there are only 2 items, where the one-factor model is not identified,
    - the results are not finite, or
    - a uniqueness reaches factor-analyzer's lower bound of 0.005 (a Heywood case).

    Those warnings are caught and reported in ``problem``, never printed. Deprecation
    warnings from scikit-learn's input checks are discarded because they change no
    number.

    Items are not reversed. ``psych::omega`` reverses items with negative loadings by
    default (``flip=TRUE``). Here a negative loading lowers omega, because the
    questionnaire has no reverse-keyed items and omega describes the scale as scored.
    """
    data, labels = _complete_matrix(items, minimum_rows=MIN_CASES)
    n_items = data.shape[1]
    failed = np.full(n_items, _NAN)

    if n_items < 3:
        # Any pair of loadings whose product is the correlation fits two items equally well.
        return OneFactorFit(failed, failed, _NAN, "omega undefined: a one-factor model needs at least 3 items")
    constant = _constant_columns(data)
    if constant.any():
        named = _items_phrase([labels[i] for i in np.flatnonzero(constant)])
        return OneFactorFit(failed, failed, _NAN, f"{named} constant, so the item correlations are undefined")

    correlations = np.corrcoef(data, rowvar=False)
    model = FactorAnalyzer(n_factors=1, rotation=None, method="minres", is_corr_matrix=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            model.fit(correlations)
        except (ValueError, np.linalg.LinAlgError) as error:
            return OneFactorFit(failed, failed, _NAN, f"one-factor model failed: {error}")
    messages = [str(warning.message) for warning in caught
                if not issubclass(warning.category, (DeprecationWarning, FutureWarning))]
    if messages:
        return OneFactorFit(failed, failed, _NAN, f"one-factor model failed: {messages[0]}")

    loadings = np.asarray(model.loadings_, dtype=float)[:, 0]
    uniquenesses = np.asarray(model.get_uniquenesses(), dtype=float)
    if not (np.isfinite(loadings).all() and np.isfinite(uniquenesses).all()):
        return OneFactorFit(failed, failed, _NAN, "one-factor model failed: the loadings are not finite")
    at_bound = uniquenesses <= MIN_UNIQUENESS + _BOUND_TOLERANCE
    if at_bound.any():
        named = _items_phrase([labels[i] for i in np.flatnonzero(at_bound)])
        return OneFactorFit(failed, failed, _NAN,
                            f"one-factor model failed: Heywood case, {named} with uniqueness at "
                            f"the lower bound {MIN_UNIQUENESS}")

    if loadings.sum() < 0:
        loadings = -loadings
    omega = 1.0 - uniquenesses.sum() / correlations.sum()
    return OneFactorFit(loadings, uniquenesses, float(omega), "")


def omega_total(items) -> float:
    """Compute omega total from a one-factor minres model, as ``psych::omega(x, nfactors=1)`` does.

    Omega total is 1 - sum(uniquenesses) / sum(R), with R the item correlation matrix.
    It is unitless and at most 1. NaN when the one-factor model fails; call
    ``fit_one_factor`` for the reason, the loadings and the uniquenesses.

    Parameters
    ----------
    items : array-like or DataFrame, shape (n_cases, n_items)
        Complete cases (no NaN), at least 3 cases and 2 items.
    """
    return fit_one_factor(items).omega_total


def scale_reliability(items, *, level: float = DEFAULT_LEVEL, case_name: str = "cases") -> ScaleReliability:
    """Compute alpha, Feldt's interval and omega total of one scale, never raising on degenerate data.

    Cases with a missing rating are dropped first. Raw alpha and its Feldt interval
    stay defined when some items are constant, as long as the total score varies.
    Standardized alpha and omega total need every item correlation, so they are NaN
    when any item is constant.

    Parameters
    ----------
    items : array-like or DataFrame, shape (n_cases, n_items)
        Ratings, NaN for a missing one; at least 2 items. Item labels in the result are
        the column labels of a DataFrame and the column numbers (from 1) of an array.
    level : float, default=0.95
        Confidence level of Feldt's interval.
    case_name : str, default="cases"
        Plural noun for a case (``"trials"``, ``"respondents"``) used in ``reason``.

    Returns
    -------
    ScaleReliability
        Every statistic is NaN with the reason when fewer than 3 complete cases remain
        or when no item varies ("no variance").
    """
    table = _as_frame(items)
    n_items = table.shape[1]
    if n_items < 2:
        raise ValueError(f"a scale needs at least 2 items, got {n_items}")
    complete = table.dropna()
    n_cases = len(complete)
    n_dropped = len(table) - n_cases

    def undefined(constant_items: tuple[str, ...], reason: str) -> ScaleReliability:
        return ScaleReliability(n_cases, n_dropped, n_items, _NAN, _NAN, _NAN, _NAN, _NAN, constant_items, reason)

    if n_cases < MIN_CASES:
        return undefined((), f"fewer than {MIN_CASES} complete {case_name}")

    data = complete.to_numpy(dtype=float)
    labels = [str(label) for label in complete.columns]
    constant = _constant_columns(data)
    constant_items = tuple(labels[i] for i in np.flatnonzero(constant))
    if constant.all():
        return undefined(constant_items, f"no variance: every item is constant across {case_name}")

    varying = [label for label, flat in zip(labels, constant) if not flat]
    if len(varying) == 1:
        # With one varying item the total varies exactly as that item does, so raw alpha
        # is 0 by arithmetic, whatever the ratings.
        return undefined(constant_items, f"only item {varying[0]} varies across {case_name}, so alpha is 0 by "
                                         "construction and measures nothing")

    reasons = []
    alpha = cronbach_alpha(data)
    if constant.any():
        reasons.append(f"{_items_phrase(constant_items)} constant across {case_name}, "
                       "so standardized alpha and omega are undefined")
    elif math.isnan(alpha.standardized):
        reasons.append("the mean item correlation is -1/(k-1), so standardized alpha is undefined")
    if math.isnan(alpha.raw):
        reasons.append(f"total score constant across {case_name}, so raw alpha and its interval are undefined")
    lower, upper = feldt_interval(alpha.raw, n_cases, n_items, level)

    omega = _NAN
    if not constant.any():
        fit = fit_one_factor(complete)  # the frame, so a problem names items by their labels
        omega = fit.omega_total
        if fit.problem:
            reasons.append(fit.problem)

    return ScaleReliability(n_cases, n_dropped, n_items, alpha.raw, alpha.standardized, lower, upper,
                            omega, constant_items, "; ".join(reasons))


def value_reliability(ratings: pd.DataFrame, *, key: dict[int, str] | None = None,
                      level: float = DEFAULT_LEVEL) -> pd.DataFrame:
    """Compute alpha, Feldt's interval and omega total of each value for one model.

    Each value's scale is its items (three in the PVQ-RR key). The cases are the
    trials with a rating for every one of the value's items.

    Parameters
    ----------
    ratings : DataFrame
        One row per trial, columns the item numbers (int) of ``key``, ratings as
        numbers, NaN for a missing or invalid answer.
    key : dict of int to str, optional
        Item number -> value code; the PVQ-RR scoring key by default.
    level : float, default=0.95
        Confidence level of Feldt's interval.

    Returns
    -------
    DataFrame
        One row per value, in circle order, with columns ``value`` (code), ``n``
        (complete trials used), ``alpha_raw``, ``alpha_std``, ``feldt_lower``,
        ``feldt_upper``, ``omega_total``, ``constant_items`` (item numbers with zero
        variance across the trials used, joined by ";", such as "1;23") and
        ``reason`` (empty when every number is present, otherwise why each NaN is
        undefined, such as "fewer than 3 complete trials" or "no variance: ...").
        Degenerate data give NaN with a reason, never an exception.
    """
    key = SCORING_KEY if key is None else key
    missing = sorted(set(key) - set(ratings.columns))
    if missing:
        raise ValueError(f"ratings has no column for items {missing}")
    codes = [code for code in CIRCLE_ORDER if code in key.values()]
    codes += sorted(set(key.values()) - set(CIRCLE_ORDER))

    rows = []
    for code in codes:
        items = sorted(item for item, item_code in key.items() if item_code == code)
        result = scale_reliability(ratings[items].astype(float), level=level, case_name="trials")
        rows.append({
            "value": code,
            "n": result.n,
            "alpha_raw": result.alpha_raw,
            "alpha_std": result.alpha_std,
            "feldt_lower": result.feldt_lower,
            "feldt_upper": result.feldt_upper,
            "omega_total": result.omega_total,
            "constant_items": ";".join(result.constant_items),
            "reason": result.reason,
        })
    return pd.DataFrame(rows, columns=list(VALUE_RELIABILITY_COLUMNS))


def intraclass_correlations(ratings, level: float = DEFAULT_LEVEL) -> pd.DataFrame:
    """Compute the six Shrout-Fleiss intraclass correlations as ``psych::ICC(x, lmer=FALSE)`` does.

    From the two-way ANOVA of a targets x raters matrix (n targets, k raters) with mean
    squares MSB (targets), MSW (within targets), MSJ (raters) and MSE (residual):

    - ICC1 = (MSB - MSW) / (MSB + (k-1) MSW), ICC1k = (MSB - MSW) / MSB,
      F = MSB / MSW with df (n-1, n(k-1));
    - ICC2 = (MSB - MSE) / (MSB + (k-1) MSE + k (MSJ - MSE) / n),
      ICC2k = (MSB - MSE) / (MSB + (MSJ - MSE) / n);
    - ICC3 = (MSB - MSE) / (MSB + (k-1) MSE), ICC3k = (MSB - MSE) / MSB;
      ICC2 and ICC3 share F = MSB / MSE with df (n-1, (n-1)(k-1)).

    The bounds of ICC1 and ICC3 are the F ratio divided and multiplied by F quantiles.
    The bounds of ICC2 use Satterthwaite's approximate degrees of freedom. Both follow
    Shrout and Fleiss (1979) and McGraw and Wong (1996), as psych computes them.

    Parameters
    ----------
    ratings : array-like or DataFrame, shape (n_targets, n_raters)
        Complete (no NaN), at least 2 targets and 2 raters.
    level : float, default=0.95
        Confidence level of the bounds.

    Returns
    -------
    DataFrame
        Six rows in the order ICC1, ICC2, ICC3, ICC1k, ICC2k, ICC3k with columns
        ``type``, ``form`` (the model in words), ``icc``, ``f``, ``df1``, ``df2``, ``p``
        (upper tail of F) and ``lower`` and ``upper`` (the confidence bounds).

    Notes
    -----
    When every rating is equal, every ICC, F, p and bound is NaN. When the error mean
    square is zero but the targets differ (every rater gives each target the same
    rating), F is infinite, p is 0 and ICC3 is 1. ICC1 and ICC1k are 1 as well when
    MSW is zero. The bounds of an ICC of 1 are both 1, the limit of their formulas.
    An ICC that divides by a zero MSB (ICC1k, ICC3k when the targets do not differ) is NaN.
    """
    if not 0 < level < 1:
        raise ValueError(f"level must be between 0 and 1, got {level}")
    data, _ = _complete_matrix(ratings, minimum_rows=2)
    n, k = data.shape
    squares = _mean_squares(data)
    msb, msw, msj, mse = squares["targets"], squares["within"], squares["raters"], squares["error"]
    tail = (1.0 - level) / 2.0

    df1_one, df2_one = n - 1, n * (k - 1)
    df1_two, df2_two = n - 1, (n - 1) * (k - 1)
    f_one = _ratio(msb, msw)
    f_two = _ratio(msb, mse)

    with np.errstate(divide="ignore", invalid="ignore"):
        icc = {
            "ICC1": (msb - msw) / (msb + (k - 1) * msw),
            "ICC2": (msb - mse) / (msb + (k - 1) * mse + k * (msj - mse) / n),
            "ICC3": (msb - mse) / (msb + (k - 1) * mse),
            "ICC1k": (msb - msw) / msb,
            "ICC2k": (msb - mse) / (msb + (msj - mse) / n),
            "ICC3k": (msb - mse) / msb,
        }
    icc = {name: _finite_or_nan(value) for name, value in icc.items()}

    # ICC1 and ICC3: the F ratio divided (lower) and multiplied (upper) by F quantiles.
    f_one_low = f_one / stats.f.ppf(1.0 - tail, df1_one, df2_one)
    f_one_high = f_one * stats.f.ppf(1.0 - tail, df2_one, df1_one)
    f_three_low = f_two / stats.f.ppf(1.0 - tail, df1_two, df2_two)
    f_three_high = f_two * stats.f.ppf(1.0 - tail, df2_two, df1_two)
    bounds = {
        "ICC1": (_single_from_f(f_one_low, k), _single_from_f(f_one_high, k)),
        "ICC3": (_single_from_f(f_three_low, k), _single_from_f(f_three_high, k)),
        "ICC1k": (_average_from_f(f_one_low), _average_from_f(f_one_high)),
        "ICC3k": (_average_from_f(f_three_low), _average_from_f(f_three_high)),
    }
    lower_two, upper_two = _icc2_bounds(icc["ICC2"], msb, msj, mse, n, k, tail)
    bounds["ICC2"] = (lower_two, upper_two)
    bounds["ICC2k"] = (_single_to_average(lower_two, k), _single_to_average(upper_two, k))

    tests = {
        "ICC1": (f_one, df1_one, df2_one), "ICC1k": (f_one, df1_one, df2_one),
        "ICC2": (f_two, df1_two, df2_two), "ICC2k": (f_two, df1_two, df2_two),
        "ICC3": (f_two, df1_two, df2_two), "ICC3k": (f_two, df1_two, df2_two),
    }
    rows = []
    for name in ICC_TYPES:
        f_value, df1, df2 = tests[name]
        lower, upper = bounds[name]
        if math.isnan(icc[name]):
            lower = upper = _NAN
        rows.append({
            "type": name,
            "form": ICC_FORMS[name],
            "icc": icc[name],
            "f": f_value,
            "df1": df1,
            "df2": df2,
            "p": float(stats.f.sf(f_value, df1, df2)),
            "lower": lower,
            "upper": upper,
        })
    return pd.DataFrame(rows, columns=list(ICC_COLUMNS))


def retest_reliability(ratings: pd.DataFrame, level: float = DEFAULT_LEVEL) -> pd.DataFrame:
    """Compute the test-retest intraclass correlations of one model, items as targets and trials as raters.

    The trials used are those with at least one rating, and the items used are those
    rated in every one of those trials. The item x trial matrix of ratings goes to
    ``intraclass_correlations``. ICC3 then measures how consistently the trials rank
    the items, and ICC2 how closely they agree in absolute level.

    Parameters
    ----------
    ratings : DataFrame
        One row per trial, one column per item, ratings as numbers, NaN for a missing
        or invalid answer.
    level : float, default=0.95
        Confidence level of the bounds.

    Returns
    -------
    DataFrame
        The six rows of ``intraclass_correlations`` with three more columns:
        ``n_items`` and ``n_trials`` (the items and trials used) and ``reason``. The
        ICC columns are NaN, with the reason, when fewer than 2 trials have ratings,
        fewer than 2 items were rated in every trial, or every rating is equal.
        ``reason`` is empty otherwise. Degenerate data never raise.
    """
    table = ratings.astype(float)
    trials = table.loc[table.notna().any(axis=1)]
    answered = trials.loc[:, trials.notna().all(axis=0)]
    n_trials, n_items = answered.shape[0], answered.shape[1]

    reason = ""
    if n_trials < 2:
        reason = "fewer than 2 trials with ratings"
    elif n_items < 2:
        reason = "fewer than 2 items rated in every trial"
    elif np.ptp(answered.to_numpy()) == 0:
        reason = "all ratings identical"

    if reason:
        result = pd.DataFrame({"type": list(ICC_TYPES), "form": [ICC_FORMS[name] for name in ICC_TYPES]})
        for column in ICC_COLUMNS[2:]:
            result[column] = _NAN
    else:
        result = intraclass_correlations(answered.to_numpy().T, level=level)
    result["n_items"] = n_items
    result["n_trials"] = n_trials
    result["reason"] = reason
    return result[list(RETEST_COLUMNS)]


def _as_frame(items) -> pd.DataFrame:
    """Return the items as a float DataFrame, labelling the columns of an array 1, 2, ..."""
    if isinstance(items, pd.DataFrame):
        return items.astype(float)
    array = np.asarray(items, dtype=float)
    if array.ndim != 2:
        raise ValueError(f"expected a cases x items table, got an array of shape {array.shape}")
    return pd.DataFrame(array, columns=range(1, array.shape[1] + 1))


def _complete_matrix(items, *, minimum_rows: int) -> tuple[np.ndarray, list[str]]:
    """Return the table as a float array and its column labels, checking it is complete and finite."""
    table = _as_frame(items)
    data = table.to_numpy(dtype=float)
    if np.isnan(data).any():
        raise ValueError("the table contains NaN; drop the incomplete rows first")
    if not np.isfinite(data).all():
        raise ValueError("the table contains an infinite value")
    if data.shape[0] < minimum_rows or data.shape[1] < 2:
        raise ValueError(f"expected at least {minimum_rows} rows and 2 columns, got shape {data.shape}")
    return data, [str(label) for label in table.columns]


def _constant_columns(data: np.ndarray) -> np.ndarray:
    """Return a mask of the columns whose values are all equal (exact, unlike a variance of 1e-33)."""
    return np.ptp(data, axis=0) == 0


def _items_phrase(labels) -> str:
    labels = list(labels)
    if len(labels) == 1:
        return f"item {labels[0]}"
    return "items " + ", ".join(labels[:-1]) + f" and {labels[-1]}"


def _mean_squares(data: np.ndarray) -> dict[str, np.float64]:
    """Return the two-way ANOVA mean squares of a targets x raters matrix.

    Sums of squares are computed from deviations, not by subtraction, so a mean square
    that should be zero is zero or within rounding of it, never negative.
    """
    n, k = data.shape
    grand = data.mean()
    target_means = data.mean(axis=1, keepdims=True)
    rater_means = data.mean(axis=0, keepdims=True)
    within = data - target_means
    residual = within - (rater_means - grand)
    # numpy scalars, not Python floats, so that np.errstate governs division by zero.
    return {
        "targets": np.float64(k * ((target_means - grand) ** 2).sum() / (n - 1)),
        "within": np.float64((within ** 2).sum() / (n * (k - 1))),
        "raters": np.float64(n * ((rater_means - grand) ** 2).sum() / (k - 1)),
        "error": np.float64((residual ** 2).sum() / ((n - 1) * (k - 1))),
    }


def _ratio(numerator: float, denominator: float) -> float:
    """Return numerator / denominator, infinite for a positive numerator over zero, NaN for 0 / 0."""
    if denominator > 0:
        return numerator / denominator
    return math.inf if numerator > 0 else _NAN


def _finite_or_nan(value: float) -> float:
    return float(value) if math.isfinite(value) else _NAN


def _single_from_f(f_value: float, k: int) -> float:
    """Return the single-rater ICC (F - 1) / (F + k - 1) that an F ratio implies; 1 for infinite F."""
    if math.isinf(f_value):
        return 1.0
    return _finite_or_nan((f_value - 1.0) / (f_value + k - 1.0))


def _average_from_f(f_value: float) -> float:
    """Return the average-rater ICC 1 - 1/F that an F ratio implies; NaN for F = 0."""
    if f_value == 0 or math.isnan(f_value):
        return _NAN
    return 1.0 - 1.0 / f_value


def _single_to_average(single: float, k: int) -> float:
    """Apply the Spearman-Brown formula: the ICC of the mean of k raters from a single rater's ICC."""
    return _finite_or_nan(single * k / (1.0 + single * (k - 1)))


def _icc2_bounds(icc2: float, msb: float, msj: float, mse: float, n: int, k: int,
                 tail: float) -> tuple[float, float]:
    """Return the bounds of ICC2 from Satterthwaite's approximate degrees of freedom v.

    The rater-to-error ratio MSJ / MSE is infinite when only MSE is zero. Then v tends to
    k - 1, its limit. When MSJ and MSE are both zero, ICC2 is 1 and both bounds are 1
    for every v, so the ratio is set to 0.
    """
    if math.isnan(icc2):
        return _NAN, _NAN
    rater_ratio = _ratio(msj, mse)
    if math.isnan(rater_ratio):
        rater_ratio = 0.0
    with np.errstate(divide="ignore", invalid="ignore"):
        if math.isinf(rater_ratio):
            v = np.float64(k - 1.0)
        else:
            spread = n * (1.0 + (k - 1) * icc2) - k * icc2
            numerator = (k - 1) * (n - 1) * (k * icc2 * rater_ratio + spread) ** 2
            denominator = (n - 1) * k ** 2 * icc2 ** 2 * rater_ratio ** 2 + spread ** 2
            v = np.float64(numerator) / denominator
        f_upper = stats.f.ppf(1.0 - tail, n - 1, v)
        f_lower = stats.f.ppf(1.0 - tail, v, n - 1)
        rater_error = k * msj + (k * n - k - n) * mse
        lower = n * (msb - f_upper * mse) / (f_upper * rater_error + n * msb)
        upper = n * (f_lower * msb - mse) / (rater_error + n * f_lower * msb)
    return _finite_or_nan(lower), _finite_or_nan(upper)
