"""The whole pipeline, collect included, run by DVC with the real SmolLM2 model.

To stay fast, the study asks one trial in logprobs mode (one forward pass per item and
per dilemma).
"""

import json
import shutil

import pytest

from conftest import PROJECT_ROOT
from test_pipeline import BIN, run, study_params

MODELS = """\
models:
  smol-a:
    provider: llama_cpp
    model: SmolLM2-135M-Instruct
    n_ctx: 2048
    n_batch: 512
    n_threads: 2

"""
SECOND_MODEL = """\
  smol-b:
    provider: llama_cpp
    model: SmolLM2-135M-Instruct
    n_ctx: 2048
    n_batch: 256
    n_threads: 2

"""
DVC = str(BIN / "dvc")


def ran_stages(output: str) -> list[str]:
    return [line.split("'")[1] for line in output.splitlines() if line.startswith("Running stage '")]


def set_params(root, models: str) -> None:
    text = study_params(models).replace("trials: 10", "trials: 1").replace("answer_mode: text", "answer_mode: logprobs")
    (root / "params.yaml").write_text(text, encoding="utf-8")


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    root = tmp_path_factory.mktemp("study")
    for name in ("dvc.yaml", ".gitignore"):
        shutil.copy(PROJECT_ROOT / name, root / name)
    for folder in ("stages", "llmvalues", "data/norms", "data/dilemmas"):
        if (PROJECT_ROOT / folder).exists():
            shutil.copytree(PROJECT_ROOT / folder, root / folder, ignore=shutil.ignore_patterns("__pycache__"))
    (root / "data" / "raw").mkdir(parents=True, exist_ok=True)
    (root / "data" / "raw" / ".gitkeep").touch()
    set_params(root, MODELS)
    run(["git", "init", "-q"], root)
    run([DVC, "init", "-q"], root)
    run([DVC, "config", "core.analytics", "false"], root)
    first = run([DVC, "repro"], root)
    return root, first.stdout


def test_first_repro_runs_every_stage(study):
    root, output = study
    stages = ran_stages(output)
    assert stages[0] == "collect@smol-a"
    assert "clean" in stages
    assert "score" in stages
    assert "dilemmas" in stages
    # One trial: 57 items, then the 32 shipped dilemmas (logprobs mode asks each once).
    assert (root / "data" / "store" / "smol-a.jsonl").read_text().count("\n") == 57 + 32
    assert (root / "data" / "raw" / "smol-a.jsonl").read_text().count("\n") == 57 + 32
    assert (root / "data" / "scores" / "values.csv").read_text().count("\n") == 2  # header and one trial
    metrics = json.loads((root / "reports" / "metrics" / "dilemmas.json").read_text())
    assert metrics["models"]["smol-a"]["analysed"] == 32


def test_changing_score_param_reruns_only_downstream(study):
    root, _ = study
    text = (root / "params.yaml").read_text()
    (root / "params.yaml").write_text(text.replace("min_valid_items_per_value: 2", "min_valid_items_per_value: 1"))
    stages = ran_stages(run([DVC, "repro"], root).stdout)
    assert "score" in stages
    assert not any(stage.startswith("collect@") or stage == "clean" for stage in stages)
    assert ran_stages(run([DVC, "repro"], root).stdout) == []


def test_adding_a_model_collects_only_it(study):
    root, _ = study
    text = (root / "params.yaml").read_text()
    (root / "params.yaml").write_text(text.replace("\ninstrument:", SECOND_MODEL.rstrip("\n") + "\n\ninstrument:", 1))
    stages = ran_stages(run([DVC, "repro"], root).stdout)
    assert "collect@smol-b" in stages
    assert "collect@smol-a" not in stages
    assert "clean" in stages


def test_forced_repro_sends_nothing_and_changes_nothing(study):
    root, _ = study
    files = ["data/store/smol-a.jsonl", "data/raw/smol-a.jsonl", "data/clean/answers.csv",
             "data/scores/values.csv", "reports/metrics/quality.json", "dvc.lock"]
    before = {name: (root / name).read_bytes() for name in files}
    result = run([DVC, "repro", "--force"], root)
    assert "0 requests sent" in result.stderr + result.stdout
    assert {name: (root / name).read_bytes() for name in files} == before
