"""Stage structure: confirmatory MDS of the value circle, per model and pooled over models.

Reads data/scores/values.csv (and, at item level, data/clean/answers.csv). Writes
reports/metrics/structure.json (numbers only), the summary and tidy tables under
reports/tables/structure/, one map per model (and pooled) under
reports/figures/structure/ and one plot file per map under reports/plots/mds/.
"""

import sys
from pathlib import Path

from llmvalues.runtime import run_stage  # first: limits BLAS to one thread before numpy loads

import pandas as pd
from llmvalues.cleaning import ratings_table
from llmvalues.figures import model_styles, render_structure_svg
from llmvalues.plots import write_series
from llmvalues.outputs import atomic_write_text, numeric_metrics, write_csv, write_json
from llmvalues.params import load_params
from llmvalues.report import read_scores
from llmvalues.structure_study import POOLED, analyze_structure, settings_from_params, study_variables

SCORES = Path("data/scores/values.csv")
ANSWERS = Path("data/clean/answers.csv")
METRICS = Path("reports/metrics/structure.json")
TABLES = Path("reports/tables/structure")
FIGURES = Path("reports/figures/structure")
PLOTS = Path("reports/plots/mds")
POOLED_COLOUR = "#555555"


def main() -> None:
    params = load_params("params.yaml")
    structure = params["structure"]
    models = list(params["models"])
    scores = read_scores(SCORES)
    ratings = None
    if structure["level"] == "item":
        answers = pd.read_csv(ANSWERS, usecols=["model", "trial", "item", "status", "rating", "used"],
                              dtype={"model": str, "status": str})
        ratings = ratings_table(answers, models)

    tables = study_variables(scores, models, level=structure["level"], kind=structure["scores"], ratings=ratings)
    uncentered = None
    if structure["scores"] == "centered":
        uncentered = study_variables(scores, models, level=structure["level"], kind="raw", ratings=ratings)
    study = analyze_structure(
        tables,
        level=structure["level"],
        settings=settings_from_params(structure),
        pooled=structure["pooled"],
        permutations=structure["permutations"],
        replications=structure["random_stress_replications"],
        seed=structure["seed"],
        warn_below_trials=structure["warn_below_trials"],
        uncentered=uncentered,
        log=lambda message: print(message, file=sys.stderr),
    )
    study.metrics["scores"] = structure["scores"]

    write_json(TABLES / "summary.json", study.metrics)
    write_json(METRICS, numeric_metrics(study.metrics))
    write_csv(TABLES / "configurations.csv", study.configurations, text_columns=("unit", "point", "value"))
    write_series(PLOTS, study.configurations, "unit", ["point", "map_x", "map_y", "theory_x", "theory_y"])
    write_csv(TABLES / "permutations.csv", study.permutations, text_columns=("unit",))
    write_csv(TABLES / "random-stress.csv", study.random_stress)
    write_csv(TABLES / "correlations.csv", study.correlations, text_columns=("unit", "first", "second"))

    styles = model_styles(models)
    FIGURES.mkdir(parents=True, exist_ok=True)
    for stale in FIGURES.glob("*.svg"):
        stale.unlink()
    for unit, rows in study.configurations.groupby("unit", sort=False):
        colour = styles[unit]["color"] if unit in styles else POOLED_COLOUR
        title = "all models pooled" if unit == POOLED else unit
        atomic_write_text(FIGURES / f"{unit}.svg", render_structure_svg(rows, title=title, colour=colour))


if __name__ == "__main__":
    run_stage(main)
