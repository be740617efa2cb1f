"""A remote model in a DVC pipeline: collected once with a key, re-run without one."""

import json
import shutil

from conftest import PROJECT_ROOT
from llmvalues.testing.fake_provider import FakeProviderServer
from test_pipeline import BIN, run, study_params

DVC = str(BIN / "dvc")
KEY_VARIABLE = "LLMVALUES_PIPELINE_TEST_KEY"


def remote_models(base_url: str) -> str:
    return (
        "models:\n"
        "  remote:\n"
        "    provider: openai\n"
        "    model: fake-model\n"
        f"    api_key_env: {KEY_VARIABLE}\n"
        f"    base_url: {base_url}\n"
        "    constrain: none\n"
        "    max_tokens: 8\n"
        "    backoff_s: 0.01\n"
        "    timeout_s: 10.0\n"
        "\n"
    )


def make_repository(root, base_url: str) -> None:
    for name in ("dvc.yaml", ".gitignore"):
        shutil.copy(PROJECT_ROOT / name, root / name)
    for folder in ("stages", "llmvalues", "data/norms", "data/dilemmas"):
        shutil.copytree(PROJECT_ROOT / folder, root / folder, ignore=shutil.ignore_patterns("__pycache__"))
    text = study_params(remote_models(base_url)).replace("trials: 10", "trials: 1")
    text = text.replace("prices:\n", "prices:\n  fake-model: {input: 1.0, output: 4.0}\n", 1)
    (root / "params.yaml").write_text(text, encoding="utf-8")
    run(["git", "init", "-q"], root)
    run([DVC, "init", "-q"], root)
    run([DVC, "config", "core.analytics", "false"], root)


def test_remote_model_through_dvc(tmp_path, monkeypatch):
    with FakeProviderServer() as server:
        make_repository(tmp_path, server.openai_base_url)
        monkeypatch.setenv(KEY_VARIABLE, "pipeline-key-not-secret")
        first = run([DVC, "repro", "collect@remote", "clean"], tmp_path)
        sent = server.counts["requests"]
        assert "89 requests sent" in first.stderr + first.stdout
        assert sent == 57 + 32

        store = (tmp_path / "data" / "store" / "remote.jsonl").read_bytes()
        quality = json.loads((tmp_path / "reports" / "metrics" / "quality.json").read_text())
        entry = quality["models"]["remote"]
        assert entry["all_records"] == 89
        assert entry["unpriced_records"] == 0
        assert entry["spend_usd"] > 0

        # A replication without the key: every answer is reused, nothing is sent.
        monkeypatch.delenv(KEY_VARIABLE)
        again = run([DVC, "repro", "--force", "collect@remote"], tmp_path)
        assert "0 requests sent, 89 reused" in again.stderr + again.stdout
        assert server.counts["requests"] == sent
    assert (tmp_path / "data" / "store" / "remote.jsonl").read_bytes() == store
