"""Stage dilemmas: do the models' value profiles predict the side they take in mental-health dilemmas?

Reads the views data/raw/<model>.jsonl of the models in params.yaml (their
dilemma records), data/scores/values.csv and the dilemma file that params.yaml
names. Writes reports/metrics/dilemmas.json (numbers only), the summary and tidy
tables under reports/tables/dilemmas/, the figure
reports/figures/dilemmas/choices.svg and one curve file per model under
reports/plots/dilemmas/.
"""

from pathlib import Path

from llmvalues.runtime import run_stage  # first: limits BLAS to one thread before numpy loads

from llmvalues.dilemma_answers import CHOICE_TEXT_COLUMNS, choices_table
from llmvalues.dilemma_study import ANALYSED_COLUMNS, analyze_dilemmas
from llmvalues.dilemmas import load_dilemma_set
from llmvalues.figures import render_dilemma_svg
from llmvalues.plots import write_series
from llmvalues.outputs import atomic_write_text, numeric_metrics, write_csv, write_json
from llmvalues.params import load_params
from llmvalues.records import read_records
from llmvalues.report import read_scores

RAW_DIR = Path("data/raw")
SCORES = Path("data/scores/values.csv")
METRICS = Path("reports/metrics/dilemmas.json")
TABLES = Path("reports/tables/dilemmas")
FIGURES = Path("reports/figures/dilemmas")
PLOTS = Path("reports/plots/dilemmas")


def main() -> None:
    params = load_params("params.yaml")
    settings = params["dilemmas"]
    models = list(params["models"])
    dilemma_set = load_dilemma_set(settings["file"])
    values = {dilemma.id: (dilemma.value_a, dilemma.value_b) for dilemma in dilemma_set.dilemmas}
    paths = {model: RAW_DIR / f"{model}.jsonl" for model in models}
    records = {model: list(read_records(path, model)) for model, path in paths.items()}
    choices = choices_table(records, values, sources={model: str(path) for model, path in paths.items()},
                            dilemma_set=dilemma_set.id)
    study = analyze_dilemmas(choices, read_scores(SCORES), models, dilemma_set,
                             trials=params["collect"]["trials"], predictor=settings["predictor"],
                             confidence=settings["confidence"], permutations=settings["permutations"],
                             seed=settings["seed"])

    write_json(TABLES / "summary.json", study.metrics)
    write_json(METRICS, numeric_metrics(study.metrics))
    write_csv(TABLES / "answers.csv", choices, text_columns=CHOICE_TEXT_COLUMNS)
    write_csv(TABLES / "analysed.csv", study.data[list(ANALYSED_COLUMNS)], text_columns=("model", "dilemma"))
    write_csv(TABLES / "fits.csv", study.fits, text_columns=("scope", "note"))
    write_csv(TABLES / "coefficients.csv", study.coefficients, text_columns=("scope", "term", "note"))
    write_csv(TABLES / "models.csv", study.per_model, text_columns=("model", "consistency_note", "position_note"))
    write_csv(TABLES / "dilemmas.csv", study.per_dilemma, text_columns=("dilemma", "model"))
    write_csv(TABLES / "folds.csv", study.folds, text_columns=("dilemma", "reason"))
    write_csv(TABLES / "curves.csv", study.curves, text_columns=("model",))
    write_series(PLOTS, study.curves, "model", ["value_diff", "probability"])
    atomic_write_text(FIGURES / "choices.svg", render_dilemma_svg(study.data, study.curves, models))


if __name__ == "__main__":
    run_stage(main)
