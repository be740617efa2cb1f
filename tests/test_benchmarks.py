"""The benchmark runner and its results page (no timing is asserted)."""

import json
import subprocess
import sys
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT / "benchmarks"))

from page import render, summary_rows  # noqa: E402

MACHINE = {"cpu": "test CPU", "cpus": 2, "memory_gib": 4.0, "system": "Linux", "machine": "x86_64",
           "python": "3.11.7", "packages": {}}


def document(**results):
    return {"finished": "2026-12-05T00:00:00+00:00", "machine": MACHINE, **results}


def analysis_results(seconds, no_op):
    return document(no_op_repro={"runs": [no_op], "median_seconds": no_op},
                    forced_analysis={"command": "dvc repro --force --downstream clean", "seconds": seconds,
                                     "cpu_seconds": seconds, "peak_rss_mib": 300.0},
                    stages=[{"stage": "score", "seconds": 0.4, "cpu_seconds": 0.4, "peak_rss_mib": 70.0}],
                    structure_cold_numba_cache_seconds=14.0, outputs_reproduced=True, changed_outputs=[])


def test_page_without_results_says_not_run():
    page = render({})
    assert page.startswith("# Benchmarks")
    assert page.count("Not run:") == 5


def test_missed_target_says_by_how_much():
    rows = {row[0]: row for row in summary_rows({"analysis": analysis_results(75.0, 6.5)})}
    assert rows["analysis stages (clean through report), default study"][3] == "**missed** by 15 s"
    assert rows["no-op `dvc repro`"][3] == "**missed** by 1.5 s"


def test_met_target_says_met():
    rows = {row[0]: row for row in summary_rows({"analysis": analysis_results(20.0, 1.0)})}
    assert rows["analysis stages (clean through report), default study"][3] == "met"


def test_speed_up_against_r():
    mds = document(load_seconds=0.3, r_permtest_seconds=12.4, r_randomstress_seconds=6.5,
                   permutation_tests=[{"unit": "all_models", "cases": 20, "points": 19, "permutations": 1000,
                                       "runs": [4.0], "seconds": 4.0}],
                   random_stress={"points": 19, "replications": 500, "runs": [0.5], "seconds": 0.5})
    rows = summary_rows({"mds": mds})
    permutation = next(row for row in rows if row[0].startswith("permutation test"))
    norm = next(row for row in rows if row[0].startswith("random-stress"))
    assert permutation[3] == "**missed**: 3.1x, not 5x"
    assert norm[3] == "met"


def test_failed_output_named_on_page():
    results = analysis_results(20.0, 1.0)
    results["outputs_reproduced"] = False
    results["changed_outputs"] = ["reports/report.md"]
    assert "**files changed**: reports/report.md" in render({"analysis": results})


def test_page_write_error_is_one_line(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    result = subprocess.run([sys.executable, "benchmarks/run.py", "--render-only", "--results", str(tmp_path),
                             "--page", str(blocker / "page.md")], cwd=PROJECT, capture_output=True, text=True)
    assert result.returncode == 1
    assert "cannot write the page" in result.stderr
    assert "Traceback" not in result.stderr


def test_quick_mds_run_writes_page(tmp_path):
    # A copy of the project, with the scores the benchmark reads made by `dvc repro`, because a
    # fresh clone has no DVC-cached outputs and the benchmark checks that the pipeline is up to date.
    sys.path.insert(0, str(PROJECT / "benchmarks"))
    from common import copy_project, venv_environment

    copy = copy_project(tmp_path / "project")
    env = venv_environment(copy)
    dvc = str(Path(sys.executable).parent / "dvc")
    subprocess.run([dvc, "repro", "score"], cwd=copy, env=env, check=True, capture_output=True)
    results = tmp_path / "results"
    bench = subprocess.run([sys.executable, str(copy / "benchmarks" / "mds_tests.py"), "--repeats", "1", "--json",
                            str(results / "mds.json")], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert bench.returncode == 0, bench.stderr
    page = tmp_path / "page.md"
    render = subprocess.run([sys.executable, "benchmarks/run.py", "--render-only", "--results", str(results),
                             "--page", str(page)], cwd=copy, env=env, capture_output=True, text=True)
    assert render.returncode == 0, render.stderr
    units = [run["unit"] for run in json.loads((results / "mds.json").read_text())["permutation_tests"]]
    assert units[-1] == "all_models"
    assert "| permutation test, all_models | 20 x 19 | 1000 |" in page.read_text()
