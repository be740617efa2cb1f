"""Time the MDS permutation test and the random-stress norm on the default study.

Run from the project folder after `make repro` (it reads data/scores/values.csv):

    .venv/bin/python benchmarks/mds_tests.py

Prints one JSON line per measurement: the unit, the number of permutations or
replications, the wall time in seconds and the time per fit. R's smacof 2.1-7
took 12.4 s for permtest with 1,000 permutations of an ordinal fit to the
correlations of 20 observations x 19 variables, and 6.5 s for
randomstress(n = 19, ndim = 2, nrep = 500, type = "ordinal"), on a 2-core machine.
"""

from llmvalues.runtime import run_stage  # first: limits BLAS to one thread before numpy loads

import json
import platform
import time
from pathlib import Path

from llmvalues.params import load_params
from llmvalues.report import read_scores
from llmvalues.structure import permutation_test, random_stress, usable_variables, value_theory
from llmvalues.structure_study import POOLED, settings_from_params, study_variables
from llmvalues.values import CIRCLE_ORDER

import pandas as pd


def main() -> None:
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
    machine = {"machine": platform.machine(), "processor": platform.processor() or "unknown",
               "python": platform.python_version()}
    print(json.dumps({"about": "MDS permutation test and random-stress norm", **machine}))

    for unit, data in tables.items():
        usable, _ = usable_variables(data)
        start = time.perf_counter()
        permutation_test(uncentered[unit].loc[usable.index], theory, settings, permutations=1000,
                         seed=structure["seed"], recenter=True, keep=[str(name) for name in usable.columns])
        elapsed = time.perf_counter() - start
        print(json.dumps({"measure": "permutation test", "unit": unit, "cases": len(usable),
                          "points": usable.shape[1], "permutations": 1000, "seconds": round(elapsed, 2),
                          "ms_per_fit": round(elapsed, 3)}))

    start = time.perf_counter()
    random_stress(19, replications=500, seed=1)
    elapsed = time.perf_counter() - start
    print(json.dumps({"measure": "random-stress norm", "points": 19, "replications": 500,
                      "seconds": round(elapsed, 2), "ms_per_fit": round(2 * elapsed, 3)}))


if __name__ == "__main__":
    run_stage(main)
