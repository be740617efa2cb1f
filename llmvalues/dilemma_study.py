"""The dilemma analysis of a study: join each answer to the model's value scores and fit the models.

For each counted answer to a (model, trial, dilemma) the predictor ``value_diff``
is the model's centered score on option A's value minus its centered score on
option B's value: from the same trial's questionnaire (``predictor: trial``) or
from the model's mean profile over all trials (``predictor: profile``). The
outcomes are the side chosen (``chose_a``) and the strength of the preference
(6 = definitely A). The statistics are in ``llmvalues.dilemma_stats``.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import special

from .dilemma_answers import DILEMMA_STATUSES, FILE_ORDER, NO_CHOICE, counted_choices, status_counts
from .dilemma_stats import (
    INTERCEPT, SLOPE, LeaveOneOut, PermutationTest, SlopeFit, fit_side_logit, fit_strength_ordinal,
    leave_one_dilemma_out, permutation_test_by_dilemma, position_bias, profile_consistency,
)
from .dilemmas import DilemmaSet
from .errors import InputError
from .values import CIRCLE_ORDER

PREDICTORS = ("trial", "profile")
# The side regression with each model's position effect as covariates.
POSITION_ADJUSTED = "side_position_adjusted"
POOLED = "all_models"
CURVE_POINTS = 101

# The analysed answers as the stage writes them: the input of the regressions.
ANALYSED_COLUMNS = (
    "model", "trial", "dilemma", "value_a", "value_b", "shown_order", "value_diff", "chose_a", "strength",
    "chose_shown_first",
)
COEFFICIENT_COLUMNS = (
    "scope", "outcome", "term", "coef", "se_model", "se_cluster", "se_cluster_hc0", "n", "dilemmas", "note",
)
FIT_COLUMNS = (
    "scope", "outcome", "n", "dilemmas", "slope", "se_cluster", "z", "p", "ci_low", "ci_high", "odds_ratio",
    "odds_ratio_low", "odds_ratio_high", "mcfadden_r2", "mcfadden_r2_value_diff", "lr_value_diff",
    "lr_value_diff_p", "permutation_p", "permutations", "permutation_seed", "note",
)


@dataclass
class DilemmaStudy:
    """Everything the dilemmas stage writes: tables, the figure's data and the metrics."""

    data: pd.DataFrame  # the analysed answers, with value_diff
    fits: pd.DataFrame  # one row per (scope, outcome): slope, interval, odds ratio, pseudo-R2
    coefficients: pd.DataFrame  # every term of every fit
    per_model: pd.DataFrame  # answers, statuses, consistency and position bias per model
    per_dilemma: pd.DataFrame  # share of A choices and mean strength per (dilemma, model)
    folds: pd.DataFrame  # leave-one-dilemma-out accuracy per held-out dilemma
    curves: pd.DataFrame  # fitted probability of choosing A per model, for the figure
    metrics: dict[str, Any] = field(default_factory=dict)


def value_differences(choices: pd.DataFrame, scores: pd.DataFrame, predictor: str) -> pd.DataFrame:
    """Add ``value_diff`` to the counted answers; NaN where the model's scores are missing.

    The difference of two centered scores of one trial equals the difference of
    their raw scores, because both subtract the same MRAT. It is computed from the
    ``<CODE>_raw`` columns of ``scores`` (one row per model and trial), so a trial
    with too few valid items for MRAT still has value differences. With
    ``predictor="profile"`` every trial of a model gets the difference of the
    model's mean scores over the trials where each value could be scored.
    """
    if predictor not in PREDICTORS:
        raise ValueError(f"predictor must be one of {', '.join(PREDICTORS)}, got {predictor!r}")
    columns = [f"{code}_raw" for code in CIRCLE_ORDER]
    if predictor == "trial":
        lookup = scores.set_index(["model", "trial"])[columns]
        keys = pd.MultiIndex.from_frame(choices[["model", "trial"]])
    else:
        lookup = scores.groupby("model")[columns].mean()
        keys = pd.Index(choices["model"])
    aligned = lookup.reindex(keys)
    a_scores = _pick(aligned, choices["value_a"])
    b_scores = _pick(aligned, choices["value_b"])
    return choices.assign(value_diff=a_scores - b_scores)


def value_difference_table(scores: pd.DataFrame, dilemma_set: DilemmaSet, predictor: str) -> pd.DataFrame:
    """Return every model's value difference in every trial on every dilemma.

    One row per (model, trial) of ``scores``, one column per dilemma id: what the
    permutation test assigns when it gives a row the value difference of another
    dilemma, whether or not that dilemma was answered.
    """
    cells = pd.DataFrame([{"model": model, "trial": trial, "value_a": dilemma.value_a, "value_b": dilemma.value_b,
                           "dilemma": dilemma.id}
                          for model, trial in scores[["model", "trial"]].itertuples(index=False)
                          for dilemma in dilemma_set.dilemmas])
    if cells.empty:
        return pd.DataFrame(index=pd.MultiIndex.from_arrays([[], []], names=["model", "trial"]))
    cells = value_differences(cells, scores, predictor)
    table = cells.pivot(index=["model", "trial"], columns="dilemma", values="value_diff")
    return table[list(dilemma_set.ids)]


def _pick(aligned: pd.DataFrame, codes: pd.Series) -> np.ndarray:
    """Return, row by row, the centered score of the value named in ``codes``."""
    positions = [CIRCLE_ORDER.index(code) for code in codes]
    return aligned.to_numpy()[np.arange(len(positions)), positions] if positions else np.array([], dtype=float)


def analyze_dilemmas(choices: pd.DataFrame, scores: pd.DataFrame, models: list[str], dilemma_set: DilemmaSet, *,
                     trials: int, predictor: str = "trial", confidence: float = 0.95, permutations: int = 1000,
                     seed: int = 0) -> DilemmaStudy:
    """Fit the side and strength regressions, pooled over models and per model.

    ``choices`` is the table of ``llmvalues.dilemma_answers.choices_table`` and
    ``trials`` the number of trials each model was asked (``collect.trials``), so
    that answers never collected count as missing.
    """
    missing = [f"{code}_raw" for code in CIRCLE_ORDER if f"{code}_raw" not in scores.columns]
    if missing:
        raise InputError("data/scores/values.csv", f"column '{missing[0]}'", "missing column",
                         "run the score stage again: dvc repro score")
    for model in models:
        if not (choices["model"] == model).any():
            raise InputError(f"data/raw/{model}.jsonl", None, f"no dilemma answers for model '{model}'",
                             "re-run collect for this model (dvc repro collect) so that it answers the dilemmas")
    counted = counted_choices(choices)
    data = value_differences(counted, scores, predictor)
    missing_scores = data["value_diff"].isna()
    analysed = data[~missing_scores].reset_index(drop=True)

    fit_rows: list[dict[str, Any]] = []
    coefficient_rows: list[pd.DataFrame] = []
    cells = value_difference_table(scores[scores["model"].isin(models)], dilemma_set, predictor)
    pooled = _fit_scope(POOLED, analysed, cells, confidence, permutations, seed, fit_rows, coefficient_rows)
    per_model_fits = {}
    for model in models:
        rows = analysed[analysed["model"] == model]
        per_model_fits[model] = _fit_scope(model, rows, cells, confidence, permutations, seed, fit_rows,
                                           coefficient_rows)
    fits = pd.DataFrame(fit_rows, columns=list(FIT_COLUMNS))
    # Nullable integers, so that a seed is written whole and not as a rounded float.
    fits["permutation_seed"] = fits["permutation_seed"].astype("Int64")
    coefficients = pd.concat(coefficient_rows, ignore_index=True)[list(COEFFICIENT_COLUMNS)]

    lodo = leave_one_dilemma_out(analysed) if len(analysed) else None
    per_model = _per_model_table(choices, analysed, missing_scores, data, models, len(dilemma_set.dilemmas),
                                 trials, confidence)
    study = DilemmaStudy(
        data=analysed,
        fits=fits,
        coefficients=coefficients,
        per_model=per_model,
        per_dilemma=_per_dilemma_table(analysed, models, dilemma_set),
        folds=lodo.folds if lodo is not None else pd.DataFrame(),
        curves=_curves(pooled["side"], analysed, models),
    )
    study.metrics = _metrics(pooled, per_model_fits, lodo, per_model, dilemma_set, trials)
    return study


def _fit_scope(scope: str, rows: pd.DataFrame, cells: pd.DataFrame, confidence: float, permutations: int, seed: int,
               fit_rows: list[dict[str, Any]], coefficient_rows: list[pd.DataFrame]) -> dict[str, Any]:
    """Fit both regressions and the permutation test on ``rows``; append their table rows.

    The permutation test shuffles whole dilemmas: each permutation gives every row the
    value difference its model had, in that trial, on another dilemma. Shuffling rows
    instead would ignore that answers cluster by dilemma and rejects too often. When
    value differences are missing (a trial without some value scores) the test falls
    back to shuffling rows within model, and the note says so.
    """
    side = fit_side_logit(rows, confidence=confidence)
    strength = fit_strength_ordinal(rows, confidence=confidence)
    positioned, covariates = _with_position(rows)
    adjusted = fit_side_logit(positioned, confidence=confidence, covariates=covariates)
    test = None
    if permutations > 0 and not math.isnan(side.slope):
        # A seed per scope, from its name, so that adding a model changes no other model's test.
        scope_seed = seed ^ zlib.crc32(scope.encode())
        test, _ = permutation_test_by_dilemma(rows, permutations=permutations, seed=scope_seed, value_diffs=cells)
    for outcome, fit in (("side", side), ("strength", strength), (POSITION_ADJUSTED, adjusted)):
        fit_rows.append(_fit_row(scope, outcome, fit, test if outcome == "side" else None, permutations))
        terms = fit.table().assign(scope=scope, outcome=outcome, n=fit.n, dilemmas=fit.n_clusters,
                                   note=fit.reason)
        coefficient_rows.append(terms)
    return {"side": side, "strength": strength, POSITION_ADJUSTED: adjusted, "permutation": test}


def _with_position(rows: pd.DataFrame) -> tuple[pd.DataFrame, tuple[str, ...]]:
    """Add a column per model that is 1 where that model was shown option A first.

    With these covariates the side regression gives each model its own position
    effect, so the slope is the value effect at a fixed shown order.
    """
    shown_first = (rows["shown_order"] == FILE_ORDER).astype(float)
    models = sorted(rows["model"].unique())
    if len(models) <= 1:
        return rows.assign(a_shown_first=shown_first), ("a_shown_first",)
    columns = {f"a_shown_first[{model}]": shown_first * (rows["model"] == model) for model in models}
    return rows.assign(**columns), tuple(columns)


def _fit_row(scope: str, outcome: str, fit: SlopeFit, test: PermutationTest | None,
             permutations: int) -> dict[str, Any]:
    notes = [fit.reason] if fit.reason else []
    if test is not None and test.reason:
        notes.append(f"permutation test: {test.reason}")
    elif test is not None and test.shuffle == "rows":
        notes.append("permutation test shuffled rows within model, because some value differences are missing; "
                     "it ignores the clustering by dilemma and can reject too often")
    if outcome == "side" and permutations > 0 and test is None:
        notes.append("no permutation test: the observed fit is undefined")
    return {
        "scope": scope,
        "outcome": outcome,
        "n": fit.n,
        "dilemmas": fit.n_clusters,
        "slope": fit.slope,
        "se_cluster": fit.slope_se,
        "z": fit.z,
        "p": fit.p,
        "ci_low": fit.ci_low,
        "ci_high": fit.ci_high,
        "odds_ratio": fit.odds_ratio,
        "odds_ratio_low": fit.odds_ratio_low,
        "odds_ratio_high": fit.odds_ratio_high,
        "mcfadden_r2": fit.mcfadden_r2,
        "mcfadden_r2_value_diff": fit.mcfadden_r2_value_diff,
        "lr_value_diff": fit.lr_value_diff,
        "lr_value_diff_p": fit.lr_value_diff_p,
        "permutation_p": test.p if test is not None else float("nan"),
        "permutations": test.permutations if test is not None else 0,
        "permutation_seed": test.seed if test is not None else None,
        "note": "; ".join(notes),
    }


def _per_model_table(choices: pd.DataFrame, analysed: pd.DataFrame, missing_scores: pd.Series, data: pd.DataFrame,
                     models: list[str], n_dilemmas: int, trials: int, confidence: float) -> pd.DataFrame:
    """Count the answers per model and add the consistency rate and the position bias."""
    counts = status_counts(choices, models)
    consistency = profile_consistency(analysed, confidence=confidence).set_index("model") if len(analysed) else None
    position = position_bias(analysed, confidence=confidence).set_index("model") if len(analysed) else None
    rows = []
    for model in models:
        used = choices[(choices["model"] == model) & choices["used"]]
        row: dict[str, Any] = {
            "model": model,
            "expected": trials * n_dilemmas,
            "answers": len(used),
            "counted": int(used["counted"].sum()),
            "missing_scores": int(missing_scores[data["model"] == model].sum()),
            "analysed": int((analysed["model"] == model).sum()),
        }
        row.update({f"status_{status}": counts[model][status] for status in DILEMMA_STATUSES})
        for prefix, table in (("consistency", consistency), ("position", position)):
            present = table is not None and model in table.index
            for column in ("n", "share", "ci_low", "ci_high", "p"):
                row[f"{prefix}_{column}"] = table.loc[model, column] if present else float("nan")
            row[f"{prefix}_note"] = table.loc[model, "reason"] if present else "no analysed answers"
        rows.append(row)
    return pd.DataFrame(rows)


def _per_dilemma_table(analysed: pd.DataFrame, models: list[str], dilemma_set: DilemmaSet) -> pd.DataFrame:
    """Summarize each dilemma per model: answers, share choosing A, mean strength and value difference."""
    rows = []
    for dilemma in dilemma_set.dilemmas:
        for model in models:
            answers = analysed[(analysed["dilemma"] == dilemma.id) & (analysed["model"] == model)]
            rows.append({
                "dilemma": dilemma.id,
                "value_a": dilemma.value_a,
                "value_b": dilemma.value_b,
                "model": model,
                "n": len(answers),
                "share_a": answers["chose_a"].mean() if len(answers) else float("nan"),
                "mean_strength": answers["strength"].mean() if len(answers) else float("nan"),
                "mean_value_diff": answers["value_diff"].mean() if len(answers) else float("nan"),
                "share_shown_first": answers["chose_shown_first"].mean() if len(answers) else float("nan"),
            })
    return pd.DataFrame(rows)


def _curves(side: SlopeFit, analysed: pd.DataFrame, models: list[str]) -> pd.DataFrame:
    """Evaluate the pooled side logit per model over the range of its value differences."""
    columns = ["model", "value_diff", "probability"]
    if side.reason or analysed.empty:
        return pd.DataFrame(columns=columns)
    coefficients = dict(zip(side.terms, side.coef))
    frames = []
    for model in models:
        rows = analysed[analysed["model"] == model]
        if rows.empty:
            continue
        grid = np.linspace(rows["value_diff"].min(), rows["value_diff"].max(), CURVE_POINTS)
        intercept = coefficients[INTERCEPT] + coefficients.get(f"model[{model}]", 0.0)
        frames.append(pd.DataFrame({"model": model, "value_diff": grid,
                                    "probability": special.expit(intercept + coefficients[SLOPE] * grid)}))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)


def _fit_metrics(fit: SlopeFit) -> dict[str, Any]:
    return {
        "slope": fit.slope, "se_cluster": fit.slope_se, "p": fit.p, "ci": [fit.ci_low, fit.ci_high],
        "odds_ratio": fit.odds_ratio, "odds_ratio_ci": [fit.odds_ratio_low, fit.odds_ratio_high],
        "mcfadden_r2": fit.mcfadden_r2, "mcfadden_r2_value_diff": fit.mcfadden_r2_value_diff,
        "n": fit.n, "dilemmas": fit.n_clusters, "fitted": not fit.reason,
    }


def _metrics(pooled: dict[str, Any], per_model_fits: dict[str, dict[str, Any]], lodo: LeaveOneOut | None,
             per_model: pd.DataFrame, dilemma_set: DilemmaSet, trials: int) -> dict[str, Any]:
    """Collect the key numbers for ``dvc metrics``: numbers and flags only, the notes are in the tables."""
    def permutation_p(scope: dict[str, Any]) -> float | None:
        return scope["permutation"].p if scope["permutation"] is not None else None

    models = {}
    for row in per_model.to_dict("records"):
        model = row["model"]
        models[model] = {
            "expected": row["expected"],
            "answers": row["answers"],
            "counted": row["counted"],
            "analysed": row["analysed"],
            "no_choice": row[f"status_{NO_CHOICE}"],
            "consistency": row["consistency_share"],
            "consistency_p": row["consistency_p"],
            "position_bias": row["position_share"],
            "position_bias_p": row["position_p"],
            "side": _fit_metrics(per_model_fits[model]["side"]),
            "strength": _fit_metrics(per_model_fits[model]["strength"]),
            POSITION_ADJUSTED: _fit_metrics(per_model_fits[model][POSITION_ADJUSTED]),
            "permutation_p": permutation_p(per_model_fits[model]),
        }
    return {
        "dilemmas": len(dilemma_set.dilemmas),
        "trials": trials,
        "pooled": {
            "side": _fit_metrics(pooled["side"]),
            "strength": _fit_metrics(pooled["strength"]),
            POSITION_ADJUSTED: _fit_metrics(pooled[POSITION_ADJUSTED]),
            "permutation_p": permutation_p(pooled),
            "lodo_accuracy": lodo.accuracy if lodo is not None else None,
            "lodo_baseline_accuracy": lodo.baseline_accuracy if lodo is not None else None,
            "lodo_log_loss": lodo.log_loss if lodo is not None else None,
            "lodo_baseline_log_loss": lodo.baseline_log_loss if lodo is not None else None,
        },
        "models": models,
    }
