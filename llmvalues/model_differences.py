"""Tests per value of whether models differ: Welch's ANOVA, Kruskal-Wallis and Games-Howell pairs.

The tests come from statsmodels (Welch's ANOVA), scipy (Kruskal-Wallis) and
pingouin 0.7.0 (Games-Howell). This module decides when a test is defined and collects the
results in tidy tables. A value on which a model never varies, or a study with
one model, gives NaN with a note instead of an exception. Welch's ANOVA and the
Games-Howell pairs weight each model by the inverse of its variance, so a model
with zero variance leaves them undefined. Kruskal-Wallis works on ranks and
stays defined unless every score is equal.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import pandas as pd
import pingouin
from scipy import stats
from statsmodels.stats.oneway import anova_oneway

from .compare import correct_p_values

VALUE_TEST_COLUMNS = (
    "value", "n_models", "n", "welch_f", "welch_df1", "welch_df2", "welch_p", "welch_p_corrected", "eta_squared",
    "kruskal_h", "kruskal_df", "kruskal_p", "kruskal_p_corrected", "epsilon_squared", "note",
)
PAIR_COLUMNS = ("value", "first", "second", "mean_difference", "se", "t", "df", "p", "hedges_g", "note")


def value_tests(scores: pd.DataFrame, models: list[str], *, correction: str = "holm",
                pairs: bool = True) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Test, per value, whether the models' centered scores differ.

    Parameters
    ----------
    scores : DataFrame
        One row per trial with a ``model`` column and one column per value code.
    models : list of str
        The models to compare, in order; others in ``scores`` are ignored.
    correction : {"holm", "bh"}
        Correction of the Welch and Kruskal-Wallis p values over the values.
    pairs : bool
        Whether to run the Games-Howell pairs (the second table is empty without them).

    Returns
    -------
    (DataFrame, DataFrame)
        Per value (``VALUE_TEST_COLUMNS``): Welch's F with its degrees of freedom,
        p, corrected p and eta squared (between-model over total sum of squares); Kruskal-Wallis H, its
        degrees of freedom, p, corrected p and epsilon squared, H / (n - 1). Per
        value and pair of models (``PAIR_COLUMNS``): the Games-Howell test, with
        the mean difference first minus second and Hedges' g.
    """
    codes = [column for column in scores.columns if column != "model"]
    rows, pair_rows = [], []
    for code in codes:
        row, value_pairs = _one_value(scores, models, code, pairs)
        rows.append(row)
        pair_rows += value_pairs
    table = pd.DataFrame(rows, columns=list(VALUE_TEST_COLUMNS))
    table["welch_p_corrected"] = correct_p_values(table["welch_p"], correction)
    table["kruskal_p_corrected"] = correct_p_values(table["kruskal_p"], correction)
    return table, pd.DataFrame(pair_rows, columns=list(PAIR_COLUMNS))


def _one_value(scores: pd.DataFrame, models: list[str], code: str,
               with_pairs: bool) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    data = scores.loc[scores["model"].isin(models), ["model", code]].dropna()
    groups = {model: data.loc[data["model"] == model, code].to_numpy(dtype=float) for model in models}
    groups = {model: values for model, values in groups.items() if values.size}
    row: dict[str, Any] = {column: math.nan for column in VALUE_TEST_COLUMNS}
    row.update(value=code, n_models=len(groups), n=int(sum(values.size for values in groups.values())))
    notes = []

    if len(groups) < 2:
        row["note"] = "needs scores from at least 2 models"
        return row, []
    all_scores = np.concatenate(list(groups.values()))
    if np.ptp(all_scores) == 0:
        row["note"] = "every trial of every model has the same score"
        return row, []

    kruskal = stats.kruskal(*groups.values())
    row.update(kruskal_h=float(kruskal.statistic), kruskal_df=len(groups) - 1, kruskal_p=float(kruskal.pvalue),
               epsilon_squared=float(kruskal.statistic) / (row["n"] - 1))

    small = [model for model, values in groups.items() if values.size < 2]
    constant = [model for model, values in groups.items() if values.size >= 2 and np.ptp(values) == 0]
    if small:
        notes.append(f"fewer than 2 trials for {', '.join(small)}: Welch's ANOVA and Games-Howell are undefined")
    if constant:
        notes.append(f"no variance across trials for {', '.join(constant)}: Welch's ANOVA and Games-Howell "
                     "are undefined")
    pairs: list[dict[str, Any]] = []
    if not small and not constant:
        welch = anova_oneway(list(groups.values()), use_var="unequal", welch_correction=True)
        between = sum(values.size * (values.mean() - all_scores.mean()) ** 2 for values in groups.values())
        row.update(welch_f=float(welch.statistic), welch_df1=float(welch.df[0]), welch_df2=float(welch.df[1]),
                   welch_p=float(welch.pvalue), eta_squared=between / np.sum((all_scores - all_scores.mean()) ** 2))
        if with_pairs:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", category=FutureWarning)
                pairs = _games_howell(data, code, list(groups))
    row["note"] = "; ".join(notes)
    return row, pairs


def _games_howell(data: pd.DataFrame, code: str, models: list[str]) -> list[dict[str, Any]]:
    result = pingouin.pairwise_gameshowell(data=data, dv=code, between="model")
    order = {model: position for position, model in enumerate(models)}
    pairs = []
    for row in result.itertuples(index=False):
        first, second = str(row.A), str(row.B)
        sign = 1.0
        if order[first] > order[second]:  # report pairs in params.yaml order
            first, second, sign = second, first, -1.0
        pairs.append({"value": code, "first": first, "second": second, "mean_difference": sign * float(row.diff),
                      "se": float(row.se), "t": sign * float(row.T), "df": float(row.df), "p": float(row.pval),
                      "hedges_g": sign * float(row.hedges), "note": ""})
    return sorted(pairs, key=lambda pair: (order[pair["first"]], order[pair["second"]]))
