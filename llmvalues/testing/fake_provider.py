"""Serve a test double of the OpenAI and Anthropic HTTP APIs on 127.0.0.1.

``FakeProviderServer`` serves the endpoints that the official ``openai`` and
``anthropic`` Python SDKs call for chat completions, messages, files and batches,
in the shapes of those SDKs' response models (checked against openai 3.63.0 and
anthropic 2.17.0). It binds only to 127.0.0.1 and needs only the standard library,
so the provider clients can be tested and benchmarked without network access or
API keys::

    with FakeProviderServer(latency=0.2, failure_rate=0.1, seed=1) as server:
        client = openai.OpenAI(base_url=server.openai_base_url, api_key="test-key-not-secret")
        ...
        assert server.counts["answered"] == ...

Replies are deterministic: for given server settings, the text of a reply depends
only on the canonical JSON of the request body (``request_key``), so a retried or
batched request gets the same reply as the first try. Failures (status 429, 500 and 529, a hung
request, a malformed body, a dropped connection) are drawn from a seeded random
generator, or forced one at a time with ``fail_next``. Because concurrent
requests reach that generator in arrival order, which request fails is
reproducible only for sequential clients.

``python -m llmvalues.testing.fake_provider --help`` lists the options of a
server in its own process.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import email.parser
import email.policy
import hashlib
import json
import logging
import math
import random
import re
import signal
import socket
import socketserver
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Mapping
from urllib.parse import urlsplit

__all__ = [
    "DIGITS",
    "FAILURE_KINDS",
    "INVALID_REPLY",
    "REASONING_MARKER",
    "TRUNCATE_MARKER",
    "FakeProviderServer",
    "Reply",
    "main",
    "plan_reply",
    "request_key",
]

LOG = logging.getLogger(__name__)

HOST = "127.0.0.1"
# How often the serving thread checks for a stop request, so stop() returns within about this time.
POLL_SECONDS = 0.05
OPENAI = "openai"
ANTHROPIC = "anthropic"

DIGITS = ("1", "2", "3", "4", "5", "6")
FAILURE_KINDS = ("429", "500", "529", "timeout", "malformed", "drop")

INVALID_REPLY = "I am an AI and have no personal views."
TRUNCATED_REPLY = "After weighing the description carefully, I would rate it as"
TRUNCATE_MARKER = "[[truncate]]"
REASONING_MARKER = "[[reasoning]]"
# Share of rating replies written as "Rating: 4" instead of the digit alone.
PREFIXED_REPLY_SHARE = 0.25
RATING_PREFIX = "Rating: "
# Reasoning tokens reported for a request that sets no token budget.
DEFAULT_REASONING_TOKENS = 64
# Tokens added to the word count of the messages to make up prompt_tokens.
PROMPT_OVERHEAD_TOKENS = 4

# The OpenAI API accepts top_logprobs from 0 to 20.
MAX_TOP_LOGPROBS = 20
# At the rating position the logit of each digit falls by DIGIT_LOGIT_STEP per
# scale point away from the chosen digit. FILLER_TOKENS and the unlisted rest of
# the vocabulary share the remaining probability. No filler is a digit 1-6.
DIGIT_LOGIT_STEP = 1.5
FILLER_TOKENS = (
    "I", "Rating", "The", "As", " ", "\n", "My", "**", "Based", "This",
    "In", "Honestly", "On", "It", "Given", "A", "Score", "Answer", "0", "7",
)
FILLER_FIRST_LOGIT = -6.0
FILLER_LOGIT_STEP = 0.3
REST_OF_VOCABULARY_LOGIT = -4.0
# Log probability of a reply token outside the rating position, and of the first
# of the runners-up listed beside it.
PLAIN_TOKEN_LOGPROB = -0.02
PLAIN_RUNNER_UP_LOGPROB = -5.0
# Words, single digits, runs of white space and single other characters, with a
# word taking the space before it as byte-pair tokenizers do.
TOKEN_PATTERN = re.compile(r"\s?[^\W\d_]+|\d|\s+|\S")

MODEL_SUFFIX = "-2024-fake"
SYSTEM_FINGERPRINT = "fp_fake"
LISTED_MODELS = ("fake-chat-model", "fake-reasoning-model")
MODELS_CREATED_AT = 1_700_000_000
CHAT_COMPLETIONS_PATH = "/v1/chat/completions"
BATCH_WINDOW = "24h"
BATCH_WINDOW_SECONDS = 24 * 3600
# Anthropic accepts custom ids of 1 to 64 letters, digits, "_" and "-".
ANTHROPIC_CUSTOM_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")

# Bodies of the "malformed" failure: a 200 reply cut off in the middle.
MALFORMED_BODIES = {
    OPENAI: b'{"id": "chatcmpl-cut", "object": "chat.completion", "choices": [{"index": 0, "message": {"ro',
    ANTHROPIC: b'{"id": "msg_cut", "type": "message", "role": "assistant", "content": [{"type": "te',
}

OPENAI_STATUS_TYPES = {
    400: "invalid_request_error",
    401: "invalid_request_error",
    403: "invalid_request_error",
    404: "invalid_request_error",
    409: "invalid_request_error",
    422: "invalid_request_error",
    429: "requests",
    529: "overloaded",
}
# Error codes whose OpenAI error type is the code itself.
OPENAI_CODE_TYPES = {"insufficient_quota": "insufficient_quota"}
ANTHROPIC_STATUS_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    504: "timeout_error",
    529: "overloaded_error",
}
# The OpenAI error code that fail_next sends when the caller names none.
FORCED_OPENAI_CODES = {401: "invalid_api_key", 404: "model_not_found", 429: "rate_limit_exceeded"}
ERROR_MESSAGES = {
    400: "The request is invalid.",
    401: "Incorrect API key provided.",
    402: "Your credit balance is too low to access the API.",
    403: "Your API key does not have permission to use the specified resource.",
    404: "The model does not exist or you do not have access to it.",
    409: "The request conflicts with the current state of the resource.",
    413: "The request exceeds the maximum allowed number of bytes.",
    422: "The request could not be processed.",
    429: "Rate limit reached for requests. Please try again in 1s.",
    500: "The server had an error while processing your request.",
    503: "The service is temporarily unavailable.",
    529: "The server is overloaded. Please try again later.",
}
CODE_MESSAGES = {
    "insufficient_quota": "You exceeded your current quota, please check your plan and billing details.",
}
# Reason phrases for the status line where http.server has none.
REASON_PHRASES = {529: "Site Overloaded"}


# Request keys and the text of messages


def request_key(body: Any) -> str:
    """Return the sha256 hex digest of ``json.dumps(body, sort_keys=True)``."""
    canonical = json.dumps(body, sort_keys=True)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def key_fraction(key: str, offset: int) -> float:
    """Map the eight hex digits of ``key`` that start at ``offset`` to a number in [0, 1)."""
    return int(key[offset:offset + 8], 16) / 16 ** 8


def content_text(content: Any) -> str:
    """Return the text of message content: a string, or a list of content blocks."""
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        return ""
    texts = [block.get("text") for block in content if isinstance(block, dict)]
    return "\n".join(text for text in texts if isinstance(text, str))


def request_messages(body: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Return the message objects of a request body, skipping entries that are not objects."""
    messages = body.get("messages")
    if not isinstance(messages, list):
        return []
    return [message for message in messages if isinstance(message, dict)]


def last_user_text(body: Mapping[str, Any]) -> str:
    """Return the text of the last user message, or "" when there is none."""
    for message in reversed(request_messages(body)):
        if message.get("role") == "user":
            return content_text(message.get("content"))
    return ""


def prompt_tokens(body: Mapping[str, Any]) -> int:
    """Count the prompt tokens of a request: the words of the system prompt and messages, plus 4."""
    texts = [content_text(body.get("system"))]
    texts += [content_text(message.get("content")) for message in request_messages(body)]
    return sum(len(text.split()) for text in texts) + PROMPT_OVERHEAD_TOKENS


def token_budget(body: Mapping[str, Any]) -> int | None:
    """Return the request's max_completion_tokens or max_tokens, or None when it sets neither."""
    for name in ("max_completion_tokens", "max_tokens"):
        value = body.get(name)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return None


def is_dilemma(text: str) -> bool:
    """Tell whether a user message presents a dilemma, that is, names an "Option A"."""
    return "Option A" in text or "option A" in text


def split_tokens(text: str) -> list[str]:
    """Split a reply into the tokens that usage and log probabilities count."""
    return TOKEN_PATTERN.findall(text)


# Replies


@dataclass(frozen=True)
class Reply:
    """A reply to one request, before it is written in a provider's format.

    ``text`` is None when the model spent its whole budget on reasoning. ``digit``
    is the rating in ``text``, or None when the text contains no rating.
    ``truncated`` means the reply stopped at the token budget.
    """

    text: str | None
    digit: str | None
    truncated: bool = False
    reasoning: bool = False


def plan_reply(body: Mapping[str, Any], *, invalid_reply_rate: float = 0.0,
               digits: tuple[str, ...] = DIGITS) -> Reply:
    """Choose the reply to a request body from the body alone.

    The digit comes from the first eight hex digits of ``request_key(body)``, the
    invalid-reply draw from the next eight and the "Rating: " prefix from the
    eight after, so the three choices are independent. A reply longer than the
    token budget is cut to it and marked truncated, except that a budget of one
    token always gets the digit alone.
    """
    key = request_key(body)
    user_text = last_user_text(body)
    budget = token_budget(body)
    digit = digits[int(key[:8], 16) % len(digits)]

    if REASONING_MARKER in user_text:
        return Reply(text=None, digit=None, truncated=True, reasoning=True)
    if TRUNCATE_MARKER in user_text:
        return Reply(text=fit_to_budget(TRUNCATED_REPLY, budget), digit=None, truncated=True)
    if budget == 1:
        return Reply(text=digit, digit=digit)
    if key_fraction(key, 8) < invalid_reply_rate:
        text = fit_to_budget(INVALID_REPLY, budget)
        return Reply(text=text, digit=None, truncated=text != INVALID_REPLY)

    prefixed = RATING_PREFIX + digit
    wants_prefix = key_fraction(key, 16) < PREFIXED_REPLY_SHARE and not is_dilemma(user_text)
    if wants_prefix and (budget is None or budget >= len(split_tokens(prefixed))):
        return Reply(text=prefixed, digit=digit)
    return Reply(text=digit, digit=digit)


def fit_to_budget(text: str, budget: int | None) -> str:
    """Cut ``text`` to its first ``budget`` tokens, or keep all of it when ``budget`` is None."""
    if budget is None:
        return text
    return "".join(split_tokens(text)[:budget])


def reply_token_count(reply: Reply, budget: int | None) -> int:
    """Count the output tokens of a reply: the whole budget when it was cut or spent on reasoning."""
    if reply.reasoning:
        return budget or DEFAULT_REASONING_TOKENS
    if reply.truncated and budget:
        return budget
    return len(split_tokens(reply.text or ""))


# Log probabilities


def rating_distribution(digit: str, missing_digits: tuple[str, ...]) -> list[tuple[str, float]]:
    """Return (token, log probability) pairs at the rating position, highest first.

    The distribution peaks at ``digit``. Digits in ``missing_digits`` are left out,
    as if they ranked below the tokens that the API returns.
    """
    chosen = int(digit)
    logits = {candidate: -DIGIT_LOGIT_STEP * abs(int(candidate) - chosen) for candidate in DIGITS}
    for rank, token in enumerate(FILLER_TOKENS):
        logits[token] = FILLER_FIRST_LOGIT - FILLER_LOGIT_STEP * rank
    total = sum(math.exp(logit) for logit in logits.values()) + math.exp(REST_OF_VOCABULARY_LOGIT)
    log_total = math.log(total)
    ranked = [(token, logit - log_total) for token, logit in logits.items() if token not in missing_digits]
    ranked.sort(key=lambda pair: pair[1], reverse=True)
    return ranked


def plain_distribution(token: str) -> list[tuple[str, float]]:
    """Return (token, log probability) pairs at a position the model was sure of, highest first."""
    runners_up = [filler for filler in FILLER_TOKENS if filler != token]
    ranked = [(token, PLAIN_TOKEN_LOGPROB)]
    ranked += [(filler, PLAIN_RUNNER_UP_LOGPROB - FILLER_LOGIT_STEP * rank) for rank, filler in enumerate(runners_up)]
    return ranked


def token_logprob(token: str, ranked: list[tuple[str, float]], top_count: int) -> dict[str, Any]:
    """Build one entry of ``choices[0].logprobs.content`` with the ``top_count`` best alternatives."""
    alternatives = [
        {"token": candidate, "logprob": logprob, "bytes": list(candidate.encode("utf-8"))}
        for candidate, logprob in ranked[:top_count]
    ]
    return {
        "token": token,
        "logprob": dict(ranked)[token],
        "bytes": list(token.encode("utf-8")),
        "top_logprobs": alternatives,
    }


def reply_logprobs(reply: Reply, top_count: int, missing_digits: tuple[str, ...]) -> list[dict[str, Any]]:
    """Build the log probabilities of every reply token, with the digit distribution at the rating digit."""
    entries = []
    for token in split_tokens(reply.text or ""):
        if token == reply.digit:
            ranked = rating_distribution(token, missing_digits)
        else:
            ranked = plain_distribution(token)
        entries.append(token_logprob(token, ranked, top_count))
    return entries


# Response bodies


def new_id(prefix: str) -> str:
    """Return a fresh object id such as "chatcmpl-3f9a..."."""
    return prefix + uuid.uuid4().hex[:24]


def returned_model(requested: str) -> str:
    """Return the model id that a reply names: the requested id with a dated suffix, like a real alias."""
    return requested + MODEL_SUFFIX


def openai_completion(body: Mapping[str, Any], reply: Reply, *,
                      missing_digits: tuple[str, ...] = ()) -> dict[str, Any]:
    """Build a ``chat.completion`` object for a request body and its planned reply."""
    budget = token_budget(body)
    completion_tokens = reply_token_count(reply, budget)
    input_tokens = prompt_tokens(body)
    choice: dict[str, Any] = {
        "index": 0,
        "message": {"role": "assistant", "content": reply.text, "refusal": None},
        "finish_reason": "length" if reply.truncated else "stop",
        "logprobs": None,
    }
    if body.get("logprobs") and reply.text is not None:
        top_count = body.get("top_logprobs") or 0
        choice["logprobs"] = {"content": reply_logprobs(reply, top_count, missing_digits), "refusal": None}
    return {
        "id": new_id("chatcmpl-"),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": returned_model(body["model"]),
        "system_fingerprint": SYSTEM_FINGERPRINT,
        "service_tier": "default",
        "choices": [choice],
        "usage": {
            "prompt_tokens": input_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": input_tokens + completion_tokens,
            "completion_tokens_details": {"reasoning_tokens": completion_tokens if reply.reasoning else 0},
            "prompt_tokens_details": {"cached_tokens": 0},
        },
    }


def anthropic_message(body: Mapping[str, Any], reply: Reply) -> dict[str, Any]:
    """Build a ``message`` object for a request body and its planned reply.

    A reasoning reply has an empty content list and stop_reason "max_tokens".
    """
    content = [] if reply.text is None else [{"type": "text", "text": reply.text}]
    return {
        "id": new_id("msg_"),
        "type": "message",
        "role": "assistant",
        "model": returned_model(body["model"]),
        "content": content,
        "stop_reason": "max_tokens" if reply.truncated else "end_turn",
        "stop_sequence": None,
        "usage": {
            "input_tokens": prompt_tokens(body),
            "output_tokens": reply_token_count(reply, token_budget(body)),
        },
    }


def openai_error_body(status: int, message: str, *, code: str | None = None,
                      param: str | None = None) -> dict[str, Any]:
    """Build an OpenAI error body: ``{"error": {"message", "type", "param", "code"}}``."""
    error_type = OPENAI_CODE_TYPES.get(code or "") or OPENAI_STATUS_TYPES.get(status)
    if error_type is None:
        error_type = "server_error" if status >= 500 else "invalid_request_error"
    return {"error": {"message": message, "type": error_type, "param": param, "code": code}}


def anthropic_error_body(status: int, message: str, *, code: str | None = None) -> dict[str, Any]:
    """Build an Anthropic error body: ``{"type": "error", "error": {"type", "message"}}``.

    A ``code`` goes to ``error.details.error_code``, where anthropic 2.17.0 looks
    for it to pick a more specific exception class.
    """
    error_type = ANTHROPIC_STATUS_TYPES.get(status)
    if error_type is None:
        error_type = "api_error" if status >= 500 else "invalid_request_error"
    error: dict[str, Any] = {"type": error_type, "message": message}
    if code:
        error["details"] = {"error_code": code}
    return {"type": "error", "error": error}


def default_error_message(status: int, code: str | None) -> str:
    """Return the message of an error that the caller gave no message for."""
    if code in CODE_MESSAGES:
        return CODE_MESSAGES[code]
    return ERROR_MESSAGES.get(status, f"The request failed with status {status}.")


# Request validation


def openai_request_problem(body: Mapping[str, Any]) -> tuple[str, str] | None:
    """Return (parameter, message) for the first invalid field of a chat completion request, or None."""
    if not isinstance(body.get("model"), str) or not body["model"]:
        return "model", "You must provide a model parameter."
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return "messages", "'messages' must contain at least one message."
    if any(not isinstance(message, dict) or "role" not in message for message in messages):
        return "messages", "Every message must be an object with a 'role'."
    for name in ("max_tokens", "max_completion_tokens"):
        value = body.get(name)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
            return name, f"Invalid '{name}': expected an integer of at least 1, got {value!r}."
    top_logprobs = body.get("top_logprobs")
    if top_logprobs is not None:
        if not isinstance(top_logprobs, int) or not 0 <= top_logprobs <= MAX_TOP_LOGPROBS:
            return "top_logprobs", f"Invalid 'top_logprobs': expected an integer from 0 to 20, got {top_logprobs!r}."
        if not body.get("logprobs"):
            return "top_logprobs", "'top_logprobs' requires 'logprobs' to be true."
    return None


def anthropic_request_problem(body: Mapping[str, Any]) -> str | None:
    """Return a message for the first invalid field of a messages request, or None."""
    if not isinstance(body.get("model"), str) or not body["model"]:
        return "model: Field required"
    budget = body.get("max_tokens")
    if budget is None:
        return "max_tokens: Field required"
    if not isinstance(budget, int) or isinstance(budget, bool) or budget < 1:
        return f"max_tokens: expected an integer of at least 1, got {budget!r}"
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return "messages: at least one message is required"
    if any(not isinstance(message, dict) or message.get("role") not in ("user", "assistant")
           for message in messages):
        return "messages: every message must be an object with role 'user' or 'assistant'"
    return None


# Batch input


class BatchInputError(ValueError):
    """An uploaded batch file or a batch request list that the API rejects as a whole."""


def parse_multipart(content_type: str, body: bytes) -> dict[str, tuple[str | None, bytes]]:
    """Split a multipart/form-data body into {field name: (file name or None, content)}."""
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode("latin-1")
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
    if not message.is_multipart():
        raise BatchInputError(f"Expected a multipart/form-data body, got content type {content_type!r}.")
    fields: dict[str, tuple[str | None, bytes]] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if isinstance(name, str):
            fields[name] = (part.get_filename(), part.get_payload(decode=True) or b"")
    return fields


def parse_batch_lines(content: bytes) -> list[dict[str, Any]]:
    """Parse the JSONL input file of an OpenAI batch into its request lines.

    Raises BatchInputError for text that is not UTF-8, a blank or invalid JSON
    line, or a line without a string ``custom_id``, a duplicate ``custom_id``, a
    ``method`` other than POST, or a ``body`` that is not an object.
    """
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError as error:
        raise BatchInputError(f"The batch file is not valid UTF-8: {error}.") from error
    lines: list[dict[str, Any]] = []
    seen: set[str] = set()
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            raise BatchInputError(f"Line {number} of the batch file is empty.")
        try:
            line = json.loads(raw)
        except json.JSONDecodeError as error:
            raise BatchInputError(f"Line {number} of the batch file is not valid JSON: {error}.") from error
        if not isinstance(line, dict):
            raise BatchInputError(f"Line {number} of the batch file is not a JSON object.")
        custom_id = line.get("custom_id")
        if not isinstance(custom_id, str) or not custom_id:
            raise BatchInputError(f"Line {number} of the batch file has no custom_id.")
        if custom_id in seen:
            raise BatchInputError(f"Line {number} of the batch file repeats custom_id {custom_id!r}.")
        if line.get("method") != "POST":
            raise BatchInputError(f"Line {number} of the batch file has method {line.get('method')!r}, expected 'POST'.")
        if not isinstance(line.get("body"), dict):
            raise BatchInputError(f"Line {number} of the batch file has no body object.")
        seen.add(custom_id)
        lines.append(line)
    if not lines:
        raise BatchInputError("The batch file contains no requests.")
    return lines


def parse_message_batch_requests(body: Any) -> list[dict[str, Any]]:
    """Check the ``requests`` list of an Anthropic message batch and return it.

    Raises BatchInputError for a missing or empty list, an entry without a valid
    ``custom_id`` or a ``params`` object, or a duplicate ``custom_id``.
    """
    requests = body.get("requests") if isinstance(body, dict) else None
    if not isinstance(requests, list) or not requests:
        raise BatchInputError("requests: at least one request is required")
    seen: set[str] = set()
    for index, entry in enumerate(requests):
        custom_id = entry.get("custom_id") if isinstance(entry, dict) else None
        if not isinstance(custom_id, str) or not ANTHROPIC_CUSTOM_ID.fullmatch(custom_id):
            raise BatchInputError(f"requests.{index}.custom_id: expected 1 to 64 letters, digits, '_' or '-'")
        if custom_id in seen:
            raise BatchInputError(f"requests.{index}.custom_id: {custom_id!r} is used by an earlier request")
        if not isinstance(entry.get("params"), dict):
            raise BatchInputError(f"requests.{index}.params: Field required")
        seen.add(custom_id)
    return requests


def iso_time(moment: datetime) -> str:
    """Format a UTC time as RFC 3339 with a "Z", as the Anthropic API does."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# Stored objects


@dataclass
class StoredFile:
    """A file of the OpenAI Files API: an uploaded batch input or a batch's output or error file."""

    id: str
    filename: str
    purpose: str
    content: bytes
    created_at: int

    def to_json(self) -> dict[str, Any]:
        """Return the file object that ``client.files.create`` and ``retrieve`` parse."""
        return {
            "id": self.id,
            "object": "file",
            "bytes": len(self.content),
            "created_at": self.created_at,
            "filename": self.filename,
            "purpose": self.purpose,
            "status": "processed",
            "expires_at": None,
            "status_details": None,
        }


@dataclass
class OpenAIBatch:
    """An OpenAI batch, its input lines and its state, with ``polls`` counting the retrieve calls so far."""

    id: str
    input_file_id: str
    endpoint: str
    lines: list[dict[str, Any]]
    metadata: dict[str, Any] | None
    created_at: int
    status: str = "validating"
    polls: int = 0
    completed: int = 0
    failed: int = 0
    output_file_id: str | None = None
    error_file_id: str | None = None
    times: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """Return the batch object that ``client.batches`` methods parse."""
        model = self.lines[0]["body"].get("model") if self.lines else None
        return {
            "id": self.id,
            "object": "batch",
            "endpoint": self.endpoint,
            "model": model if isinstance(model, str) else None,
            "errors": None,
            "input_file_id": self.input_file_id,
            "completion_window": BATCH_WINDOW,
            "status": self.status,
            "output_file_id": self.output_file_id,
            "error_file_id": self.error_file_id,
            "created_at": self.created_at,
            "in_progress_at": self.times.get("in_progress_at"),
            "expires_at": self.created_at + BATCH_WINDOW_SECONDS,
            "finalizing_at": self.times.get("finalizing_at"),
            "completed_at": self.times.get("completed_at"),
            "failed_at": None,
            "expired_at": None,
            "cancelling_at": self.times.get("cancelling_at"),
            "cancelled_at": self.times.get("cancelled_at"),
            "request_counts": {"total": len(self.lines), "completed": self.completed, "failed": self.failed},
            "metadata": self.metadata,
        }


@dataclass
class AnthropicBatch:
    """An Anthropic message batch, its requests and its state, with ``polls`` counting the retrieve calls so far."""

    id: str
    requests: list[dict[str, Any]]
    created_at: datetime
    processing_status: str = "in_progress"
    polls: int = 0
    succeeded: int = 0
    errored: int = 0
    canceled: int = 0
    cancel_initiated_at: datetime | None = None
    ended_at: datetime | None = None
    results: bytes = b""

    def to_json(self, results_url: str) -> dict[str, Any]:
        """Return the message batch object, with ``results_url`` set once the batch has ended."""
        ended = self.processing_status == "ended"
        processing = 0 if ended else len(self.requests)
        return {
            "id": self.id,
            "type": "message_batch",
            "processing_status": self.processing_status,
            "request_counts": {
                "processing": processing,
                "succeeded": self.succeeded,
                "errored": self.errored,
                "canceled": self.canceled,
                "expired": 0,
            },
            "created_at": iso_time(self.created_at),
            "expires_at": iso_time(self.created_at + timedelta(seconds=BATCH_WINDOW_SECONDS)),
            "ended_at": iso_time(self.ended_at) if self.ended_at else None,
            "cancel_initiated_at": iso_time(self.cancel_initiated_at) if self.cancel_initiated_at else None,
            "archived_at": None,
            "results_url": results_url if ended else None,
        }


# HTTP plumbing


@dataclass(frozen=True)
class HTTPRequest:
    """An HTTP request for the dispatcher: method, path without query, lower-case headers and body."""

    method: str
    path: str
    headers: Mapping[str, str]
    body: bytes

    @property
    def provider(self) -> str:
        """The API whose error format this request gets: anthropic for /v1/messages or an anthropic-version header."""
        if self.path.startswith("/v1/messages") or "anthropic-version" in self.headers:
            return ANTHROPIC
        return OPENAI

    def api_key(self) -> str | None:
        """Return the API key of the x-api-key header or of an Authorization bearer token."""
        key = self.headers.get("x-api-key")
        if key:
            return key
        scheme, _, token = (self.headers.get("authorization") or "").partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            return token.strip()
        return None


@dataclass
class HTTPResponse:
    """An HTTP response for the handler to send, or with ``drop`` set, a connection to close unanswered."""

    status: int = 200
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False


DROP = HTTPResponse(drop=True)


def json_response(payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> HTTPResponse:
    """Serialize ``payload`` as a JSON response with a fresh request id header."""
    request_id = new_id("req_")
    all_headers = {"x-request-id": request_id, "request-id": request_id, **(headers or {})}
    return HTTPResponse(status=status, body=json.dumps(payload).encode("utf-8"), headers=all_headers)


def error_response(provider: str, status: int, message: str, *, code: str | None = None,
                   param: str | None = None, headers: dict[str, str] | None = None) -> HTTPResponse:
    """Build an error response in the body format of ``provider``."""
    if provider == ANTHROPIC:
        payload = anthropic_error_body(status, message, code=code)
    else:
        payload = openai_error_body(status, message, code=code, param=param)
    return json_response(payload, status, headers)


def parse_json_object(raw: bytes) -> dict[str, Any] | None:
    """Parse a request body as a JSON object, or return None when it is not one."""
    try:
        value = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    return value if isinstance(value, dict) else None


class _RequestHandler(BaseHTTPRequestHandler):
    """Read one HTTP request, pass it to the server's dispatcher and write the response."""

    protocol_version = "HTTP/1.1"
    # Send each response at once: with Nagle's algorithm the body, written after the
    # headers, waits for the client's delayed ACK, about 40 ms on Linux.
    disable_nagle_algorithm = True
    server: _HTTPServer

    def setup(self) -> None:
        super().setup()
        self.server.track_connection(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.forget_connection(self.connection)

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (the standard library's name)
        LOG.debug("%s %s", self.address_string(), format % args)

    def _serve(self) -> None:
        request = HTTPRequest(
            method=self.command,
            path=urlsplit(self.path).path,
            headers={name.lower(): value for name, value in self.headers.items()},
            body=self._read_body(),
        )
        response = self.server.fake.dispatch(request)
        if response.drop:
            self._drop_connection()
        else:
            self._send(response)

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._read_chunked_body()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _read_chunked_body(self) -> bytes:
        chunks = []
        while True:
            size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                break
            chunks.append(self.rfile.read(size))
            self.rfile.readline()
        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
            pass  # trailer fields
        return b"".join(chunks)

    def _send(self, response: HTTPResponse) -> None:
        self.send_response(response.status, REASON_PHRASES.get(response.status))
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(response.body)))
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(response.body)

    def _drop_connection(self) -> None:
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)


class _HTTPServer(ThreadingHTTPServer):
    """A threading HTTP server on 127.0.0.1 whose open connections can be closed on stop.

    Handler threads are daemon threads and ``server_close`` does not join them, so
    a request that hangs never blocks the stop.
    """

    daemon_threads = True
    block_on_close = False
    # Room for a burst of concurrent clients connecting at once (the default is 5).
    request_queue_size = 128

    def __init__(self, fake: FakeProviderServer, port: int):
        self.fake = fake
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__((HOST, port), _RequestHandler)

    def server_bind(self) -> None:
        # Skip HTTPServer.server_bind, which looks up the host's domain name, because the address is enough here.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    def track_connection(self, connection: socket.socket) -> None:
        with self._connections_lock:
            self._connections.add(connection)

    def forget_connection(self, connection: socket.socket) -> None:
        with self._connections_lock:
            self._connections.discard(connection)

    def close_connections(self) -> None:
        """Shut down every open client connection, so that no kept-alive connection outlives the server."""
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        error = sys.exc_info()[1]
        if isinstance(error, (ConnectionError, TimeoutError)):
            LOG.debug("Connection from %s ended early: %r", client_address, error)
        else:
            LOG.exception("Fake provider failed to serve %s", client_address)


# The server


@dataclass(frozen=True)
class _Failure:
    """A failure chosen for one model request: a kind of FAILURE_KINDS, or "forced" with its status."""

    kind: str
    status: int = 0
    code: str | None = None


class FakeProviderServer:
    """A test double of the OpenAI and Anthropic HTTP APIs on 127.0.0.1.

    Model requests are chat completions (``POST /v1/chat/completions``) and
    messages (``POST /v1/messages``). Each one gets its reply after ``latency``
    seconds, unless it fails as ``fail_next`` forced or, with probability
    ``failure_rate``, with a kind drawn uniformly from ``failures``. Batch lines
    get the same replies and never go through ``failure_rate``. Instead, a share
    ``batch_error_rate`` of them fails, chosen by custom_id, ``seed`` and how often
    the custom_id was in a batch before.

    Settings: ``port`` (0 picks a free one), ``retry_after_ms`` (the
    retry-after-ms header of a 429, sent with "retry-after: 1"),
    ``hang_seconds`` (the wait of a "timeout" failure before the normal reply),
    ``invalid_reply_rate`` (the share of replies without a rating, chosen by
    request body), ``batch_polls`` (the polls that find a batch in progress
    before it ends) and ``missing_digits`` (digits left out of top_logprobs and
    never chosen as the reply's rating).

    Counters, read by tests: ``counts`` (keys "requests", "answered",
    "invalid_requests", "unauthorized", each failure kind, "forced",
    "batches_created", "files_uploaded", "batch_polls", "batch_requests",
    "batch_errors"), ``received_keys`` and ``answered_keys`` (request keys in
    arrival order) and ``auth_headers`` (the API keys seen). A request that hung
    for the "timeout" failure is never counted as answered, even where its late
    reply still reaches a client. Batch lines count under "batch_requests", not
    "requests": their keys join ``received_keys`` when the batch is created and
    ``answered_keys`` when it completes, and they count as "answered" then.
    """

    def __init__(self, *, port: int = 0, latency: float = 0.0, failure_rate: float = 0.0,
                 failures: tuple[str, ...] = FAILURE_KINDS, retry_after_ms: int = 50, hang_seconds: float = 5.0,
                 invalid_reply_rate: float = 0.0, seed: int = 0, batch_polls: int = 2,
                 batch_error_rate: float = 0.0, missing_digits: tuple[str, ...] = ()):
        check_settings(port=port, latency=latency, failure_rate=failure_rate, failures=failures,
                       retry_after_ms=retry_after_ms, hang_seconds=hang_seconds,
                       invalid_reply_rate=invalid_reply_rate, batch_polls=batch_polls,
                       batch_error_rate=batch_error_rate, missing_digits=missing_digits)
        self.port = port
        self.latency = latency
        self.failure_rate = failure_rate
        self.failures = tuple(failures)
        self.retry_after_ms = retry_after_ms
        self.hang_seconds = hang_seconds
        self.invalid_reply_rate = invalid_reply_rate
        self.seed = seed
        self.batch_polls = batch_polls
        self.batch_error_rate = batch_error_rate
        self.missing_digits = tuple(missing_digits)
        self.rating_digits = tuple(digit for digit in DIGITS if digit not in self.missing_digits)

        self.counts: collections.Counter[str] = collections.Counter()
        self.received_keys: list[str] = []
        self.answered_keys: list[str] = []
        self.auth_headers: set[str] = set()

        self._lock = threading.RLock()
        self._random = random.Random(seed)
        self._forced: collections.deque[_Failure] = collections.deque()
        self._batch_line_tries: collections.Counter[str] = collections.Counter()
        self._files: dict[str, StoredFile] = {}
        self._openai_batches: dict[str, OpenAIBatch] = {}
        self._anthropic_batches: dict[str, AnthropicBatch] = {}
        self._stopping = threading.Event()
        self._httpd: _HTTPServer | None = None
        self._address: tuple[str, int] | None = None
        self._thread: threading.Thread | None = None
        self._routes = self._build_routes()

    # Life cycle and addresses

    def start(self) -> FakeProviderServer:
        """Bind to 127.0.0.1 and serve in a daemon thread, then return the server itself."""
        if self._httpd is not None:
            raise RuntimeError(f"The fake provider is already serving at {self.url}.")
        self._stopping.clear()
        self._httpd = _HTTPServer(self, self.port)
        self._address = self._httpd.socket.getsockname()[:2]
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": POLL_SECONDS},
                                        name="fake-provider", daemon=True)
        self._thread.start()
        LOG.debug("Fake provider serving at %s", self.url)
        return self

    def stop(self) -> None:
        """Stop serving and close open connections without waiting for hung requests."""
        if self._httpd is None:
            return
        self._stopping.set()
        self._httpd.shutdown()
        self._httpd.close_connections()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join()
        LOG.debug("Fake provider at %s stopped", self.url)
        self._httpd = None
        self._thread = None
        self._address = None

    def __enter__(self) -> FakeProviderServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def address(self) -> tuple[str, int]:
        """The (host, port) that the listening socket is bound to."""
        if self._address is None:
            raise RuntimeError("The fake provider is not running; call start() first.")
        return self._address

    @property
    def url(self) -> str:
        """The server's root URL, "http://127.0.0.1:PORT"."""
        host, port = self.address
        return f"http://{host}:{port}"

    @property
    def openai_base_url(self) -> str:
        """The ``base_url`` for ``openai.OpenAI``: the root URL with "/v1"."""
        return self.url + "/v1"

    @property
    def anthropic_base_url(self) -> str:
        """The ``base_url`` for ``anthropic.Anthropic``: the root URL."""
        return self.url

    # Controls for tests

    def fail_next(self, status: int, *, code: str | None = None, times: int = 1) -> None:
        """Make the next ``times`` model requests fail with ``status`` and a realistic error body.

        Without a ``code``, OpenAI bodies get the usual code of the status
        (401 invalid_api_key, 404 model_not_found, 429 rate_limit_exceeded) and
        Anthropic bodies none. The code "insufficient_quota" also sets the OpenAI
        error type to insufficient_quota.
        """
        if not 400 <= status <= 599:
            raise ValueError(f"status must be an HTTP error status from 400 to 599, got {status}.")
        if times < 1:
            raise ValueError(f"times must be at least 1, got {times}.")
        with self._lock:
            self._forced.extend([_Failure("forced", status, code)] * times)

    def reset_counts(self) -> None:
        """Clear ``counts``, ``received_keys``, ``answered_keys`` and ``auth_headers``."""
        with self._lock:
            self.counts.clear()
            self.received_keys.clear()
            self.answered_keys.clear()
            self.auth_headers.clear()

    # Dispatch

    def _build_routes(self) -> list[tuple[str, re.Pattern[str], Callable[..., HTTPResponse]]]:
        routes = [
            ("POST", r"/v1/chat/completions", self._create_chat_completion),
            ("GET", r"/v1/models", self._list_models),
            ("POST", r"/v1/files", self._upload_file),
            ("GET", r"/v1/files/(?P<file_id>[^/]+)", self._retrieve_file),
            ("GET", r"/v1/files/(?P<file_id>[^/]+)/content", self._file_content),
            ("POST", r"/v1/batches", self._create_batch),
            ("GET", r"/v1/batches/(?P<batch_id>[^/]+)", self._retrieve_batch),
            ("POST", r"/v1/batches/(?P<batch_id>[^/]+)/cancel", self._cancel_batch),
            ("POST", r"/v1/messages", self._create_message),
            ("POST", r"/v1/messages/batches", self._create_message_batch),
            ("GET", r"/v1/messages/batches/(?P<batch_id>[^/]+)", self._retrieve_message_batch),
            ("GET", r"/v1/messages/batches/(?P<batch_id>[^/]+)/results", self._message_batch_results),
            ("POST", r"/v1/messages/batches/(?P<batch_id>[^/]+)/cancel", self._cancel_message_batch),
        ]
        return [(method, re.compile(pattern), handler) for method, pattern, handler in routes]

    def dispatch(self, request: HTTPRequest) -> HTTPResponse:
        """Serve one request and log, at debug level, every response that is an error or a dropped connection."""
        response = self._route(request)
        if response.drop:
            LOG.debug("Dropped the connection of %s %s", request.method, request.path)
        elif response.status >= 400:
            LOG.debug("Sent status %d to %s %s: %s", response.status, request.method, request.path,
                      response.body[:200].decode("utf-8", "replace"))
        return response

    def _route(self, request: HTTPRequest) -> HTTPResponse:
        """Pass a request with an API key to its endpoint. An unknown path or method gets 404."""
        for method, pattern, handler in self._routes:
            match = pattern.fullmatch(request.path)
            if match and request.method == method:
                break
        else:
            message = f"Invalid URL ({request.method} {request.path})."
            return error_response(request.provider, 404, message)

        api_key = request.api_key()
        if api_key is None:
            with self._lock:
                self.counts["unauthorized"] += 1
            message = "No API key provided: send an x-api-key header or an Authorization bearer token."
            return error_response(request.provider, 401, message)
        with self._lock:
            self.auth_headers.add(api_key)

        try:
            return handler(request, **match.groupdict())
        except Exception as error:  # a bug here must reach the client as an error, not a hang
            LOG.exception("Fake provider failed on %s %s", request.method, request.path)
            return error_response(request.provider, 500, f"The fake provider failed: {error!r}.")

    # Model requests

    def _create_chat_completion(self, request: HTTPRequest) -> HTTPResponse:
        return self._serve_model_request(request, OPENAI)

    def _create_message(self, request: HTTPRequest) -> HTTPResponse:
        return self._serve_model_request(request, ANTHROPIC)

    def _serve_model_request(self, request: HTTPRequest, provider: str) -> HTTPResponse:
        """Answer a chat completion or message after the latency, unless a failure was drawn."""
        body = parse_json_object(request.body)
        key = request_key(body) if body is not None else hashlib.sha256(request.body).hexdigest()
        with self._lock:
            self.counts["requests"] += 1
            self.received_keys.append(key)
            failure = self._draw_failure()

        if not self._pause(self.latency):
            return DROP
        if failure is not None:
            if failure.kind == "timeout":
                if not self._pause(self.hang_seconds):
                    return DROP
            else:
                return self._failure_response(provider, failure)

        if body is None:
            return self._invalid_request(provider, "The request body is not a valid JSON object.")
        if provider == OPENAI:
            problem = openai_request_problem(body)
            if problem is not None:
                param, message = problem
                return self._invalid_request(provider, message, param=param)
        else:
            message = anthropic_request_problem(body)
            if message is not None:
                return self._invalid_request(provider, message)

        payload = self._answer(provider, body)
        if failure is None:
            self._count_answer(key)
        return json_response(payload)

    def _draw_failure(self) -> _Failure | None:
        """Take the next forced failure, or draw one with ``failure_rate``. The caller holds the lock."""
        if self._forced:
            self.counts["forced"] += 1
            return self._forced.popleft()
        if self.failure_rate and self._random.random() < self.failure_rate:
            kind = self._random.choice(self.failures)
            self.counts[kind] += 1
            return _Failure(kind)
        return None

    def _failure_response(self, provider: str, failure: _Failure) -> HTTPResponse:
        """Build the response of a failure of any kind but "timeout"."""
        if failure.kind == "drop":
            return DROP
        if failure.kind == "malformed":
            return HTTPResponse(status=200, body=MALFORMED_BODIES[provider], headers={"x-request-id": new_id("req_")})
        if failure.kind == "forced":
            status = failure.status
            code = failure.code
            if code is None and provider == OPENAI:
                code = FORCED_OPENAI_CODES.get(status)
        else:
            status = int(failure.kind)
            code = "rate_limit_exceeded" if status == 429 and provider == OPENAI else None
        headers = self._retry_headers() if status == 429 else None
        return error_response(provider, status, default_error_message(status, code), code=code, headers=headers)

    def _retry_headers(self) -> dict[str, str]:
        return {"retry-after": "1", "retry-after-ms": str(self.retry_after_ms)}

    def _invalid_request(self, provider: str, message: str, *, param: str | None = None) -> HTTPResponse:
        with self._lock:
            self.counts["invalid_requests"] += 1
        return error_response(provider, 400, message, param=param)

    def _pause(self, seconds: float) -> bool:
        """Sleep for ``seconds``, waking early when the server stops, and return False if it stopped."""
        if seconds > 0:
            self._stopping.wait(seconds)
        return not self._stopping.is_set()

    def _answer(self, provider: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """Build the reply object to a valid request body without counting it."""
        reply = plan_reply(body, invalid_reply_rate=self.invalid_reply_rate, digits=self.rating_digits)
        if provider == OPENAI:
            return openai_completion(body, reply, missing_digits=self.missing_digits)
        return anthropic_message(body, reply)

    def _count_answer(self, key: str) -> None:
        with self._lock:
            self.counts["answered"] += 1
            self.answered_keys.append(key)

    def _batch_line_fails(self, custom_id: str) -> bool:
        """Tell whether a batch line fails under ``batch_error_rate``.

        The draw depends on the custom_id, the seed and how often that custom_id was
        in a batch before, so a line sent again in a later batch can succeed.
        """
        with self._lock:
            self._batch_line_tries[custom_id] += 1
            tries = self._batch_line_tries[custom_id]
        key = hashlib.sha256(f"{self.seed}:{custom_id}:{tries}".encode("utf-8")).hexdigest()
        return key_fraction(key, 0) < self.batch_error_rate

    def _list_models(self, request: HTTPRequest) -> HTTPResponse:
        if request.provider == ANTHROPIC:
            created_at = iso_time(datetime.fromtimestamp(MODELS_CREATED_AT, timezone.utc))
            data = [{"type": "model", "id": model, "display_name": model, "created_at": created_at,
                     "lifecycle": "active"} for model in LISTED_MODELS]
            return json_response({"data": data, "has_more": False, "first_id": LISTED_MODELS[0],
                                  "last_id": LISTED_MODELS[-1]})
        data = [{"id": model, "object": "model", "created": MODELS_CREATED_AT, "owned_by": "llmvalues-fake"}
                for model in LISTED_MODELS]
        return json_response({"object": "list", "data": data})

    # OpenAI files

    def _upload_file(self, request: HTTPRequest) -> HTTPResponse:
        """Store a multipart upload with purpose "batch" after checking every JSONL line."""
        try:
            fields = parse_multipart(request.headers.get("content-type", ""), request.body)
        except BatchInputError as error:
            return error_response(OPENAI, 400, str(error))
        purpose = fields.get("purpose", (None, b""))[1].decode("utf-8", "replace")
        if purpose != "batch":
            return error_response(OPENAI, 400, f"This test double accepts only purpose 'batch', got {purpose!r}.",
                                  param="purpose")
        if "file" not in fields:
            return error_response(OPENAI, 400, "The upload has no 'file' field.", param="file")
        filename, content = fields["file"]
        try:
            parse_batch_lines(content)
        except BatchInputError as error:
            return error_response(OPENAI, 400, str(error), param="file")
        stored = StoredFile(new_id("file-"), filename or "upload.jsonl", "batch", content, int(time.time()))
        with self._lock:
            self._files[stored.id] = stored
            self.counts["files_uploaded"] += 1
        return json_response(stored.to_json())

    def _find_file(self, file_id: str) -> StoredFile | None:
        with self._lock:
            return self._files.get(file_id)

    def _retrieve_file(self, request: HTTPRequest, file_id: str) -> HTTPResponse:
        stored = self._find_file(file_id)
        if stored is None:
            return error_response(OPENAI, 404, f"No such File object: {file_id}", param="id")
        return json_response(stored.to_json())

    def _file_content(self, request: HTTPRequest, file_id: str) -> HTTPResponse:
        stored = self._find_file(file_id)
        if stored is None:
            return error_response(OPENAI, 404, f"No such File object: {file_id}", param="id")
        return HTTPResponse(body=stored.content, content_type="application/octet-stream")

    # OpenAI batches

    def _create_batch(self, request: HTTPRequest) -> HTTPResponse:
        """Create a batch over an uploaded file, which stays in progress for ``batch_polls`` polls."""
        body = parse_json_object(request.body)
        if body is None:
            return error_response(OPENAI, 400, "The request body is not a valid JSON object.")
        endpoint = body.get("endpoint")
        if endpoint != CHAT_COMPLETIONS_PATH:
            message = f"This test double supports only endpoint {CHAT_COMPLETIONS_PATH!r}, got {endpoint!r}."
            return error_response(OPENAI, 400, message, param="endpoint")
        if body.get("completion_window") != BATCH_WINDOW:
            message = f"completion_window must be {BATCH_WINDOW!r}, got {body.get('completion_window')!r}."
            return error_response(OPENAI, 400, message, param="completion_window")
        stored = self._find_file(str(body.get("input_file_id")))
        if stored is None or stored.purpose != "batch":
            message = f"No such File object: {body.get('input_file_id')}"
            return error_response(OPENAI, 404, message, param="input_file_id")
        lines = parse_batch_lines(stored.content)
        for number, line in enumerate(lines, start=1):
            if line.get("url") != endpoint:
                message = f"Line {number} of the batch file has url {line.get('url')!r}, expected {endpoint!r}."
                return error_response(OPENAI, 400, message, param="input_file_id")

        metadata = body.get("metadata") if isinstance(body.get("metadata"), dict) else None
        batch = OpenAIBatch(new_id("batch_"), stored.id, endpoint, lines, metadata, int(time.time()))
        with self._lock:
            self._openai_batches[batch.id] = batch
            self.counts["batches_created"] += 1
            self.counts["batch_requests"] += len(lines)
            self.received_keys.extend(request_key(line["body"]) for line in lines)
            return json_response(batch.to_json())

    def _retrieve_batch(self, request: HTTPRequest, batch_id: str) -> HTTPResponse:
        with self._lock:
            batch = self._openai_batches.get(batch_id)
            if batch is None:
                return error_response(OPENAI, 404, f"No such Batch object: {batch_id}", param="batch_id")
            self.counts["batch_polls"] += 1
            batch.polls += 1
            self._advance_batch(batch)
            return json_response(batch.to_json())

    def _advance_batch(self, batch: OpenAIBatch) -> None:
        """Move a batch on by one poll: in progress, then completed, or cancelled after a cancel."""
        now = int(time.time())
        if batch.status == "cancelling":
            batch.status = "cancelled"
            batch.times["cancelled_at"] = now
        elif batch.status in ("validating", "in_progress"):
            if batch.polls <= self.batch_polls:
                batch.status = "in_progress"
                batch.times.setdefault("in_progress_at", now)
            else:
                self._complete_batch(batch)
                batch.status = "completed"
                batch.times.setdefault("in_progress_at", now)
                batch.times["finalizing_at"] = now
                batch.times["completed_at"] = now

    def _complete_batch(self, batch: OpenAIBatch) -> None:
        """Answer every line and write the output file and, if any line failed, the error file.

        A line whose body the API would reject gets a response with status_code 400
        and an error body, the shape that the real API writes for such lines. Of the
        other lines, those drawn by ``batch_error_rate`` get ``"response": null`` and
        an error object, the documented shape of a failure that has no HTTP
        response. Both go to the error file, as in the real API.
        """
        outputs: list[str] = []
        errors: list[str] = []
        for line in batch.lines:
            custom_id = line["custom_id"]
            body = line["body"]
            result: dict[str, Any] = {"id": new_id("batch_req_"), "custom_id": custom_id}
            problem = openai_request_problem(body)
            if problem is not None:
                param, message = problem
                error_body = openai_error_body(400, message, param=param)
                result["response"] = {"status_code": 400, "request_id": new_id("req_"), "body": error_body}
                result["error"] = None
                errors.append(json.dumps(result))
            elif self._batch_line_fails(custom_id):
                result["response"] = None
                result["error"] = {"code": "server_error", "message": "The server had an error processing this request."}
                errors.append(json.dumps(result))
            else:
                completion = self._answer(OPENAI, body)
                self._count_answer(request_key(body))
                result["response"] = {"status_code": 200, "request_id": new_id("req_"), "body": completion}
                result["error"] = None
                outputs.append(json.dumps(result))
        batch.completed = len(outputs)
        batch.failed = len(errors)
        self.counts["batch_errors"] += len(errors)
        if outputs:
            batch.output_file_id = self._store_output(f"{batch.id}_output.jsonl", outputs)
        if errors:
            batch.error_file_id = self._store_output(f"{batch.id}_error.jsonl", errors)

    def _store_output(self, filename: str, lines: list[str]) -> str:
        content = "".join(line + "\n" for line in lines).encode("utf-8")
        stored = StoredFile(new_id("file-"), filename, "batch_output", content, int(time.time()))
        with self._lock:
            self._files[stored.id] = stored
        return stored.id

    def _cancel_batch(self, request: HTTPRequest, batch_id: str) -> HTTPResponse:
        """Start cancelling an unfinished batch, so that the next poll finds it cancelled with no results."""
        with self._lock:
            batch = self._openai_batches.get(batch_id)
            if batch is None:
                return error_response(OPENAI, 404, f"No such Batch object: {batch_id}", param="batch_id")
            if batch.status in ("validating", "in_progress"):
                batch.status = "cancelling"
                batch.times["cancelling_at"] = int(time.time())
            return json_response(batch.to_json())

    # Anthropic message batches

    def _create_message_batch(self, request: HTTPRequest) -> HTTPResponse:
        """Create a message batch, which stays in progress for ``batch_polls`` polls."""
        body = parse_json_object(request.body)
        try:
            requests = parse_message_batch_requests(body)
        except BatchInputError as error:
            return error_response(ANTHROPIC, 400, str(error))
        batch = AnthropicBatch(new_id("msgbatch_"), requests, datetime.now(timezone.utc))
        with self._lock:
            self._anthropic_batches[batch.id] = batch
            self.counts["batches_created"] += 1
            self.counts["batch_requests"] += len(requests)
            self.received_keys.extend(request_key(entry["params"]) for entry in requests)
            return json_response(batch.to_json(self._results_url(batch.id)))

    def _results_url(self, batch_id: str) -> str:
        return f"{self.url}/v1/messages/batches/{batch_id}/results"

    def _retrieve_message_batch(self, request: HTTPRequest, batch_id: str) -> HTTPResponse:
        with self._lock:
            batch = self._anthropic_batches.get(batch_id)
            if batch is None:
                return error_response(ANTHROPIC, 404, f"No message batch with id {batch_id}.")
            self.counts["batch_polls"] += 1
            batch.polls += 1
            if batch.processing_status == "canceling":
                self._end_message_batch(batch, canceled=True)
            elif batch.processing_status == "in_progress" and batch.polls > self.batch_polls:
                self._end_message_batch(batch, canceled=False)
            return json_response(batch.to_json(self._results_url(batch.id)))

    def _end_message_batch(self, batch: AnthropicBatch, *, canceled: bool) -> None:
        """Answer every request, or cancel them all, and keep the JSONL results."""
        lines = []
        for entry in batch.requests:
            params = entry["params"]
            problem = anthropic_request_problem(params)
            if canceled:
                result: dict[str, Any] = {"type": "canceled"}
                batch.canceled += 1
            elif problem is not None:
                result = {"type": "errored", "error": anthropic_error_body(400, problem)}
                batch.errored += 1
            elif self._batch_line_fails(entry["custom_id"]):
                error = anthropic_error_body(500, "Internal server error while processing this request.")
                result = {"type": "errored", "error": error}
                batch.errored += 1
            else:
                result = {"type": "succeeded", "message": self._answer(ANTHROPIC, params)}
                self._count_answer(request_key(params))
                batch.succeeded += 1
            lines.append(json.dumps({"custom_id": entry["custom_id"], "result": result}) + "\n")
        self.counts["batch_errors"] += batch.errored
        batch.results = "".join(lines).encode("utf-8")
        batch.processing_status = "ended"
        batch.ended_at = datetime.now(timezone.utc)

    def _message_batch_results(self, request: HTTPRequest, batch_id: str) -> HTTPResponse:
        with self._lock:
            batch = self._anthropic_batches.get(batch_id)
            if batch is None:
                return error_response(ANTHROPIC, 404, f"No message batch with id {batch_id}.")
            if batch.processing_status != "ended":
                return error_response(ANTHROPIC, 404, f"Message batch {batch_id} has not ended; it has no results yet.")
            return HTTPResponse(body=batch.results, content_type="application/binary")

    def _cancel_message_batch(self, request: HTTPRequest, batch_id: str) -> HTTPResponse:
        """Start cancelling an unfinished message batch, so that the next poll finds it ended and canceled."""
        with self._lock:
            batch = self._anthropic_batches.get(batch_id)
            if batch is None:
                return error_response(ANTHROPIC, 404, f"No message batch with id {batch_id}.")
            if batch.processing_status == "in_progress":
                batch.processing_status = "canceling"
                batch.cancel_initiated_at = datetime.now(timezone.utc)
            return json_response(batch.to_json(self._results_url(batch.id)))


def check_settings(*, port: int, latency: float, failure_rate: float, failures: tuple[str, ...],
                   retry_after_ms: int, hang_seconds: float, invalid_reply_rate: float, batch_polls: int,
                   batch_error_rate: float, missing_digits: tuple[str, ...]) -> None:
    """Raise ValueError for a constructor setting out of range, naming the setting."""
    if not 0 <= port <= 65535:
        raise ValueError(f"port must be from 0 to 65535 (0 picks a free port), got {port}.")
    for name, rate in (("failure_rate", failure_rate), ("invalid_reply_rate", invalid_reply_rate),
                       ("batch_error_rate", batch_error_rate)):
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"{name} must be from 0 to 1, got {rate}.")
    for name, seconds in (("latency", latency), ("hang_seconds", hang_seconds)):
        if seconds < 0:
            raise ValueError(f"{name} must be at least 0 seconds, got {seconds}.")
    unknown = [kind for kind in failures if kind not in FAILURE_KINDS]
    if unknown:
        raise ValueError(f"failures has unknown kinds {unknown}; the kinds are {list(FAILURE_KINDS)}.")
    if failure_rate > 0 and not failures:
        raise ValueError("failures must name at least one kind when failure_rate is above 0.")
    if retry_after_ms < 0:
        raise ValueError(f"retry_after_ms must be at least 0, got {retry_after_ms}.")
    if batch_polls < 0:
        raise ValueError(f"batch_polls must be at least 0, got {batch_polls}.")
    unknown_digits = [digit for digit in missing_digits if digit not in DIGITS]
    if unknown_digits:
        raise ValueError(f"missing_digits must be digits from '1' to '6', got {unknown_digits}.")
    if set(DIGITS) <= set(missing_digits):
        raise ValueError("missing_digits must leave at least one of the digits 1-6 for the replies.")


# Command line


def build_parser() -> argparse.ArgumentParser:
    """Build the parser of the command line options, one for each constructor setting."""
    parser = argparse.ArgumentParser(
        prog="python -m llmvalues.testing.fake_provider",
        description="Serve a test double of the OpenAI and Anthropic APIs on 127.0.0.1 until SIGTERM or Ctrl-C. "
                    "Prints the server's URL on the first line of standard output.",
    )
    parser.add_argument("--port", type=int, default=0, help="TCP port on 127.0.0.1; 0 picks a free port (default)")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds to wait before each model reply")
    parser.add_argument("--failure-rate", type=float, default=0.0,
                        help="probability from 0 to 1 that a model request fails")
    parser.add_argument("--failures", default=",".join(FAILURE_KINDS),
                        help="comma-separated failure kinds to draw from (default: all of %(default)s)")
    parser.add_argument("--retry-after-ms", type=int, default=50, help="retry-after-ms header of 429 responses")
    parser.add_argument("--hang-seconds", type=float, default=5.0, help="seconds a 'timeout' failure waits")
    parser.add_argument("--invalid-reply-rate", type=float, default=0.0,
                        help="share from 0 to 1 of replies that contain no rating")
    parser.add_argument("--seed", type=int, default=0, help="seed of the failure draws and batch errors")
    parser.add_argument("--batch-polls", type=int, default=2, help="polls that find a batch still in progress")
    parser.add_argument("--batch-error-rate", type=float, default=0.0,
                        help="share from 0 to 1 of batch lines that fail")
    parser.add_argument("--missing-digits", default="",
                        help="comma-separated digits 1-6 to leave out of top_logprobs")
    parser.add_argument("--verbose", action="store_true", help="log every request to standard error")
    return parser


def split_list(text: str) -> tuple[str, ...]:
    """Split a comma-separated option value into its non-empty items."""
    return tuple(item.strip() for item in text.split(",") if item.strip())


def main(argv: list[str] | None = None) -> int:
    """Run the server from the command line until SIGTERM or Ctrl-C."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    server = FakeProviderServer(
        port=args.port, latency=args.latency, failure_rate=args.failure_rate, failures=split_list(args.failures),
        retry_after_ms=args.retry_after_ms, hang_seconds=args.hang_seconds,
        invalid_reply_rate=args.invalid_reply_rate, seed=args.seed, batch_polls=args.batch_polls,
        batch_error_rate=args.batch_error_rate, missing_digits=split_list(args.missing_digits),
    )
    stop_requested = threading.Event()
    signal.signal(signal.SIGTERM, lambda signum, frame: stop_requested.set())
    with server:
        print(server.url, flush=True)
        try:
            while not stop_requested.wait(0.5):
                pass
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
