"""Apply the comparisons to a study: each model against the human norms, the models against each other,
and the discriminant analysis, collected as the compare stage writes them.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Any

import pandas as pd

from .compare import hierarchy_agreement, place_among_groups, versus_norms
from .discriminant import DiscriminantResult, discriminant_analysis
from .model_differences import value_tests
from .norms import Norms
from .values import CIRCLE_ORDER

# The level at which a corrected p value counts as a difference in the metrics and the report.
SIGNIFICANCE = 0.05


@dataclass
class CompareStudy:
    """Everything the compare stage writes."""

    metrics: dict[str, Any]
    norms: pd.DataFrame
    value_tests: pd.DataFrame
    pairs: pd.DataFrame
    discriminant: DiscriminantResult | None

    def group_placement(self) -> pd.DataFrame | None:
        """Return per model and value the percentile among group means, and per model the nearest group.

        One row per model and value (``percentile``), plus one row per model and
        group with the profile ``distance``; None when the norms have no groups.
        """
        rows = []
        for model, entry in self.metrics["models"].items():
            if "groups" not in entry:
                return None
            placement = entry["groups"]
            rows += [{"model": model, "group": "", "value": code, "percentile": percentile, "distance": None,
                      "nearest": False} for code, percentile in placement["percentiles"].items()]
            rows += [{"model": model, "group": group, "value": "", "percentile": None, "distance": distance,
                      "nearest": group == placement["nearest_group"]}
                     for group, distance in placement["distances"].items()]
        return pd.DataFrame(rows) if rows else None


def value_table(scores: pd.DataFrame, model: str, kind: str) -> pd.DataFrame:
    """Return one model's trials x 19 values table of ``kind`` scores (centered or raw), values in circle order."""
    trials = scores[scores["model"] == model].sort_values("trial")
    table = trials[[f"{code}_{kind}" for code in CIRCLE_ORDER]].astype(float)
    table.columns = list(CIRCLE_ORDER)
    return table.reset_index(drop=True)


def analyze_compare(scores: pd.DataFrame, models: list[str], norms: Norms, *, correction: str, bootstrap: int,
                    seed: int, lda_solver: str, lda_permutations: int, confidence: float = 0.95) -> CompareStudy:
    """Run every comparison of the compare stage.

    Parameters
    ----------
    scores : DataFrame
        The scores table (one row per model and trial).
    models : list of str
        Models in params.yaml order.
    norms : Norms
        The human norms (overall means, optional SDs and per-group means).
    correction : {"holm", "bh"}
        Correction over the 19 values, for the tests against the norms and between models.
    bootstrap, seed : int
        Bootstrap resamples of the hierarchy agreement, and the seed of every random step.
    lda_solver : {"auto", "svd", "shrinkage"}
    lda_permutations : int
        Permutations of the model labels to test the leave-one-out accuracy.
    confidence : float
        Level of the intervals of the differences from the norms and of Spearman's rho.
    """
    human_sds = _overall_sds(norms)
    group_means = _group_means(norms)
    metrics: dict[str, Any] = {"correction": correction, "confidence": confidence, "alpha": SIGNIFICANCE,
                               "human_means_sum": float(norms.means.sum()),
                               "human_sd": human_sds is not None, "models": {}, "between_models": {},
                               "discriminant": {}}

    norm_tables = []
    for model in models:
        centered = value_table(scores, model, "centered")
        table = versus_norms(centered, norms.means, human_sds, correction=correction, confidence=confidence)
        norm_tables.append(table.assign(model=model))
        # Seeded by the model's name, so a model's interval does not change when others are added.
        agreement = hierarchy_agreement(centered, norms.means, bootstrap=bootstrap,
                                        seed=seed + zlib.crc32(model.encode("utf-8")), level=confidence)
        entry: dict[str, Any] = {
            "n_trials": int(len(centered)),
            "hierarchy": agreement,
            "values_above_humans": _significant(table, above=True),
            "values_below_humans": _significant(table, above=False),
        }
        # Counts, so that dvc metrics diff shows a change in what is significant.
        entry["n_values_above_humans"] = len(entry["values_above_humans"])
        entry["n_values_below_humans"] = len(entry["values_below_humans"])
        if group_means is not None:
            entry["groups"] = place_among_groups(centered.mean(axis=0), group_means)
        metrics["models"][model] = entry

    long = pd.concat([value_table(scores, model, "centered").assign(model=model) for model in models],
                     ignore_index=True)
    tests, pairs = value_tests(long, models, correction=correction)
    metrics["between_models"] = {
        "n_models": len(models),
        "values_differing_welch": tests.loc[tests["welch_p_corrected"] < SIGNIFICANCE, "value"].tolist(),
        "values_differing_kruskal": tests.loc[tests["kruskal_p_corrected"] < SIGNIFICANCE, "value"].tolist(),
    }
    for test in ("welch", "kruskal"):
        metrics["between_models"][f"n_values_differing_{test}"] = len(metrics["between_models"][f"values_differing_{test}"])

    discriminant = None
    raw = pd.concat([value_table(scores, model, "raw").assign(model=model) for model in models], ignore_index=True)
    try:
        discriminant = discriminant_analysis(raw[list(CIRCLE_ORDER)], raw["model"], solver=lda_solver,
                                             permutations=lda_permutations, seed=seed)
    except ValueError as error:
        metrics["discriminant"] = {"fitted": False, "reason": str(error)}
    else:
        metrics["discriminant"] = {
            "fitted": True,
            **_baselines(scores, models, lda_solver),
            "solver": discriminant.solver,
            "solver_reason": discriminant.solver_reason,
            "n_trials": discriminant.n_cases,
            "loo_accuracy": discriminant.loo_accuracy,
            "training_accuracy": discriminant.training_accuracy,
            "proportion_of_trace": discriminant.proportion_of_trace,
            "dropped": discriminant.dropped,
            "permutation": discriminant.permutation,
            "notes": discriminant.notes,
        }

    return CompareStudy(
        metrics=metrics,
        norms=pd.concat(norm_tables, ignore_index=True)[["model", *norm_tables[0].columns.drop("model")]],
        value_tests=tests,
        pairs=pairs,
        discriminant=discriminant,
    )


def _baselines(scores: pd.DataFrame, models: list[str], solver: str) -> dict[str, Any]:
    """Leave-one-out accuracies that show what the raw-score LDA rests on.

    Raw value scores carry each model's overall rating level (MRAT) as well as its
    value priorities. An LDA on MRAT alone measures the first. An LDA on the centered
    scores measures the second, with 18 of them because the 19 sum to 0 per trial.
    """
    table = scores[scores["model"].isin(models)]
    result: dict[str, Any] = {}
    mrat = table[["mrat"]].astype(float)
    centered = table[[f"{code}_centered" for code in CIRCLE_ORDER[:-1]]].astype(float)
    for key, data in (("loo_accuracy_mrat_only", mrat), ("loo_accuracy_centered", centered)):
        try:
            result[key] = discriminant_analysis(data, table["model"], solver=solver).loo_accuracy
        except ValueError:
            result[key] = float("nan")
    return result


def _significant(table: pd.DataFrame, *, above: bool) -> list[str]:
    chosen = table[(table["p_corrected"] < SIGNIFICANCE) & ((table["difference"] > 0) if above else (table["difference"] < 0))]
    return chosen["value"].tolist()


def _overall_sds(norms: Norms) -> pd.Series | None:
    overall = norms.rows[norms.rows["group"] == ""]
    if overall.empty or overall["sd"].isna().all():
        return None
    return overall.set_index("value")["sd"]


def _group_means(norms: Norms) -> pd.DataFrame | None:
    grouped = norms.rows[norms.rows["group"] != ""]
    if grouped.empty:
        return None
    table = grouped.pivot(index="group", columns="value", values="mean")
    return table[[code for code in CIRCLE_ORDER if code in table.columns]]
