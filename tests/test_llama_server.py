"""The OpenAI-compatible path with the real embedded model behind llama_cpp.server on 127.0.0.1."""

import dataclasses
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

from llmvalues.collect import Collector, Store, settings_from_params
from llmvalues.instrument import resolve_instrument
from llmvalues.parsing import STATUSES, parse_reply
from llmvalues.prompts import resolve_template
from llmvalues.providers import create_provider
from llmvalues.weights import MODELS_DIR, locate_weights

MODEL = "SmolLM2-135M-Instruct"
COLLECT = {"trials": 2, "mode": "item", "answer_mode": "text", "constrain": "none", "distribution": True,
           "item_order": "fixed", "seed": 3, "reasks": 0, "temperature": 0.7, "top_p": 0.95, "max_tokens": 6}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory):
    """Start llama_cpp.server with the SmolLM2 weights on 127.0.0.1; yield its base URL."""
    weights = locate_weights(MODEL, None, source="test", field="model", models_dir=MODELS_DIR)
    port = free_port()
    log = tmp_path_factory.mktemp("llama-server") / "server.log"
    with log.open("w") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "llama_cpp.server", "--model", str(weights), "--model_alias", MODEL,
             "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "2048", "--n_threads", "2"],
            stdout=output, stderr=subprocess.STDOUT)
    base_url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"{base_url}/models", timeout=2):
                    break
            except (urllib.error.URLError, ConnectionError):
                if process.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"llama_cpp.server did not start:\n{log.read_text()}") from None
                time.sleep(0.25)
        yield base_url
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def collect(tmp_path, base_url, **changes):
    entry = {"provider": "openai_compatible", "model": MODEL, "base_url": base_url, "constrain": "none",
             "concurrency": 2, "timeout_s": 120.0}
    settings = settings_from_params("smol-server", entry, {**COLLECT, **changes}, "neutral")
    instrument = resolve_instrument("llmvalues-portraits-v1")
    instrument = dataclasses.replace(instrument, items={item: instrument.items[item] for item in (1, 2, 3)})
    collector = Collector(settings, instrument, resolve_template("portrait-chat-v1"), Store(tmp_path / "store.jsonl"),
                          lambda: create_provider("smol-server", entry))
    return collector, collector.run()


def test_answers_from_the_embedded_model(tmp_path, llama_server):
    collector, records = collect(tmp_path, llama_server)
    assert collector.sent == len(records) == 6
    for record in records:
        assert record["provider"] == "openai_compatible"
        assert record["model_returned"] == MODEL
        assert isinstance(record["reply"], str) and record["reply"].strip()
        assert record["usage"]["completion_tokens"] >= 1
        assert record["cost_usd"] is None  # no price for a local server's model
        assert parse_reply(record["reply"], finish_reason=record["finish_reason"]).status in STATUSES
        distribution = record["distribution"]
        if distribution is not None:
            # Only the 20 most likely tokens come back: digits outside them are listed.
            assert sum(distribution["probabilities"].values()) == pytest.approx(1.0)
            assert set(distribution["missing_digits"]) <= {"1", "2", "3", "4", "5", "6"}
        else:
            assert "no digit" in record["error"] or "top_logprobs" in record["error"]


def test_logprobs_mode_through_the_server(tmp_path, llama_server):
    _, records = collect(tmp_path, llama_server, answer_mode="logprobs")
    read = [record for record in records if record["distribution"] is not None]
    assert read, [record["error"] for record in records]
    for record in read:
        assert record["reply"] is None
        assert record["sampling"]["max_tokens"] == 1
        assert 0 < record["distribution"]["digit_mass"] <= 1


def test_stored_answers_are_reused(tmp_path, llama_server):
    first, records = collect(tmp_path, llama_server)
    second, again = collect(tmp_path, llama_server)
    assert second.sent == 0
    assert second.reused == len(records)
    assert [record["key"] for record in again] == [record["key"] for record in records]
