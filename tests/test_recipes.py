"""The recipes of docs/experiments.md, run as the page writes them, in real DVC repositories.

Each test builds a repository in a temporary folder as tests/test_pipeline_remote.py does,
commits it (an experiment starts from a commit) and runs the commands of one recipe block
of docs/experiments.md, the block after its ``<!-- recipe: NAME -->`` line.
FakeProviderServer on 127.0.0.1 stands in for OpenAI, Anthropic and Google: the tests add
a ``base_url`` override per model, fewer trials, and the short analysis settings of
``test_pipeline.study_params``, and set the keys the recipes name to dummy values.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import time
from pathlib import Path

import yaml

from conftest import PROJECT_ROOT
from llmvalues.testing.fake_provider import FakeProviderServer
from test_pipeline import BIN, run, study_params

DVC = str(BIN / "dvc")
DOC = PROJECT_ROOT / "docs" / "experiments.md"
QUEUE_TIMEOUT = 420  # seconds for a queue of two experiments on a busy 2-core machine
KEY_VARIABLE = "LLMVALUES_RECIPE_TEST_KEY"
FAKE_KEY = "recipe-key-not-secret"


# The recipes as docs/experiments.md writes them ------------------------------------------


def recipe(name: str) -> str:
    """Return the shell text of the bash block that follows ``<!-- recipe: NAME -->``."""
    match = re.search(rf"<!-- recipe: {re.escape(name)} -->\n```bash\n(.*?)\n```", DOC.read_text(encoding="utf-8"),
                      re.DOTALL)
    assert match, f"docs/experiments.md has no recipe block {name!r}"
    return match.group(1)


def commands(text: str) -> list[list[str]]:
    """Split a recipe into commands, joining lines continued with a backslash."""
    joined = text.replace("\\\n", " ")
    return [shlex.split(line) for line in joined.splitlines() if line.strip() and not line.lstrip().startswith("#")]


# Repositories --------------------------------------------------------------------------


def shipped_models() -> str:
    """The models section of the shipped params.yaml, comments included."""
    text = (PROJECT_ROOT / "params.yaml").read_text(encoding="utf-8")
    return text[text.index("models:"):text.index("\ninstrument:") + 1]


def remote_models(server: FakeProviderServer) -> str:
    return (
        "models:\n"
        "  remote:\n"
        "    provider: openai\n"
        "    model: fake-model\n"
        f"    api_key_env: {KEY_VARIABLE}\n"
        f"    base_url: {server.openai_base_url}\n"
        "    constrain: none\n"
        "    max_tokens: 8\n"
        "  claude:\n"
        "    provider: anthropic\n"
        "    model: fake-claude\n"
        f"    api_key_env: {KEY_VARIABLE}\n"
        f"    base_url: {server.url}\n"
        "    constrain: none\n"
        "    max_tokens: 8\n"
        "\n"
    )


def make_repository(root: Path, models: str, trials: int) -> Path:
    """Copy the pipeline into ``root``, write params.yaml, and commit it all."""
    root.mkdir()
    for name in ("dvc.yaml", ".gitignore"):
        shutil.copy(PROJECT_ROOT / name, root / name)
    for folder in ("stages", "llmvalues", "data/norms", "data/dilemmas"):
        shutil.copytree(PROJECT_ROOT / folder, root / folder, ignore=shutil.ignore_patterns("__pycache__"))
    text = study_params(models)
    text, count = re.subn(r"^(  trials: )\d+", rf"\g<1>{trials}", text, flags=re.MULTILINE)
    assert count == 1
    (root / "params.yaml").write_text(text, encoding="utf-8")
    run(["git", "init", "-q"], root)
    run(["git", "config", "user.name", "llmvalues tests"], root)
    run(["git", "config", "user.email", "tests@llmvalues.invalid"], root)
    run([DVC, "init", "-q"], root)
    run([DVC, "config", "core.analytics", "false"], root)
    commit(root, "Start the study")
    return root


def commit(root: Path, message: str) -> None:
    run(["git", "add", "-A"], root)
    run(["git", "commit", "-q", "-m", message], root)


def records(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def show(root: Path, revision: str, path: str) -> str:
    """A file as an experiment's commit holds it."""
    return run(["git", "show", f"{revision}:{path}"], root).stdout


# The queue -----------------------------------------------------------------------------


def start_queue(command: list[str], root: Path, log: Path) -> None:
    """Run the recipe's ``dvc queue start`` with its output in a file.

    The workers it starts inherit its standard streams, so reading them through a
    pipe (as ``run`` does) would wait until the queue is empty.
    """
    environment = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}", PYTHONPATH=str(root),
                       DVC_NO_ANALYTICS="1")
    with log.open("w") as stream:
        result = subprocess.run(command, cwd=root, env=environment, stdout=stream, stderr=subprocess.STDOUT,
                                timeout=120)
    assert result.returncode == 0, log.read_text()


def workers_alive(root: Path) -> bool:
    """Whether a queue worker of this repository still runs (DVC writes each one's pid under .dvc/tmp)."""
    for pid_file in (root / ".dvc" / "tmp" / "exps" / "celery").glob("dvc-exp-worker-*.pid"):
        try:
            command = Path(f"/proc/{int(pid_file.read_text())}/cmdline").read_bytes()
        except (OSError, ValueError):
            continue
        if b"queue-worker" in command:
            return True
    return False


def experiment_refs(root: Path) -> set[str]:
    """The names of the experiments DVC has committed so far (refs/exps/...)."""
    refs = run(["git", "for-each-ref", "--format=%(refname:lstrip=-1)", "refs/exps/"], root).stdout.split()
    return set(refs)


def wait_for_queue(root: Path, status_command: list[str], names: set[str]) -> str:
    """Wait until nothing is queued or running, as the recipe's ``dvc queue status`` shows; return it.

    The status is a DVC command that takes seconds of CPU, so it is asked when the
    experiments ``names`` have all been committed, when no worker is left, or every 15 s.
    """
    deadline = time.monotonic() + QUEUE_TIMEOUT
    asked = time.monotonic()
    while True:
        ready = names <= experiment_refs(root) or not workers_alive(root)
        if (ready and time.monotonic() - asked > 3) or time.monotonic() - asked > 15:
            asked = time.monotonic()
            status = run(status_command, root).stdout
            if not re.search(r"\b(Queued|Running)\b", status):
                return status
        if time.monotonic() > deadline:
            raise AssertionError(f"the queue did not finish in {QUEUE_TIMEOUT} s:\n{status}")
        time.sleep(1)


def task_states(status: str) -> dict[str, str]:
    """Map each experiment name in ``dvc queue status`` output to its state."""
    states = {}
    for line in status.splitlines():
        match = re.match(r"^[0-9a-f]{7}\s+(\S+)\s+.*\b(Queued|Running|Success|Failed)\s*$", line)
        if match:
            states[match.group(1)] = match.group(2)
    return states


def experiments(root: Path) -> dict[str, dict]:
    """Map each experiment name of the current commit to its revision and params, from ``dvc exp show --json``."""
    found = {}
    for baseline in json.loads(run([DVC, "exp", "show", "--json"], root).stdout):
        for experiment in baseline.get("experiments") or []:
            for revision in experiment["revs"]:
                found[revision["name"]] = {"rev": revision["rev"],
                                           "params": revision["data"]["params"]["params.yaml"]["data"]}
    return found


def assert_succeeded(root: Path, states: dict[str, str], names: set[str]) -> None:
    """Fail with the experiments' logs unless exactly ``names`` ran, each with success."""
    if states != dict.fromkeys(names, "Success"):
        logs = "\n".join(run([DVC, "queue", "logs", name], root, check=False).stdout[-4000:] for name in sorted(names))
        raise AssertionError(f"queue states {states}:\n{logs}")


def stop_queue(root: Path) -> None:
    """Stop any worker still alive, so that none outlives the temporary folder."""
    if workers_alive(root):
        run([DVC, "queue", "stop", "--kill"], root, check=False, timeout=120)


# (a) The original study's design with today's models -------------------------------------


def test_original_study_recipe(tmp_path, monkeypatch):
    (command,) = commands(recipe("original-study"))
    assert command[:3] == ["dvc", "exp", "run"]
    added = dict(re.findall(r"^\+models\.([a-z0-9-]+)=\{provider: (\w+),", "\n".join(command), re.MULTILINE))
    assert sorted(added.values()) == ["anthropic", "openai", "openai_compatible"]
    for variable in re.findall(r"api_key_env: (\w+)", " ".join(command)):
        monkeypatch.setenv(variable, FAKE_KEY)

    with FakeProviderServer() as server:
        root = make_repository(tmp_path / "study", shipped_models(), trials=10)
        urls = {"openai": server.openai_base_url, "openai_compatible": server.openai_base_url,
                "anthropic": server.url}
        overrides = [argument for slug, provider in added.items()
                     for argument in ("-S", f'++models.{slug}.base_url="{urls[provider]}"')]
        result = run(command + overrides + ["-S", "collect.trials=2"], root)
        sent = server.counts["requests"]
    assert "Ran experiment(s): original-study" in result.stdout

    params = yaml.safe_load((root / "params.yaml").read_text(encoding="utf-8"))
    assert set(params["models"]) == set(added)
    assert set(params["prices"]) == {params["models"][slug]["model"] for slug in added}
    assert params["collect"]["distribution"] is False
    run([str(BIN / "llmvalues"), "check-params"], root)

    quality = json.loads((root / "reports" / "metrics" / "quality.json").read_text())["models"]
    assert set(quality) == set(added)
    for slug in added:
        assert quality[slug]["answers"] == 2 * 57
        assert quality[slug]["unpriced_records"] == 0
        assert quality[slug]["spend_usd"] > 0
    assert sent == 3 * 2 * (57 + 32)
    for slug, provider in added.items():
        stored = records((root / "data" / "raw" / f"{slug}.jsonl").read_text(encoding="utf-8"))
        assert {record["provider"] for record in stored} == {provider}
        assert all(record["distribution"] is None for record in stored)
        if provider == "anthropic":
            assert {record["sampling"]["temperature"] for record in stored} == {None}

    report = (root / "reports" / "report.md").read_text(encoding="utf-8")
    for slug in added:
        assert slug in report
        assert params["models"][slug]["model"] in report


# (b) A sweep over the temperature, in the queue with two workers ---------------------------


def test_temperature_sweep_recipe(tmp_path, monkeypatch):
    queue, start, status_command = commands(recipe("temperature-sweep"))
    assert start == ["dvc", "queue", "start", "-j", "2"]
    assert status_command == ["dvc", "queue", "status"]
    assert "collect.temperature=0.2,0.7,1.0" in queue
    queue = [argument.replace("0.2,0.7,1.0", "0.2,1.0") for argument in queue]  # two values for the test
    monkeypatch.setenv(KEY_VARIABLE, FAKE_KEY)

    with FakeProviderServer() as server:
        root = make_repository(tmp_path / "study", remote_models(server), trials=1)
        try:
            run(queue, root)
            start_queue(start, root, tmp_path / "queue-start.log")
            states = task_states(wait_for_queue(root, status_command, {"temperature-1", "temperature-2"}))
        finally:
            stop_queue(root)
        sent = server.counts["requests"]

    assert_succeeded(root, states, {"temperature-1", "temperature-2"})
    found = experiments(root)
    expected = {"temperature-1": 0.2, "temperature-2": 1.0}
    for name, temperature in expected.items():
        assert found[name]["params"]["collect"]["temperature"] == temperature
        remote = records(show(root, found[name]["rev"], "data/raw/remote.jsonl"))
        assert {record["sampling"]["temperature"] for record in remote} == {temperature}
        # The temperature is not sent to Anthropic, yet each queued copy sent its requests.
        claude = records(show(root, found[name]["rev"], "data/store/claude.jsonl"))
        assert len(claude) == 57 + 32
        assert {record["sampling"]["temperature"] for record in claude} == {None}
        log = run([DVC, "queue", "logs", name], root).stdout
        assert "collect claude: 89 records, 89 requests sent, 0 reused" in log
    assert sent == 2 * 2 * (57 + 32)
    assert not (root / "data" / "store").exists()  # the workspace did not change

    # Comparing, as the page shows it, with the names of a two-value sweep.
    compare = [[argument.replace("temperature-3", "temperature-2") for argument in command]
               for command in commands(recipe("compare"))]
    table = run(compare[0], root).stdout
    assert "temperature-1" in table
    assert "temperature-2" in table
    assert "collect.temperature" in table
    metrics = run(compare[1], root).stdout
    assert "reports/metrics/quality.json" in metrics
    run(compare[2], root)
    assert (root / "dvc_plots" / "index.html").is_file()
    assert compare[3] == ["dvc", "exp", "apply", "temperature-2"]
    run(compare[3], root)
    assert yaml.safe_load((root / "params.yaml").read_text())["collect"]["temperature"] == 1.0
    store = records((root / "data" / "store" / "remote.jsonl").read_text(encoding="utf-8"))
    assert {record["sampling"]["temperature"] for record in store} == {1.0}

    # Keeping the answers of both experiments.
    python, keep = recipe("merge-stores").split("\ngit add")
    result = run(["bash", "-e", "-c", python], root)
    assert "data/store/remote.jsonl: 89 answers added" in result.stdout
    again = run(["bash", "-e", "-c", python], root)
    assert set(re.findall(r": (\d+) answers added", again.stdout)) == {"0"}
    run(["bash", "-e", "-c", "git add" + keep], root)
    store = records((root / "data" / "store" / "remote.jsonl").read_text(encoding="utf-8"))
    assert len(store) == 2 * 89 == len({record["key"] for record in store})
    assert {record["sampling"]["temperature"] for record in store} == {0.2, 1.0}
    claude = records((root / "data" / "store" / "claude.jsonl").read_text(encoding="utf-8"))
    assert len(claude) == 89 == len({record["key"] for record in claude})
    assert run(["git", "status", "--porcelain", "data/store"], root).stdout == ""


# (c) A sweep over prompt templates ---------------------------------------------------------


def test_template_sweep_recipe(tmp_path, monkeypatch):
    queue, start = commands(recipe("template-sweep"))
    assert "collect.template=portrait-chat-v1,portrait-chat-v2" in queue
    monkeypatch.setenv(KEY_VARIABLE, FAKE_KEY)

    with FakeProviderServer() as server:
        root = make_repository(tmp_path / "study", remote_models(server).split("  claude:")[0] + "\n", trials=1)
        # llmvalues check-params loads and validates the template that params.yaml names.
        changed = (root / "params.yaml").read_text().replace("template: portrait-chat-v1", "template: portrait-chat-v2")
        (root / "v2.yaml").write_text(changed)
        run([str(BIN / "llmvalues"), "check-params", "--params", "v2.yaml"], root)
        (root / "v2.yaml").write_text(changed.replace("portrait-chat-v2", "portrait-chat-v9"))
        unknown = run([str(BIN / "llmvalues"), "check-params", "--params", "v2.yaml"], root, check=False)
        assert "unknown template 'portrait-chat-v9'" in unknown.stderr
        # A template of one's own is given by its path.
        (root / "prompts").mkdir()
        own = (PROJECT_ROOT / "llmvalues" / "prompts" / "portrait-chat-v2.yaml").read_text()
        (root / "prompts" / "my-template.yaml").write_text(own.replace("id: portrait-chat-v2", "id: my-template"))
        (root / "v2.yaml").write_text(changed.replace("portrait-chat-v2", "prompts/my-template.yaml"))
        run([str(BIN / "llmvalues"), "check-params", "--params", "v2.yaml"], root)
        shutil.rmtree(root / "prompts")
        (root / "v2.yaml").unlink()
        # The committed study, as in the project: its answers were collected with portrait-chat-v1.
        run([DVC, "repro"], root)
        commit(root, "Collect the study")
        try:
            run(queue, root)
            start_queue(start, root, tmp_path / "queue-start.log")
            states = task_states(wait_for_queue(root, [DVC, "queue", "status"], {"template-1", "template-2"}))
        finally:
            stop_queue(root)

    assert_succeeded(root, states, {"template-1", "template-2"})
    found = experiments(root)
    for name, template in (("template-1", "portrait-chat-v1"), ("template-2", "portrait-chat-v2")):
        assert found[name]["params"]["collect"]["template"] == template
        view = records(show(root, found[name]["rev"], "data/raw/remote.jsonl"))
        questionnaire = [record for record in view if record["battery"] == "pvq"]
        assert len(questionnaire) == 57
        assert {record["template"] for record in questionnaire} == {template}
    # v1 reuses the committed answers; v2 asks the 57 items anew and reuses the dilemmas.
    first = run([DVC, "queue", "logs", "template-1"], root).stdout
    assert "Stage 'collect@remote' didn't change, skipping" in first
    second = run([DVC, "queue", "logs", "template-2"], root).stdout
    assert "collect remote: 89 records, 57 requests sent, 32 reused" in second
