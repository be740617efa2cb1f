"""Stage reliability: alpha, omega and test-retest agreement per model, trials as cases.

Reads data/clean/answers.csv. Writes reports/metrics/reliability.json (numbers
only), the summary reports/tables/reliability/summary.json, the tables
reports/tables/reliability/values.csv (per model and value) and retest.csv (per
model, the six intraclass correlations), the figure
reports/figures/reliability/alpha.svg and one plot file per model under
reports/plots/alpha/.
"""

from pathlib import Path

from llmvalues.runtime import run_stage  # first: limits BLAS to one thread before numpy loads

import pandas as pd
from llmvalues.cleaning import ratings_table
from llmvalues.figures import render_alpha_svg
from llmvalues.plots import circle_positions, write_series
from llmvalues.outputs import atomic_write_text, numeric_metrics, write_csv, write_json
from llmvalues.params import load_params
from llmvalues.reliability_study import analyze_reliability

ANSWERS = Path("data/clean/answers.csv")
METRICS = Path("reports/metrics/reliability.json")
TABLES = Path("reports/tables/reliability")
FIGURE = Path("reports/figures/reliability/alpha.svg")
PLOTS = Path("reports/plots/alpha")


def main() -> None:
    params = load_params("params.yaml")
    models = list(params["models"])
    answers = pd.read_csv(ANSWERS, usecols=["model", "trial", "item", "status", "rating", "used"],
                          dtype={"model": str, "status": str})
    study = analyze_reliability(ratings_table(answers, models), models, level=params["reliability"]["confidence"])

    write_json(TABLES / "summary.json", study.metrics)
    write_json(METRICS, numeric_metrics(study.metrics))
    write_csv(TABLES / "values.csv", study.values, text_columns=("model", "value", "constant_items", "reason"))
    write_series(PLOTS, study.values.assign(position=circle_positions(study.values["value"])), "model",
                 ["position", "value", "alpha_raw", "feldt_lower", "feldt_upper"])
    write_csv(TABLES / "retest.csv", study.retest, text_columns=("model", "type", "form", "reason"))
    atomic_write_text(FIGURE, render_alpha_svg(study.values, models))


if __name__ == "__main__":
    run_stage(main)
