"""Apply the confirmatory MDS to a study: one fit per model and one over all models' trials.

``study_variables`` builds, for each model, the table of respondents (trials) by
variables (the 19 values, or the 57 items) that ``llmvalues.structure`` fits;
``analyze_structure`` fits every unit and collects the metrics and tidy tables
that the structure stage writes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import pandas as pd

from .structure import (
    MDSSettings,
    configuration_table,
    fit_structure,
    item_theory,
    permutation_test,
    random_stress,
    summarize_fit,
    value_theory,
)
from .values import CIRCLE_ORDER, SCORING_KEY, VALUE_BY_CODE

# Model slugs cannot contain "_", so this unit name never clashes with a model.
POOLED = "all_models"


@dataclass
class StructureStudy:
    """Everything the structure stage writes: metrics and tidy tables."""

    metrics: dict[str, Any]
    configurations: pd.DataFrame
    permutations: pd.DataFrame
    random_stress: pd.DataFrame
    correlations: pd.DataFrame


def settings_from_params(structure: dict[str, Any]) -> MDSSettings:
    """Build the MDS settings from the validated ``structure`` section of params.yaml."""
    return MDSSettings(
        kind=structure["type"],
        ties=structure["ties"],
        dissimilarity=structure["dissimilarity"],
        init=structure["init"],
        random_starts=structure["random_starts"],
        seed=structure["seed"],
        eps=structure["eps"],
        max_iterations=structure["max_iterations"],
    )


def study_variables(scores: pd.DataFrame, models: list[str], *, level: str, kind: str,
                    ratings: pd.DataFrame | None = None) -> dict[str, pd.DataFrame]:
    """Return, per model, a trials x variables table for the MDS, plus the pooled table when asked.

    Parameters
    ----------
    scores : DataFrame
        The scores table (one row per model and trial, ``<CODE>_raw``,
        ``<CODE>_centered`` and ``mrat`` columns).
    models : list of str
        Models in params.yaml order.
    level : {"value", "item"}
        Value level: the 19 value scores, columns the value codes in circle
        order. Item level: the 57 ratings, columns the item numbers as text in
        circle order of their values.
    kind : {"centered", "raw"}
        Centered scores subtract each trial's MRAT (for items: the rating minus MRAT).
    ratings : DataFrame, optional
        Item level only: ``llmvalues.cleaning.ratings_table`` (index model, trial).
    """
    tables: dict[str, pd.DataFrame] = {}
    for model in models:
        trials = scores[scores["model"] == model].set_index("trial").sort_index()
        if level == "value":
            table = trials[[f"{code}_{kind}" for code in CIRCLE_ORDER]]
            table.columns = list(CIRCLE_ORDER)
        else:
            if ratings is None:
                raise ValueError("item level needs the ratings table")
            items = [item for code in CIRCLE_ORDER for item in VALUE_BY_CODE[code].items]
            model_ratings = ratings.xs(model, level="model") if model in ratings.index.get_level_values("model") \
                else pd.DataFrame(columns=items, dtype=float)
            table = model_ratings.reindex(index=trials.index, columns=items).astype(float)
            if kind == "centered":
                table = table.sub(trials["mrat"], axis=0)
            table.columns = [str(item) for item in items]
        tables[model] = table.astype(float)
    return tables


def analyze_structure(tables: dict[str, pd.DataFrame], *, level: str, settings: MDSSettings, pooled: bool,
                      permutations: int, replications: int, seed: int, warn_below_trials: int,
                      uncentered: dict[str, pd.DataFrame] | None = None,
                      log: Callable[[str], None] = lambda message: None) -> StructureStudy:
    """Fit the confirmatory MDS for each model (and pooled) and collect metrics and tables.

    ``tables`` contains the scores the maps are fitted to. When they are centered,
    pass the same trials' uncentered scores as ``uncentered``: the permutation
    test shuffles those and re-centers each permuted trial.

    A model that cannot be fitted (fewer than 3 complete trials, fewer than 3
    variables with variance) gets its reason in the metrics instead of a map.
    The permutation test of each unit uses its own seed derived from ``seed``
    and the unit's position, and the random-stress norm is computed once per
    number of points.
    """
    if level == "value":
        theory = value_theory(list(CIRCLE_ORDER))
        circle_of = None
    else:
        items_by_value = {code: list(VALUE_BY_CODE[code].items) for code in CIRCLE_ORDER}
        theory = item_theory(items_by_value)
        circle_of = {str(item): SCORING_KEY[item] for item in SCORING_KEY}

    units = dict(tables)
    originals = dict(uncentered) if uncentered is not None else dict(tables)
    if pooled and len(tables) > 1:
        units[POOLED] = pd.concat(list(tables.values()), axis=0, ignore_index=True)
        originals[POOLED] = pd.concat([originals[unit] for unit in tables], axis=0, ignore_index=True)

    metrics: dict[str, Any] = {"level": level, "settings": _settings_metrics(settings), "units": {}}
    configurations, permuted_rows, correlation_rows = [], [], []
    norms: dict[int, np.ndarray] = {}
    for position, (unit, data) in enumerate(units.items()):
        try:
            fit = fit_structure(data, theory, settings, warn_below_cases=warn_below_trials, circle_of=circle_of)
        except ValueError as error:
            log(f"structure: {unit}: not fitted: {error}")
            metrics["units"][unit] = {"fitted": False, "reason": str(error)}
            continue
        for warning in fit.warnings:
            log(f"structure: {unit}: warning: {warning}")

        permuted = None
        if permutations:
            complete = data.notna().all(axis=1) & originals[unit].notna().all(axis=1)
            permuted = permutation_test(originals[unit][complete], theory, settings, permutations=permutations,
                                        seed=seed + 1000 * (position + 1), recenter=uncentered is not None,
                                        keep=fit.labels, circle_of=circle_of)
            permuted_rows += [{"unit": unit, "permutation": index + 1, **row}
                              for index, row in enumerate(permuted.to_dict("records"))]
        norm = None
        if replications:
            n_points = len(fit.labels)
            if n_points not in norms:
                norms[n_points] = random_stress(n_points, replications=replications, seed=seed + n_points,
                                                kind=settings.kind, ties=settings.ties)
            norm = norms[n_points]

        metrics["units"][unit] = {"fitted": True, **summarize_fit(fit, permuted, norm)}
        configurations.append(configuration_table(unit, fit, circle_of))
        upper = np.triu_indices(len(fit.labels), k=1)
        correlation_rows += [
            {"unit": unit, "first": fit.labels[i], "second": fit.labels[j], "r": fit.correlations[i, j],
             "dissimilarity": fit.dissimilarities[i, j], "disparity": fit.mds.disparities[i, j],
             "distance": fit.mds.distances[i, j]}
            for i, j in zip(*upper)
        ]

    norm_rows = [{"n_points": n_points, "replication": index + 1, "stress1": value}
                 for n_points, values in sorted(norms.items()) for index, value in enumerate(values)]
    return StructureStudy(
        metrics=metrics,
        configurations=pd.concat(configurations, ignore_index=True) if configurations
        else pd.DataFrame(columns=["unit", "point", "value"]),
        permutations=pd.DataFrame(permuted_rows, columns=["unit", "permutation", "stress1", "congruence",
                                                         "n_out_of_order"]),
        random_stress=pd.DataFrame(norm_rows, columns=["n_points", "replication", "stress1"]),
        correlations=pd.DataFrame(correlation_rows, columns=["unit", "first", "second", "r", "dissimilarity",
                                                             "disparity", "distance"]),
    )


def _settings_metrics(settings: MDSSettings) -> dict[str, Any]:
    return {
        "type": settings.kind,
        "ties": settings.ties,
        "dissimilarity": settings.dissimilarity,
        "init": settings.init if isinstance(settings.init, str) else "given",
        "random_starts": settings.random_starts,
        "eps": settings.eps,
        "max_iterations": settings.max_iterations,
        "stress": "stress-1 as R's smacof reports it: sqrt(sum (disparity - distance)^2 / (n(n-1)/2)) "
                  "with disparities scaled to a sum of squares of n(n-1)/2",
    }
