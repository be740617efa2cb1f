"""Run every benchmark and write the results page, docs/benchmarks.md.

Run from the project folder after `make repro` (or `make benchmarks`, which does both):

    .venv/bin/python benchmarks/run.py

Each benchmark runs as its own process and writes its results to
benchmarks/results/<name>.json, which is committed with the page; the page is
then rendered from the results files there. So ``--only`` re-measures some
benchmarks and keeps the others' committed results. The whole run takes about
25 minutes on 2 cores, 9 of them the from-scratch collection of the default
study.

``--quick`` shortens every benchmark (fewer repeats and items, no full study)
to a few minutes. It checks that the scripts work, and it writes to
build/benchmarks/quick/ and build/benchmarks-quick.md (both git-ignored), so
the committed results and page are left alone.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from page import render

PROJECT = Path(__file__).resolve().parent.parent
RESULTS = PROJECT / "benchmarks" / "results"
QUICK_RESULTS = PROJECT / "build" / "benchmarks" / "quick"
PAGE = PROJECT / "docs" / "benchmarks.md"
# name -> (script, arguments of a full run, arguments of a quick run or None to skip it with --quick)
BENCHMARKS = {
    "mds": ("mds_tests.py", [], ["--repeats", "1"]),
    "analysis": ("analysis.py", [], ["--repeats", "2"]),
    "remote": ("remote_throughput.py", [], ["--repeats", "1", "--seconds", "2", "--concurrency", "4", "16"]),
    "local": ("local_collection.py", ["--skip-study"], ["--quick"]),
    "study": ("local_collection.py", ["--skip-items"], None),
}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="+", choices=list(BENCHMARKS), default=list(BENCHMARKS),
                        help="benchmarks to run (default: all); the page still shows the others' last results")
    parser.add_argument("--quick", action="store_true", help="short runs that check the scripts work")
    parser.add_argument("--render-only", action="store_true",
                        help="write the page from the existing results files without running anything")
    parser.add_argument("--results", type=Path, default=None,
                        help="folder of the results files (default: benchmarks/results, with --quick "
                             "build/benchmarks/quick)")
    parser.add_argument("--page", type=Path, default=None,
                        help="the page to write (default: docs/benchmarks.md, with --quick build/benchmarks-quick.md)")
    args = parser.parse_args()
    if args.page is None:
        args.page = PROJECT / "build" / "benchmarks-quick.md" if args.quick else PAGE
    if args.results is None:
        args.results = QUICK_RESULTS if args.quick else RESULTS
    return args


def main() -> None:
    args = parse_args()
    results_folder = args.results
    if not args.render_only:
        for name in args.only:
            script, full, quick = BENCHMARKS[name]
            if args.quick and quick is None:
                continue  # no short form: the whole study is the measurement
            command = [sys.executable, str(PROJECT / "benchmarks" / script), *(quick if args.quick else full),
                       "--json", str(results_folder / f"{name}.json")]
            print(f"# {name}: {' '.join(command)}", flush=True)
            status = subprocess.run(command, cwd=PROJECT).returncode
            if status != 0:
                raise SystemExit(f"error: benchmark {name} failed with status {status}; the page was not written")
    results = {}
    for name in BENCHMARKS:
        path = results_folder / f"{name}.json"
        if path.exists():
            results[name] = json.loads(path.read_text(encoding="utf-8"))
    source = results_folder.resolve()
    source = source.relative_to(PROJECT) if source.is_relative_to(PROJECT) else source
    try:
        args.page.parent.mkdir(parents=True, exist_ok=True)
        args.page.write_text(render(results, source=str(source), quick=args.quick), encoding="utf-8")
    except OSError as error:
        raise SystemExit(f"error: cannot write the page {args.page} ({error.strerror}); give a writable path "
                         "with --page") from None
    print(f"wrote {args.page}")


if __name__ == "__main__":
    main()
