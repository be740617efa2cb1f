"""Stage collect@<model>: put the questionnaire and the dilemmas to one model.

Usage: python stages/collect.py MODEL_SLUG

Reuses every answer already in data/store/<model>.jsonl, sends the requests that
are missing, appends each answer to the store as it arrives, and rewrites
data/raw/<model>.jsonl with exactly the records the current params ask for.
Retries, batches and stops are logged to data/logs/<model>.log.
"""

import logging
import sys
from pathlib import Path

from llmvalues.runtime import run_stage  # first: limits BLAS to one thread before numpy loads

from tqdm import tqdm

from llmvalues.collect import (CollectionStopped, Collector, Store, select_dilemma_battery, select_template,
                               settings_from_params, write_view)
from llmvalues.errors import InputError
from llmvalues.instrument import select_instrument
from llmvalues.params import load_params
from llmvalues.providers import create_provider

STORE_DIR = Path("data/store")
RAW_DIR = Path("data/raw")
LOG_DIR = Path("data/logs")


def open_run_log(slug: str) -> logging.Logger:
    """Return the logger of this model's runs, appending to data/logs/<model>.log."""
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(LOG_DIR / f"{slug}.log", encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    log = logging.getLogger(f"llmvalues.collect.{slug}")
    log.setLevel(logging.INFO)
    log.addHandler(handler)
    log.propagate = False  # the terminal gets the progress bar and one line at the end, not the log
    return log


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
    settings = settings_from_params(slug, entry, params["collect"], params["instrument"]["form"],
                                    params.get("prices"))
    store = Store(STORE_DIR / f"{slug}.jsonl")
    log = open_run_log(slug)
    collector = Collector(settings, instrument, template, store, lambda: create_provider(slug, entry), dilemmas,
                          log=log)
    log.info("collect %s started: %d cells, provider %s, model %s", slug, collector.total_cells(),
             settings.provider, settings.model)
    # A cell is an item (item mode), a whole trial (block mode) or a dilemma.
    with tqdm(total=collector.total_cells(), desc=f"collect {slug}", unit="cell", file=sys.stderr,
              mininterval=1.0) as bar:

        def progress(cells: int) -> None:
            bar.update(cells)
            if settings.price is not None:
                bar.set_postfix_str(f"${collector.spending.spent:.4f} spent", refresh=False)

        try:
            view = collector.run(progress=progress)
        except CollectionStopped as stopped:
            log.info("collect %s stopped: %s", slug, collector.summary())
            raise InputError(f"collect {slug}", None, stopped.cause, stopped.fix) from None
    write_view(RAW_DIR / f"{slug}.jsonl", view)
    log.info("collect %s finished: %d records, %s", slug, len(view), collector.summary())
    print(f"collect {slug}: {len(view)} records, {collector.summary()}", file=sys.stderr)


if __name__ == "__main__":
    run_stage(main)
