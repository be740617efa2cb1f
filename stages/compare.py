"""Stage compare: each model against the human norms, the models against each other, and an LDA.

Reads data/scores/values.csv and the norms file that params.yaml names. Writes
reports/metrics/compare.json (numbers only), the summary and tidy tables under
reports/tables/compare/, the figures reports/figures/compare/profiles.svg and
discriminant.svg, and one profile plot file per model under reports/plots/profiles/.
"""

from pathlib import Path

from llmvalues.runtime import run_stage  # first: limits BLAS to one thread before numpy loads

import pandas as pd

from llmvalues.compare_study import analyze_compare
from llmvalues.figures import render_discriminant_svg, render_profiles_svg
from llmvalues.norms import load_norms
from llmvalues.plots import HUMAN_SERIES, circle_positions, write_series
from llmvalues.outputs import atomic_write_text, numeric_metrics, write_csv, write_json
from llmvalues.params import load_params
from llmvalues.report import read_scores

SCORES = Path("data/scores/values.csv")
METRICS = Path("reports/metrics/compare.json")
TABLES = Path("reports/tables/compare")
FIGURES = Path("reports/figures/compare")
PLOTS = Path("reports/plots/profiles")


def main() -> None:
    params = load_params("params.yaml")
    settings = params["compare"]
    models = list(params["models"])
    norms = load_norms(Path(params["norms"]["file"]))
    study = analyze_compare(read_scores(SCORES), models, norms, correction=settings["correction"],
                            confidence=settings["confidence"], bootstrap=settings["bootstrap"], seed=settings["seed"],
                            lda_solver=settings["lda_solver"], lda_permutations=settings["lda_permutations"])

    write_json(TABLES / "summary.json", study.metrics)
    write_json(METRICS, numeric_metrics(study.metrics))
    write_csv(TABLES / "versus-norms.csv", study.norms, text_columns=("model", "value", "note"))
    profile_rows = study.norms.assign(position=circle_positions(study.norms["value"]))
    human = profile_rows.drop_duplicates("value").assign(model=HUMAN_SERIES, mean=lambda rows: rows["human_mean"])
    write_series(PLOTS, pd.concat([profile_rows, human]), "model", ["position", "value", "mean"])
    write_csv(TABLES / "value-tests.csv", study.value_tests, text_columns=("value", "note"))
    write_csv(TABLES / "pairs.csv", study.pairs, text_columns=("value", "first", "second", "note"))
    groups = study.group_placement()
    if groups is not None:
        write_csv(TABLES / "groups.csv", groups, text_columns=("model", "group", "value"))
    else:
        (TABLES / "groups.csv").unlink(missing_ok=True)
    profiles = study.norms.pivot(index="model", columns="value", values="mean").reindex(models)
    atomic_write_text(FIGURES / "profiles.svg", render_profiles_svg(profiles, norms.means))
    if study.discriminant is not None:
        lda = study.discriminant
        confusion = lda.confusion_matrix.reset_index().rename(columns={"model": "model"})
        write_csv(TABLES / "lda-confusion.csv", confusion, text_columns=("model",))
        write_csv(TABLES / "lda-structure.csv", lda.structure_coefficients.rename_axis("value").reset_index(),
                  text_columns=("value",))
        write_csv(TABLES / "lda-scores.csv", lda.scores, text_columns=("model",))
        atomic_write_text(FIGURES / "discriminant.svg", render_discriminant_svg(lda.scores, models))
    else:
        # Outside DVC (which deletes outputs before a run), leave no stale LDA files behind.
        for stale in [FIGURES / "discriminant.svg", *TABLES.glob("lda-*.csv")]:
            stale.unlink(missing_ok=True)


if __name__ == "__main__":
    run_stage(main)
