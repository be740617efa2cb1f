"""Stage report: the study's report as one self-contained HTML page and its Markdown twin.

Reads params.yaml, data/scores/values.csv, reports/metrics/quality.json,
data/clean/collection.json, the norms, instrument and dilemma files, and the
summaries, tables and figures of the analysis stages (reliability, structure,
compare, dilemmas). Writes reports/report.html (figures embedded),
reports/report.md, the figure reports/figures/report/profiles.svg and, outside
DVC's outputs, the build stamp build/stamp.json (git commit and time of the run).
"""

import subprocess
from datetime import datetime, timezone
from pathlib import Path

from llmvalues.runtime import run_stage  # first: limits BLAS to one thread before numpy loads

import pandas as pd
from llmvalues.document import render_html, render_markdown
from llmvalues.dilemmas import load_dilemma_set, pair_coverage
from llmvalues.errors import InputError
from llmvalues.figures import render_profiles_svg
from llmvalues.instrument import select_instrument
from llmvalues.norms import load_norms
from llmvalues.outputs import atomic_write_text, json_text
from llmvalues.params import load_params
from llmvalues.provenance import file_md5, package_versions, path_md5
from llmvalues.report import (
    HUMAN_LABEL,
    build_report,
    profile_means,
    read_quality,
    read_scores,
    read_stage_metrics,
    summarize_profiles,
)
from llmvalues.report_compare import DISCRIMINANT_FIGURE_KEY, compare_section, discriminant_section
from llmvalues.report_dilemmas import DILEMMA_FIGURE_KEY, dilemma_section
from llmvalues.report_findings import StudySummaries, list_limitations, summarize_findings
from llmvalues.report_methods import embedded_models, methods_section
from llmvalues.report_reliability import ALPHA_FIGURE_KEY, reliability_section
from llmvalues.report_structure import structure_figure_key, structure_section
from llmvalues.structure_study import POOLED

PARAMS = Path("params.yaml")
VALUES = Path("data/scores/values.csv")
QUALITY = Path("reports/metrics/quality.json")
COLLECTION = Path("data/clean/collection.json")
ANSWERS = Path("data/clean/answers.csv")
RAW = Path("data/raw")
CODE = (Path("stages"), Path("llmvalues"))
STAMP = Path("build/stamp.json")
HTML = Path("reports/report.html")
MARKDOWN = Path("reports/report.md")
FIGURE = Path("reports/figures/report/profiles.svg")
RELIABILITY_TABLES = Path("reports/tables/reliability")
RELIABILITY_FIGURE = Path("reports/figures/reliability/alpha.svg")
COMPARE_TABLES = Path("reports/tables/compare")
COMPARE_FIGURES = Path("reports/figures/compare")
STRUCTURE_TABLES = Path("reports/tables/structure")
STRUCTURE_FIGURES = Path("reports/figures/structure")
DILEMMA_TABLES = Path("reports/tables/dilemmas")
DILEMMA_FIGURE = Path("reports/figures/dilemmas/choices.svg")


def main() -> None:
    try:
        write_report()
    except InputError:
        raise
    except (KeyError, IndexError, TypeError, ValueError, AttributeError) as error:
        # The summaries are the stages' own output; a file of an unexpected shape was edited or is
        # left from another version.
        raise InputError("the stage summaries (reports/tables/*/summary.json, data/clean/collection.json)", None,
                         f"unexpected content ({type(error).__name__}: {error})",
                         "re-run the stages that write them: dvc repro --force clean") from None


def write_report() -> None:
    params = load_params(PARAMS)
    instrument = select_instrument(params["instrument"], str(PARAMS))
    norms_path = Path(params["norms"]["file"])
    norms = load_norms(norms_path)
    scores = read_scores(VALUES)
    quality = read_quality(QUALITY)

    collection = read_stage_metrics(COLLECTION, "clean", ("models",))
    reliability = read_stage_metrics(RELIABILITY_TABLES / "summary.json", "reliability", ("confidence", "models"))
    reliability_values = read_table(RELIABILITY_TABLES / "values.csv", "reliability")
    reliability_retest = read_table(RELIABILITY_TABLES / "retest.csv", "reliability")
    structure = read_stage_metrics(STRUCTURE_TABLES / "summary.json", "structure", ("level", "settings", "units"))
    compare = read_stage_metrics(COMPARE_TABLES / "summary.json", "compare", ("correction", "models",
                                                                             "between_models", "discriminant"))
    versus_norms = read_table(COMPARE_TABLES / "versus-norms.csv", "compare")
    value_tests = read_table(COMPARE_TABLES / "value-tests.csv", "compare")
    confusion = coefficients = None
    if compare["discriminant"]["fitted"]:
        confusion = read_table(COMPARE_TABLES / "lda-confusion.csv", "compare")
        coefficients = read_table(COMPARE_TABLES / "lda-structure.csv", "compare")

    dilemmas = read_stage_metrics(DILEMMA_TABLES / "summary.json", "dilemmas", ("dilemmas", "trials", "pooled",
                                                                             "models"))
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

    summaries = StudySummaries(models=models, quality=quality, compare=compare, reliability=reliability,
                               structure=structure, dilemmas=dilemmas)
    embedded = embedded_models(params["models"])
    limitations = list_limitations(
        summaries, norms_caveats=list(norms.caveats), instrument_original=instrument.original,
        instrument_validated=instrument.validated, dilemmas_validated=dilemma_set.validated,
        warn_below_trials=params["structure"]["warn_below_trials"], embedded_models=embedded)
    methods = methods_section(params, collection, instrument, dilemma_set={
        "name": dilemma_set.name, "dilemmas": len(dilemma_set.dilemmas), "original": dilemma_set.original,
        "validated": dilemma_set.validated})

    data = [RAW / f"{model}.jsonl" for model in models] + [
        ANSWERS, COLLECTION, VALUES, QUALITY, norms_path, Path(params["instrument"]["file"]),
        Path(params["dilemmas"]["file"]), PARAMS]
    code = sorted(path for folder in CODE for path in folder.rglob("*")
                  if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc")
    report = build_report(
        params=params,
        params_text=PARAMS.read_text(encoding="utf-8"),
        instrument=instrument,
        profiles=profiles,
        quality=quality,
        norms=norms,
        methods=methods,
        input_hashes={path.as_posix(): path_md5(path) for path in data},
        code_hashes={path.as_posix(): file_md5(path) for path in code},
        versions=package_versions(),
        findings=summarize_findings(summaries),
        limitations=limitations,
        analyses=[
            reliability_section(reliability_values, reliability_retest, models, reliability["confidence"]),
            structure_section(structure, models, POOLED),
            compare_section(compare, versus_norms, value_tests, models),
            discriminant_section(compare, confusion, coefficients),
            dilemma_section(dilemmas, dilemma_fits, dilemma_models, models, settings=params["dilemmas"],
                            set_name=dilemma_set.name, set_original=dilemma_set.original,
                            set_validated=dilemma_set.validated, pairs=len(pairs),
                            opposing_pairs=sum(1 for row in pairs if row["opposing"])),
        ],
    )

    atomic_write_text(FIGURE, svg)
    atomic_write_text(HTML, render_html(report, figures))
    atomic_write_text(MARKDOWN, render_markdown(report, figure_paths))
    write_stamp(STAMP)


def write_stamp(path: Path) -> None:
    """Record the git commit and the time of this run in an untracked file (build/ is git-ignored)."""
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10).stdout.strip()
        dirty = bool(subprocess.run(["git", "status", "--porcelain"], capture_output=True, text=True,
                                    timeout=30).stdout.strip())
    except (OSError, subprocess.SubprocessError):
        commit, dirty = "", False
    stamp = {"commit": commit or None, "uncommitted_changes": dirty,
             "report_written_at": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")}
    atomic_write_text(path, json_text(stamp))


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
