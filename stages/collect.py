"""Stage collect@<model>: put the questionnaire and the dilemmas to one model.

Usage: python stages/collect.py MODEL_SLUG

Reuses every answer already in data/store/<model>.jsonl, sends the requests that
are missing, appends each answer to the store as it arrives, and rewrites
data/raw/<model>.jsonl with exactly the records the current params ask for.
"""

import sys
from pathlib import Path

from llmvalues.runtime import run_stage  # first: limits BLAS to one thread before numpy loads

from tqdm import tqdm

from llmvalues.collect import (Collector, Store, select_dilemma_battery, select_template, settings_from_params,
                               write_view)
from llmvalues.errors import InputError
from llmvalues.instrument import select_instrument
from llmvalues.params import load_params
from llmvalues.providers import create_provider

STORE_DIR = Path("data/store")
RAW_DIR = Path("data/raw")


def main() -> None:
    if len(sys.argv) != 2:
        raise InputError("stages/collect.py", None, "expected one argument, the model slug",
                         "run it as python stages/collect.py MODEL_SLUG, or through dvc repro")
    slug = sys.argv[1]
    params = load_params("params.yaml")
    instrument = select_instrument(params["instrument"], "params.yaml")
    template = select_template(params, slug)
    dilemmas = select_dilemma_battery(params, slug)
    entry = params["models"][slug]
    settings = settings_from_params(slug, entry, params["collect"], params["instrument"]["form"])
    store = Store(STORE_DIR / f"{slug}.jsonl")
    collector = Collector(settings, instrument, template, store, lambda: create_provider(slug, entry), dilemmas)
    # A cell is an item (item mode), a whole trial (block mode) or a dilemma.
    with tqdm(total=collector.total_cells(), desc=f"collect {slug}", unit="cell", file=sys.stderr,
              mininterval=1.0) as bar:
        view = collector.run(progress=bar.update)
    write_view(RAW_DIR / f"{slug}.jsonl", view)
    print(f"collect {slug}: {len(view)} records, {collector.sent} requests sent, {collector.reused} reused",
          file=sys.stderr)


if __name__ == "__main__":
    run_stage(main)
