"""The study report: model value profiles beside human norms, as HTML and Markdown.

``build_report`` assembles the content (sections of paragraphs, tables, lists
and one figure) from the pipeline's outputs. ``llmvalues.document`` renders it as
a self-contained HTML page and its Markdown twin. The content holds nothing that
changes between runs (no dates, no absolute paths, numbers at fixed decimals), so
the same inputs give the same bytes.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pandas as pd

from .document import (
    BulletList,
    CodeBlock,
    FigurePlaceholder,
    Paragraph,
    Report,
    Section,
    Table,
)
from .errors import InputError
from .instrument import Instrument
from .norms import Norms
from .parsing import COUNTED_STATUSES, STATUSES
from .report_format import MISSING, format_number, format_percent
from .values import CIRCLE_ORDER, N_ITEMS, VALUE_BY_CODE

TITLE = "Values expressed by language models"
HUMAN_LABEL = "human means"


# --- Inputs ------------------------------------------------------------------


def read_scores(path: str | Path) -> pd.DataFrame:
    """Read the scores table written by the score stage (one row per model and trial).

    Raises
    ------
    InputError
        When the file is missing or unreadable, or lacks ``model``, ``trial`` or a
        ``<CODE>_centered`` column.
    """
    source = str(path)
    fix = "run the score stage again: dvc repro score"
    if not Path(path).is_file():
        raise InputError(source, None, "scores file not found", fix)
    try:
        table = pd.read_csv(path, dtype={"model": str})
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        problem = " ".join(str(error).split())
        raise InputError(source, None, f"not a readable CSV ({problem})", fix) from None
    required = ["model", "trial"] + [f"{code}_centered" for code in CIRCLE_ORDER]
    for column in required:
        if column not in table.columns:
            raise InputError(source, f"column '{column}'", "missing column", fix)
    for column in required[2:]:
        if not pd.api.types.is_numeric_dtype(table[column]):
            raise InputError(source, f"column '{column}'", "must contain numbers, found text", fix)
    return table


def read_quality(path: str | Path) -> dict[str, Any]:
    """Read the quality counts written by the clean stage.

    Raises
    ------
    InputError
        When the file is missing, is not JSON or has no ``models`` mapping.
    """
    source = str(path)
    fix = "run the clean stage again: dvc repro clean"
    if not Path(path).is_file():
        raise InputError(source, None, "quality file not found", fix)
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise InputError(source, f"line {error.lineno}", f"invalid JSON ({error.msg})", fix) from None
    if not isinstance(document, dict) or not isinstance(document.get("models"), dict):
        raise InputError(source, "models", "missing the mapping of models to counts", fix)
    return document


def read_stage_metrics(path: str | Path, stage: str, required: tuple[str, ...],
                       kind: str = "summary file") -> dict[str, Any]:
    """Read a JSON summary a stage wrote (reports/tables/<stage>/summary.json, data/clean/collection.json).

    Raises
    ------
    InputError
        When the file is missing, is not JSON or lacks one of the ``required`` keys.
    """
    source = str(path)
    fix = f"run the {stage} stage again: dvc repro {stage}"
    if not Path(path).is_file():
        raise InputError(source, None, f"{kind} not found", fix)
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise InputError(source, f"line {error.lineno}", f"invalid JSON ({error.msg})", fix) from None
    if not isinstance(document, dict):
        raise InputError(source, None, "must contain a JSON object", fix)
    for key in required:
        if key not in document:
            raise InputError(source, key, "missing key", fix)
    return document


def summarize_profiles(scores: pd.DataFrame, models: list[str]) -> pd.DataFrame:
    """Summarize each model's centered score per value over its trials.

    Parameters
    ----------
    scores : DataFrame
        The scores table (``read_scores``).
    models : list of str
        The model slugs in params.yaml order. A model without rows in ``scores``
        gets n = 0 and NaN statistics.

    Returns
    -------
    DataFrame
        One row per model and value, models in the given order and values in
        circle order, with the columns ``model``, ``value``, ``mean``, ``sd``
        (sample SD over trials, NaN with fewer than two trials) and ``n`` (trials
        with a score). Trials whose score is NaN are left out, never counted as 0.
    """
    records = []
    for model in models:
        trials = scores[scores["model"] == model]
        for code in CIRCLE_ORDER:
            observed = trials[f"{code}_centered"].dropna().astype(float)
            count = len(observed)
            records.append({
                "model": model,
                "value": code,
                "mean": float(observed.mean()) if count else math.nan,
                "sd": float(observed.std(ddof=1)) if count >= 2 else math.nan,
                "n": count,
            })
    return pd.DataFrame(records, columns=["model", "value", "mean", "sd", "n"])


def profile_means(profiles: pd.DataFrame, models: list[str]) -> pd.DataFrame:
    """Return the mean scores as a models x values table (models in the given order, values in circle order)."""
    table = profiles.pivot(index="model", columns="value", values="mean")
    return table.reindex(index=models, columns=list(CIRCLE_ORDER))


# --- Assembly ----------------------------------------------------------------


def build_report(*, params: dict[str, Any], params_text: str, instrument: Instrument, profiles: pd.DataFrame,
                 quality: dict[str, Any], norms: Norms, methods: Section, input_hashes: dict[str, str],
                 versions: dict[str, str], code_hashes: dict[str, str] | None = None,
                 findings: list[str] | None = None, limitations: list[str] | None = None,
                 analyses: list[Section] | None = None) -> Report:
    """Assemble the report's content.

    Parameters
    ----------
    params : dict
        The validated params (``llmvalues.params.load_params``); the ``models``
        mapping sets which models appear, in which order.
    params_text : str
        The text of params.yaml, shown as it is.
    instrument : Instrument
        The instrument that params.yaml selects.
    profiles : DataFrame
        ``summarize_profiles`` of the scores table.
    quality : dict
        The quality counts (``read_quality``).
    norms : Norms
        The human norms.
    methods : Section
        The methods section (``llmvalues.report_methods.methods_section``).
    input_hashes, code_hashes : dict of str to str
        Data and code path (as shown) -> MD5 hex digest, as dvc.lock records it.
    versions : dict of str to str
        Package name -> version (``llmvalues.provenance.package_versions``).
    findings, limitations : list of str, optional
        The summary of findings and the limitations
        (``llmvalues.report_findings``), placed first and after the analyses.
    analyses : list of Section, optional
        The sections of the analysis stages, placed after the value profiles.

    Returns
    -------
    Report
    """
    models = params["models"]
    sections = [_introduction(len(models))]
    if findings:
        sections.append(Section("Summary of findings", [
            Paragraph("Each statement follows from a number in the sections below; a p value is called "
                      "significant below 0.05 after the correction the section names."),
            BulletList(list(findings)),
        ]))
    sections += [
        methods,
        _models_section(models, quality),
        _quality_section(models, quality),
        _profiles_section(list(models), profiles, norms),
        *(analyses or []),
    ]
    if limitations:
        sections.append(Section("Limitations", [
            Paragraph("What the data and the design of this study limit, found from the numbers above:"),
            BulletList(list(limitations)),
        ]))
    sections += [
        _norms_section(norms),
        _provenance_section(versions, input_hashes, code_hashes or {}, params_text),
    ]
    return Report(TITLE, sections)


def _introduction(count: int) -> Section:
    noun = "model" if count == 1 else "models"
    about = (
        f"This report compares the values that {count} language {noun} expressed with human means. Each model "
        f"answered a {N_ITEMS}-item portrait values questionnaire, keyed to Schwartz's refined theory of basic "
        "values (19 values on a circle), as if it were a person, rating each portrait on a 1-6 scale in "
        "repeated independent trials."
    )
    scoring = (
        "A value's centered score is the mean rating of its items minus the trial's mean rating over all items "
        "(MRAT). It shows how much more or less a model endorses a value than its own average, so a model that "
        "rates every portrait high does not appear to hold every value strongly."
    )
    origin = (
        "The report stage of the llmvalues pipeline wrote this page from the files listed under Provenance, "
        "whose hashes match those in dvc.lock. The page contains no dates of its own making, so the same inputs "
        "give the same bytes; docs/report.md explains how to read each section."
    )
    return Section("What this is", [Paragraph(about), Paragraph(scoring), Paragraph(origin)])


def _models_section(models: dict[str, Any], quality: dict[str, Any]) -> Section:
    entries = {model: quality["models"].get(model) for model in models}
    show_digit_mass = any(isinstance(entry, dict) and entry.get("mean_digit_mass") is not None
                          for entry in entries.values())
    header = ["model", "provider", "model id", "trials", "answers", "counted rate", "spend (USD)"]
    numeric = [False, False, False, True, True, True, True]
    if show_digit_mass:
        header.append("mean digit mass")
        numeric.append(True)

    rows = []
    for model, settings in models.items():
        entry = entries[model] if isinstance(entries[model], dict) else {}
        answers, expected = entry.get("answers"), entry.get("expected_answers")
        row = [
            model,
            settings["provider"],
            settings["model"],
            _format_count(entry.get("trials")),
            f"{answers} of {expected}" if answers is not None and expected is not None else MISSING,
            format_percent(entry.get("counted_rate")),
            _format_spend(entry, settings["provider"]),
        ]
        if show_digit_mass:
            row.append(format_number(entry.get("mean_digit_mass"), 3))
        rows.append(row)

    counted = " and ".join(COUNTED_STATUSES)
    blocks = [
        Paragraph(f"Counted answers are {counted} ratings. The counted rate is their share of the expected "
                  f"answers (trials x {N_ITEMS}), so missing answers lower it. Spend is the estimated cost "
                  "of every request in the model's records (questionnaire and dilemmas), from the token counts "
                  "the provider reported and the prices in params.yaml; local models cost nothing."),
        Table(header, rows, numeric),
    ]
    absent = [model for model, entry in entries.items() if not isinstance(entry, dict)]
    if absent:
        blocks.append(Paragraph(f"No quality counts for {', '.join(absent)}: the quality file has no entry "
                                "for these models, so their cells read n/a."))
    if show_digit_mass:
        blocks.append(Paragraph("Mean digit mass is the average probability that a model put on the digits "
                                "1-6 as its next token, over the answers that recorded a digit distribution. "
                                "A low mass means that, left free, the model would mostly not have answered "
                                "with a rating."))
    return Section("Models", blocks)


def _format_spend(entry: dict[str, Any], provider: str) -> str:
    spend, unpriced = entry.get("spend_usd"), entry.get("unpriced_records")
    if spend is None:
        return MISSING
    if provider == "llama_cpp":
        return "0 (local)"
    text = f"{spend:.4f}"
    if unpriced:
        text += f" + {unpriced} unpriced"
    return text


def _quality_section(models: dict[str, Any], quality: dict[str, Any]) -> Section:
    statuses = list(STATUSES)
    for model in models:
        entry = quality["models"].get(model)
        if isinstance(entry, dict):
            extra = sorted(set(entry.get("status_counts") or {}) - set(statuses))
            statuses += extra
    header = ["model"] + statuses + ["re-asked"]
    numeric = [False] + [True] * (len(statuses) + 1)

    rows = []
    for model in models:
        entry = quality["models"].get(model)
        entry = entry if isinstance(entry, dict) else {}
        counts = entry.get("status_counts") or {}
        rates = entry.get("status_rates") or {}
        row = [model]
        for status in statuses:
            count = counts.get(status)
            if count is None:
                row.append(MISSING)
            elif count == 0:
                row.append("0")
            else:
                row.append(f"{count} ({format_percent(rates.get(status))})")
        row.append(_format_count(entry.get("reasked_answers")))
        rows.append(row)

    text = ("The status of each answer that scoring uses, as a count and a share of the model's answers. "
            "When an item was asked more than once, scoring uses the first counted attempt. Re-asked is the "
            "number of such items.")
    return Section("Data quality", [Paragraph(text), Table(header, rows, numeric)])


def _profiles_section(models: list[str], profiles: pd.DataFrame, norms: Norms) -> Section:
    caption = (
        "Mean centered score per value over trials: one coloured line per model, and the human means as a "
        "dashed black line with open circles. The values run in circle order, and the axis wraps around: "
        f"{CIRCLE_ORDER[-1]} is next to {CIRCLE_ORDER[0]} on the circle. A gap in a line is a value with no score."
    )
    alt = "Line chart of the mean centered score of each of the 19 values, per model and for the human means."

    header = ["value", "name"]
    numeric = [False, False]
    for model in models:
        header += [f"{model} mean", f"{model} SD", f"{model} n"]
        numeric += [True, True, True]
    header.append("human mean")
    numeric.append(True)

    indexed = profiles.set_index(["model", "value"])
    rows = []
    for code in CIRCLE_ORDER:
        row = [code, VALUE_BY_CODE[code].name]
        for model in models:
            statistics = indexed.loc[(model, code)]
            row += [format_number(statistics["mean"]), format_number(statistics["sd"]), str(int(statistics["n"]))]
        row.append(format_number(norms.means[code]))
        rows.append(row)

    total_row = ["sum", "all 19 values"]
    for model in models:
        means = indexed.loc[model, "mean"]
        total = float(means.sum()) if means.notna().all() else math.nan
        total_row += [format_number(total), "", ""]
    total_row.append(format_number(float(norms.means.sum())))
    rows.append(total_row)

    text = ("Each model's mean centered score, its standard deviation over trials (SD) and the number of "
            "trials with a score (n), beside the human mean. n/a marks a value with no score, or an SD from "
            "fewer than two trials. The last row sums the 19 means; it is n/a when a mean is missing.")
    return Section("Value profiles", [FigurePlaceholder(caption, alt), Paragraph(text), Table(header, rows, numeric)])


def _norms_section(norms: Norms) -> Section:
    blocks: list[Any] = [
        Paragraph(f"Source: {norms.source}"),
        Paragraph(f"Citation: {norms.citation}"),
    ]
    if norms.has_overall_rows:
        basis = "The human means are the overall means given in the file."
        if norms.groups:
            basis += f" The file also gives means for {len(norms.groups)} groups, which this report does not show."
    else:
        basis = (f"The human means are the unweighted means over the file's {len(norms.groups)} groups: each "
                 "group counts once, whatever its size.")
    blocks.append(Paragraph(f"File: {norms.path}. Metric: {norms.metric}. {basis}"))

    if norms.caveats:
        blocks.append(Paragraph("Caveats listed in the file:"))
        blocks.append(BulletList(list(norms.caveats)))
    else:
        blocks.append(Paragraph("The file lists no caveats."))

    total = float(norms.means.sum())
    if format_number(total) == format_number(0.0):
        offset = (f"A model's centered profile sums to 0 when the model answered every item, and these human "
                  f"means sum to {format_number(total)} as well, so the comparison carries no offset.")
    else:
        offset = (f"A model's centered profile sums to 0 when the model answered every item, while these human "
                  f"means sum to {total:+.2f}. Part of any difference between a model and the human means is "
                  f"therefore this offset, {_signed(total / len(CIRCLE_ORDER), 3)} per value on average.")
    blocks.append(Paragraph(offset))
    return Section("Human norms", blocks)


def _provenance_section(versions: dict[str, str], input_hashes: dict[str, str], code_hashes: dict[str, str],
                        params_text: str) -> Section:
    version_rows = [[name, versions[name]] for name in sorted(versions)]
    blocks: list[Any] = [
        Paragraph("Software versions:"),
        Table(["package", "version"], version_rows, [False, False]),
        Paragraph("Data files and their MD5 hashes, as dvc.lock records them (a folder's hash ends in .dir):"),
        Table(["file", "MD5"], [[path, input_hashes[path]] for path in sorted(input_hashes)], [False, False]),
    ]
    if code_hashes:
        blocks += [
            Paragraph("Code: the pipeline's stage scripts and library modules, and their MD5 hashes:"),
            Table(["file", "MD5"], [[path, code_hashes[path]] for path in sorted(code_hashes)], [False, False]),
        ]
    blocks += [
        Paragraph("Parameters (params.yaml):"),
        CodeBlock(params_text, "yaml"),
        Paragraph("The git commit and the time of the run are not part of this page, so that it stays the same "
                  "for the same inputs; the report stage writes them to build/stamp.json, which git ignores."),
    ]
    return Section("Provenance", blocks)


def _signed(value: float, decimals: int) -> str:
    """Format with a sign, except that a value that rounds to zero is written without one."""
    text = format_number(value, decimals)
    return text if float(text) == 0 else f"{value:+.{decimals}f}"


def _format_count(value: Any) -> str:
    return MISSING if value is None else str(value)
