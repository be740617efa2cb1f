"""Stage report: model value profiles beside human norms, with data quality and provenance.

Reads params.yaml, data/scores/values.csv, reports/metrics/quality.json, the
norms file that params.yaml names, and the metrics and figures of the analysis
stages (reliability, structure, compare, dilemmas) and the dilemma file. Writes reports/report.html (self-contained,
with the figures inline), reports/report.md and the figure
reports/figures/report/profiles.svg.
"""

from pathlib import Path

from llmvalues.runtime import run_stage  # first: limits BLAS to one thread before numpy loads

import pandas as pd
from llmvalues.figures import render_profiles_svg
from llmvalues.errors import InputError
from llmvalues.instrument import select_instrument
from llmvalues.norms import load_norms
from llmvalues.outputs import atomic_write_text
from llmvalues.params import load_params
from llmvalues.document import render_html, render_markdown
from llmvalues.report import (
    HUMAN_LABEL,
    build_report,
    file_md5,
    package_versions,
    profile_means,
    read_quality,
    read_scores,
    read_stage_metrics,
    summarize_profiles,
)
from llmvalues.dilemmas import load_dilemma_set, pair_coverage
from llmvalues.report_compare import DISCRIMINANT_FIGURE_KEY, compare_section
from llmvalues.report_dilemmas import DILEMMA_FIGURE_KEY, dilemma_section
from llmvalues.report_reliability import ALPHA_FIGURE_KEY, reliability_section
from llmvalues.report_structure import structure_figure_key, structure_section
from llmvalues.structure_study import POOLED

PARAMS = Path("params.yaml")
VALUES = Path("data/scores/values.csv")
QUALITY = Path("reports/metrics/quality.json")
HTML = Path("reports/report.html")
MARKDOWN = Path("reports/report.md")
FIGURE = Path("reports/figures/report/profiles.svg")
RELIABILITY_METRICS = Path("reports/metrics/reliability.json")
RELIABILITY_TABLES = Path("reports/tables/reliability")
RELIABILITY_FIGURE = Path("reports/figures/reliability/alpha.svg")
STRUCTURE_METRICS = Path("reports/metrics/structure.json")
COMPARE_METRICS = Path("reports/metrics/compare.json")
COMPARE_TABLES = Path("reports/tables/compare")
COMPARE_FIGURES = Path("reports/figures/compare")
STRUCTURE_FIGURES = Path("reports/figures/structure")
DILEMMA_METRICS = Path("reports/metrics/dilemmas.json")
DILEMMA_TABLES = Path("reports/tables/dilemmas")
DILEMMA_FIGURE = Path("reports/figures/dilemmas/choices.svg")


def main() -> None:
    params = load_params(PARAMS)
    instrument = select_instrument(params["instrument"], str(PARAMS))
    norms_path = Path(params["norms"]["file"])
    norms = load_norms(norms_path)
    scores = read_scores(VALUES)
    quality = read_quality(QUALITY)

    reliability = read_stage_metrics(RELIABILITY_METRICS, "reliability", ("confidence", "models"))
    reliability_values = read_table(RELIABILITY_TABLES / "values.csv", "reliability")
    reliability_retest = read_table(RELIABILITY_TABLES / "retest.csv", "reliability")
    structure = read_stage_metrics(STRUCTURE_METRICS, "structure", ("level", "settings", "units"))
    compare = read_stage_metrics(COMPARE_METRICS, "compare", ("correction", "models", "between_models",
                                                              "discriminant"))
    versus_norms = read_table(COMPARE_TABLES / "versus-norms.csv", "compare")
    value_tests = read_table(COMPARE_TABLES / "value-tests.csv", "compare")
    confusion = coefficients = None
    if compare["discriminant"]["fitted"]:
        confusion = read_table(COMPARE_TABLES / "lda-confusion.csv", "compare")
        coefficients = read_table(COMPARE_TABLES / "lda-structure.csv", "compare")

    dilemmas = read_stage_metrics(DILEMMA_METRICS, "dilemmas", ("dilemmas", "trials", "pooled", "models"))
    dilemma_fits = read_table(DILEMMA_TABLES / "fits.csv", "dilemmas")
    dilemma_models = read_table(DILEMMA_TABLES / "models.csv", "dilemmas")
    dilemma_set = load_dilemma_set(params["dilemmas"]["file"])
    pairs = pair_coverage(dilemma_set)

    models = list(params["models"])
    profiles = summarize_profiles(scores, models)
    svg = render_profiles_svg(profile_means(profiles, models), norms.means, human_label=HUMAN_LABEL)
    figures = {"profiles": svg}
    figure_paths = {"profiles": FIGURE.relative_to(MARKDOWN.parent).as_posix()}
    figures[ALPHA_FIGURE_KEY] = read_figure(RELIABILITY_FIGURE, "reliability")
    if compare["discriminant"]["fitted"]:
        path = COMPARE_FIGURES / "discriminant.svg"
        figures[DISCRIMINANT_FIGURE_KEY] = read_figure(path, "compare")
        figure_paths[DISCRIMINANT_FIGURE_KEY] = path.relative_to(MARKDOWN.parent).as_posix()
    figure_paths[ALPHA_FIGURE_KEY] = RELIABILITY_FIGURE.relative_to(MARKDOWN.parent).as_posix()
    figures[DILEMMA_FIGURE_KEY] = read_figure(DILEMMA_FIGURE, "dilemmas")
    figure_paths[DILEMMA_FIGURE_KEY] = DILEMMA_FIGURE.relative_to(MARKDOWN.parent).as_posix()
    for unit, result in structure["units"].items():
        if result["fitted"]:
            path = STRUCTURE_FIGURES / f"{unit}.svg"
            figures[structure_figure_key(unit)] = read_figure(path, "structure")
            figure_paths[structure_figure_key(unit)] = path.relative_to(MARKDOWN.parent).as_posix()

    inputs = (VALUES, QUALITY, RELIABILITY_METRICS, STRUCTURE_METRICS, COMPARE_METRICS, DILEMMA_METRICS, norms_path,
              Path(params["dilemmas"]["file"]), PARAMS)
    report = build_report(
        params=params,
        params_text=PARAMS.read_text(encoding="utf-8"),
        instrument=instrument,
        profiles=profiles,
        quality=quality,
        norms=norms,
        input_hashes={path.as_posix(): file_md5(path) for path in inputs},
        versions=package_versions(),
        analyses=[
            compare_section(compare, versus_norms, value_tests, confusion, models, coefficients),
            reliability_section(reliability_values, reliability_retest, models, reliability["confidence"]),
            structure_section(structure, models, POOLED),
            dilemma_section(dilemmas, dilemma_fits, dilemma_models, models, settings=params["dilemmas"],
                            set_name=dilemma_set.name, set_original=dilemma_set.original,
                            set_validated=dilemma_set.validated, pairs=len(pairs),
                            opposing_pairs=sum(1 for row in pairs if row["opposing"])),
        ],
    )

    atomic_write_text(FIGURE, svg)
    atomic_write_text(HTML, render_html(report, figures))
    atomic_write_text(MARKDOWN, render_markdown(report, figure_paths))


def read_table(path: Path, stage: str) -> pd.DataFrame:
    if not path.is_file():
        raise InputError(str(path), None, "table not found", f"run the {stage} stage again: dvc repro {stage}")
    return pd.read_csv(path, dtype={"model": str}, keep_default_na=False, na_values=[""])


def read_figure(path: Path, stage: str) -> str:
    if not path.is_file():
        raise InputError(str(path), None, "figure not found", f"run the {stage} stage again: dvc repro {stage}")
    return path.read_text(encoding="utf-8")


if __name__ == "__main__":
    run_stage(main)
