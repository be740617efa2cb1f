"""Time the MDS permutation test and the random-stress norm on the default study, against R's smacof.

Run after `make repro` (it reads the project's data/scores/values.csv):

    .venv/bin/python benchmarks/mds_tests.py --json build/benchmarks/mds.json

Prints one JSON line per measurement. The references are R's smacof 2.1-7,
timed on a 2-core machine of the same kind: ``permtest`` with 1,000 permutations
of an ordinal fit to the Pearson correlations of 20 observations x 19 variables
took 12.4 s, and ``randomstress(n = 19, ndim = 2, nrep = 500, type = "ordinal")``
6.5 s. The pooled unit of the default study has those sizes (20 trials x 19
values).

Before timing, one small fit loads the compiled SMACOF loop (or compiles it, on
the first run after installation); that time is reported on its own line.
"""

from llmvalues.runtime import run_stage  # first: limits BLAS to one thread before numpy loads

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd

from common import PROJECT, require_up_to_date, write_results
from llmvalues.params import load_params
from llmvalues.report import read_scores
from llmvalues.smacof import smacof
from llmvalues.structure import permutation_test, random_stress, usable_variables, value_theory
from llmvalues.structure_study import POOLED, settings_from_params, study_variables
from llmvalues.values import CIRCLE_ORDER

R_PERMTEST_SECONDS = 12.4
R_RANDOMSTRESS_SECONDS = 6.5
PERMUTATIONS = 1000
REPLICATIONS = 500


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3,
                        help="timed runs of each measurement; the median counts (default: 3)")
    parser.add_argument("--json", type=Path, default=None, help="also write the results to this JSON file")
    args = parser.parse_args()
    if args.repeats < 1:
        parser.error(f"--repeats must be at least 1, got {args.repeats}")
    return args


def timed(function, repeats: int) -> list[float]:
    """Return the wall time in seconds of each of ``repeats`` calls of ``function``."""
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        seconds.append(time.perf_counter() - start)
    return seconds


def main() -> None:
    args = parse_args()
    os.chdir(PROJECT)
    require_up_to_date(PROJECT)
    start = time.perf_counter()
    smacof(np.array([[0.0, 1.0, 2.0], [1.0, 0.0, 1.5], [2.0, 1.5, 0.0]]), ndim=1)
    load_seconds = time.perf_counter() - start
    print(json.dumps({"measure": "load or compile the SMACOF loop", "seconds": round(load_seconds, 2)}))

    params = load_params("params.yaml")
    structure = params["structure"]
    models = list(params["models"])
    settings = settings_from_params(structure)
    scores = read_scores(Path("data/scores/values.csv"))
    tables = study_variables(scores, models, level="value", kind=structure["scores"])
    tables[POOLED] = pd.concat(list(tables.values()), ignore_index=True)
    uncentered = study_variables(scores, models, level="value", kind="raw")
    uncentered[POOLED] = pd.concat(list(uncentered.values()), ignore_index=True)
    theory = value_theory(list(CIRCLE_ORDER))

    permutation_runs = []
    for unit, data in tables.items():
        usable, _ = usable_variables(data)
        keep = [str(name) for name in usable.columns]
        seconds = timed(lambda: permutation_test(uncentered[unit].loc[usable.index], theory, settings,
                                                 permutations=PERMUTATIONS, seed=structure["seed"], recenter=True,
                                                 keep=keep), args.repeats)
        permutation_runs.append({"unit": unit, "cases": len(usable), "points": usable.shape[1],
                                 "permutations": PERMUTATIONS, "runs": [round(value, 3) for value in seconds],
                                 "seconds": round(float(np.median(seconds)), 3)})
        print(json.dumps({"measure": "permutation test", **permutation_runs[-1]}))

    seconds = timed(lambda: random_stress(19, replications=REPLICATIONS, seed=1), args.repeats)
    norm = {"points": 19, "replications": REPLICATIONS, "runs": [round(value, 3) for value in seconds],
            "seconds": round(float(np.median(seconds)), 3)}
    print(json.dumps({"measure": "random-stress norm", **norm}))

    if args.json:
        write_results(args.json, "mds", "benchmarks/mds_tests.py", {
            "load_seconds": round(load_seconds, 2), "permutation_tests": permutation_runs, "random_stress": norm,
            "r_permtest_seconds": R_PERMTEST_SECONDS, "r_randomstress_seconds": R_RANDOMSTRESS_SECONDS})


if __name__ == "__main__":
    run_stage(main)
