"""Time the analysis stages of the default study, a no-op `dvc repro`, and each stage's peak memory.

Run from the project folder after `make repro` (the pipeline must be up to date):

    .venv/bin/python benchmarks/analysis.py --json build/benchmarks/analysis.json

Everything runs in a copy of the project in a temporary folder, so the
project's own files are never touched. In the copy the script

1. times a no-op `dvc repro` (``--repeats`` runs; DVC only checks hashes);
2. times `dvc repro --force --downstream clean`, which re-runs every stage after
   collect (clean, score, reliability, structure, compare, dilemmas, report),
   DVC's own work included;
3. runs each stage script alone, collect included (it reuses the stored answers
   and sends no request), for its wall time and peak resident memory;
4. runs the structure stage once more with an empty numba cache, for the cost of
   compiling the SMACOF loop on the first run after installation;
5. checks that the re-runs left every file under data/ and reports/ byte-identical.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import sys
import tempfile
from pathlib import Path

from common import checked, copy_project, require_up_to_date, run_child, venv_environment, write_results

ANALYSIS_STAGES = ("clean", "score", "reliability", "structure", "compare", "dilemmas", "report")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5, help="runs of the no-op `dvc repro` (default: 5)")
    parser.add_argument("--json", type=Path, default=None, help="also write the results to this JSON file")
    args = parser.parse_args()
    if args.repeats < 1:
        parser.error(f"--repeats must be at least 1, got {args.repeats}")
    return args


def models_of(project: Path) -> list[str]:
    """Return the model slugs of the project's params.yaml."""
    sys.path.insert(0, str(project))
    from llmvalues.params import load_params

    return list(load_params(project / "params.yaml")["models"])


def file_digests(project: Path) -> dict[str, str]:
    """Return the MD5 of every file under data/ and reports/, by path relative to ``project``."""
    digests = {}
    for folder in ("data", "reports"):
        for path in sorted((project / folder).rglob("*")):
            if path.is_file() and "logs" not in path.parts:
                digests[str(path.relative_to(project))] = hashlib.md5(path.read_bytes()).hexdigest()
    return digests


def main() -> None:
    args = parse_args()
    dvc = str(Path(sys.executable).parent / "dvc")
    python = sys.executable
    with tempfile.TemporaryDirectory(prefix="llmvalues-bench-analysis-") as folder:
        copy = copy_project(Path(folder) / "project")
        env = venv_environment(copy)
        require_up_to_date(copy)

        before = file_digests(copy)
        no_op = [checked(run_child([dvc, "repro"], copy, env)) for _ in range(args.repeats)]
        forced = checked(run_child([dvc, "repro", "--force", "--downstream", "clean"], copy, env))

        stages = []
        for model in models_of(copy):
            stages.append(("collect", model))
        stages += [(stage, None) for stage in ANALYSIS_STAGES]
        runs = []
        for stage, argument in stages:
            command = [python, f"stages/{stage}.py"] + ([argument] if argument else [])
            run = checked(run_child(command, copy, env))
            runs.append({"stage": stage if argument is None else f"{stage} {argument}",
                         "seconds": round(run.seconds, 2), "cpu_seconds": round(run.cpu_seconds, 2),
                         "peak_rss_mib": round(run.peak_rss_mib, 1)})
            print(json.dumps(runs[-1]), flush=True)

        with tempfile.TemporaryDirectory(prefix="llmvalues-numba-cache-") as cache:
            cold = checked(run_child([python, "stages/structure.py"], copy, {**env, "NUMBA_CACHE_DIR": cache}))
        changed = sorted(path for path, digest in file_digests(copy).items() if before.get(path) != digest)

    no_op_seconds = [run.seconds for run in no_op]
    results = {
        "no_op_repro": {"runs": [round(value, 2) for value in no_op_seconds],
                        "median_seconds": round(statistics.median(no_op_seconds), 2)},
        "forced_analysis": {"command": "dvc repro --force --downstream clean", "seconds": round(forced.seconds, 1),
                            "cpu_seconds": round(forced.cpu_seconds, 1), "peak_rss_mib": round(forced.peak_rss_mib, 1)},
        "stages": runs,
        "structure_cold_numba_cache_seconds": round(cold.seconds, 2),
        "outputs_reproduced": not changed,
        "changed_outputs": changed,
    }
    print(json.dumps({key: value for key, value in results.items() if key != "stages"}))
    if args.json:
        write_results(args.json, "analysis", "benchmarks/analysis.py", results)


if __name__ == "__main__":
    main()
