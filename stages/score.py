"""Stage score: per model and trial, the 19 value scores, MRAT, and the basic and higher-order values.

Reads data/clean/answers.csv and writes data/scores/values.csv, one row per
(model, trial): raw and centered scores (see llmvalues.scoring).
"""

from pathlib import Path

from llmvalues.runtime import run_stage  # first: limits BLAS to one thread before numpy loads

import pandas as pd
from llmvalues.cleaning import ratings_table
from llmvalues.outputs import write_csv
from llmvalues.params import load_params
from llmvalues.scoring import score_responses

ANSWERS = Path("data/clean/answers.csv")
VALUES = Path("data/scores/values.csv")


def main() -> None:
    params = load_params("params.yaml")
    answers = pd.read_csv(ANSWERS, usecols=["model", "trial", "item", "status", "rating", "used"],
                          dtype={"model": str, "status": str})
    ratings = ratings_table(answers, list(params["models"]))
    scores = score_responses(
        ratings,
        min_valid_per_value=params["score"]["min_valid_items_per_value"],
        min_valid_for_mrat=params["score"]["min_valid_items_for_mrat"],
    )
    write_csv(VALUES, scores.reset_index())


if __name__ == "__main__":
    run_stage(main)
