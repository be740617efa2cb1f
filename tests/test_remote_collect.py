"""Collection from remote providers: the official clients against the loopback test server."""

import dataclasses
import json
import math

import pytest

from llmvalues.collect import CollectionStopped, Collector, Store, check_provider_settings, settings_from_params
from llmvalues.errors import InputError
from llmvalues.instrument import resolve_instrument
from llmvalues.parsing import TRUNCATED, parse_reply
from llmvalues.prompts import resolve_template
from llmvalues.providers import Response, create_provider
from llmvalues.providers.openai_chat import digit_distribution
from llmvalues.records import EVENT_FIELDS, validate_record
from llmvalues.testing.fake_provider import FakeProviderServer

KEY_VARIABLE = "LLMVALUES_TEST_KEY"
KEY = "test-key-not-secret"
ITEMS = (1, 2, 3, 4, 5, 6)
PRICES = {"fake-model": {"input": 1.0, "output": 4.0, "batch_factor": 0.5}}
COLLECT = {"trials": 3, "mode": "item", "answer_mode": "text", "constrain": "none", "distribution": True,
           "item_order": "fixed", "seed": 11, "reasks": 1, "temperature": 0.7, "top_p": 0.95, "max_tokens": 8}


def small_instrument(items=ITEMS):
    instrument = resolve_instrument("llmvalues-portraits-v1")
    return dataclasses.replace(instrument, items={item: instrument.items[item] for item in items})


@pytest.fixture
def api_key(monkeypatch):
    monkeypatch.setenv(KEY_VARIABLE, KEY)


def model_entry(server, provider="openai", **changes):
    base_url = server.anthropic_base_url if provider == "anthropic" else server.openai_base_url
    entry = {"provider": provider, "model": "fake-model", "api_key_env": KEY_VARIABLE, "base_url": base_url,
             "constrain": "none", "timeout_s": 10.0, "backoff_s": 0.01, "max_backoff_s": 0.05, "concurrency": 4,
             "batch_poll_s": 0.02}
    entry.update(changes)
    return entry


def make_collector(tmp_path, entry, *, store="store.jsonl", template="portrait-chat-v1", items=ITEMS, **collect):
    settings = settings_from_params("fake", entry, {**COLLECT, **collect}, "neutral", PRICES)
    return Collector(settings, small_instrument(items), resolve_template(template), Store(tmp_path / store),
                     lambda: create_provider("fake", entry))


def answers_of(records):
    return [{name: value for name, value in record.items() if name not in EVENT_FIELDS} for record in records]


def cells_of(records):
    return [(record["trial"], record["item"], record["attempt"]) for record in records]


@pytest.mark.parametrize("provider", ["openai", "anthropic", "openai_compatible"])
def test_records_from_each_provider(tmp_path, api_key, provider):
    with FakeProviderServer() as server:
        entry = model_entry(server, provider)
        records = make_collector(tmp_path, entry).run()
        assert server.auth_headers == {KEY}
    assert len(records) == 3 * len(ITEMS)
    for number, record in enumerate(records, start=1):
        validate_record(record, "view", f"record {number}", "fake")
        assert record["provider"] == provider
        assert record["model_returned"] and record["model_returned"] != record["model_requested"]
        assert parse_reply(record["reply"]).counted
        assert record["retries"] == 0
        assert record["cost_usd"] > 0
    first = records[0]
    if provider == "anthropic":
        assert first["distribution"] is None
        assert first["sampling"]["distribution"] is False
        assert first["sampling"]["temperature"] is None  # not sent: the model's own default
        assert first["system_fingerprint"] is None
    else:
        assert first["system_fingerprint"] == "fp_fake"
        assert first["distribution"]["argmax"] in range(1, 7)
    if provider == "openai_compatible":
        assert first["sampling"]["base_url"] == entry["base_url"]


def test_cost_from_usage_and_price(tmp_path, api_key):
    with FakeProviderServer() as server:
        records = make_collector(tmp_path, model_entry(server)).run()
    for record in records:
        usage = record["usage"]
        expected = (usage["prompt_tokens"] * 1.0 + usage["completion_tokens"] * 4.0) / 1e6
        assert record["cost_usd"] == pytest.approx(expected)


def test_unpriced_model_has_unknown_cost(tmp_path, api_key):
    with FakeProviderServer() as server:
        entry = model_entry(server, model="another-model")
        records = make_collector(tmp_path, entry, trials=1).run()
    assert all(record["cost_usd"] is None for record in records)


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_faults_leave_the_same_records(tmp_path, api_key, provider):
    # One server for both runs: its URL is part of each request's key.
    with FakeProviderServer(seed=5, hang_seconds=4.0, retry_after_ms=20) as server:
        clean = make_collector(tmp_path, model_entry(server, provider), store="clean.jsonl").run()
        server.failure_rate = 0.2
        collector = make_collector(tmp_path, model_entry(server, provider, timeout_s=1.5), store="faulty.jsonl")
        faulty = collector.run()
        failures = {kind: server.counts[kind] for kind in ("429", "500", "529", "timeout", "malformed", "drop")}
    assert sum(failures.values()) > 0
    assert answers_of(faulty) == answers_of(clean)
    assert len(set(cells_of(faulty))) == len(faulty)
    stored = [json.loads(line) for line in (tmp_path / "faulty.jsonl").read_text().splitlines()]
    assert len(stored) == len(faulty)
    assert {record["key"] for record in stored} == {record["key"] for record in faulty}
    # Each failure cost one retry; a hung request may also have been counted late.
    assert sum(collector.retries.values()) == sum(failures.values())
    assert sum(record["retries"] for record in faulty) == sum(failures.values())


@pytest.mark.parametrize("status, code, cause, fix", [
    (400, None, "400", "rejected the request"),
    (401, "invalid_api_key", "401", "api_key_env"),
    (403, None, "403", "permissions"),
    (404, "model_not_found", "404", "model id"),
    (429, "insufficient_quota", "insufficient_quota", "quota"),
])
@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_fatal_error_stops_within_one_request(tmp_path, api_key, provider, status, code, cause, fix):
    with FakeProviderServer() as server:
        server.fail_next(status, code=code)
        collector = make_collector(tmp_path, model_entry(server, provider, concurrency=1))
        with pytest.raises(CollectionStopped) as raised:
            collector.run()
        assert server.counts["requests"] == 1
    assert cause in raised.value.cause
    assert "trial 1, item 1" in raised.value.cause
    assert fix in raised.value.fix
    assert collector.sent == 0
    assert (tmp_path / "store.jsonl").read_text() == ""


class CallLogProviderDouble:
    """Test double: passes requests to the real provider and notes whether the run was stopping."""

    def __init__(self, provider, collector):
        self.provider = provider
        self.collector = collector
        self.model_id = provider.model_id
        self.supports_logprobs = provider.supports_logprobs
        self.supports_batch = provider.supports_batch
        self.started_while_stopping = 0

    async def acomplete(self, request):
        if self.collector.stopping:
            self.started_while_stopping += 1
        return await self.provider.acomplete(request)

    async def aclose(self):
        await self.provider.aclose()


def test_fatal_error_lets_requests_in_flight_finish(tmp_path, api_key):
    with FakeProviderServer(latency=0.05) as server:
        server.fail_next(401, code="invalid_api_key")
        entry = model_entry(server, concurrency=4)
        collector = make_collector(tmp_path, entry)
        doubles = []

        def factory():
            doubles.append(CallLogProviderDouble(create_provider("fake", entry), collector))
            return doubles[-1]

        collector._provider_factory = factory
        with pytest.raises(CollectionStopped):
            collector.run()
        requests = server.counts["requests"]
    stored = (tmp_path / "store.jsonl").read_text().splitlines()
    # No request starts after the stop, and those in flight are stored.
    assert doubles[0].started_while_stopping == 0
    assert requests < 3 * len(ITEMS)
    assert len(stored) == requests - 1


def test_retries_exhausted_stop_the_run(tmp_path, api_key):
    with FakeProviderServer(failure_rate=1.0, failures=("500",)) as server:
        collector = make_collector(tmp_path, model_entry(server, concurrency=1, retries=2), trials=1, items=(1,))
        with pytest.raises(CollectionStopped) as raised:
            collector.run()
        assert server.counts["requests"] == 3
    assert "still failing after 2 retries" in raised.value.cause
    assert "500" in raised.value.cause
    assert "run collect again" in raised.value.fix


def test_hung_request_times_out(tmp_path, api_key):
    with FakeProviderServer(failure_rate=1.0, failures=("timeout",), hang_seconds=3.0) as server:
        collector = make_collector(tmp_path, model_entry(server, concurrency=1, retries=0, timeout_s=0.2),
                                   items=(1,), trials=1)
        with pytest.raises(CollectionStopped) as raised:
            collector.run()
    assert "no complete reply within 0.2 s" in raised.value.cause


def truncating_template(tmp_path, marker):
    path = tmp_path / "marked.yaml"
    path.write_text(
        "id: marked-chat\nmode: item\nformat: chat\n"
        "system: \"Answer as the person described.\"\n"
        f"user: \"{marker} {{portrait}}\\n\\n{{scale}}\"\n", encoding="utf-8")
    return str(path)


@pytest.mark.parametrize("marker", ["[[truncate]]", "[[reasoning]]"])
def test_truncated_reply_is_never_a_rating(tmp_path, api_key, marker):
    with FakeProviderServer() as server:
        collector = make_collector(tmp_path, model_entry(server), template=truncating_template(tmp_path, marker),
                                   items=(1,), trials=1, reasks=0)
        records = collector.run()
    assert len(records) == 1
    assert records[0]["finish_reason"] == "length"
    assert parse_reply(records[0]["reply"], finish_reason="length").status == TRUNCATED
    if marker == "[[reasoning]]":
        assert records[0]["reply"] is None


def test_truncated_reply_gets_a_larger_budget(tmp_path, api_key):
    with FakeProviderServer() as server:
        collector = make_collector(tmp_path, model_entry(server, provider="anthropic"),
                                   template=truncating_template(tmp_path, "[[truncate]]"), items=(1,), trials=1,
                                   reasks=0, truncation_max_tokens=64)
        records = collector.run()
    assert [record["sampling"]["max_tokens"] for record in records] == [8, 64]
    assert [record["attempt"] for record in records] == [0, 1]
    assert records[0]["finish_reason"] == "max_tokens"


def test_logprobs_mode_records_missing_digits(tmp_path, api_key):
    with FakeProviderServer(missing_digits=("1", "6")) as server:
        records = make_collector(tmp_path, model_entry(server), answer_mode="logprobs", trials=1).run()
    for record in records:
        distribution = record["distribution"]
        assert record["reply"] is None
        assert distribution["missing_digits"] == ["1", "6"]
        assert distribution["probabilities"]["1"] == 0.0
        assert sum(distribution["probabilities"].values()) == pytest.approx(1.0)
        assert 0 < distribution["digit_mass"] < 1


def test_logprobs_without_any_digit_is_an_error(tmp_path, api_key):
    top = [{"token": word, "logprob": -1.0 - index} for index, word in enumerate(["I", "As", "The", " 7"])]
    distribution, reason = digit_distribution({"content": [{"token": "I", "logprob": -1.0, "top_logprobs": top}]})
    assert distribution is None
    assert reason == "no digit 1-6 among the 4 most likely first tokens"
    settings = settings_from_params("fake", {"provider": "openai", "model": "fake-model"},
                                    {**COLLECT, "answer_mode": "logprobs"}, "neutral", PRICES)
    collector = Collector(settings, small_instrument((1,)), resolve_template("portrait-chat-v1"),
                          Store(tmp_path / "store.jsonl"), lambda: None)
    prepared = collector.cells()[0].prepare(0, None)
    response = Response("I", "length", "fake-model", {"prompt_tokens": 9, "completion_tokens": 1},
                        logprobs_error=reason)
    record = collector.make_record(prepared, response, requested_at="2026-01-01T00:00:00Z", latency_s=0.1,
                                   retries=0)
    assert record["error"] == reason
    assert record["reply"] is None


def test_digit_tokens_with_spaces_count_for_their_digit():
    top = [{"token": "4", "logprob": math.log(0.5)}, {"token": " 4", "logprob": math.log(0.2)},
           {"token": "5", "logprob": math.log(0.1)}, {"token": "Four", "logprob": math.log(0.1)}]
    distribution, reason = digit_distribution({"content": [{"token": "4", "logprob": 0.0, "top_logprobs": top}]})
    assert reason is None
    assert distribution["probabilities"]["4"] == pytest.approx(0.7 / 0.8)
    assert distribution["digit_mass"] == pytest.approx(0.8)
    assert distribution["missing_digits"] == ["1", "2", "3", "6"]
    assert distribution["argmax"] == 4


def test_spending_cap_stops_before_it_is_exceeded(tmp_path, api_key):
    cap = 0.002  # about half of what the 18 requests cost
    with FakeProviderServer() as server:
        entry = model_entry(server, max_spend_usd=cap, concurrency=2)
        collector = make_collector(tmp_path, entry)
        with pytest.raises(CollectionStopped) as raised:
            collector.run()
        assert "spending cap reached" in raised.value.cause
        assert f"models.fake.max_spend_usd" in raised.value.fix
        stored = [json.loads(line) for line in (tmp_path / "store.jsonl").read_text().splitlines()]
        assert 0 < len(stored) < 3 * len(ITEMS)
        assert sum(record["cost_usd"] for record in stored) <= cap

        # Without requests in flight a second run may afford a little more, never past the cap.
        again = make_collector(tmp_path, entry)
        with pytest.raises(CollectionStopped):
            again.run()
        stored = [json.loads(line) for line in (tmp_path / "store.jsonl").read_text().splitlines()]
        assert sum(record["cost_usd"] for record in stored) <= cap

        # Waiting for requests in flight to settle lets the run come close to the cap.
        assert sum(record["cost_usd"] for record in stored) > cap / 2

        raised_cap = make_collector(tmp_path, model_entry(server, max_spend_usd=1.0))
        records = raised_cap.run()
    assert len(records) == 3 * len(ITEMS)
    assert raised_cap.reused == len(stored)


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_batch_mode_collects_every_cell(tmp_path, api_key, provider):
    with FakeProviderServer(invalid_reply_rate=0.3, seed=2) as server:
        direct = make_collector(tmp_path, model_entry(server, provider), store="direct.jsonl").run()
        server.batch_error_rate = 0.2
        collector = make_collector(tmp_path, model_entry(server, provider, batch=True), store="batch.jsonl")
        batched = collector.run()
        batches = server.counts["batches_created"]
    assert batches >= 2  # re-asks of invalid replies and failed lines go into later batches
    assert len(set(cells_of(batched))) == len(batched)
    assert all(record["batch_id"] for record in batched)
    assert sum(collector.retries.values()) > 0
    # Batch prices are half the direct ones in PRICES.
    for record in batched:
        usage = record["usage"]
        tokens = (usage.get("prompt_tokens") or usage.get("input_tokens"),
                  usage.get("completion_tokens") or usage.get("output_tokens"))
        assert record["cost_usd"] == pytest.approx(0.5 * (tokens[0] * 1.0 + tokens[1] * 4.0) / 1e6)
    assert {record["key"] for record in direct if record["attempt"] == 0} <= {record["key"] for record in batched}


def test_batch_results_resume_from_the_ledger(tmp_path, api_key):
    with FakeProviderServer(batch_polls=0) as server:
        entry = model_entry(server, batch=True)
        collector = make_collector(tmp_path, entry, trials=1)
        records = collector.run()
        ledger = (tmp_path / "store.batches.jsonl").read_text().splitlines()
        events = [json.loads(line)["event"] for line in ledger]
        assert events == ["submitted", "collected"]
        # Pretend the download never happened: drop the collected line and the answers.
        (tmp_path / "store.batches.jsonl").write_text(ledger[0] + "\n")
        (tmp_path / "store.jsonl").write_text("")
        resumed = make_collector(tmp_path, entry, trials=1)
        again = resumed.run()
        assert server.counts["batches_created"] == 1
    assert answers_of(again) == answers_of(records)


def test_missing_key_stops_before_any_request(tmp_path, monkeypatch):
    monkeypatch.delenv(KEY_VARIABLE, raising=False)
    with FakeProviderServer() as server:
        collector = make_collector(tmp_path, model_entry(server))
        with pytest.raises(InputError) as raised:
            collector.run()
        assert server.counts["requests"] == 0
    message = str(raised.value)
    assert f"{KEY_VARIABLE} that should hold the API key is not set" in message
    assert "models.fake.api_key_env" in message


def test_stored_answers_need_no_key(tmp_path, monkeypatch):
    monkeypatch.setenv(KEY_VARIABLE, KEY)
    with FakeProviderServer() as server:
        entry = model_entry(server)
        first = make_collector(tmp_path, entry).run()
        monkeypatch.delenv(KEY_VARIABLE)
        again = make_collector(tmp_path, entry)
        records = again.run()
    assert again.sent == 0
    assert answers_of(records) == answers_of(first)


@pytest.mark.parametrize("change, field, problem", [
    ({"constrain": "digit"}, "models.fake.constrain", "only the llama_cpp provider"),
    ({"n_ctx": 2048}, "models.fake.n_ctx", "only applies to llama_cpp models"),
    ({"provider": "openai_compatible"}, "models.fake.base_url", "needs its server's URL"),
    ({"provider": "openai_compatible", "base_url": "http://127.0.0.1:9/v1", "batch": True}, "models.fake.batch",
     "compatible servers do not offer"),
    ({"max_spend_usd": 1.0, "model": "unpriced"}, "models.fake.max_spend_usd", "no price"),
])
def test_unsupported_settings_are_named(api_key, change, field, problem):
    entry = {"provider": "openai", "model": "fake-model", "api_key_env": KEY_VARIABLE, "constrain": "none"}
    entry.update(change)
    params = {"models": {"fake": entry}, "collect": COLLECT, "prices": PRICES}
    with pytest.raises(InputError) as raised:
        check_provider_settings(params, "fake", resolve_template("portrait-chat-v1"))
    assert field in str(raised.value)
    assert problem in str(raised.value)


def test_remote_models_need_chat_templates(api_key):
    entry = {"provider": "anthropic", "model": "fake-model", "api_key_env": KEY_VARIABLE, "constrain": "none"}
    params = {"models": {"fake": entry}, "collect": COLLECT, "prices": {}}
    with pytest.raises(InputError, match="completion prompt"):
        check_provider_settings(params, "fake", resolve_template("portrait-completion-v1"))


def test_anthropic_rejects_logprobs_mode(api_key):
    entry = {"provider": "anthropic", "model": "fake-model", "api_key_env": KEY_VARIABLE, "constrain": "none"}
    params = {"models": {"fake": entry}, "collect": {**COLLECT, "answer_mode": "logprobs"}, "prices": {}}
    with pytest.raises(InputError, match="no log-probabilities"):
        check_provider_settings(params, "fake", resolve_template("portrait-chat-v1"))


def test_unreachable_server_names_base_url(tmp_path, api_key):
    with FakeProviderServer() as server:
        entry = model_entry(server, concurrency=1, retries=1)
    # The server is stopped: its port now refuses connections.
    collector = make_collector(tmp_path, entry, trials=1, items=(1,))
    with pytest.raises(CollectionStopped) as raised:
        collector.run()
    assert "dropped connection" in raised.value.cause
    assert "models.fake.base_url" in raised.value.fix


def test_base_url_is_part_of_the_key(tmp_path):
    def first_key(base_url):
        entry = {"provider": "openai", "model": "fake-model", "base_url": base_url, "constrain": "none"}
        settings = settings_from_params("fake", entry, COLLECT, "neutral", PRICES)
        collector = Collector(settings, small_instrument((1,)), resolve_template("portrait-chat-v1"),
                              Store(tmp_path / "store.jsonl"), lambda: None)
        return collector.cells()[0].prepare(0, None).key

    assert first_key("http://127.0.0.1:9000/v1") == first_key("http://127.0.0.1:9000/v1/")
    assert first_key("http://127.0.0.1:9000/v1") != first_key("http://127.0.0.1:9001/v1")


def test_ledger_drops_a_partial_line(tmp_path):
    from llmvalues.batches import BatchLedger

    path = tmp_path / "store.batches.jsonl"
    whole = json.dumps({"event": "collected", "batch_id": "batch_a"})
    path.write_text(whole + "\n" + '{"event": "submitted", "batch_id": "batch_x", "provi', encoding="utf-8")
    ledger = BatchLedger(path)
    assert [entry["batch_id"] for entry in ledger.entries] == ["batch_a"]
    ledger.append({"event": "collected", "batch_id": "batch_b"})
    assert [entry["batch_id"] for entry in BatchLedger(path).entries] == ["batch_a", "batch_b"]


def test_unknown_batch_is_abandoned_then_replaced(tmp_path, api_key):
    with FakeProviderServer(batch_polls=10**6) as server:
        entry = model_entry(server, batch=True, retries=1)
        ledger = tmp_path / "store.batches.jsonl"
        submitted = {"event": "submitted", "batch_id": "batch_unknown", "provider": "openai", "model": "fake-model",
                     "base_url": entry["base_url"], "submitted_at": "2026-01-01T00:00:00Z", "requests": []}
        ledger.write_text(json.dumps(submitted) + "\n", encoding="utf-8")
        with pytest.raises(CollectionStopped) as raised:
            make_collector(tmp_path, entry, trials=1).run()
        assert "404" in raised.value.cause
        assert "marked abandoned" in raised.value.fix
        assert server.counts["batches_created"] == 0

        server.batch_polls = 0
        records = make_collector(tmp_path, entry, trials=1).run()
        assert server.counts["batches_created"] == 1
    assert len(records) == len(ITEMS)
    events = [json.loads(line)["event"] for line in ledger.read_text().splitlines()]
    assert events == ["submitted", "abandoned", "submitted", "collected"]


def test_open_batch_of_another_server_is_left_alone(tmp_path, api_key):
    with FakeProviderServer(batch_polls=0) as server:
        entry = model_entry(server, batch=True)
        submitted = {"event": "submitted", "batch_id": "batch_elsewhere", "provider": "openai",
                     "model": "fake-model", "base_url": "http://127.0.0.1:1/v1", "submitted_at": "2026-01-01T00:00:00Z",
                     "requests": []}
        (tmp_path / "store.batches.jsonl").write_text(json.dumps(submitted) + "\n", encoding="utf-8")
        records = make_collector(tmp_path, entry, trials=1).run()
        assert server.counts["batches_created"] == 1
    assert len(records) == len(ITEMS)


def test_null_sampling_settings_are_left_out(tmp_path, api_key):
    with FakeProviderServer() as server:
        entry = model_entry(server, temperature=None, top_p=None)
        records = make_collector(tmp_path, entry, trials=1, items=(1,)).run()
        body = create_provider("fake", entry).body(Collector(
            settings_from_params("fake", entry, COLLECT, "neutral", PRICES), small_instrument((1,)),
            resolve_template("portrait-chat-v1"), Store(tmp_path / "unused.jsonl"),
            lambda: None).cells()[0].prepare(0, None).request)
    assert "temperature" not in body
    assert "top_p" not in body
    assert body["seed"] == records[0]["seed"]
    assert records[0]["sampling"]["temperature"] is None
    assert records[0]["sampling"]["top_p"] is None
    assert parse_reply(records[0]["reply"]).counted


def test_llama_cpp_rejects_null_temperature():
    entry = {"provider": "llama_cpp", "model": "SmolLM2-135M-Instruct", "temperature": None}
    params = {"models": {"smol": entry}, "collect": COLLECT, "prices": {}}
    with pytest.raises(InputError, match="models.smol.temperature: llama_cpp samples with a number"):
        check_provider_settings(params, "smol", resolve_template("portrait-chat-v1"))
