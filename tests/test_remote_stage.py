"""The collect stage with a remote model: kills, resumes, batches, errors and secrets.

Each test runs ``stages/collect.py`` as a separate process in a temporary
project whose params.yaml points a remote model at the loopback test server.
"""

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import PROJECT_ROOT
from llmvalues.collect import Collector, Store, select_dilemma_battery, select_template, settings_from_params
from llmvalues.instrument import select_instrument
from llmvalues.params import load_params
from llmvalues.providers import create_provider
from llmvalues.records import EVENT_FIELDS
from llmvalues.testing.fake_provider import FakeProviderServer, request_key

SLUG = "remote"
KEY_VARIABLE = "LLMVALUES_STAGE_TEST_KEY"
# A made-up key, distinctive enough to be found by a scan of every output file.
SECRET = "sk-llmvalues-test-7d1e0c9a5b3f"


def write_project(root: Path, server: FakeProviderServer, provider: str = "openai", trials: int = 2,
                  **entry_changes) -> Path:
    """Create a project folder with the shipped instrument and dilemmas and a remote model."""
    shutil.copytree(PROJECT_ROOT / "llmvalues" / "instruments", root / "llmvalues" / "instruments")
    shutil.copytree(PROJECT_ROOT / "data" / "dilemmas", root / "data" / "dilemmas")
    shutil.copytree(PROJECT_ROOT / "data" / "norms", root / "data" / "norms")
    params = load_params(PROJECT_ROOT / "params.yaml")
    base_url = server.anthropic_base_url if provider == "anthropic" else server.openai_base_url
    entry = {"provider": provider, "model": "fake-model", "api_key_env": KEY_VARIABLE, "base_url": base_url,
             "constrain": "none", "max_tokens": 8, "concurrency": 8, "timeout_s": 1.5, "backoff_s": 0.01,
             "max_backoff_s": 0.05, "batch_poll_s": 0.05}
    entry.update(entry_changes)
    params["models"] = {SLUG: entry}
    params["prices"] = {"fake-model": {"input": 1.0, "output": 4.0, "batch_factor": 0.5}}
    params["collect"]["trials"] = trials
    # JSON is YAML: the params file is written without a YAML library.
    (root / "params.yaml").write_text(json.dumps(params, indent=2), encoding="utf-8")
    return root


def stage_command():
    return [sys.executable, str(PROJECT_ROOT / "stages" / "collect.py"), SLUG]


def stage_environment(key=SECRET):
    environment = dict(os.environ)
    environment.pop(KEY_VARIABLE, None)
    if key is not None:
        environment[KEY_VARIABLE] = key
    return environment


def run_stage(project: Path, key=SECRET, timeout=300) -> subprocess.CompletedProcess:
    return subprocess.run(stage_command(), cwd=project, env=stage_environment(key), capture_output=True, text=True,
                          timeout=timeout)


def read_lines(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def answers_of(records):
    return [{name: value for name, value in record.items() if name not in EVENT_FIELDS} for record in records]


def body_keys(project: Path, monkeypatch) -> dict[str, str]:
    """Map each request key of the project's params to the test server's key of its HTTP body."""
    monkeypatch.chdir(project)
    monkeypatch.setenv(KEY_VARIABLE, SECRET)
    params = load_params("params.yaml")
    entry = params["models"][SLUG]
    settings = settings_from_params(SLUG, entry, params["collect"], params["instrument"]["form"], params["prices"])
    collector = Collector(settings, select_instrument(params["instrument"], "params.yaml"),
                          select_template(params, SLUG), Store(project / "unused.jsonl"), lambda: None,
                          select_dilemma_battery(params, SLUG))
    provider = create_provider(SLUG, entry)
    mapping = {}
    for cell in collector.cells():
        for attempt in range(settings.reasks + 1):
            prepared = cell.prepare(attempt, None)
            mapping[prepared.key] = request_key(provider.body(prepared.request))
    return mapping


def kill_when(process: subprocess.Popen, condition, timeout: float = 120) -> bool:
    """SIGKILL the process as soon as ``condition()`` holds; False when it ended first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        if condition():
            process.send_signal(signal.SIGKILL)
            process.wait()
            return True
        time.sleep(0.005)
    process.kill()
    raise AssertionError("the stage neither reached the kill point nor ended")


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_sigkill_and_resume_give_the_same_records(tmp_path, monkeypatch, seed):
    rng = random.Random(seed)
    with FakeProviderServer(latency=0.005, failure_rate=0.1, seed=seed, hang_seconds=4.0) as server:
        reference = write_project(tmp_path / "reference", server)
        result = run_stage(reference)
        assert result.returncode == 0, result.stderr
        expected = read_lines(reference / "data" / "raw" / f"{SLUG}.jsonl")

        project = write_project(tmp_path / "killed", server)
        keys = body_keys(project, monkeypatch)
        store = project / "data" / "store" / f"{SLUG}.jsonl"
        kills = 0
        for _ in range(2):
            target = rng.randint(1, len(expected) - 1)
            process = subprocess.Popen(stage_command(), cwd=project, env=stage_environment(),
                                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            killed = kill_when(process, lambda: store.exists() and store.read_bytes().count(b"\n") >= target)
            kills += killed
            stored_before = {record["key"] for record in read_lines(store)}
            sent_from = len(server.received_keys)
            result = run_stage(project)
            assert result.returncode == 0, result.stderr
            resent = set(server.received_keys[sent_from:]) & {keys[key] for key in stored_before}
            assert not resent, "a request already answered was sent again"
        assert kills >= 1
    view = read_lines(project / "data" / "raw" / f"{SLUG}.jsonl")
    assert answers_of(view) == answers_of(expected)
    stored = read_lines(store)
    assert len({record["key"] for record in stored}) == len(stored)


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_batch_resumes_after_a_kill_between_submit_and_download(tmp_path, provider):
    with FakeProviderServer(batch_polls=10**6) as server:
        project = write_project(tmp_path, server, provider=provider, trials=1, batch=True)
        ledger = project / "data" / "store" / f"{SLUG}.batches.jsonl"
        process = subprocess.Popen(stage_command(), cwd=project, env=stage_environment(),
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        # Killed once the ledger line is complete: a kill in the middle of that write
        # loses the batch's id, and the next run submits the requests again.
        assert kill_when(process, lambda: ledger.exists() and ledger.read_bytes().endswith(b"\n"))
        assert server.counts["batches_created"] == 1
        assert read_lines(project / "data" / "store" / f"{SLUG}.jsonl") == []

        server.batch_polls = 0
        result = run_stage(project)
        assert result.returncode == 0, result.stderr
        assert server.counts["batches_created"] == 1
    view = read_lines(project / "data" / "raw" / f"{SLUG}.jsonl")
    assert len(view) == 57 + 32
    assert {record["batch_id"] for record in view} == {read_lines(ledger)[0]["batch_id"]}
    assert [entry["event"] for entry in read_lines(ledger)] == ["submitted", "collected"]


def test_fatal_error_prints_cause_and_fix(tmp_path):
    with FakeProviderServer() as server:
        project = write_project(tmp_path, server, concurrency=1)
        server.fail_next(401, code="invalid_api_key")
        result = run_stage(project)
        assert server.counts["requests"] == 1
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(f"error: collect {SLUG}: trial 1, item 1: 401 invalid_api_key")
    assert f"check the environment variable named by api_key_env" in last
    log = (project / "data" / "logs" / f"{SLUG}.log").read_text(encoding="utf-8")
    assert "stopping: trial 1, item 1: 401" in log


def test_missing_key_stops_before_any_request(tmp_path):
    with FakeProviderServer() as server:
        project = write_project(tmp_path, server)
        result = run_stage(project, key=None)
        assert server.counts["requests"] == 0
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(f"error: params.yaml: models.{SLUG}.api_key_env: the environment variable {KEY_VARIABLE}")
    assert "Traceback" not in result.stderr
    assert not (project / "data" / "raw").exists()


def test_log_counts_the_retries(tmp_path):
    with FakeProviderServer(failure_rate=0.2, seed=9, hang_seconds=4.0) as server:
        project = write_project(tmp_path, server, trials=1)
        result = run_stage(project)
        failures = sum(server.counts[kind] for kind in ("429", "500", "529", "timeout", "malformed", "drop"))
    assert result.returncode == 0, result.stderr
    log = (project / "data" / "logs" / f"{SLUG}.log").read_text(encoding="utf-8")
    assert log.count(" retry ") == failures
    assert f"{failures} retries" in result.stderr.strip().splitlines()[-1]
    assert f"{failures} retries" in log.strip().splitlines()[-1]


def test_no_api_key_in_any_output(tmp_path):
    with FakeProviderServer(failure_rate=0.2, seed=4, hang_seconds=4.0) as server:
        direct = write_project(tmp_path / "direct", server, trials=1)
        batch = write_project(tmp_path / "batch", server, trials=1, batch=True, batch_poll_s=0.01)
        failing = write_project(tmp_path / "failing", server, trials=1, concurrency=1)
        outputs = [run_stage(direct), run_stage(batch), run_stage(direct)]  # the third run reuses everything
        server.failure_rate = 0.0
        server.fail_next(401, code="invalid_api_key")
        outputs.append(run_stage(failing))
        assert SECRET in server.auth_headers  # the key did reach the server
    assert [output.returncode for output in outputs] == [0, 0, 0, 1]
    scanned = 0
    for project in (direct, batch, failing):
        for path in project.rglob("*"):
            if path.is_file():
                scanned += 1
                assert SECRET.encode() not in path.read_bytes(), f"the API key is in {path}"
    assert scanned >= 7  # stores, views, the ledger and the logs, besides the copied inputs
    for output in outputs:
        assert SECRET not in output.stdout + output.stderr


def test_check_params_names_an_unsupported_setting(tmp_path):
    with FakeProviderServer() as server:
        project = write_project(tmp_path, server, constrain="digit")
    result = subprocess.run([str(Path(sys.executable).parent / "llmvalues"), "check-params"], cwd=project,
                            env=stage_environment(key=None), capture_output=True, text=True, timeout=120)
    assert result.returncode == 2  # the command's code for bad input
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert f"models.{SLUG}.constrain: constrain: digit needs a grammar" in lines[0]
    assert "add constrain: none" in lines[0]


def test_check_params_accepts_a_remote_model_without_its_key(tmp_path):
    with FakeProviderServer() as server:
        project = write_project(tmp_path, server)
    result = subprocess.run([str(Path(sys.executable).parent / "llmvalues"), "check-params"], cwd=project,
                            env=stage_environment(key=None), capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["models"] == [SLUG]
