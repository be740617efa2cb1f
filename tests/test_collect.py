"""Collection with the real embedded SmolLM2-135M-Instruct model, on a handful of items."""

import dataclasses
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from llmvalues.collect import (Collector, DilemmaBattery, Settings, Store, call_seed, request_key,
                               select_dilemma_battery, trial_order, write_view)
from llmvalues.dilemma_answers import DILEMMAS, FILE_ORDER, REVERSED, choices_table, parse_dilemma_reply
from llmvalues.dilemmas import load_dilemma_set
from llmvalues.errors import InputError
from llmvalues.instrument import resolve_instrument
from llmvalues.parsing import COUNTED_STATUSES, parse_block_reply, parse_reply
from llmvalues.prompts import resolve_template
from llmvalues.providers import create_provider
from llmvalues.records import OPTIONAL_RECORD_FIELDS, RECORD_FIELDS, validate_record
from llmvalues import weights

SMOLLM2 = {"provider": "llama_cpp", "model": "SmolLM2-135M-Instruct", "n_ctx": 2048, "n_batch": 512, "n_threads": 2}
ITEMS = (1, 6, 23)
# Fields that describe the collection event, not the answer.
EVENT_FIELDS = ("latency_s", "requested_at", "received_at")


def small_instrument(items=ITEMS):
    instrument = resolve_instrument("llmvalues-portraits-v1")
    return dataclasses.replace(instrument, items={item: instrument.items[item] for item in items})


def settings(**changes) -> Settings:
    base = Settings(slug="smol", provider="llama_cpp", model="SmolLM2-135M-Instruct", trials=2, mode="item",
                    answer_mode="text", constrain="digit", distribution=True, item_order="fixed", seed=7, reasks=1,
                    temperature=0.7, top_p=0.95, max_tokens=4, form="neutral",
                    engine={"n_ctx": 2048, "n_batch": 512})
    return dataclasses.replace(base, **changes)


@pytest.fixture(scope="module")
def provider():
    return create_provider("smol", SMOLLM2)


def small_dilemmas(project_root, count=2, template="dilemma-chat-v1"):
    dilemma_set = load_dilemma_set(project_root / "data" / "dilemmas" / "mental-health-v1.yaml")
    dilemma_set = dataclasses.replace(dilemma_set, dilemmas=dilemma_set.dilemmas[:count])
    return DilemmaBattery(dilemma_set, resolve_template(template))


def collect(tmp_path, provider, name="store.jsonl", instrument=None, template="portrait-chat-v1", dilemmas=None,
            **changes):
    collector = Collector(settings(**changes), instrument or small_instrument(), resolve_template(template),
                          Store(tmp_path / name), lambda: provider, dilemmas)
    return collector, collector.run()


def answers_of(records):
    return [{name: value for name, value in record.items() if name not in EVENT_FIELDS} for record in records]


def test_call_seed_depends_on_every_part():
    seeds = {call_seed(7, trial, item, attempt) for trial in (1, 2) for item in (1, 2) for attempt in (0, 1)}
    assert len(seeds) == 8
    assert call_seed(7, 1, 1, 0) == call_seed(7, 1, 1, 0)
    assert all(0 <= seed < 2 ** 31 for seed in seeds)


def test_trial_order():
    assert trial_order([3, 1, 2], 1, "fixed", 7) == [1, 2, 3]
    shuffled = trial_order(range(1, 58), 1, "shuffled", 7)
    assert sorted(shuffled) == list(range(1, 58))
    assert shuffled == trial_order(range(1, 58), 1, "shuffled", 7)
    assert shuffled != trial_order(range(1, 58), 2, "shuffled", 7)


def test_request_key_is_canonical():
    assert request_key({"a": 1, "b": [1, 2]}) == request_key({"b": [1, 2], "a": 1})
    assert request_key({"trial": 1}) != request_key({"trial": 2})


def test_store_drops_a_partial_last_line(tmp_path):
    path = tmp_path / "store.jsonl"
    path.write_text('{"key": "a", "reply": "1"}\n{"key": "b", "re', encoding="utf-8")
    store = Store(path)
    assert list(store.records) == ["a"]
    assert path.read_text(encoding="utf-8") == '{"key": "a", "reply": "1"}\n'
    store.append({"key": "c", "reply": "2"})
    assert list(Store(path).records) == ["a", "c"]


def test_store_with_a_broken_line(tmp_path):
    path = tmp_path / "store.jsonl"
    path.write_text('{"key": "a"}\nnot json\n', encoding="utf-8")
    with pytest.raises(InputError, match=r"store.jsonl: line 2: not a stored record"):
        Store(path)


def test_item_mode_records(tmp_path, provider):
    collector, records = collect(tmp_path, provider)
    assert collector.sent == len(records)
    assert [(record["trial"], record["item"]) for record in records if record["attempt"] == 0] == [
        (1, 1), (1, 6), (1, 23), (2, 1), (2, 6), (2, 23)]
    for record in records:
        assert list(sorted(record)) == sorted(RECORD_FIELDS + OPTIONAL_RECORD_FIELDS)
        validate_record(record, "view", "record", "smol")
        assert record["reply"] in {"1", "2", "3", "4", "5", "6"}
        assert parse_reply(record["reply"]).status in COUNTED_STATUSES
        probabilities = record["distribution"]["probabilities"]
        assert sum(probabilities.values()) == pytest.approx(1.0, abs=1e-9)
        assert 0 < record["distribution"]["digit_mass"] <= 1
    assert len({record["key"] for record in records}) == len(records)


def test_second_run_sends_nothing(tmp_path, provider):
    _, first = collect(tmp_path, provider)
    collector, second = collect(tmp_path, provider)
    assert collector.sent == 0
    assert collector.reused == len(first)
    assert second == first


def test_results_do_not_depend_on_item_order(tmp_path, provider):
    _, fixed = collect(tmp_path, provider, name="fixed.jsonl")
    reversed_instrument = small_instrument(tuple(reversed(ITEMS)))
    _, other = collect(tmp_path, provider, name="other.jsonl", instrument=reversed_instrument)
    assert answers_of(fixed) == answers_of(other)


def test_logprobs_mode(tmp_path, provider):
    _, records = collect(tmp_path, provider, answer_mode="logprobs", trials=1)
    assert len(records) == len(ITEMS)
    for record in records:
        assert record["reply"] is None
        assert record["distribution"]["argmax"] in range(1, 7)
        assert 1 <= record["distribution"]["mean"] <= 6


def test_block_mode_grammar(tmp_path, provider):
    _, records = collect(tmp_path, provider, mode="block", trials=1, max_tokens=40, reasks=0,
                         template="portrait-block-chat-v1")
    (record,) = records
    assert record["items"] == list(ITEMS)
    assert record["numbering"] == {"1": 1, "2": 6, "3": 23}
    lines = record["reply"].splitlines()
    assert [line.split(":")[0] for line in lines] == ["1", "2", "3"]
    block = parse_block_reply(record["reply"], record["items"],
                              numbering={int(label): item for label, item in record["numbering"].items()})
    assert all(parsed.status in COUNTED_STATUSES for parsed in block.items.values())


def test_free_text_reasks_get_new_seeds(tmp_path, provider):
    _, records = collect(tmp_path, provider, constrain="none", max_tokens=12, reasks=2, trials=1)
    for item in ITEMS:
        attempts = [record for record in records if record["item"] == item]
        assert [record["attempt"] for record in attempts] == list(range(len(attempts)))
        assert len({record["seed"] for record in attempts}) == len(attempts)
        statuses = [parse_reply(record["reply"], finish_reason=record["finish_reason"]).status for record in attempts]
        # every attempt but the last was invalid; the last is valid or the re-asks ran out
        assert all(status not in COUNTED_STATUSES for status in statuses[:-1])
        assert statuses[-1] in COUNTED_STATUSES or len(attempts) == 3


def test_dilemma_records(tmp_path, provider, project_root):
    battery = small_dilemmas(project_root)
    collector, records = collect(tmp_path, provider, dilemmas=battery, reasks=0)
    questionnaire = [record for record in records if record["battery"] == "pvq"]
    asked = [record for record in records if record["battery"] == DILEMMAS]
    assert records == questionnaire + asked  # the questionnaire first, then the dilemmas
    assert [(record["trial"], record["dilemma"]) for record in asked] == [
        (1, "d01"), (1, "d02"), (2, "d01"), (2, "d02")]
    for record in asked:
        assert record["template"] == "dilemma-chat-v1"
        assert record["instrument"] == battery.dilemma_set.id
        assert record["shown_order"] in (FILE_ORDER, REVERSED)
        assert parse_dilemma_reply(record["reply"]).counted
    first, second = (dilemma.id for dilemma in battery.dilemma_set.dilemmas)
    orders = {record["dilemma"]: [] for record in asked}
    for record in asked:
        orders[record["dilemma"]].append(record["shown_order"])
    assert sorted(orders[first]) == [FILE_ORDER, REVERSED]
    assert len({record["key"] for record in records}) == len(records)
    table = choices_table({"smol": records}, {dilemma.id: (dilemma.value_a, dilemma.value_b)
                                              for dilemma in battery.dilemma_set.dilemmas})
    assert table["counted"].all()
    assert collector.total_cells() == 2 * (len(ITEMS) + 2)


class RecordingProviderDouble:
    """Test double: passes each request to the real provider and keeps its content."""

    def __init__(self, provider):
        self.provider = provider
        self.model_id = provider.model_id
        self.contents = []

    supports_logprobs = True
    supports_batch = False

    async def acomplete(self, request):
        self.contents.append(request.content)
        return self.provider.complete(request)


def test_shown_options_follow_the_order(tmp_path, provider, project_root):
    battery = small_dilemmas(project_root, count=1)
    dilemma = battery.dilemma_set.dilemmas[0]
    recording = RecordingProviderDouble(provider)
    collector = Collector(settings(reasks=0, trials=2), small_instrument(items=(1,)),
                          resolve_template("portrait-chat-v1"), Store(tmp_path / "store.jsonl"), lambda: recording,
                          battery)
    records = collector.run()
    asked = [record for record in records if record["battery"] == DILEMMAS]
    assert len(asked) == 2
    for content, record in zip(recording.contents[2:], asked):
        user = content[-1]["content"]
        first, second = (dilemma.option_a, dilemma.option_b) if record["shown_order"] == FILE_ORDER else \
            (dilemma.option_b, dilemma.option_a)
        assert f"Option A: {first}" in user
        assert f"Option B: {second}" in user
        assert dilemma.scenario in user


def test_dilemmas_leave_questionnaire_keys_unchanged(tmp_path, provider, project_root):
    _, alone = collect(tmp_path, provider, name="alone.jsonl")
    _, together = collect(tmp_path, provider, name="together.jsonl", dilemmas=small_dilemmas(project_root))
    assert [record["key"] for record in alone] == [record["key"] for record in together[:len(alone)]]


def test_dilemmas_in_logprobs_mode(tmp_path, provider, project_root):
    _, records = collect(tmp_path, provider, answer_mode="logprobs", trials=1,
                         dilemmas=small_dilemmas(project_root))
    asked = [record for record in records if record["battery"] == DILEMMAS]
    assert len(asked) == 2
    for record in asked:
        assert record["reply"] is None
        assert record["distribution"]["argmax"] in range(1, 7)


def test_dilemma_template_must_be_dilemma_mode(project_root):
    params = {"models": {"m": {"provider": "llama_cpp", "model": "x", "dilemma_template": "portrait-chat-v1"}},
              "dilemmas": {"file": "data/dilemmas/mental-health-v1.yaml", "template": "dilemma-chat-v1"}}
    with pytest.raises(InputError, match="models.m.dilemma_template: the template portrait-chat-v1 is for item mode"):
        select_dilemma_battery(params, "m", root=project_root)


def test_killed_run_resumes_to_the_same_records(tmp_path, provider, project_root):
    _, uninterrupted = collect(tmp_path, provider, name="whole.jsonl", trials=3)

    script = tmp_path / "run.py"
    script.write_text(f"""
import sys
sys.path.insert(0, {str(Path(__file__).parent)!r})
from test_collect import collect, create_provider, SMOLLM2
from pathlib import Path
collect(Path({str(tmp_path)!r}), create_provider("smol", SMOLLM2), name="resumed.jsonl", trials=3)
""", encoding="utf-8")
    process = subprocess.Popen([sys.executable, str(script)], cwd=project_root)
    store = tmp_path / "resumed.jsonl"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if store.exists() and store.read_text(encoding="utf-8").count("\n") >= 4:
            break
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    interrupted_count = store.read_text(encoding="utf-8").count("\n")
    assert 4 <= interrupted_count < len(uninterrupted)

    collector, resumed = collect(tmp_path, provider, name="resumed.jsonl", trials=3)
    assert collector.reused >= interrupted_count
    assert answers_of(resumed) == answers_of(uninterrupted)


def test_view_is_written_whole(tmp_path, provider):
    _, records = collect(tmp_path, provider, trials=1)
    write_view(tmp_path / "view.jsonl", records)
    lines = (tmp_path / "view.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(line) for line in lines] == records


def test_missing_weights_package(monkeypatch, tmp_path):
    absent = weights.EmbeddedModel("absent-model", "absent-weights-package", "absent_weights_module_xyz",
                                   "none", weights._smollm2_file)
    monkeypatch.setitem(weights.EMBEDDED_MODELS, "absent-model", absent)
    with pytest.raises(InputError, match="models.x.model: the weights package absent-weights-package is not installed"):
        weights.locate_weights("absent-model", None, source="params.yaml", field="models.x", models_dir=tmp_path)


def test_unknown_embedded_model_and_missing_gguf(tmp_path):
    with pytest.raises(InputError, match="no embedded weights for 'llama-9000'"):
        weights.locate_weights("llama-9000", None, source="params.yaml", field="models.x", models_dir=tmp_path)
    with pytest.raises(InputError, match="GGUF file not found: nowhere.gguf"):
        weights.locate_weights("x", "nowhere.gguf", source="params.yaml", field="models.x", models_dir=tmp_path)


def test_gemma_weights_are_assembled_once(tmp_path):
    path = weights.locate_weights("gemma-3-270m", None, source="params.yaml", field="models.g", models_dir=tmp_path)
    assert path.parent == tmp_path
    assert path.stat().st_size > 100_000_000
    modified = path.stat().st_mtime_ns
    again = weights.locate_weights("gemma-3-270m", None, source="params.yaml", field="models.g", models_dir=tmp_path)
    assert again == path
    assert again.stat().st_mtime_ns == modified
    assert [entry.name for entry in tmp_path.iterdir()] == [path.name]  # no temporary file left


def test_unknown_template_id():
    with pytest.raises(InputError, match="params.yaml: collect.template: unknown template 'portrait-v9'"):
        resolve_template("portrait-v9", "params.yaml", "collect.template")


def test_ctrl_c_stops_with_one_line(tmp_path, project_root):
    shutil.copytree(project_root / "llmvalues" / "instruments", tmp_path / "llmvalues" / "instruments")
    shutil.copytree(project_root / "data" / "dilemmas", tmp_path / "data" / "dilemmas")
    params = (project_root / "params.yaml").read_text(encoding="utf-8").replace("seed: 20240601", "seed: 99")
    (tmp_path / "params.yaml").write_text(params, encoding="utf-8")
    # A shell that starts the suite in the background makes its children ignore SIGINT, and Python
    # then installs no KeyboardInterrupt handler: give the stage the default disposition back.
    process = subprocess.Popen([sys.executable, str(project_root / "stages" / "collect.py"), "smollm2-135m"],
                               cwd=tmp_path, stderr=subprocess.PIPE, text=True,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    store = tmp_path / "data" / "store" / "smollm2-135m.jsonl"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not (store.exists() and store.read_text().count("\n") >= 2):
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130
    assert stderr.strip().splitlines()[-1] == (
        "interrupted: answers received so far are stored; run the stage again to resume")
    assert "Traceback" not in stderr
    assert store.read_text().count("\n") >= 2


def test_own_gguf_file_is_keyed_by_content(tmp_path):
    from llmvalues.collect import settings_from_params

    path = tmp_path / "mine.gguf"
    entry = {"provider": "llama_cpp", "model": "mine", "model_path": str(path)}
    collect_settings = {"trials": 1, "mode": "item", "answer_mode": "text", "constrain": "digit",
                        "distribution": True, "item_order": "fixed", "seed": 1, "reasks": 0,
                        "temperature": 0.7, "top_p": 0.95, "max_tokens": 4}
    path.write_bytes(b"first weights")
    first = settings_from_params("mine", entry, collect_settings, "neutral").engine
    path.write_bytes(b"other weights")
    second = settings_from_params("mine", entry, collect_settings, "neutral").engine
    assert first["model_path"] == second["model_path"] == str(path)
    assert first["model_sha256"] != second["model_sha256"]


def test_prefix_reuse_is_part_of_key():
    from llmvalues.collect import settings_from_params

    collect_settings = {"trials": 1, "mode": "item", "answer_mode": "text", "constrain": "digit",
                        "distribution": True, "item_order": "fixed", "seed": 1, "reasks": 0,
                        "temperature": 0.7, "top_p": 0.95, "max_tokens": 4}
    default = settings_from_params("smol", dict(SMOLLM2), collect_settings, "neutral").engine
    off = settings_from_params("smol", {**SMOLLM2, "reuse_prefix": False}, collect_settings, "neutral").engine
    assert default == {"n_ctx": 2048, "n_batch": 512, "reuse_prefix": True}
    # Off, the engine is what it was before prefix reuse, so stored answers keep their keys.
    assert off == {"n_ctx": 2048, "n_batch": 512}
