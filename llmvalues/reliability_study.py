"""Apply the reliability statistics to a study: per model, each value's scale and the retest agreement."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from .reliability import RETEST_COLUMNS, VALUE_RELIABILITY_COLUMNS, retest_reliability, value_reliability

# The retest ICCs shown first: two-way random effects, absolute agreement, because a
# model that responds alike in every trial should give the same ratings, not merely
# rank the items alike.
HEADLINE_ICCS = ("ICC2", "ICC2k")


@dataclass
class ReliabilityStudy:
    """Everything the reliability stage writes."""

    metrics: dict[str, Any]
    values: pd.DataFrame
    retest: pd.DataFrame


def analyze_reliability(ratings: pd.DataFrame, models: list[str], *, level: float) -> ReliabilityStudy:
    """Compute each model's value reliabilities and retest ICCs from the ratings table.

    Parameters
    ----------
    ratings : DataFrame
        ``llmvalues.cleaning.ratings_table``: index (model, trial), columns items 1-57.
    models : list of str
        Models in params.yaml order; a model without ratings gets rows of NaN with a reason.
    level : float
        Confidence level of the Feldt and ICC intervals.
    """
    value_tables, retest_tables = [], []
    metrics: dict[str, Any] = {"confidence": level, "models": {}}
    present = set(ratings.index.get_level_values("model")) if len(ratings) else set()
    for model in models:
        trials = ratings.xs(model, level="model") if model in present else ratings.iloc[0:0].droplevel("model")
        values = value_reliability(trials, level=level)
        retest = retest_reliability(trials, level=level)
        value_tables.append(values.assign(model=model))
        retest_tables.append(retest.assign(model=model))
        metrics["models"][model] = _model_metrics(values, retest)
    return ReliabilityStudy(
        metrics=metrics,
        values=pd.concat(value_tables, ignore_index=True)[["model", *VALUE_RELIABILITY_COLUMNS]],
        retest=pd.concat(retest_tables, ignore_index=True)[["model", *RETEST_COLUMNS]],
    )


def _model_metrics(values: pd.DataFrame, retest: pd.DataFrame) -> dict[str, Any]:
    alpha = values["alpha_raw"]
    summary: dict[str, Any] = {
        "values": {
            row.value: {
                "n": int(row.n),
                "alpha_raw": row.alpha_raw,
                "alpha_std": row.alpha_std,
                "feldt_ci": [row.feldt_lower, row.feldt_upper],
                "omega_total": row.omega_total,
                "constant_items": row.constant_items,
                "reason": row.reason,
            }
            for row in values.itertuples(index=False)
        },
        "alpha_raw_median": float(alpha.median()) if alpha.notna().any() else float("nan"),
        "values_without_alpha": [row.value for row in values.itertuples(index=False) if pd.isna(row.alpha_raw)],
    }
    headline = retest.set_index("type")
    summary["retest"] = {
        name: {
            "icc": headline.loc[name, "icc"],
            "ci": [headline.loc[name, "lower"], headline.loc[name, "upper"]],
            "form": headline.loc[name, "form"],
        }
        for name in HEADLINE_ICCS
    }
    summary["retest"]["n_items"] = int(retest["n_items"].iloc[0])
    summary["retest"]["n_trials"] = int(retest["n_trials"].iloc[0])
    summary["retest"]["reason"] = retest["reason"].iloc[0]
    return summary
