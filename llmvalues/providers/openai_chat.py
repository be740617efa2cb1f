"""OpenAI chat completions, and any server that speaks the same API (vLLM, Ollama, llama.cpp's server).

One request is one ``POST /chat/completions`` through the official ``openai``
client, created with ``max_retries=0`` because ``llmvalues.retry`` owns retries.
The body of every reply is decoded and checked here, so a malformed body is a
retryable failure and never a half-read reply.

Log-probabilities: with ``logprobs`` the API returns at most the 20 most likely
tokens at each position. The digit distribution is read from those of the first
reply token; a digit that is not among them gets probability 0 and is listed in
the distribution's ``missing_digits``, and ``digit_mass`` is the mass of the
digits that were listed.

The OpenAI Batch API is here too: build the JSONL file, upload it, create the
batch, poll it and read its output and error files.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from ..retry import BATCH_LINE_FAILED, CONNECTION, MALFORMED, TIMEOUT, FatalError, TransientError, classify_status
from ..values import SCALE_MAX, SCALE_MIN
from .base import BatchOutcome, Request, Response

DIGITS = tuple(str(point) for point in range(SCALE_MIN, SCALE_MAX + 1))
TOP_LOGPROBS = 20  # the most the API returns
CHAT_PATH = "/v1/chat/completions"
# Batch states: still running, finished with output to read, or stopped by the provider.
RUNNING_STATES = ("validating", "in_progress", "finalizing", "cancelling")
ENDED_STATES = ("completed", "expired", "cancelled")


def translate_sdk_error(error: Exception, sdk: Any) -> Exception:
    """Map an exception of the openai or anthropic client to a TransientError or FatalError.

    ``sdk`` is the client module; both SDKs share these exception names. Both
    clients raise json.JSONDecodeError (a ValueError) for a reply body that is
    not JSON, and neither retries it: it is a malformed body here.
    """
    if isinstance(error, ValueError):
        return TransientError(MALFORMED, f"response body is not JSON ({error})")
    if isinstance(error, sdk.APITimeoutError):
        return TransientError(TIMEOUT, "the client timed out")
    if isinstance(error, sdk.APIConnectionError):
        cause = f" ({error.__cause__})" if error.__cause__ else ""
        return TransientError(CONNECTION, _short(f"{error}{cause}"))
    if isinstance(error, sdk.APIStatusError):
        return classify_status(error.status_code, error.body, error.response.headers, _short(error.message))
    if isinstance(error, sdk.APIResponseValidationError):
        return TransientError(MALFORMED, _short(str(error)))
    return error


# Things in a provider's error text that look like an API key, even masked: OpenAI's
# 401 message quotes the start and end of the rejected key.
KEY_PATTERN = re.compile(r"\b(?:sk|pk|key)[-_][A-Za-z0-9_\-*]{6,}")


def _short(text: str, limit: int = 300) -> str:
    """Shorten a provider's message for errors and logs, with anything like a key removed."""
    text = KEY_PATTERN.sub("[key removed]", " ".join(str(text).split()))
    return text if len(text) <= limit else text[:limit] + " ..."


def decode_json_body(data: bytes) -> Any:
    """Decode a response body; a body that is not JSON is a retryable malformed reply."""
    try:
        return json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise TransientError(MALFORMED, f"response body is not JSON ({error})") from None


class OpenAIChatProvider:
    """A model behind the OpenAI chat completions API, or a compatible server at ``base_url``."""

    supports_logprobs = True

    def __init__(self, model_id: str, *, api_key: str, base_url: str | None, timeout_s: float,
                 compatible: bool = False):
        import openai

        self._openai = openai
        self.model_id = model_id
        self.compatible = compatible
        # Only OpenAI itself runs batches; compatible servers rarely have the endpoints.
        self.supports_batch = not compatible
        self.client = openai.AsyncOpenAI(api_key=api_key, base_url=base_url, max_retries=0, timeout=timeout_s)

    def body(self, request: Request) -> dict[str, Any]:
        """Return the JSON body of the chat completion that answers ``request``."""
        if not isinstance(request.content, list):
            raise FatalError("the chat completions API takes chat messages, not a completion prompt",
                             "use a chat template for this model")
        body: dict[str, Any] = {"model": self.model_id, "messages": request.content}
        # A null temperature or top_p (set so in the model entry) is left out: reasoning
        # models accept only their defaults.
        for name, value in (("temperature", request.temperature), ("top_p", request.top_p)):
            if value is not None:
                body[name] = value
        body["seed"] = request.seed
        # OpenAI's reasoning models accept only max_completion_tokens; many compatible
        # servers know only the older max_tokens.
        body["max_tokens" if self.compatible else "max_completion_tokens"] = request.max_tokens
        if request.distribution:
            body["logprobs"] = True
            body["top_logprobs"] = TOP_LOGPROBS
        return body

    async def aclose(self) -> None:
        """Close the client's connections."""
        await self.client.close()

    async def acomplete(self, request: Request) -> Response:
        """Send one request, once; raise TransientError or FatalError when it fails."""
        body = self.body(request)
        try:
            raw = await self.client.chat.completions.with_raw_response.create(**body)
            data = await raw.http_response.aread()
        except (self._openai.OpenAIError, ValueError) as error:
            raise translate_sdk_error(error, self._openai) from None
        return response_from_completion(decode_json_body(data), request)

    # Batch API -------------------------------------------------------------------------------------------

    async def submit_batch(self, requests: dict[str, Request]) -> str:
        """Upload the requests (custom id -> request) as a JSONL file and create a batch; return its id."""
        lines = [json.dumps({"custom_id": custom_id, "method": "POST", "url": CHAT_PATH, "body": self.body(request)},
                            ensure_ascii=False)
                 for custom_id, request in requests.items()]
        data = ("\n".join(lines) + "\n").encode("utf-8")
        try:
            uploaded = await self.client.files.create(file=("llmvalues-batch.jsonl", data), purpose="batch")
            # NOTE: if this call times out after the server created the batch, the retry
            # creates a second one; the first is then never read (and may be billed).
            batch = await self.client.batches.create(input_file_id=uploaded.id, endpoint=CHAT_PATH,
                                                     completion_window="24h")
        except (self._openai.OpenAIError, ValueError) as error:
            raise translate_sdk_error(error, self._openai) from None
        return batch.id

    async def batch_ended(self, batch_id: str) -> bool:
        """Tell whether a batch has finished; raise FatalError when the provider failed it."""
        try:
            batch = await self.client.batches.retrieve(batch_id)
        except (self._openai.OpenAIError, ValueError) as error:
            raise translate_sdk_error(error, self._openai) from None
        if batch.status in RUNNING_STATES:
            return False
        if batch.status in ENDED_STATES:
            return True
        errors = "; ".join(error.message or "" for error in (batch.errors.data if batch.errors else []) or [])
        raise FatalError(f"batch {batch_id} {batch.status}: {errors or 'no reason given'}",
                         "check the requests it rejected; run collect again to submit a new batch")

    async def batch_results(self, batch_id: str, requests: dict[str, Request]) -> dict[str, BatchOutcome]:
        """Read a finished batch's output and error files: custom id -> Response or error."""
        try:
            batch = await self.client.batches.retrieve(batch_id)
            texts = []
            for file_id in (batch.output_file_id, batch.error_file_id):
                if file_id:
                    content = await self.client.files.content(file_id)
                    texts.append(content.text)
        except (self._openai.OpenAIError, ValueError) as error:
            raise translate_sdk_error(error, self._openai) from None
        outcomes: dict[str, BatchOutcome] = {}
        for text in texts:
            for line in text.splitlines():
                if not line.strip():
                    continue
                entry = decode_json_body(line.encode("utf-8"))
                custom_id = entry.get("custom_id") if isinstance(entry, dict) else None
                if custom_id not in requests:
                    continue
                outcomes[custom_id] = _batch_line_outcome(entry, requests[custom_id])
        return outcomes


def _batch_line_outcome(entry: dict[str, Any], request: Request) -> BatchOutcome:
    response = entry.get("response")
    if isinstance(response, dict) and response.get("status_code") == 200:
        try:
            return response_from_completion(response.get("body"), request)
        except TransientError as error:
            return error
    error = entry.get("error") or {}
    if isinstance(response, dict) and isinstance(response.get("status_code"), int):
        message = _short(json.dumps(response.get("body")))
        return classify_status(response["status_code"], response.get("body"), None, message)
    # Lines without a response (expired, server errors) are sent again in the next batch.
    code = error.get("code") or "no code"
    return TransientError(BATCH_LINE_FAILED, _short(f"{code}: {error.get('message') or 'no response for this request'}"))


def response_from_completion(body: Any, request: Request) -> Response:
    """Read a chat.completion body into a Response; a body of another shape is malformed."""
    try:
        choice = body["choices"][0]
        message = choice["message"]
        content = message.get("content")
        finish_reason = choice.get("finish_reason")
    except (KeyError, IndexError, TypeError, AttributeError):
        raise TransientError(MALFORMED, "the reply has no choices[0].message") from None
    if content is not None and not isinstance(content, str):
        raise TransientError(MALFORMED, "choices[0].message.content is not text")
    reply = content
    if reply is None and isinstance(message.get("refusal"), str):
        reply = message["refusal"]  # the model declined; the parser reads it as a refusal
    distribution = error = None
    if request.distribution:
        distribution, error = digit_distribution(choice.get("logprobs"))
    return Response(
        reply=reply,
        finish_reason=finish_reason if isinstance(finish_reason, str) else None,
        model_returned=body.get("model") if isinstance(body.get("model"), str) else None,
        usage=body.get("usage") if isinstance(body.get("usage"), dict) else {},
        distribution=distribution,
        system_fingerprint=body.get("system_fingerprint") if isinstance(body.get("system_fingerprint"), str)
        else None,
        logprobs_error=error,
    )


def digit_distribution(logprobs: Any) -> tuple[dict[str, Any] | None, str | None]:
    """Read the distribution of the digits 1-6 from the top log-probabilities of the first token.

    Returns (distribution, None), or (None, reason) when no digit is among the
    listed tokens. Tokens that differ only by white space (" 5") count for their digit.
    """
    try:
        top = logprobs["content"][0]["top_logprobs"]
    except (KeyError, IndexError, TypeError):
        return None, "the reply has no top_logprobs for its first token"
    probabilities = dict.fromkeys(DIGITS, 0.0)
    for entry in top:
        if not isinstance(entry, dict):
            continue
        token, logprob = entry.get("token"), entry.get("logprob")
        if isinstance(token, str) and token.strip() in probabilities and isinstance(logprob, (int, float)):
            probabilities[token.strip()] += math.exp(logprob)
    mass = sum(probabilities.values())
    if mass <= 0:
        return None, f"no digit {SCALE_MIN}-{SCALE_MAX} among the {len(top)} most likely first tokens"
    renormalized = {digit: value / mass for digit, value in probabilities.items()}
    mean = sum(int(digit) * value for digit, value in renormalized.items())
    argmax = max(DIGITS, key=lambda digit: renormalized[digit])
    return {
        "probabilities": renormalized,
        "digit_mass": min(mass, 1.0),
        "mean": mean,
        "argmax": int(argmax),
        "missing_digits": [digit for digit in DIGITS if probabilities[digit] == 0.0],
    }, None
