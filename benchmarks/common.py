"""Helpers shared by the benchmark scripts: the machine, child processes with their peak memory, results files."""

from __future__ import annotations

import datetime
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

PROJECT = Path(__file__).resolve().parent.parent
# Left out when the project is copied for a benchmark run: environments, caches and build output.
COPY_IGNORE = shutil.ignore_patterns(".venv", "build", "dvc_plots", ".pytest_cache", "*.egg-info", "models", "tmp")
PACKAGES = ("numpy", "numba", "scipy", "scikit-learn", "pandas", "llama-cpp-python", "openai", "anthropic", "dvc")


def machine() -> dict[str, Any]:
    """Describe this machine and environment: CPU model and count, memory, Python and package versions."""
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory_gib = None
    try:
        pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        memory_gib = round(pages / 2**30, 1)
    except (ValueError, OSError):
        pass
    versions = {}
    for package in PACKAGES:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    return {"cpu": cpu, "cpus": os.cpu_count(), "memory_gib": memory_gib, "system": platform.system(),
            "machine": platform.machine(), "python": platform.python_version(), "packages": versions}


@dataclass(frozen=True)
class ChildRun:
    """One finished child process: its command, wall time, CPU time and peak resident memory."""

    command: list[str]
    seconds: float
    cpu_seconds: float
    peak_rss_mib: float
    status: int
    output: str


# Runs a command and writes its resource usage to a file. Started as a small process of its own,
# because Linux carries a process's peak memory over fork and exec: a child started directly
# from a benchmark that has models in memory would report at least the benchmark's peak.
LAUNCHER = """
import json, resource, subprocess, sys
status = subprocess.call(sys.argv[2:])
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
with open(sys.argv[1], "w", encoding="utf-8") as stream:
    json.dump({"status": status, "cpu_seconds": usage.ru_utime + usage.ru_stime, "maxrss_kib": usage.ru_maxrss}, stream)
"""


def run_child(command: list[str], cwd: Path, env: dict[str, str] | None = None) -> ChildRun:
    """Run ``command`` to the end, with its wall time, CPU time and peak resident memory.

    The peak covers the command's process and those of its descendants it waited for.
    Output (stdout and stderr together) is kept for the error message.
    """
    with tempfile.TemporaryDirectory(prefix="llmvalues-bench-usage-") as folder:
        report = Path(folder) / "usage.json"
        start = time.perf_counter()
        finished = subprocess.run([sys.executable, "-c", LAUNCHER, str(report), *command], cwd=cwd, env=env,
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        seconds = time.perf_counter() - start
        usage = json.loads(report.read_text(encoding="utf-8"))
    # ru_maxrss is in KiB on Linux.
    return ChildRun(command, seconds, usage["cpu_seconds"], usage["maxrss_kib"] / 1024, usage["status"],
                    finished.stdout.decode("utf-8", errors="replace"))


def checked(run: ChildRun) -> ChildRun:
    """Return ``run``, or raise RuntimeError with its output when it failed."""
    if run.status != 0:
        raise RuntimeError(f"{' '.join(run.command)} exited with status {run.status}:\n{run.output[-3000:]}")
    return run


def venv_environment(project: Path) -> dict[str, str]:
    """Return an environment that runs the stages of ``project`` with this interpreter's packages.

    The interpreter's folder comes first on PATH (the stage commands call
    ``python`` and ``dvc``), and ``project`` first on PYTHONPATH, so a copy of
    the project runs its own code.
    """
    env = dict(os.environ)
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    env["PYTHONPATH"] = str(project)
    return env


def require_up_to_date(project: Path) -> None:
    """Exit with a message unless `dvc status` finds the pipeline of ``project`` up to date."""
    dvc = str(Path(sys.executable).parent / "dvc")
    status = run_child([dvc, "status"], project, venv_environment(project))
    if status.status != 0 or "up to date" not in status.output:
        raise SystemExit(f"error: the pipeline in {project} is not up to date, so the benchmark would not measure "
                         f"the committed study; run `make repro` first:\n{status.output}")


def copy_project(target: Path) -> Path:
    """Copy the project's working tree (with .git, .dvc and data; without .venv and build output) to ``target``."""
    shutil.copytree(PROJECT, target, ignore=COPY_IGNORE, symlinks=True)
    return target


def write_results(path: Path, benchmark: str, command: str, results: dict[str, Any]) -> None:
    """Write one benchmark's results with the machine and the time of the run to ``path`` as JSON."""
    document = {"benchmark": benchmark, "command": command,
                "finished": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                "machine": machine(), **results}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
