"""Time remote collection against the loopback fake provider at several concurrency levels.

Run from the project folder:

    .venv/bin/python benchmarks/remote_throughput.py

For each provider (OpenAI chat completions and Anthropic messages, each through
its official client) and each concurrency C, the script starts a
``FakeProviderServer`` on 127.0.0.1 that replies to every request after
``--latency`` seconds. It then runs a real ``Collector`` over the 57 items of
llmvalues-portraits-v1 into an empty store in a temporary folder. No request
leaves 127.0.0.1, and the API key is a dummy set in this process's environment.

The ideal throughput is C / latency requests per second: C requests always in
flight, each taking exactly the server's latency. The number of trials is set
so that one run at the ideal throughput lasts about ``--seconds``. Each
configuration runs ``--repeats`` times and the table shows the run with the
median throughput. A last configuration makes the server fail 20% of requests
(status 429, 500 and 529, hung requests, malformed bodies, dropped connections)
to show what retries cost. Failed tries and timed-out requests hold request
slots too, so its rate is not comparable with the ideal.

By default the server runs in a thread of this process, so its work competes
with the collector's for the GIL. ``--server process`` runs it as
``python -m llmvalues.testing.fake_provider`` in a child process instead, which
shows the client's own limit.

Prints a Markdown table, one row per configuration, after one progress line per run.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

# Import both clients before any timing, so that the first run does not pay for the imports.
import anthropic
import openai

from llmvalues.collect import Collector, Store, settings_from_params
from llmvalues.instrument import resolve_instrument
from llmvalues.prompts import resolve_template
from llmvalues.providers import create_provider
from llmvalues.testing.fake_provider import FakeProviderServer

from common import write_results

KEY_VARIABLE = "LLMVALUES_BENCH_KEY"
DUMMY_KEY = "bench-key-not-secret"
INSTRUMENT = "llmvalues-portraits-v1"
TEMPLATE = "portrait-chat-v1"
MODEL = "fake-model"
PRICES = {MODEL: {"input": 1.0, "output": 4.0}}
# The collect settings of params.yaml, except trials (set per run) and constrain, because remote models
# cannot constrain decoding.
COLLECT = {"mode": "item", "answer_mode": "text", "constrain": "none", "distribution": True,
           "item_order": "fixed", "seed": 20240601, "reasks": 2, "temperature": 0.7, "top_p": 0.95,
           "max_tokens": 4}
FAILURE_RATE = 0.2
# The failing server and the client settings of the retry run, as in tests/test_remote_collect.py.
FAILURE_SERVER = {"seed": 5, "hang_seconds": 2.0, "retry_after_ms": 20}
FAILURE_CLIENT = {"timeout_s": 0.5, "backoff_s": 0.01, "max_backoff_s": 0.05}
# Seconds to wait for a server child process to print its URL, and then to exit after SIGTERM.
SERVER_PROCESS_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class Configuration:
    """One timed setting: the provider, the concurrency, the trials and the server's failure rate."""

    provider: str
    concurrency: int
    trials: int
    failure_rate: float = 0.0


@dataclass(frozen=True)
class Measurement:
    """The counts and times of one timed run.

    ``requests`` counts every HTTP request of the run, retries included,
    ``answers`` the records the run returned and ``retries`` the retries by kind
    of failure. ``cpu_seconds`` is the CPU time of
    this process, which includes the server threads unless the server runs in a
    child process. ``other_cpu_seconds`` is the CPU time of every other process on
    the machine, the server child process included, or None where /proc/stat is missing.
    """

    configuration: Configuration
    requests: int
    answers: int
    retries: dict[str, int]
    seconds: float
    cpu_seconds: float
    other_cpu_seconds: float | None
    latency: float

    @property
    def requests_per_second(self) -> float:
        return self.requests / self.seconds

    @property
    def answers_per_second(self) -> float:
        return self.answers / self.seconds

    @property
    def ideal(self) -> float:
        """The concurrency-bound ideal throughput C / latency, in requests per second."""
        return self.configuration.concurrency / self.latency

    @property
    def percent_of_ideal(self) -> float:
        """The answers per second as a percentage of the ideal throughput."""
        return 100 * self.answers_per_second / self.ideal


def parse_args() -> argparse.Namespace:
    """Parse the command line, and exit with a usage message on an invalid value."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--concurrency", type=int, nargs="+", default=[4, 8, 16, 32],
                        help="concurrency levels to time, in requests in flight at once (default: 4 8 16 32)")
    parser.add_argument("--latency", type=float, default=0.2,
                        help="seconds the fake server waits before each reply (default: 0.2)")
    parser.add_argument("--seconds", type=float, default=8.0,
                        help="duration in seconds of one run at the ideal throughput, which sets the number of "
                             "trials, at least 1 (default: 8)")
    parser.add_argument("--trials", type=int, default=None,
                        help="trials of the 57 items in every run, in place of the number set by --seconds")
    parser.add_argument("--repeats", type=int, default=3,
                        help="runs of each configuration; the table shows the median (default: 3)")
    parser.add_argument("--providers", nargs="+", choices=["openai", "anthropic"], default=["openai", "anthropic"],
                        help="providers to time (default: openai anthropic)")
    parser.add_argument("--failure-concurrency", type=int, default=16,
                        help="concurrency of the run with a 20%% failure rate, with the openai provider; "
                             "0 skips that run (default: 16)")
    parser.add_argument("--json", type=Path, default=None, help="also write the results to this JSON file")
    parser.add_argument("--server", choices=["thread", "process"], default="thread",
                        help="run the fake server in a thread of this process or in a child process "
                             "(default: thread)")
    args = parser.parse_args()

    for name in ("latency", "seconds"):
        if getattr(args, name) <= 0:
            parser.error(f"--{name} must be positive, got {getattr(args, name)}")
    for name in ("trials", "repeats"):
        value = getattr(args, name)
        if value is not None and value < 1:
            parser.error(f"--{name} must be at least 1, got {value}")
    if min(args.concurrency) < 1:
        parser.error(f"every --concurrency must be at least 1, got {' '.join(map(str, args.concurrency))}")
    if args.failure_concurrency < 0:
        parser.error(f"--failure-concurrency must be at least 0 (0 skips the retry run), "
                     f"got {args.failure_concurrency}")
    return args


def trials_for(concurrency: int, latency: float, seconds: float, items: int) -> int:
    """Return the number of trials whose requests last about ``seconds`` at the ideal throughput (at least 1)."""
    requests = seconds * concurrency / latency
    return max(1, round(requests / items))


def busy_cpu_seconds() -> float | None:
    """Return the CPU time that every process on the machine has used since boot, or None without /proc/stat."""
    try:
        with open("/proc/stat", encoding="ascii") as stream:
            fields = stream.readline().split()
    except OSError:
        return None
    # Fields after "cpu": user nice system idle iowait irq softirq steal, in clock ticks.
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(value) for value in fields[1:9])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class ServerAddress:
    """The base URLs of a fake server running in a child process, where no counters can be read."""

    openai_base_url: str
    anthropic_base_url: str


@contextlib.contextmanager
def server_thread(latency: float, failure_rate: float) -> Iterator[FakeProviderServer]:
    """Serve the fake provider from a thread of this process."""
    failures = {"failure_rate": failure_rate, **FAILURE_SERVER} if failure_rate else {}
    with FakeProviderServer(latency=latency, **failures) as server:
        yield server


@contextlib.contextmanager
def server_process(latency: float, failure_rate: float) -> Iterator[ServerAddress]:
    """Serve the fake provider from a child process, and stop that process (by its PID) on exit."""
    command = [sys.executable, "-m", "llmvalues.testing.fake_provider", "--latency", str(latency)]
    if failure_rate:
        command += ["--failure-rate", str(failure_rate), "--seed", str(FAILURE_SERVER["seed"]),
                    "--hang-seconds", str(FAILURE_SERVER["hang_seconds"]),
                    "--retry-after-ms", str(FAILURE_SERVER["retry_after_ms"])]
    child = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        # The server prints its URL, http://127.0.0.1:PORT, on its first line once it listens.
        url = child.stdout.readline().strip()
        if not url.startswith("http://127.0.0.1:"):
            raise RuntimeError(f"the fake server process {child.pid} printed {url!r} instead of its "
                               "http://127.0.0.1:PORT address; run the command alone to see its error: "
                               + " ".join(command))
        yield ServerAddress(openai_base_url=url + "/v1", anthropic_base_url=url)
    finally:
        child.terminate()
        try:
            child.wait(timeout=SERVER_PROCESS_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
        child.stdout.close()


def model_entry(server: FakeProviderServer | ServerAddress, provider: str, concurrency: int,
                **changes: Any) -> dict[str, Any]:
    """Build the params.yaml entry of a model that ``server`` serves."""
    base_url = server.anthropic_base_url if provider == "anthropic" else server.openai_base_url
    entry = {"provider": provider, "model": MODEL, "api_key_env": KEY_VARIABLE, "base_url": base_url,
             "constrain": "none", "concurrency": concurrency}
    entry.update(changes)
    return entry


def run_once(configuration: Configuration, latency: float, server_kind: str) -> Measurement:
    """Collect every cell of a configuration into an empty store and time the run.

    Raises RuntimeError when the run returned another number of records than it
    has cells, or a run without failures sent another number of requests, because
    then it did not time one request per cell.
    """
    instrument = resolve_instrument(INSTRUMENT)
    template = resolve_template(TEMPLATE)
    client_settings = FAILURE_CLIENT if configuration.failure_rate else {}
    serve = server_thread if server_kind == "thread" else server_process
    expected = configuration.trials * len(instrument.items)

    with tempfile.TemporaryDirectory(prefix="llmvalues-bench-") as folder, \
            serve(latency, configuration.failure_rate) as server:
        entry = model_entry(server, configuration.provider, configuration.concurrency, **client_settings)
        collect = {**COLLECT, "trials": configuration.trials}
        settings = settings_from_params("bench", entry, collect, "neutral", PRICES)
        collector = Collector(settings, instrument, template, Store(Path(folder) / "store.jsonl"),
                              lambda: create_provider("bench", entry))

        busy_before = busy_cpu_seconds()
        cpu_before = time.process_time()
        start = time.perf_counter()
        records = collector.run()
        seconds = time.perf_counter() - start
        cpu_seconds = time.process_time() - cpu_before
        busy_after = busy_cpu_seconds()

        tries = collector.sent + sum(collector.retries.values())
        requests = server.counts["requests"] if isinstance(server, FakeProviderServer) else tries

    other_cpu_seconds = None
    if busy_before is not None and busy_after is not None:
        other_cpu_seconds = max(0.0, busy_after - busy_before - cpu_seconds)
    if len(records) != expected:
        raise RuntimeError(f"{configuration}: expected {expected} records, got {len(records)}, so some "
                           "replies were asked again and the run did not time one request per cell")
    if not configuration.failure_rate and requests != expected:
        raise RuntimeError(f"{configuration}: expected {expected} requests without failures, counted {requests}")
    return Measurement(configuration, requests, len(records), dict(collector.retries), seconds, cpu_seconds,
                       other_cpu_seconds, latency)


def median_run(measurements: list[Measurement]) -> Measurement:
    """Return the run with the median throughput (the lower middle one of an even number)."""
    ranked = sorted(measurements, key=lambda measurement: measurement.answers_per_second)
    return ranked[(len(ranked) - 1) // 2]


def format_table(rows: list[tuple[Measurement, list[Measurement]]]) -> str:
    """Format (median run, all runs) pairs as a Markdown table.

    The retry run's ideal and percentage are in brackets because failed tries and
    timeouts make them not comparable with the others.
    """
    lines = ["| run | provider | C | requests | answers | wall time (s) | requests/s | answers/s | ideal C/L "
             "(req/s) | % of ideal (range) | process CPU ms/request |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for median, runs in rows:
        configuration = median.configuration
        percents = [run.percent_of_ideal for run in runs]
        percent = f"{median.percent_of_ideal:.0f}% ({min(percents):.0f}-{max(percents):.0f})"
        ideal = f"{median.ideal:.0f}"
        label = "no failures"
        if configuration.failure_rate:
            label = f"{configuration.failure_rate:.0%} failures, retried: ideal not comparable"
            ideal = f"({ideal})"
            percent = f"({median.percent_of_ideal:.0f}%, {min(percents):.0f}-{max(percents):.0f})"
        lines.append(f"| {label} | {configuration.provider} | {configuration.concurrency} | {median.requests} "
                     f"| {median.answers} | {median.seconds:.2f} | {median.requests_per_second:.1f} "
                     f"| {median.answers_per_second:.1f} | {ideal} | {percent} "
                     f"| {1000 * median.cpu_seconds / median.requests:.2f} |")
    return "\n".join(lines)


def describe_run(measurement: Measurement) -> str:
    """Return one progress line on a finished run."""
    configuration = measurement.configuration
    other = "unknown"
    if measurement.other_cpu_seconds is not None:
        other = f"{100 * measurement.other_cpu_seconds / measurement.seconds:.0f}% of a core"
    retries = ""
    if measurement.retries:
        kinds = ", ".join(f"{count} after {kind}" for kind, count in sorted(measurement.retries.items()))
        retries = f", retries: {kinds}"
    return (f"# {configuration.provider}, C={configuration.concurrency}, failure rate {configuration.failure_rate:g}: "
            f"{measurement.requests} requests in {measurement.seconds:.2f} s "
            f"({measurement.percent_of_ideal:.0f}% of ideal), this process {measurement.cpu_seconds:.2f} s CPU, "
            f"other processes {other}" + retries)


def main() -> None:
    """Time every configuration and print the table."""
    args = parse_args()
    os.environ[KEY_VARIABLE] = DUMMY_KEY
    items = len(resolve_instrument(INSTRUMENT).items)

    configurations = []
    for provider in args.providers:
        for concurrency in args.concurrency:
            trials = args.trials or trials_for(concurrency, args.latency, args.seconds, items)
            configurations.append(Configuration(provider, concurrency, trials))
    if args.failure_concurrency:
        trials = args.trials or trials_for(args.failure_concurrency, args.latency, args.seconds, items)
        configurations.append(Configuration("openai", args.failure_concurrency, trials, failure_rate=FAILURE_RATE))

    print(f"# {os.cpu_count()} CPUs ({platform.machine()}), Python {platform.python_version()}, "
          f"openai {openai.__version__}, anthropic {anthropic.__version__}, latency {args.latency:g} s, "
          f"server in a {args.server}, runs per configuration: {args.repeats}", flush=True)
    rows = []
    for configuration in configurations:
        runs = []
        for _ in range(args.repeats):
            runs.append(run_once(configuration, args.latency, args.server))
            print(describe_run(runs[-1]), flush=True)
        rows.append((median_run(runs), runs))
    print(format_table(rows))
    if args.json:
        write_results(args.json, "remote", "benchmarks/remote_throughput.py", {
            "latency": args.latency, "server": args.server, "repeats": args.repeats,
            "clients": {"openai": openai.__version__, "anthropic": anthropic.__version__},
            "runs": [result_row(median, runs) for median, runs in rows]})


def result_row(median: Measurement, runs: list[Measurement]) -> dict[str, Any]:
    """Return the results of one configuration: its median run and the range over all runs."""
    configuration = median.configuration
    percents = [run.percent_of_ideal for run in runs]
    return {"provider": configuration.provider, "concurrency": configuration.concurrency,
            "trials": configuration.trials, "failure_rate": configuration.failure_rate,
            "requests": median.requests, "answers": median.answers, "seconds": round(median.seconds, 2),
            "answers_per_second": round(median.answers_per_second, 1), "ideal": round(median.ideal, 1),
            "percent_of_ideal": round(median.percent_of_ideal, 1),
            "percent_range": [round(min(percents), 1), round(max(percents), 1)],
            "cpu_ms_per_request": round(1000 * median.cpu_seconds / median.requests, 2),
            "other_cpu_percent": None if median.other_cpu_seconds is None
            else round(100 * median.other_cpu_seconds / median.seconds, 1)}


if __name__ == "__main__":
    main()
