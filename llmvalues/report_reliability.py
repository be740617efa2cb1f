"""The report's section on reliability: alpha and omega per value, retest agreement per model.

Built from the tables of the reliability stage (reports/tables/reliability/)
and its figure reports/figures/reliability/alpha.svg.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from .document import BulletList, FigurePlaceholder, Paragraph, Section, Table
from .report_format import MISSING, format_number
from .values import CIRCLE_ORDER

ALPHA_FIGURE_KEY = "reliability/alpha"
NO_VARIANCE = "n/a (no variance)"


def reliability_section(values: pd.DataFrame, retest: pd.DataFrame, models: list[str], confidence: float) -> Section:
    """Assemble the section from the stage's values.csv and retest.csv tables."""
    percent = f"{100 * confidence:g}%"
    blocks: list[Any] = [Paragraph(
        "Internal consistency of each value's three items, per model, with the trials as cases and the raw "
        f"ratings: Cronbach's alpha (raw, and standardized from the mean inter-item correlation) with Feldt's "
        f"{percent} interval, and omega total from a one-factor minres model (psych's definition: 1 minus the "
        "sum of uniquenesses over the sum of the item correlation matrix). Trials with a missing rating on one "
        "of the value's items are left out. A value whose items give the same answer in every trial has no "
        f"variance: its alpha is shown as {NO_VARIANCE}, never as a number. A negative alpha means the items "
        "covary negatively across trials: they do not form a scale for this model. With about 10 trials the "
        "intervals are wide and a one-factor model is often not identified, so read single values with care.")]

    header = ["value"]
    numeric = [False]
    for model in models:
        header += [f"{model} alpha [{percent} CI]", f"{model} std alpha", f"{model} omega", f"{model} n"]
        numeric += [True, True, True, True]
    indexed = values.set_index(["model", "value"])
    rows, notes = [], []
    heywood: dict[str, list[str]] = {}
    for code in CIRCLE_ORDER:
        row = [code]
        for model in models:
            if (model, code) not in indexed.index:
                row += [MISSING] * 4
                continue
            result = indexed.loc[(model, code)]
            row += [_alpha_cell(result), _number_or_reason(result["alpha_std"], result["reason"]),
                    _number_or_reason(result["omega_total"], result["reason"]), str(int(result["n"]))]
            reason = result["reason"] if isinstance(result["reason"], str) else ""
            if reason.startswith("one-factor model failed: Heywood case"):
                heywood.setdefault(model, []).append(code)
            elif reason:
                notes.append(f"{model}, {code}: {reason}.")
        rows.append(row)
    blocks.append(Table(header, rows, numeric))
    notes += [f"{model}: omega undefined for {', '.join(codes)}, because the one-factor model has a Heywood case "
              "(an item's uniqueness at factor-analyzer's lower bound of 0.005)." for model, codes in heywood.items()]
    if notes:
        blocks.append(Paragraph("Why a number is missing:"))
        blocks.append(BulletList(notes))
    blocks.append(FigurePlaceholder(
        caption=(f"Cronbach's raw alpha per value and model, with Feldt's {percent} interval, values in circle "
                 "order. A value without variance has no marker. The axis stops at -1: a downward triangle is an "
                 "alpha below -1, and interval bars are cut there."),
        alt="Dot plot of Cronbach's alpha for each of the 19 values, per model, with interval bars.",
        key=ALPHA_FIGURE_KEY,
    ))

    blocks.append(Paragraph(
        "Test-retest agreement: the 57 item ratings of each trial compared across trials, as Shrout and Fleiss "
        "intraclass correlations with the items as targets and the trials as raters. ICC2 (two-way random "
        "effects, absolute agreement) asks whether one trial gives the same ratings as another; ICC2k is the "
        "agreement of the mean over all trials; ICC3 (consistency) ignores differences in level between "
        "trials. Only items answered in every trial are used."))
    retest_header = ["model", f"ICC2 [{percent} CI]", f"ICC2k [{percent} CI]", f"ICC3 [{percent} CI]", "items",
                     "trials", "note"]
    retest_rows = []
    for model in models:
        rows_of_model = retest[retest["model"] == model].set_index("type")
        if rows_of_model.empty:
            retest_rows.append([model] + [MISSING] * 5 + ["no ratings"])
            continue
        reason = rows_of_model["reason"].iloc[0]
        reason = reason if isinstance(reason, str) else ""
        retest_rows.append([model] + [_icc_cell(rows_of_model.loc[name]) for name in ("ICC2", "ICC2k", "ICC3")] + [
            str(int(rows_of_model["n_items"].iloc[0])), str(int(rows_of_model["n_trials"].iloc[0])), reason])
    blocks.append(Table(retest_header, retest_rows, [False, True, True, True, True, True, False]))
    blocks.append(Paragraph(
        "Trials of one model are repeated measurements of the same respondent, so these numbers describe how "
        "stable the model's answers are under resampling, not how well items measure a trait across people."))
    return Section("Reliability", blocks)


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _number_or_reason(value: Any, reason: Any) -> str:
    if not _is_missing(value):
        return format_number(value)
    return NO_VARIANCE if isinstance(reason, str) and reason.startswith("no variance") else MISSING


def _alpha_cell(result: pd.Series) -> str:
    alpha = _number_or_reason(result["alpha_raw"], result["reason"])
    if _is_missing(result["alpha_raw"]):
        return alpha
    return f"{alpha} [{format_number(result['feldt_lower'])}, {format_number(result['feldt_upper'])}]"


def _icc_cell(row: pd.Series) -> str:
    if _is_missing(row["icc"]):
        return MISSING
    return f"{format_number(row['icc'])} [{format_number(row['lower'])}, {format_number(row['upper'])}]"
