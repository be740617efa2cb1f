"""Compare value profiles: each model against human norms, and the models with each other.

All functions take centered value scores (value minus MRAT), one row per trial,
and are pure: seeds are arguments. A statistic that the data leave undefined
(a model that gives the same score in every trial, a single model) is NaN with
a reason in the ``note`` column, never an exception and never a made-up number.

One trial of a model is one respondent, so the spread over trials is how much
the model's ratings vary between repeated, independent administrations. It is
not the spread between people, and the tests here say nothing about people.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.stats.multitest import multipletests

CORRECTIONS = {"holm": "holm", "bh": "fdr_bh"}

NORM_COLUMNS = (
    "value", "n", "mean", "sd", "human_mean", "difference", "ci_lower", "ci_upper", "t", "df", "p", "p_corrected",
    "d_model_sd", "d_human_sd", "note",
)


def correct_p_values(p_values: pd.Series, method: str = "holm") -> pd.Series:
    """Correct p values for multiple tests (``holm`` or ``bh``); NaN entries stay NaN and are not counted."""
    if method not in CORRECTIONS:
        raise ValueError(f"method must be one of {', '.join(CORRECTIONS)}, got {method!r}")
    corrected = pd.Series(np.nan, index=p_values.index, dtype=float)
    present = p_values.notna()
    if present.any():
        corrected[present] = multipletests(p_values[present].to_numpy(dtype=float), method=CORRECTIONS[method])[1]
    return corrected


def versus_norms(scores: pd.DataFrame, human_means: pd.Series, human_sds: pd.Series | None = None, *,
                 correction: str = "holm", confidence: float = 0.95) -> pd.DataFrame:
    """Test each value of one model against the human mean.

    Parameters
    ----------
    scores : DataFrame
        One row per trial, one column per value code, centered scores. NaN
        scores are left out of that value's test.
    human_means : Series
        The human mean of each value, indexed by value code.
    human_sds : Series, optional
        The human SD of each value; when given, Cohen's d is also computed over it.
    correction : {"holm", "bh"}
        The correction over the values tested.
    confidence : float
        The level of the t interval of the difference.

    Returns
    -------
    DataFrame
        One row per value (the columns of ``scores`` in order) with ``NORM_COLUMNS``.
        They hold the model's mean and SD over trials, the human mean and the
        difference (model minus human) with its t interval (``ci_lower``,
        ``ci_upper``: R's ``t.test(x, mu = human)$conf.int`` minus the human
        mean). Then come the one-sample t test of the
        trial scores against the human mean (t, df, p and the corrected p) and
        Cohen's d: the difference over the SD of the model's trial scores and,
        with human SDs, over the human SD.
    """
    rows = []
    for code in scores.columns:
        observed = scores[code].dropna().to_numpy(dtype=float)
        n = observed.size
        human = float(human_means.get(code, math.nan))
        mean = float(observed.mean()) if n else math.nan
        sd = float(observed.std(ddof=1)) if n >= 2 else math.nan
        difference = mean - human
        row: dict[str, Any] = {"value": code, "n": n, "mean": mean, "sd": sd, "human_mean": human,
                               "difference": difference, "ci_lower": math.nan, "ci_upper": math.nan, "t": math.nan, "df": math.nan, "p": math.nan,
                               "d_model_sd": math.nan, "d_human_sd": math.nan, "note": ""}
        if math.isnan(human):
            row["note"] = "no human mean for this value"
        elif n < 2:
            row["note"] = f"{n} trial{'s' if n != 1 else ''} with a score; the t test needs at least 2"
        elif sd == 0:
            row["note"] = "no variance across trials: the t test and the d over the model's SD are undefined"
        else:
            result = stats.ttest_1samp(observed, human)
            interval = result.confidence_interval(confidence)
            row.update(t=float(result.statistic), df=n - 1, p=float(result.pvalue), d_model_sd=difference / sd,
                       ci_lower=float(interval.low) - human, ci_upper=float(interval.high) - human)
        if human_sds is not None and not math.isnan(difference):
            human_sd = float(human_sds.get(code, math.nan))
            if human_sd > 0:
                row["d_human_sd"] = difference / human_sd
        rows.append(row)
    table = pd.DataFrame(rows)
    table["p_corrected"] = correct_p_values(table["p"], correction)
    return table[list(NORM_COLUMNS)]


def hierarchy_agreement(scores: pd.DataFrame, human_means: pd.Series, *, bootstrap: int, seed: int,
                        level: float = 0.95) -> dict[str, Any]:
    """Compare the order of a model's mean profile with the human order, and measure their distance.

    Spearman's rho between the model's mean centered scores and the human means,
    with a percentile bootstrap interval: trials are resampled with replacement
    ``bootstrap`` times (seeded) and rho recomputed from each resampled mean
    profile. A resample whose profile has no variation gives no rho and is left
    out; ``bootstrap_used`` counts the others. The profile distance is the
    Euclidean distance between the mean profile and the human means, and the
    mean absolute difference is given beside it. Only values with a score and a
    human mean count, and only trials with every such value.
    """
    codes = [code for code in scores.columns if code in human_means.index and not math.isnan(human_means[code])]
    complete = scores[codes].dropna()
    result: dict[str, Any] = {"n_trials": len(complete), "n_values": len(codes), "rho": math.nan,
                              "rho_ci": [math.nan, math.nan], "bootstrap": bootstrap, "bootstrap_used": 0,
                              "distance": math.nan, "mean_absolute_difference": math.nan, "note": ""}
    if len(complete) == 0 or len(codes) < 3:
        result["note"] = "needs at least one complete trial and 3 values with a human mean"
        return result

    human = human_means[codes].to_numpy(dtype=float)
    profile = complete.mean(axis=0).to_numpy(dtype=float)
    result["distance"] = float(np.sqrt(np.sum((profile - human) ** 2)))
    result["mean_absolute_difference"] = float(np.mean(np.abs(profile - human)))
    if np.ptp(profile) == 0:
        result["note"] = "the mean profile is flat, so its order is undefined"
        return result
    result["rho"] = float(stats.spearmanr(profile, human).statistic)

    generator = np.random.default_rng(seed)
    values = complete.to_numpy(dtype=float)
    rhos = []
    for _ in range(bootstrap):
        sample = values[generator.integers(0, len(values), size=len(values))].mean(axis=0)
        if np.ptp(sample) > 0:
            rhos.append(stats.spearmanr(sample, human).statistic)
    result["bootstrap_used"] = len(rhos)
    if rhos:
        tail = (1.0 - level) / 2.0
        result["rho_ci"] = [float(np.quantile(rhos, tail)), float(np.quantile(rhos, 1.0 - tail))]
    if len(complete) < 2:
        result["note"] = "one trial: the bootstrap interval is a single point"
    return result


def place_among_groups(profile: pd.Series, group_means: pd.DataFrame) -> dict[str, Any]:
    """Place a model's mean profile among per-group human means.

    Parameters
    ----------
    profile : Series
        The model's mean centered score per value code.
    group_means : DataFrame
        One row per group (index the group name), one column per value code.

    Returns
    -------
    dict
        ``percentiles`` gives, per value, the percentage of groups whose mean is
        below the model's, ties counting half. ``nearest_group`` and
        ``nearest_distance`` name the group whose profile is closest in Euclidean
        distance over the values both have. ``distances`` gives the distance to
        every group.
    """
    codes = [code for code in group_means.columns if code in profile.index and not math.isnan(profile[code])]
    percentiles = {}
    for code in codes:
        column = group_means[code].dropna().to_numpy(dtype=float)
        if column.size:
            below = np.sum(column < profile[code]) + 0.5 * np.sum(column == profile[code])
            percentiles[code] = float(100.0 * below / column.size)
    distances = {}
    for group, row in group_means.iterrows():
        shared = [code for code in codes if not math.isnan(row[code])]
        if shared:
            distances[str(group)] = float(np.sqrt(np.sum((profile[shared].to_numpy(dtype=float)
                                                         - row[shared].to_numpy(dtype=float)) ** 2)))
    nearest = min(distances, key=distances.get) if distances else None
    return {"percentiles": percentiles, "nearest_group": nearest,
            "nearest_distance": distances[nearest] if nearest else math.nan, "distances": distances}
