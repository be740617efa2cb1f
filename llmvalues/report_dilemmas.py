"""The report's section on the mental-health dilemmas: does a model's value profile predict its choices?

Built from reports/metrics/dilemmas.json, the tables fits.csv and models.csv under
reports/tables/dilemmas/, and the figure reports/figures/dilemmas/choices.svg.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from .document import FigurePlaceholder, Paragraph, Section, Table
from .report_format import MISSING, format_number, format_p, format_percent

DILEMMA_FIGURE_KEY = "dilemmas/choices"
POOLED = "all_models"
POSITION_ADJUSTED = "side_position_adjusted"  # the fits.csv outcome of llmvalues.dilemma_study
ALPHA = 0.05
PREDICTOR_TEXT = {
    "trial": "the model's centered scores in the same trial",
    "profile": "the model's mean centered profile over all trials",
}


def dilemma_section(metrics: dict[str, Any], fits: pd.DataFrame, per_model: pd.DataFrame, models: list[str], *,
                    settings: dict[str, Any], set_name: str, set_original: bool, set_validated: bool, pairs: int,
                    opposing_pairs: int) -> Section:
    """Assemble the section from the dilemmas stage's metrics and tables.

    ``settings`` is the dilemmas section of params.yaml. ``pairs`` counts the value
    pairs of the dilemma set, and ``opposing_pairs`` those whose values come from
    opposing higher-order groups.
    """
    confidence = settings["confidence"]
    level = f"{100 * confidence:g}%"
    validation = "validated" if set_validated else "not validated"
    origin = f"written for this project, {validation}" if set_original else f"supplied by the user, {validation}"
    if opposing_pairs == pairs:
        conflict = (f"a value from the opposing side of the circle ({_count(pairs, 'value pair')}, all from opposing "
                    "higher-order groups)")
    else:
        conflict = (f"another value ({_count(pairs, 'value pair')}, {opposing_pairs} of them from opposing "
                    "higher-order groups)")
    blocks: list[Any] = [Paragraph(
        f"Each model answered {_count(metrics['dilemmas'], 'dilemma')} ({set_name}, {origin}) in each of "
        f"{_count(metrics['trials'], 'trial')}. In each dilemma option A serves one value and option B {conflict}. "
        "The model answered on a 6-point scale from \"definitely option A\" to \"definitely option B\". The order "
        "in which the options were shown alternated over trials, and every result below is in the file's terms: "
        "option A is the dataset's first option wherever it was shown. The predictor is the value difference, the "
        f"centered score of option A's value minus that of option B's value, from "
        f"{PREDICTOR_TEXT[settings['predictor']]}. A positive slope means that the model takes the side of the "
        "value it rates higher.")]
    blocks += _answers(per_model)
    blocks += _regressions(metrics, fits, models, level, settings["permutations"])
    blocks += _consistency(per_model, level)
    blocks.append(FigurePlaceholder(
        caption=("Side taken in each answer (1 = option A, 0 = option B, jittered) against the value difference; "
                 "large markers give each model's share of A answers in six bins of the value difference, and the "
                 "lines each model's fitted probability of choosing option A from the pooled logistic regression."),
        alt="Scatter plot of the side chosen against the value difference, with one fitted curve per model.",
        key=DILEMMA_FIGURE_KEY,
    ))
    return Section("Dilemmas: do value profiles predict choices?", blocks)


def _answers(per_model: pd.DataFrame) -> list[Any]:
    rows = []
    for row in per_model.itertuples(index=False):
        rows.append([
            row.model, str(row.expected), str(row.answers), str(row.counted), str(row.status_no_choice),
            str(row.missing_scores), str(row.analysed),
            _share(row.position_share, row.position_ci_low, row.position_ci_high),
            format_p(row.position_p),
        ])
    return [
        Paragraph("Answers per model: the cells asked (trials x dilemmas), the answers collected, those with a scale "
                  "point (valid or hedged), those that picked both options or neither, those left out because the "
                  "model's scores were missing in that trial, and those analysed. Position bias is the share of "
                  "answers favouring the option shown first, with an exact binomial test against one half. "
                  "Alternating the shown order keeps this bias out of the side taken in value terms, but a strong "
                  "bias leaves little room for the values to show."),
        Table(["model", "asked", "answers", "with a scale point", "both or neither", "no scores", "analysed",
               "shown first [CI]", "p"], rows, [False, True, True, True, True, True, True, True, True]),
    ]


def _regressions(metrics: dict[str, Any], fits: pd.DataFrame, models: list[str], level: str,
                 permutations: int) -> list[Any]:
    rows = []
    for scope in [POOLED] + models:
        for outcome, label in (("side", "side (logit)"), ("strength", "strength (ordinal)"),
                               (POSITION_ADJUSTED, "side, position-adjusted (logit)")):
            match = fits[(fits["scope"] == scope) & (fits["outcome"] == outcome)]
            if match.empty:
                continue
            fit = match.iloc[0]
            rows.append([
                "all models (model fixed effects)" if scope == POOLED else scope,
                label,
                str(int(fit["n"])),
                format_number(fit["slope"]),
                format_number(fit["se_cluster"]),
                _share(fit["odds_ratio"], fit["odds_ratio_low"], fit["odds_ratio_high"], percent=False),
                format_p(fit["p"]),
                format_p(fit["permutation_p"]) if outcome == "side" else "",
                format_number(fit["mcfadden_r2_value_diff"], 3),
                fit["note"] if isinstance(fit["note"], str) else "",
            ])
    pooled = metrics["pooled"]
    accuracy = pooled.get("lodo_accuracy")
    baseline = pooled.get("lodo_baseline_accuracy")
    if permutations:
        permutation_text = (f"The permutation p value comes from {permutations} permutations of the dilemmas: each "
                            "answer takes the value difference its model had, in that trial, on another dilemma, "
                            "and the side regression is refitted. This keeps the clustering of answers by dilemma, "
                            "and with few dilemmas it is the safer p value.")
    else:
        permutation_text = "No permutation test was run (dilemmas.permutations is 0)."
    blocks: list[Any] = [
        Paragraph(
            "Regressions of the side taken (logistic) and of the strength of the preference (cumulative logit, 6 = "
            "definitely A) on the value difference, with a fixed effect per model in the pooled fit. Standard "
            "errors are clustered by dilemma (CR1: the sandwich estimator times G/(G-1) x (N-1)/(N-K), as "
            "sandwich::vcovCL with type HC1 and Stata compute it); z tests and the "
            f"{level} intervals of the odds ratio use them. Few dilemmas make clustered errors somewhat too "
            f"small. {permutation_text} The pseudo-R2 column is McFadden's R2 of the value difference beyond the "
            "model terms (and, in the position-adjusted rows, beyond the position terms too): 1 minus the "
            "log-likelihood ratio of the fits with and without it. The position-adjusted rows add, for each model, "
            "whether option A was shown first, so their slope is the value effect at a fixed shown order. "
            "Alternating the order keeps a position bias from biasing the plain slope on average, but in one "
            "sample the shown order can correlate with the value difference (with the trial predictor both vary "
            "by trial), and a strong bias left out of a logistic model shrinks the slope towards 0. The two "
            "slopes can therefore differ in either direction."),
        Table(["scope", "outcome", "n", "slope", "SE (clustered)", f"odds ratio [{level} CI]", "p",
               "permutation p", "pseudo-R2", "note"], rows,
              [False, False, True, True, True, True, True, True, True, False]),
    ]
    if accuracy is not None:
        gain = ("so the value difference adds to the prediction" if accuracy > baseline
                else "so the value difference adds nothing to the prediction")
        blocks.append(Paragraph(
            f"Leave-one-dilemma-out prediction of the side (pooled, each dilemma predicted from a fit to the others): "
            f"accuracy {format_percent(accuracy)} with the value difference against {format_percent(baseline)} from "
            f"each model's own share of A answers alone, {gain}."))
    blocks.append(Paragraph(_verdict(fits)))
    return blocks


def _consistency(per_model: pd.DataFrame, level: str) -> list[Any]:
    rows = []
    for row in per_model.itertuples(index=False):
        n = MISSING if pd.isna(row.consistency_n) else str(int(row.consistency_n))
        rows.append([row.model, n, _share(row.consistency_share, row.consistency_ci_low, row.consistency_ci_high),
                     format_p(row.consistency_p),
                     row.consistency_note if isinstance(row.consistency_note, str) else ""])
    return [
        Paragraph(f"Profile-consistent choices: the share of answers that take the side whose value the model rates "
                  f"higher (answers where both values score the same are left out), with a {level} Clopper-Pearson "
                  "interval and an exact binomial test against one half."),
        Table(["model", "n", f"consistent [{level} CI]", "p", "note"], rows, [False, True, True, True, False]),
    ]


def _verdict(fits: pd.DataFrame) -> str:
    """Say in one sentence what the pooled side regression shows, with its p values."""
    match = fits[(fits["scope"] == POOLED) & (fits["outcome"] == "side")]
    if match.empty or pd.isna(match.iloc[0]["slope"]):
        return "The pooled side regression could not be fitted, so these data say nothing about the question."
    fit = match.iloc[0]
    tests = [("clustered z test", fit["p"]), ("permutation test", fit["permutation_p"])]
    shown = [(name, value) for name, value in tests if pd.notna(value)]
    p_text = ", ".join(f"p {_p_phrase(value)} by the {name}" for name, value in shown)
    significant = [value < ALPHA for _, value in shown]
    slope = format_number(fit["slope"])
    if shown and all(significant):
        direction = ("the models take the side of the value they rate higher" if fit["slope"] > 0 else
                     "the models take the side of the value they rate lower, the opposite of acting on their values")
        return f"The pooled slope is {slope} ({p_text}): {direction}."
    if any(significant):
        return (f"The pooled slope is {slope} ({p_text}): significant at the {ALPHA:g} level by one test only, "
                "which is weak evidence; the permutation test is the safer one with few dilemmas.")
    return (f"The pooled slope is {slope} ({p_text}), not significant at the {ALPHA:g} level: these data give no "
            "evidence that the value profile predicts the side taken.")


def _p_phrase(value: float) -> str:
    text = format_p(value)
    return text if text.startswith("<") else f"= {text}"


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" + ("" if number == 1 else "s")


def _share(value: Any, low: Any, high: Any, *, percent: bool = True) -> str:
    formatter = format_percent if percent else format_number
    if value is None or pd.isna(value):
        return MISSING
    return f"{formatter(value)} [{formatter(low)}, {formatter(high)}]"
