"""Bad settings stop the collect stage with one line naming the problem and the fix."""

import shutil
import subprocess
import sys

import pytest

from conftest import PROJECT_ROOT


@pytest.fixture
def project(tmp_path):
    shutil.copytree(PROJECT_ROOT / "llmvalues" / "instruments", tmp_path / "llmvalues" / "instruments")
    return tmp_path


def run_collect(project, params_text, slug="smollm2-135m"):
    (project / "params.yaml").write_text(params_text, encoding="utf-8")
    return subprocess.run([sys.executable, str(PROJECT_ROOT / "stages" / "collect.py"), slug], cwd=project,
                          capture_output=True, text=True, timeout=120)


SHIPPED = (PROJECT_ROOT / "params.yaml").read_text(encoding="utf-8")


@pytest.mark.parametrize("old, new, slug, expected", [
    ("template: portrait-chat-v1", "template: portrait-v9", "smollm2-135m",
     "params.yaml: collect.template: unknown template 'portrait-v9'; use one of"),
    ("trials: 10", "trials: 0", "smollm2-135m", "params.yaml: collect.trials: must be an integer of at least 1, got 0"),
    ("  smollm2-135m:", "  smollm2.135m:", "smollm2.135m", "params.yaml: models.smollm2.135m: invalid model key"),
    ("model: SmolLM2-135M-Instruct", "model: SmolLM9", "smollm2-135m",
     "params.yaml: models.smollm2-135m.model: no embedded weights for 'SmolLM9'"),
    ("template: portrait-completion-v1", "template: portrait-block-chat-v1", "gemma3-270m",
     "models.gemma3-270m.template: the template portrait-block-chat-v1 is for block mode, but collect.mode is item"),
    ("trials: 10", "trials: 10", "gpt-9", "params.yaml: models.gpt-9: no such model"),
    ("request\n  answer_mode: text", "request\n  answer_mode: logprobs", "smollm2-135m",
     "params.yaml: collect.answer_mode: logprobs reads one digit, so it needs item mode"),
    ("template: dilemma-chat-v1", "template: portrait-chat-v1", "smollm2-135m",
     "params.yaml: dilemmas.template: the template portrait-chat-v1 is for item mode, not for dilemmas"),
    ("file: data/dilemmas/mental-health-v1.yaml", "file: data/dilemmas/absent.yaml", "smollm2-135m",
     "data/dilemmas/absent.yaml: dilemma file not found"),
])
def test_bad_setting_gives_one_line(project, old, new, slug, expected):
    assert old in SHIPPED
    params = SHIPPED.replace(old, new, 1)
    if "logprobs" in new:
        params = params.replace("  mode: item ", "  mode: block ", 1)
    result = run_collect(project, params, slug)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert expected in lines[0]
    assert not (project / "data" / "raw").exists()
