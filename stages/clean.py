"""Stage clean: give every collected reply a status and a rating.

Reads the views data/raw/<model>.jsonl of the models listed in params.yaml and
writes data/clean/answers.csv (one row per answer attempt),
reports/metrics/quality.json (counts and rates per model and status) and
data/clean/collection.json (per model: the model ids the provider reported, when
the answers were collected, the templates and sampling settings sent).
"""

from pathlib import Path

from llmvalues.runtime import run_stage  # first: limits BLAS to one thread before numpy loads
from llmvalues.cleaning import TEXT_COLUMNS, clean_records
from llmvalues.instrument import select_instrument
from llmvalues.outputs import numeric_metrics, write_csv, write_json
from llmvalues.params import load_params
from llmvalues.provenance import summarize_records
from llmvalues.records import read_records

RAW_DIR = Path("data/raw")
ANSWERS = Path("data/clean/answers.csv")
QUALITY = Path("reports/metrics/quality.json")
COLLECTION = Path("data/clean/collection.json")


def main() -> None:
    params = load_params("params.yaml")
    instrument = select_instrument(params["instrument"], "params.yaml")
    sources = {model: str(RAW_DIR / f"{model}.jsonl") for model in params["models"]}
    expected = {"instrument": instrument.id, "form": params["instrument"]["form"]}
    records = {model: list(read_records(path, model, expected)) for model, path in sources.items()}
    settings = params["clean"]
    answers, quality = clean_records(
        records,
        key=instrument.key,
        labels=instrument.scale_labels,
        rating_source=settings["rating_source"],
        distribution_rating=settings["distribution_rating"],
        min_digit_mass=settings["min_digit_mass"],
        sources=sources,
    )
    write_csv(ANSWERS, answers, text_columns=TEXT_COLUMNS)
    write_json(QUALITY, numeric_metrics(quality))
    write_json(COLLECTION, {"models": {model: summarize_records(rows) for model, rows in records.items()}})


if __name__ == "__main__":
    run_stage(main)
