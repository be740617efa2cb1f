"""The report's sections on comparisons: models against human norms and each other, and the LDA.

Built from the compare stage's summary (reports/tables/compare/summary.json) and
the tables and figures under reports/tables/compare/ and reports/figures/compare/.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from .document import BulletList, FigurePlaceholder, Paragraph, Section, Table
from .report_format import MISSING, format_number, format_p
from .values import CIRCLE_ORDER

DISCRIMINANT_FIGURE_KEY = "compare/discriminant"


def compare_section(metrics: dict[str, Any], versus_norms: pd.DataFrame, value_tests: pd.DataFrame,
                    models: list[str]) -> Section:
    """Assemble the section on the human norms and between models from the compare stage's summary and tables."""
    correction = {"holm": "Holm", "bh": "Benjamini-Hochberg"}[metrics["correction"]]
    percent = f"{100 * metrics.get('confidence', 0.95):g}%"
    controls = {"holm": "the family-wise error rate", "bh": "the false discovery rate"}[metrics["correction"]]
    alpha = metrics.get("alpha", 0.05)
    human_sum = metrics.get("human_means_sum", float("nan"))
    offset = (f"A model's centered profile sums to 0, while these human means sum to {human_sum:+.2f}, so part of "
              "each difference is that offset (see Human norms)."
              if abs(human_sum) >= 0.005 else "Both a model's centered profile and these human means sum to 0.")
    human_sd = metrics.get("human_sd", False)
    blocks: list[Any] = [Paragraph(
        "Each model's mean centered score per value against the human mean: the difference (model minus human), "
        f"with its {percent} t interval, "
        "a one-sample t test of the trial scores against the human mean, taken as a known constant, with the p "
        f"value corrected over the 19 values ({correction}, which controls {controls}), and Cohen's d as the "
        "difference over the SD of the model's trial scores"
        + (" and over the human SD" if human_sd else "") + ". "
        "Trial-to-trial variation of one model is not person-to-person variation: these tests ask whether the "
        "model's answers, repeated, sit away from the human mean, not whether the model is an unusual person. "
        "The model-SD d and every p depend on the sampling temperature and the number of trials (more trials "
        "make any difference significant), so they are not comparable with d between people. " + offset)]
    blocks.append(Paragraph("The figure under Value profiles shows the profiles against the human means; the compare "
                            "stage writes the same figure to reports/figures/compare/profiles.svg."))

    header = ["value", "human mean"]
    numeric = [False, True]
    for model in models:
        header += [f"{model} difference [{percent} CI]", f"{model} d (model SD)"]
        header += [f"{model} d (human SD)"] if human_sd else []
        header.append(f"{model} p ({correction})")
        numeric += [True] * (4 if human_sd else 3)
    indexed = versus_norms.set_index(["model", "value"])
    rows = []
    for code in CIRCLE_ORDER:
        first = indexed.xs(code, level="value")
        row = [code, format_number(first["human_mean"].iloc[0])]
        for model in models:
            if (model, code) not in indexed.index:
                row += [MISSING] * (4 if human_sd else 3)
                continue
            result = indexed.loc[(model, code)]
            row += [_with_interval(result["difference"], result.get("ci_lower"), result.get("ci_upper")),
                    format_number(result["d_model_sd"])]
            row += [format_number(result["d_human_sd"])] if human_sd else []
            row.append(format_p(result["p_corrected"]))
        rows.append(row)
    blocks.append(Table(header, rows, numeric))

    hierarchy_rows = []
    for model in models:
        entry = metrics["models"][model]
        hierarchy = entry["hierarchy"]
        interval = hierarchy["rho_ci"]
        if hierarchy.get("bootstrap_used"):
            rho = _with_interval(hierarchy["rho"], interval[0], interval[1])
        else:
            rho = f"{format_number(hierarchy['rho'])} (no interval: compare.bootstrap is 0)"
        hierarchy_rows.append([
            model,
            rho,
            format_number(hierarchy["distance"]),
            ", ".join(entry["values_above_humans"]) or "none",
            ", ".join(entry["values_below_humans"]) or "none",
        ])
    blocks.append(Paragraph(
        "Agreement of the value hierarchy: Spearman's rho between the model's mean profile and the human means, "
        "with a percentile bootstrap interval over trials (with about 10 trials it is rough); the profile "
        "distance is the Euclidean distance between the two profiles. The last columns list the values the model "
        f"rates above or below the human mean with a corrected p below {alpha:g}."))
    blocks.append(Table(["model", f"rho [{percent} CI]", "distance", "above humans", "below humans"], hierarchy_rows,
                        [False, True, True, False, False]))
    group_notes = []
    for model in models:
        groups = metrics["models"][model].get("groups")
        if groups:
            nearest = sorted(groups["distances"].items(), key=lambda item: item[1])[:3]
            group_notes.append(f"{model}: nearest groups " + ", ".join(
                f"{group} ({format_number(distance)})" for group, distance in nearest))
    if group_notes:
        blocks.append(Paragraph(
            "Placement among the group means of the norms file (profile distance in brackets). The groups are "
            "means of countries or samples, not people, so this says which group's average profile is closest; "
            "percentiles per value are in reports/tables/compare/groups.csv."))
        blocks.append(BulletList(group_notes))

    blocks += _between_models(metrics, value_tests, correction)
    return Section("Comparisons with human norms and between models", blocks)


def discriminant_section(metrics: dict[str, Any], confusion: pd.DataFrame | None,
                         structure_coefficients: pd.DataFrame | None = None) -> Section:
    """Assemble the discriminant analysis section from the compare stage's summary and tables."""
    return Section("Discriminant analysis", _discriminant(metrics["discriminant"], confusion, structure_coefficients))


def _with_interval(value: Any, low: Any, high: Any) -> str:
    """Format a number with its interval in brackets, or alone when the interval is missing."""
    text = format_number(value)
    if text == MISSING or format_number(low) == MISSING or format_number(high) == MISSING:
        return text
    return f"{text} [{format_number(low)}, {format_number(high)}]"


def _between_models(metrics: dict[str, Any], value_tests: pd.DataFrame, correction: str) -> list[Any]:
    if metrics["between_models"]["n_models"] < 2:
        return [Paragraph("Between models: one model only, so no test between models.")]
    rows = []
    for row in value_tests.itertuples(index=False):
        rows.append([
            row.value,
            f"{format_number(row.welch_f)} ({format_number(row.welch_df1, 0)}, {format_number(row.welch_df2, 1)})",
            format_p(row.welch_p_corrected),
            format_number(row.eta_squared),
            format_number(row.kruskal_h),
            format_p(row.kruskal_p_corrected),
            format_number(row.epsilon_squared),
            row.note if isinstance(row.note, str) else "",
        ])
    return [
        Paragraph(f"Between models, per value: Welch's ANOVA (F with its degrees of freedom, eta squared) and "
                  f"Kruskal-Wallis (H, epsilon squared), p values corrected over the values ({correction}). The "
                  "Games-Howell pairs are in reports/tables/compare/pairs.csv."),
        Table(["value", "Welch F (df)", "p", "eta squared", "Kruskal-Wallis H", "p", "epsilon squared", "note"], rows,
              [False, True, True, True, True, True, True, False]),
    ]


def _discriminant(lda: dict[str, Any], confusion: pd.DataFrame | None,
                  structure_coefficients: pd.DataFrame | None) -> list[Any]:
    if not lda.get("fitted"):
        return [Paragraph(f"Discriminant analysis: not fitted: {lda.get('reason', 'no data')}.")]
    permutation = lda.get("permutation") or {}
    text = (f"Discriminant analysis of the raw value scores with the models as groups ({lda['n_trials']} trials, "
            f"{lda['solver']} solver: {lda['solver_reason']}). Leave-one-out accuracy "
            f"{format_number(lda['loo_accuracy'])}")
    if permutation:
        p_text = format_p(permutation["p_value"])
        text += (f"; permutation test of the accuracy ({permutation['permutations']} label permutations) "
                 + (f"p {p_text}" if p_text.startswith("<") else f"p = {p_text}")
                 + f", against a chance rate of {format_number(permutation['chance_accuracy'])}")
    text += (". Proportion of trace per function: "
             + ", ".join(format_number(value, 3) for value in lda["proportion_of_trace"]) + ".")
    blocks: list[Any] = [Paragraph(text)]
    if "loo_accuracy_mrat_only" in lda:
        blocks.append(Paragraph(
            "Raw value scores carry each model's overall rating level (MRAT) as well as its value priorities. For "
            f"comparison, the leave-one-out accuracy of the same analysis on MRAT alone is "
            f"{format_number(lda['loo_accuracy_mrat_only'])}, and on the centered scores (18 values, since the 19 "
            f"sum to 0) {format_number(lda['loo_accuracy_centered'])}. When MRAT alone separates the models as "
            "well as the raw scores, the models differ in how high they rate, not necessarily in what they value."))
    if lda.get("notes"):
        blocks.append(BulletList(list(lda["notes"])))
    if confusion is not None:
        labels = [str(column) for column in confusion.columns if column != "model"]
        rows = [[str(row["model"])] + [str(int(row[label])) for label in labels] for _, row in confusion.iterrows()]
        blocks.append(Paragraph("Leave-one-out confusion matrix (rows: the model that answered; columns: the model "
                                "predicted):"))
        blocks.append(Table(["model"] + labels, rows, [False] + [True] * len(labels)))
    if structure_coefficients is not None:
        functions = [column for column in structure_coefficients.columns if column.startswith("LD")][:2]
        rows = [[str(row["value"])] + [format_number(row[name]) for name in functions]
                for _, row in structure_coefficients.iterrows()]
        blocks.append(Paragraph("Structure coefficients: the pooled within-model correlation of each value's raw "
                                "score with each discriminant function. Raw scores share the rating level, so "
                                "large coefficients on many values at once point to scale use rather than to "
                                "particular values."))
        blocks.append(Table(["value"] + functions, rows, [False] + [True] * len(functions)))
    blocks.append(FigurePlaceholder(
        caption=("Discriminant scores of each trial, coloured by model (with two models there is one function, "
                 "drawn per model on its own row)."),
        alt="Scatter plot of the trials' discriminant scores by model.",
        key=DISCRIMINANT_FIGURE_KEY,
    ))
    return blocks
