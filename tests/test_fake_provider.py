"""Tests of the fake provider server, driven through the official openai and anthropic clients.

Every client here has retries off, talks only to the server on 127.0.0.1, and
ignores proxy settings of the environment, so no request leaves the machine.
"""

from __future__ import annotations

import http.client
import json
import math
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import anthropic
import openai
import pytest

from llmvalues.testing.fake_provider import DIGITS, INVALID_REPLY, FakeProviderServer, request_key

API_KEY = "test-key-not-secret"
PROMPT = "Here is a portrait of a person. How much is this person like you? Reply with a number from 1 to 6."


@pytest.fixture
def server() -> Iterator[FakeProviderServer]:
    with FakeProviderServer() as running:
        yield running


def openai_client(server: FakeProviderServer, **options: Any) -> openai.OpenAI:
    """Build an OpenAI client for ``server`` with retries off and the environment's proxies ignored."""
    options.setdefault("max_retries", 0)
    return openai.OpenAI(base_url=server.openai_base_url, api_key=API_KEY,
                         http_client=openai.DefaultHttpxClient(trust_env=False), **options)


def anthropic_client(server: FakeProviderServer, **options: Any) -> anthropic.Anthropic:
    """Build an Anthropic client for ``server`` with retries off and the environment's proxies ignored."""
    options.setdefault("max_retries", 0)
    return anthropic.Anthropic(base_url=server.anthropic_base_url, api_key=API_KEY,
                               http_client=anthropic.DefaultHttpxClient(trust_env=False), **options)


def chat_body(content: str = PROMPT, **fields: Any) -> dict[str, Any]:
    return {"model": "gpt-test", "messages": [{"role": "user", "content": content}], **fields}


def message_body(content: str = PROMPT, **fields: Any) -> dict[str, Any]:
    fields.setdefault("max_tokens", 16)
    return {"model": "claude-test", "messages": [{"role": "user", "content": content}], **fields}


def is_rating(text: str | None) -> bool:
    return text in DIGITS or (text is not None and text.startswith("Rating: ") and text[-1] in DIGITS)


def raw_request(server: FakeProviderServer, method: str, path: str, *, headers: dict[str, str] | None = None,
                body: bytes | None = None) -> tuple[int, dict[str, Any]]:
    """Send one request with http.client, which uses no proxy, and return (status, JSON body)."""
    host, port = server.address
    connection = http.client.HTTPConnection(host, port, timeout=5)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


# Addresses


def test_server_binds_to_loopback(server):
    host, port = server.address

    assert host == "127.0.0.1"
    assert port > 0
    assert server.url == f"http://127.0.0.1:{port}"
    assert server.openai_base_url == f"http://127.0.0.1:{port}/v1"
    assert server.anthropic_base_url == server.url


def test_address_before_start_raises():
    server = FakeProviderServer()

    with pytest.raises(RuntimeError, match="not running"):
        server.url


# Chat completions


def test_chat_completion_round_trip(server):
    body = chat_body(temperature=0.7, top_p=1.0, max_tokens=16, seed=3)

    completion = openai_client(server).chat.completions.create(**body)

    assert completion.model == "gpt-test-2024-fake"
    assert completion.system_fingerprint == "fp_fake"
    assert is_rating(completion.choices[0].message.content)
    assert completion.choices[0].finish_reason == "stop"
    assert completion.choices[0].logprobs is None
    assert completion.usage.prompt_tokens == len(PROMPT.split()) + 4
    assert completion.usage.total_tokens == completion.usage.prompt_tokens + completion.usage.completion_tokens
    assert completion.usage.completion_tokens_details.reasoning_tokens == 0
    assert server.counts["requests"] == 1
    assert server.counts["answered"] == 1
    assert server.received_keys == [request_key(body)]
    assert server.answered_keys == [request_key(body)]
    assert server.auth_headers == {API_KEY}


def test_reply_depends_only_on_body(server):
    client = openai_client(server)
    body = chat_body(temperature=1.0, seed=11)

    first = client.chat.completions.create(**body).choices[0].message.content
    second = client.chat.completions.create(**body).choices[0].message.content
    with FakeProviderServer(seed=99) as other_server:
        third = openai_client(other_server).chat.completions.create(**body).choices[0].message.content

    assert second == first
    assert third == first


def test_replies_use_both_rating_forms(server):
    client = openai_client(server)

    replies = [client.chat.completions.create(**chat_body(f"{PROMPT} Item {item}.")).choices[0].message.content
               for item in range(40)]

    assert all(is_rating(reply) for reply in replies)
    assert any(reply in DIGITS for reply in replies)
    assert any(reply.startswith("Rating: ") for reply in replies)
    assert len({reply[-1] for reply in replies}) > 1


@pytest.mark.parametrize("budget_field", ["max_tokens", "max_completion_tokens"])
def test_one_token_budget_gives_digit(server, budget_field):
    client = openai_client(server)

    replies = [client.chat.completions.create(**chat_body(f"{PROMPT} Item {item}.", **{budget_field: 1}))
               for item in range(12)]

    assert all(reply.choices[0].message.content in DIGITS for reply in replies)
    assert all(reply.usage.completion_tokens == 1 for reply in replies)


def test_dilemma_gives_bare_digit(server):
    client = openai_client(server)
    dilemma = "Option A: tell the truth. Option B: keep the peace. Rate from 1 (A) to 6 (B)."

    replies = [client.chat.completions.create(**chat_body(f"{dilemma} Case {case}.")).choices[0].message.content
               for case in range(20)]

    assert all(reply in DIGITS for reply in replies)


def test_invalid_reply_rate_one():
    with FakeProviderServer(invalid_reply_rate=1.0) as server:
        completion = openai_client(server).chat.completions.create(**chat_body())

    assert completion.choices[0].message.content == INVALID_REPLY
    assert completion.choices[0].finish_reason == "stop"


def test_invalid_reply_rate_half():
    with FakeProviderServer(invalid_reply_rate=0.5) as server:
        client = openai_client(server)
        replies = [client.chat.completions.create(**chat_body(f"{PROMPT} Item {item}.")).choices[0].message.content
                   for item in range(40)]

    assert INVALID_REPLY in replies
    assert any(is_rating(reply) for reply in replies)
    assert all(reply == INVALID_REPLY or is_rating(reply) for reply in replies)


def test_invalid_reply_cut_to_budget():
    with FakeProviderServer(invalid_reply_rate=1.0) as server:
        completion = openai_client(server).chat.completions.create(**chat_body(max_tokens=3))

    assert completion.choices[0].message.content == "I am an"
    assert completion.choices[0].finish_reason == "length"
    assert completion.usage.completion_tokens == 3


# Log probabilities


def test_logprobs_top_list():
    with FakeProviderServer(missing_digits=("6",)) as server:
        completion = openai_client(server).chat.completions.create(
            **chat_body(max_tokens=1, logprobs=True, top_logprobs=20))

    content = completion.choices[0].message.content
    entries = completion.choices[0].logprobs.content
    top = entries[0].top_logprobs
    logprobs = [alternative.logprob for alternative in top]
    tokens = [alternative.token for alternative in top]
    assert len(entries) == 1
    assert entries[0].token == content
    assert entries[0].bytes == list(content.encode())
    assert len(top) == 20
    assert logprobs == sorted(logprobs, reverse=True)
    assert tokens[0] == content
    assert entries[0].logprob == top[0].logprob
    assert "6" not in tokens
    assert set("12345") <= set(tokens)
    assert len(set(tokens)) == len(tokens)
    assert sum(math.exp(logprob) for logprob in logprobs) < 1.0


def test_logprobs_follow_top_count(server):
    completion = openai_client(server).chat.completions.create(
        **chat_body(max_tokens=1, logprobs=True, top_logprobs=5))

    assert len(completion.choices[0].logprobs.content[0].top_logprobs) == 5


def test_logprobs_cover_every_token(server):
    client = openai_client(server)

    for item in range(40):
        completion = client.chat.completions.create(**chat_body(f"{PROMPT} Item {item}.", logprobs=True,
                                                                top_logprobs=3))
        content = completion.choices[0].message.content
        if content.startswith("Rating: "):
            break
    tokens = [entry.token for entry in completion.choices[0].logprobs.content]

    assert content.startswith("Rating: ")
    assert "".join(tokens) == content
    assert tokens[-1] == content[-1]
    assert completion.choices[0].logprobs.content[-1].top_logprobs[0].token == content[-1]


def test_top_logprobs_above_twenty_rejected(server):
    with pytest.raises(openai.BadRequestError) as caught:
        openai_client(server).chat.completions.create(**chat_body(max_tokens=1, logprobs=True, top_logprobs=21))

    assert caught.value.body["param"] == "top_logprobs"
    assert server.counts["invalid_requests"] == 1
    assert server.counts["answered"] == 0


# Markers


def test_truncate_marker_openai(server):
    completion = openai_client(server).chat.completions.create(**chat_body(f"{PROMPT} [[truncate]]", max_tokens=5))

    text = completion.choices[0].message.content
    assert completion.choices[0].finish_reason == "length"
    assert text
    assert not any(digit in text for digit in DIGITS)
    assert completion.usage.completion_tokens == 5


def test_reasoning_marker_openai(server):
    completion = openai_client(server).chat.completions.create(
        **chat_body(f"{PROMPT} [[reasoning]]", max_completion_tokens=32))

    assert completion.choices[0].message.content is None
    assert completion.choices[0].finish_reason == "length"
    assert completion.usage.completion_tokens == 32
    assert completion.usage.completion_tokens_details.reasoning_tokens == 32


def test_truncate_marker_anthropic(server):
    message = anthropic_client(server).messages.create(**message_body(f"{PROMPT} [[truncate]]", max_tokens=4))

    assert message.stop_reason == "max_tokens"
    assert message.content[0].text
    assert message.usage.output_tokens == 4


def test_reasoning_marker_anthropic(server):
    message = anthropic_client(server).messages.create(**message_body(f"{PROMPT} [[reasoning]]"))

    assert message.stop_reason == "max_tokens"
    assert message.content == []


# Failures


@pytest.mark.parametrize(("kind", "expected"), [
    ("429", openai.RateLimitError),
    ("500", openai.InternalServerError),
    ("529", openai.InternalServerError),
    ("timeout", openai.APITimeoutError),
    ("drop", openai.APIConnectionError),
])
def test_failure_kind_openai_exception(kind, expected):
    with FakeProviderServer(failure_rate=1.0, failures=(kind,), hang_seconds=2.0) as server:
        started = time.monotonic()
        with pytest.raises(expected) as caught:
            openai_client(server, timeout=0.3).chat.completions.create(**chat_body())
        elapsed = time.monotonic() - started

        assert server.counts[kind] == 1
        assert server.counts["answered"] == 0
    assert elapsed < 1.5
    if kind == "drop":
        assert not isinstance(caught.value, openai.APITimeoutError)
    if kind in ("500", "529"):
        assert caught.value.status_code == int(kind)


@pytest.mark.parametrize(("kind", "expected"), [
    ("429", anthropic.RateLimitError),
    ("500", anthropic.InternalServerError),
    ("529", anthropic.OverloadedError),
    ("timeout", anthropic.APITimeoutError),
    ("drop", anthropic.APIConnectionError),
])
def test_failure_kind_anthropic_exception(kind, expected):
    with FakeProviderServer(failure_rate=1.0, failures=(kind,), hang_seconds=2.0) as server:
        with pytest.raises(expected) as caught:
            anthropic_client(server, timeout=0.3).messages.create(**message_body())

        assert server.counts[kind] == 1
    if kind == "500":
        assert not isinstance(caught.value, anthropic.OverloadedError)
    if kind == "529":
        assert isinstance(caught.value, anthropic.InternalServerError)
        assert caught.value.type == "overloaded_error"
    if kind == "drop":
        assert not isinstance(caught.value, anthropic.APITimeoutError)


def test_rate_limit_headers_readable():
    with FakeProviderServer(failure_rate=1.0, failures=("429",), retry_after_ms=75) as server:
        with pytest.raises(openai.RateLimitError) as caught:
            openai_client(server).chat.completions.create(**chat_body())

    error = caught.value
    assert error.response.headers["retry-after-ms"] == "75"
    assert error.response.headers["retry-after"] == "1"
    assert error.code == "rate_limit_exceeded"
    assert error.body["type"] == "requests"


def test_rate_limit_headers_anthropic():
    with FakeProviderServer(failure_rate=1.0, failures=("429",)) as server:
        with pytest.raises(anthropic.RateLimitError) as caught:
            anthropic_client(server).messages.create(**message_body())

    assert caught.value.response.headers["retry-after-ms"] == "50"
    assert caught.value.type == "rate_limit_error"


@pytest.mark.parametrize("make_call", [
    lambda server: openai_client(server, max_retries=2).chat.completions.create(**chat_body()),
    lambda server: anthropic_client(server, max_retries=2).messages.create(**message_body()),
], ids=["openai", "anthropic"])
def test_malformed_body_raises_json_error(make_call):
    # Both SDKs raise the json module's error for a 200 reply that is not JSON, outside their
    # own exception hierarchy, and do not retry it.
    with FakeProviderServer(failure_rate=1.0, failures=("malformed",)) as server:
        with pytest.raises(json.JSONDecodeError) as caught:
            make_call(server)

        assert server.counts["requests"] == 1
        assert server.counts["malformed"] == 1
    assert not isinstance(caught.value, (openai.APIError, anthropic.APIError))


def test_sdk_retry_after_forced_rate_limit(server):
    server.fail_next(429)

    completion = openai_client(server, max_retries=1).chat.completions.create(**chat_body())

    assert is_rating(completion.choices[0].message.content)
    assert server.counts["requests"] == 2
    assert server.counts["forced"] == 1
    assert server.counts["answered"] == 1


def test_failure_draws_follow_seed():
    outcomes = []
    for _ in range(2):
        with FakeProviderServer(failure_rate=0.5, failures=("500",), seed=7) as server:
            client = openai_client(server)
            run = []
            for item in range(12):
                try:
                    client.chat.completions.create(**chat_body(f"{PROMPT} Item {item}."))
                    run.append("ok")
                except openai.InternalServerError:
                    run.append("500")
            outcomes.append(run)

    assert outcomes[0] == outcomes[1]
    assert "ok" in outcomes[0]
    assert "500" in outcomes[0]


# Forced errors


def test_fail_next_authentication(server):
    client = openai_client(server)
    server.fail_next(401)

    with pytest.raises(openai.AuthenticationError) as caught:
        client.chat.completions.create(**chat_body())
    completion = client.chat.completions.create(**chat_body())

    assert caught.value.code == "invalid_api_key"
    assert is_rating(completion.choices[0].message.content)
    assert server.counts["forced"] == 1


def test_fail_next_insufficient_quota(server):
    server.fail_next(429, code="insufficient_quota")

    with pytest.raises(openai.RateLimitError) as caught:
        openai_client(server).chat.completions.create(**chat_body())

    assert caught.value.body["code"] == "insufficient_quota"
    assert caught.value.body["type"] == "insufficient_quota"
    assert caught.value.code == "insufficient_quota"


def test_fail_next_several_times(server):
    client = openai_client(server)
    server.fail_next(404, times=2)

    for _ in range(2):
        with pytest.raises(openai.NotFoundError) as caught:
            client.chat.completions.create(**chat_body())
        assert caught.value.code == "model_not_found"
    completion = client.chat.completions.create(**chat_body())

    assert is_rating(completion.choices[0].message.content)
    assert server.counts["forced"] == 2
    assert server.counts["answered"] == 1


@pytest.mark.parametrize(("status", "expected", "error_type"), [
    (400, anthropic.BadRequestError, "invalid_request_error"),
    (401, anthropic.AuthenticationError, "authentication_error"),
    (403, anthropic.PermissionDeniedError, "permission_error"),
    (404, anthropic.NotFoundError, "not_found_error"),
    (529, anthropic.OverloadedError, "overloaded_error"),
])
def test_fail_next_anthropic_classes(server, status, expected, error_type):
    server.fail_next(status)

    with pytest.raises(expected) as caught:
        anthropic_client(server).messages.create(**message_body())

    assert caught.value.status_code == status
    assert caught.value.type == error_type


@pytest.mark.parametrize("status", [200, 302, 600])
def test_fail_next_rejects_status(server, status):
    with pytest.raises(ValueError, match="status"):
        server.fail_next(status)


# Anthropic messages


def test_message_round_trip(server):
    body = message_body(system="You are taking a survey.")
    sampling = {"temperature": 0.7, "top_p": 1.0}

    # anthropic 2.17.0 has no temperature or top_p arguments, so they go in extra_body.
    message = anthropic_client(server).messages.create(**body, extra_body=sampling)

    assert message.model == "claude-test-2024-fake"
    assert message.type == "message"
    assert message.role == "assistant"
    assert is_rating(message.content[0].text)
    assert message.stop_reason == "end_turn"
    assert message.stop_sequence is None
    assert message.usage.input_tokens == len(PROMPT.split()) + len(body["system"].split()) + 4
    assert message.usage.output_tokens >= 1
    assert server.answered_keys == [request_key({**body, **sampling})]
    assert server.auth_headers == {API_KEY}


def test_message_missing_max_tokens_rejected(server):
    status, body = raw_request(server, "POST", "/v1/messages",
                               headers={"x-api-key": API_KEY, "content-type": "application/json"},
                               body=json.dumps({"model": "m", "messages": []}).encode())

    assert status == 400
    assert body["type"] == "error"
    assert body["error"]["type"] == "invalid_request_error"
    assert "max_tokens" in body["error"]["message"]


def test_x_api_key_header_recorded(server):
    headers = {"x-api-key": "other-test-key", "anthropic-version": "2023-06-01", "content-type": "application/json"}

    status, body = raw_request(server, "POST", "/v1/messages", headers=headers,
                               body=json.dumps(message_body()).encode())

    assert status == 200
    assert body["type"] == "message"
    assert server.auth_headers == {"other-test-key"}


# OpenAI batches


def batch_line(custom_id: str, body: dict[str, Any]) -> dict[str, Any]:
    return {"custom_id": custom_id, "method": "POST", "url": "/v1/chat/completions", "body": body}


def jsonl(lines: list[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines).encode("utf-8")


def run_openai_batch(client: openai.OpenAI, data: bytes) -> tuple[list[str], Any]:
    """Upload ``data``, create a batch and poll it to the end, then return the statuses seen and the last batch."""
    uploaded = client.files.create(file=("batch.jsonl", data), purpose="batch")
    batch = client.batches.create(input_file_id=uploaded.id, endpoint="/v1/chat/completions",
                                  completion_window="24h", metadata={"run": "test"})
    statuses = [batch.status]
    while batch.status not in ("completed", "failed", "cancelled", "expired"):
        batch = client.batches.retrieve(batch.id)
        statuses.append(batch.status)
    return statuses, batch


def read_jsonl(client: openai.OpenAI, file_id: str | None) -> dict[str, dict[str, Any]]:
    if file_id is None:
        return {}
    lines = [json.loads(line) for line in client.files.content(file_id).text.splitlines()]
    return {line["custom_id"]: line for line in lines}


def test_openai_batch_round_trip():
    bodies = {f"item-{item}": chat_body(f"{PROMPT} Item {item}, café.", max_tokens=8) for item in range(10)}
    lines = [batch_line(custom_id, body) for custom_id, body in bodies.items()]
    lines.append(batch_line("no-messages", {"model": "gpt-test", "messages": []}))

    with FakeProviderServer(batch_polls=2, batch_error_rate=0.3) as server:
        client = openai_client(server)
        statuses, batch = run_openai_batch(client, jsonl(lines))
        outputs = read_jsonl(client, batch.output_file_id)
        errors = read_jsonl(client, batch.error_file_id)
        direct = {custom_id: client.chat.completions.create(**bodies[custom_id]).choices[0].message.content
                  for custom_id in outputs}
        counts = dict(server.counts)
        answered_keys = list(server.answered_keys)

    assert statuses == ["validating", "in_progress", "in_progress", "completed"]
    assert batch.metadata == {"run": "test"}
    assert batch.request_counts.total == 11
    assert batch.request_counts.completed == len(outputs)
    assert batch.request_counts.failed == len(errors)
    assert set(outputs) | set(errors) == {line["custom_id"] for line in lines}
    assert not set(outputs) & set(errors)
    assert outputs
    for custom_id, line in outputs.items():
        assert line["error"] is None
        assert line["response"]["status_code"] == 200
        assert line["response"]["body"]["object"] == "chat.completion"
        assert line["response"]["body"]["choices"][0]["message"]["content"] == direct[custom_id]
        assert request_key(bodies[custom_id]) in answered_keys
    server_errors = [line for line in errors.values() if line["response"] is None]
    assert server_errors
    assert all(line["error"]["code"] == "server_error" for line in server_errors)
    assert errors["no-messages"]["error"] is None
    assert errors["no-messages"]["response"]["status_code"] == 400
    assert errors["no-messages"]["response"]["body"]["error"]["param"] == "messages"
    assert counts["files_uploaded"] == 1
    assert counts["batches_created"] == 1
    assert counts["batch_polls"] == 3
    assert counts["batch_requests"] == 11
    assert counts["batch_errors"] == len(errors)
    assert counts["requests"] == len(outputs)


def test_openai_batch_without_errors():
    lines = [batch_line(f"item-{item}", chat_body(f"Item {item}")) for item in range(5)]

    with FakeProviderServer(batch_polls=0, failure_rate=1.0) as server:
        client = openai_client(server)
        statuses, batch = run_openai_batch(client, jsonl(lines))
        outputs = read_jsonl(client, batch.output_file_id)

    assert statuses == ["validating", "completed"]
    assert batch.error_file_id is None
    assert len(outputs) == 5
    assert all(is_rating(line["response"]["body"]["choices"][0]["message"]["content"]) for line in outputs.values())


@pytest.mark.parametrize(("content", "problem"), [
    (b'{"custom_id": "a", "method": "POST", "url": "/v1/chat/completions", "body": {}}\n{"custom_id": \n',
     "not valid JSON"),
    (b'{"method": "POST", "url": "/v1/chat/completions", "body": {}}\n', "no custom_id"),
    (jsonl([batch_line("same", chat_body()), batch_line("same", chat_body("other"))]), "repeats custom_id"),
], ids=["invalid-json", "missing-custom-id", "duplicate-custom-id"])
def test_batch_file_rejected(server, content, problem):
    with pytest.raises(openai.BadRequestError, match=problem):
        openai_client(server).files.create(file=("batch.jsonl", content), purpose="batch")

    assert server.counts["files_uploaded"] == 0


def test_batch_unknown_file_not_found(server):
    with pytest.raises(openai.NotFoundError):
        openai_client(server).batches.create(input_file_id="file-missing", endpoint="/v1/chat/completions",
                                             completion_window="24h")


def test_openai_batch_cancel(server):
    client = openai_client(server)
    uploaded = client.files.create(file=("batch.jsonl", jsonl([batch_line("a", chat_body())])), purpose="batch")
    batch = client.batches.create(input_file_id=uploaded.id, endpoint="/v1/chat/completions", completion_window="24h")

    cancelling = client.batches.cancel(batch.id)
    cancelled = client.batches.retrieve(batch.id)

    assert cancelling.status == "cancelling"
    assert cancelled.status == "cancelled"
    assert cancelled.output_file_id is None
    assert server.counts["answered"] == 0


# Anthropic message batches


def test_anthropic_batch_round_trip():
    params = {f"item-{item}": message_body(f"{PROMPT} Item {item}.") for item in range(10)}
    requests = [{"custom_id": custom_id, "params": body} for custom_id, body in params.items()]
    requests.append({"custom_id": "no-budget", "params": {"model": "claude-test", "messages": []}})

    with FakeProviderServer(batch_polls=1, batch_error_rate=0.3) as server:
        client = anthropic_client(server)
        created = client.messages.batches.create(requests=requests)
        polled = [client.messages.batches.retrieve(created.id) for _ in range(2)]
        results = {result.custom_id: result for result in client.messages.batches.results(created.id)}
        succeeded = {custom_id: result for custom_id, result in results.items() if result.result.type == "succeeded"}
        direct = {custom_id: client.messages.create(**params[custom_id]).content[0].text for custom_id in succeeded}
        results_url = f"{server.url}/v1/messages/batches/{created.id}/results"
        counts = dict(server.counts)

    assert created.id.startswith("msgbatch_")
    assert created.processing_status == "in_progress"
    assert created.request_counts.processing == 11
    assert created.results_url is None
    assert [batch.processing_status for batch in polled] == ["in_progress", "ended"]
    assert polled[1].results_url == results_url
    assert polled[1].ended_at is not None
    assert polled[1].request_counts.processing == 0
    assert polled[1].request_counts.succeeded == len(succeeded)
    assert polled[1].request_counts.errored == len(results) - len(succeeded)
    assert set(results) == {request["custom_id"] for request in requests}
    assert succeeded
    for custom_id, result in succeeded.items():
        assert result.result.message.content[0].text == direct[custom_id]
    errored = [result.result for result in results.values() if result.result.type == "errored"]
    assert any(error.error.error.type == "api_error" for error in errored)
    assert results["no-budget"].result.type == "errored"
    assert results["no-budget"].result.error.error.type == "invalid_request_error"
    assert counts["batches_created"] == 1
    assert counts["batch_requests"] == 11
    assert counts["batch_polls"] == 3


def test_anthropic_batch_cancel(server):
    client = anthropic_client(server)
    created = client.messages.batches.create(requests=[{"custom_id": "a", "params": message_body()}])

    canceling = client.messages.batches.cancel(created.id)
    ended = client.messages.batches.retrieve(created.id)
    results = list(client.messages.batches.results(created.id))

    assert canceling.processing_status == "canceling"
    assert ended.processing_status == "ended"
    assert ended.request_counts.canceled == 1
    assert [result.result.type for result in results] == ["canceled"]


def test_anthropic_batch_duplicate_ids_rejected(server):
    requests = [{"custom_id": "same", "params": message_body()}, {"custom_id": "same", "params": message_body()}]

    with pytest.raises(anthropic.BadRequestError):
        anthropic_client(server).messages.batches.create(requests=requests)


# Counters, concurrency and shutdown


def test_counters_and_reset(server):
    client = openai_client(server)
    server.fail_next(500)
    first_body = chat_body("first")
    second_body = chat_body("second")

    with pytest.raises(openai.InternalServerError):
        client.chat.completions.create(**first_body)
    client.chat.completions.create(**second_body)

    assert server.counts["requests"] == 2
    assert server.counts["forced"] == 1
    assert server.counts["answered"] == 1
    assert server.received_keys == [request_key(first_body), request_key(second_body)]
    assert server.answered_keys == [request_key(second_body)]

    server.reset_counts()

    assert server.counts == {}
    assert server.received_keys == []
    assert server.answered_keys == []
    assert server.auth_headers == set()


def test_requests_served_concurrently():
    with FakeProviderServer(latency=0.2) as server:
        client = openai_client(server)
        replies: list[str | None] = []

        def ask(item: int) -> None:
            replies.append(client.chat.completions.create(**chat_body(f"Item {item}")).choices[0].message.content)

        threads = [threading.Thread(target=ask, args=(item,)) for item in range(16)]
        started = time.monotonic()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.monotonic() - started

    assert len(replies) == 16
    assert elapsed < 1.6  # one after another would take 3.2 s


def test_stop_ends_hung_request():
    server = FakeProviderServer(failure_rate=1.0, failures=("timeout",), hang_seconds=30.0).start()
    client = openai_client(server, timeout=20.0)
    outcome: list[BaseException] = []

    def ask() -> None:
        try:
            client.chat.completions.create(**chat_body())
        except openai.APIError as error:
            outcome.append(error)

    thread = threading.Thread(target=ask)
    thread.start()
    time.sleep(0.3)
    started = time.monotonic()
    server.stop()
    stop_seconds = time.monotonic() - started
    thread.join(timeout=5)

    assert stop_seconds < 1.0
    assert not thread.is_alive()
    assert len(outcome) == 1
    assert isinstance(outcome[0], openai.APIConnectionError)
    assert server.counts["answered"] == 0


def test_unknown_path_not_found(server):
    status, body = raw_request(server, "GET", "/v1/unknown", headers={"authorization": f"Bearer {API_KEY}"})

    assert status == 404
    assert body["error"]["type"] == "invalid_request_error"
    assert "/v1/unknown" in body["error"]["message"]


def test_missing_api_key_unauthorized(server):
    status, body = raw_request(server, "POST", "/v1/chat/completions",
                               headers={"content-type": "application/json"}, body=json.dumps(chat_body()).encode())

    assert status == 401
    assert body["error"]["type"] == "invalid_request_error"
    assert server.counts["unauthorized"] == 1
    assert server.counts["requests"] == 0


def test_models_listed(server):
    openai_models = openai_client(server).models.list().data
    anthropic_models = anthropic_client(server).models.list().data

    assert [model.id for model in openai_models] == [model.id for model in anthropic_models]
    assert openai_models[0].object == "model"
    assert anthropic_models[0].type == "model"


@pytest.mark.parametrize("settings", [
    {"failure_rate": 1.5},
    {"failures": ("418",)},
    {"missing_digits": ("1", "2", "3", "4", "5", "6")},
    {"missing_digits": ("7",)},
    {"latency": -1.0},
    {"batch_polls": -1},
])
def test_invalid_settings_rejected(settings):
    with pytest.raises(ValueError):
        FakeProviderServer(**settings)


# Command line


def test_command_line_serves_until_sigterm():
    command = [sys.executable, "-m", "llmvalues.testing.fake_provider", "--port", "0", "--latency", "0.01",
               "--seed", "1"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        url = process.stdout.readline().strip()
        client = openai.OpenAI(base_url=url + "/v1", api_key=API_KEY, max_retries=0,
                               http_client=openai.DefaultHttpxClient(trust_env=False))
        completion = client.chat.completions.create(**chat_body())
        process.send_signal(signal.SIGTERM)
        return_code = process.wait(timeout=10)
        rest_of_output = process.stdout.read()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        process.stdout.close()
        process.stderr.close()

    assert url.startswith("http://127.0.0.1:")
    assert is_rating(completion.choices[0].message.content)
    assert return_code == 0
    assert rest_of_output == ""
