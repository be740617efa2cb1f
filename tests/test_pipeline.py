"""The clean and score stages run by DVC in a real repository in a temporary folder.

The views data/raw/<model>.jsonl are written by the test, so the stages run with
``dvc repro --downstream clean`` (clean and what follows it, not collect).
"""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from conftest import PROJECT_ROOT, make_dilemma_record, make_record, write_jsonl
from llmvalues.values import CIRCLE_ORDER

BIN = Path(sys.executable).parent
REPRO = [str(BIN / "dvc"), "repro", "--downstream", "clean"]
MODELS = """\
models:
  model-one:
    provider: llama_cpp
    model: first-weights
  model-two:
    provider: openai
    model: org/second
    api_key_env: SECOND_API_KEY

"""


def study_params(models: str = MODELS) -> str:
    """Return the shipped params.yaml with its models section replaced and short MDS tests.

    Twenty permutations and random-norm replications instead of the shipped counts
    keep each run of the structure stage to a second or two.
    """
    text = (PROJECT_ROOT / "params.yaml").read_text(encoding="utf-8")
    start = text.index("models:")
    end = text.index("\ninstrument:") + 1
    text = text[:start] + models + text[end:]
    for key in ("permutations", "random_stress_replications", "lda_permutations", "bootstrap"):
        text, count = re.subn(rf"^(  {key}: )\d+", r"\g<1>20", text, flags=re.MULTILINE)
        assert count >= 1, f"params.yaml no longer has {key}"
    return text


def run(command: list[str], cwd: Path, check: bool = True, timeout: float = 900) -> subprocess.CompletedProcess:
    """Run a command in its own process group; on a timeout, stop the whole group (DVC's stages too)."""
    environment = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}", PYTHONPATH=str(cwd),
                       DVC_NO_ANALYTICS="1")
    process = subprocess.Popen(command, cwd=cwd, env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, start_new_session=True)
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        raise
    result = subprocess.CompletedProcess(command, process.returncode, stdout, stderr)
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(command)} failed:\n{result.stdout}\n{result.stderr}")
    return result


def trial_records(model: str, trial: int) -> list[dict]:
    replies = ["5", "Like me", "I'd say 3", "2", "As an AI I have no values, but 4", "6"]
    records = [make_record(model, trial, item=item, reply=replies[(item + trial) % len(replies)])
               for item in range(1, 58)]
    records[9] = make_record(model, trial, item=10, reply="3 or 4")
    records.append(make_record(model, trial, item=10, reply="4", attempt=1))
    return records


def dilemma_records(model: str, trial: int) -> list[dict]:
    """Answer the first eight shipped dilemmas, the shown order alternating, with one re-ask."""
    replies = ["1", "Probably option B", "4", "6", "2", "Leaning towards option A", "5", "3"]
    records = []
    for number in range(1, 9):
        order = "AB" if (number + trial) % 2 else "BA"
        reply = replies[(number * trial) % len(replies)]
        if number == 3 and trial == 1:
            records.append(make_dilemma_record(model, trial, "d03", reply="Both options", shown_order=order))
            records.append(make_dilemma_record(model, trial, "d03", reply=reply, shown_order=order, attempt=1))
        else:
            records.append(make_dilemma_record(model, trial, f"d{number:02d}", reply=reply, shown_order=order))
    return records


@pytest.fixture(scope="module")
def repository(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("study")
    for name in ("dvc.yaml", ".gitignore"):
        shutil.copy(PROJECT_ROOT / name, root / name)
    shutil.copytree(PROJECT_ROOT / "stages", root / "stages", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(PROJECT_ROOT / "llmvalues", root / "llmvalues", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(PROJECT_ROOT / "data" / "norms", root / "data" / "norms")
    shutil.copytree(PROJECT_ROOT / "data" / "dilemmas", root / "data" / "dilemmas")
    (root / "params.yaml").write_text(study_params(), encoding="utf-8")
    for model in ("model-one", "model-two"):
        records = [record for trial in (1, 2, 3) for record in trial_records(model, trial)]
        records += [record for trial in (1, 2, 3) for record in dilemma_records(model, trial)]
        write_jsonl(root / "data" / "raw" / f"{model}.jsonl", records)
    # A removed model's view stays on disk; clean must not read it.
    (root / "data" / "raw" / "removed-model.jsonl").write_text("not json\n", encoding="utf-8")
    run(["git", "init", "-q"], root)
    run([str(BIN / "dvc"), "init", "-q"], root)
    run([str(BIN / "dvc"), "config", "core.analytics", "false"], root)
    run(REPRO, root)
    return root


def test_repro_writes_answers_quality_and_scores(repository):
    answers = pd.read_csv(repository / "data" / "clean" / "answers.csv")
    assert len(answers) == 2 * 3 * 58  # one re-ask per trial
    assert answers["model"].unique().tolist() == ["model-one", "model-two"]

    quality = json.loads((repository / "reports" / "metrics" / "quality.json").read_text())
    one = quality["models"]["model-one"]
    assert one["answers"] == 171
    assert one["status_counts"]["hedged"] > 0
    assert one["reasked_answers"] == 3
    assert "removed-model" not in quality["models"]

    values = pd.read_csv(repository / "data" / "scores" / "values.csv")
    assert values[["model", "trial"]].values.tolist() == [
        ["model-one", 1], ["model-one", 2], ["model-one", 3], ["model-two", 1], ["model-two", 2], ["model-two", 3],
    ]
    centered = values[[column for column in values.columns if column.endswith("_centered")][:19]]
    assert (centered.sum(axis=1).abs() < 1e-6).all()
    assert (values["n_valid"] == 57).all()

    report = (repository / "reports" / "report.html").read_text(encoding="utf-8")
    assert "model-one" in report
    assert "org/second" in report
    assert (repository / "reports" / "figures" / "report" / "profiles.svg").is_file()


def test_second_repro_runs_nothing(repository):
    result = run(REPRO, repository)
    assert "Running stage" not in result.stdout


def test_forced_repro_is_byte_identical(repository):
    outputs = ["data/clean/answers.csv", "data/scores/values.csv", "reports/metrics/quality.json", "dvc.lock",
               "reports/report.html", "reports/report.md", "reports/figures/report/profiles.svg",
               "reports/metrics/reliability.json", "reports/tables/reliability/values.csv",
               "reports/tables/reliability/retest.csv", "reports/figures/reliability/alpha.svg",
               "reports/metrics/structure.json", "reports/tables/structure/configurations.csv",
               "reports/tables/structure/permutations.csv", "reports/tables/structure/random-stress.csv",
               "reports/figures/structure/model-one.svg", "reports/figures/structure/all_models.svg",
               "reports/metrics/compare.json", "reports/tables/compare/versus-norms.csv",
               "reports/tables/compare/value-tests.csv", "reports/figures/compare/profiles.svg",
               "reports/metrics/dilemmas.json", "reports/tables/dilemmas/answers.csv",
               "reports/tables/dilemmas/fits.csv", "reports/figures/dilemmas/choices.svg"]
    before = {name: (repository / name).read_bytes() for name in outputs}
    run(REPRO + ["--force"], repository)
    after = {name: (repository / name).read_bytes() for name in outputs}
    assert before == after


def test_metrics_show_lists_every_stage(repository):
    result = run([str(BIN / "dvc"), "metrics", "show", "--json"], repository)
    assert "counted_rate" in result.stdout
    assert "alpha_raw_median" in result.stdout
    assert "stress1" in result.stdout
    assert "lodo_accuracy" in result.stdout


def test_plots_show_draws_every_model(repository):
    result = run([str(BIN / "dvc"), "plots", "show", "--json"], repository)
    shown = json.loads(result.stdout)
    assert not shown.get("errors")
    names = set(shown["data"])
    for folder in ("profiles", "alpha", "mds", "dilemmas"):
        for model in ("model-one", "model-two"):
            assert f"reports/plots/{folder}/{model}.csv" in names
    assert "reports/plots/profiles/human_means.csv" in names
    assert "reports/plots/mds/all_models.csv" in names
    profile = pd.read_csv(repository / "reports" / "plots" / "profiles" / "model-one.csv")
    assert profile["position"].tolist() == list(range(1, 20))
    assert profile["value"].tolist() == list(CIRCLE_ORDER)


def test_analysis_stages_write_metrics(repository):
    structure = json.loads((repository / "reports" / "metrics" / "structure.json").read_text())
    assert set(structure["units"]) == {"model-one", "model-two", "all_models"}
    assert structure["units"]["all_models"]["n_trials"] == 6
    assert structure["units"]["model-one"]["permutation"]["permutations"] == 20
    reliability = json.loads((repository / "reports" / "metrics" / "reliability.json").read_text())
    assert set(reliability["models"]) == {"model-one", "model-two"}
    assert set(reliability["models"]["model-one"]["values"]) == set(CIRCLE_ORDER)
    compare = json.loads((repository / "reports" / "metrics" / "compare.json").read_text())
    assert set(compare["models"]) == {"model-one", "model-two"}
    assert compare["discriminant"]["permutation"]["permutations"] == 20
    report = (repository / "reports" / "report.html").read_text(encoding="utf-8")
    assert "Comparisons with human norms and between models" in report
    assert "Structure of values (confirmatory MDS)" in report
    assert "<h2>Reliability</h2>" in report


def test_mds_param_reruns_structure_only(repository, tmp_path):
    clone = tmp_path / "clone"
    shutil.copytree(repository, clone)
    params = (clone / "params.yaml").read_text().replace("  type: ordinal ", "  type: interval ")
    (clone / "params.yaml").write_text(params)
    result = run(REPRO, clone)
    assert "Running stage 'structure'" in result.stdout
    assert "Running stage 'report'" in result.stdout
    assert "Running stage 'reliability'" not in result.stdout
    assert "Running stage 'score'" not in result.stdout
    structure = json.loads((clone / "reports" / "tables" / "structure" / "summary.json").read_text())
    assert structure["settings"]["type"] == "interval"


def test_bad_params_stop_the_stage_with_one_line(repository, tmp_path):
    clone = tmp_path / "clone"
    shutil.copytree(repository, clone)
    params = (clone / "params.yaml").read_text().replace("min_valid_items_per_value: 2",
                                                         "min_valid_items_per_value: '10'")
    (clone / "params.yaml").write_text(params)
    result = run(REPRO, clone, check=False)
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert ("params.yaml: score.min_valid_items_per_value: must be an integer, got the text '10'; "
            "write 10 without quotes") in output
    assert "Traceback" not in output
    assert not list(clone.rglob("*.tmp"))


def test_bad_record_names_file_and_line(repository, tmp_path):
    clone = tmp_path / "clone"
    shutil.copytree(repository, clone)
    view = clone / "data" / "raw" / "model-two.jsonl"
    lines = view.read_text().splitlines()
    record = json.loads(lines[4])
    record["item"] = 99
    lines[4] = json.dumps(record)
    view.write_text("\n".join(lines) + "\n")
    result = run(REPRO, clone, check=False)
    assert result.returncode != 0
    assert "data/raw/model-two.jsonl: line 5: item: must be an item number 1-57" in result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
