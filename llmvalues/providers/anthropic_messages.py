"""Anthropic's Messages API and Message Batches, through the official ``anthropic`` client.

The client is created with ``max_retries=0`` because ``llmvalues.retry`` owns
retries. System messages of a chat template become the ``system`` parameter.
The API takes no seed, so a seed is recorded but does not make a reply
reproducible, and it returns no log-probabilities.

Sampling: recent Claude models reject temperature and top_p (the anthropic
client 2.17 no longer takes them as arguments), so they are sent, as extra body
fields, only when the model entry in params.yaml sets them. Otherwise the
records show them as null: the model sampled with its own defaults.
"""

from __future__ import annotations

from typing import Any

from ..retry import (BATCH_LINE_FAILED, MALFORMED, OVERLOADED, RATE_LIMITED, SERVER_ERROR, FatalError,
                     TransientError, classify_status)
from .base import BatchOutcome, Request, Response
from .openai_chat import decode_json_body, translate_sdk_error

# Error types of the API that retrying cannot fix (an errored batch request carries one).
FATAL_ERROR_TYPES = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "permission_error": 403,
    "not_found_error": 404,
    "request_too_large": 413,
    "billing_error": 402,
}
# Retryable error types of an errored batch request, as the retry counts name them.
TRANSIENT_ERROR_KINDS = {"api_error": SERVER_ERROR, "overloaded_error": OVERLOADED, "rate_limit_error": RATE_LIMITED}


class AnthropicMessagesProvider:
    """A Claude model behind the Messages API."""

    supports_logprobs = False
    supports_batch = True

    def __init__(self, model_id: str, *, api_key: str, base_url: str | None, timeout_s: float):
        import anthropic

        self._anthropic = anthropic
        self.model_id = model_id
        self.client = anthropic.AsyncAnthropic(api_key=api_key, base_url=base_url, max_retries=0, timeout=timeout_s)

    def params(self, request: Request) -> dict[str, Any]:
        """Return the Messages API parameters that answer ``request``."""
        if not isinstance(request.content, list):
            raise FatalError("the Messages API takes chat messages, not a completion prompt",
                             "use a chat template for this model")
        if request.distribution:
            raise FatalError("the Messages API returns no log-probabilities",
                             "use answer_mode: text and distribution: false for Anthropic models")
        system = "\n\n".join(message["content"] for message in request.content if message["role"] == "system")
        messages = [message for message in request.content if message["role"] != "system"]
        params: dict[str, Any] = {
            "model": self.model_id,
            "max_tokens": request.max_tokens,
            "messages": messages,
        }
        if system:
            params["system"] = system
        sampling = {name: value for name, value in (("temperature", request.temperature), ("top_p", request.top_p))
                    if value is not None}
        if sampling:
            params["extra_body"] = sampling
        return params

    async def aclose(self) -> None:
        """Close the client's connections."""
        await self.client.close()

    async def acomplete(self, request: Request) -> Response:
        """Send one request, once; raise TransientError or FatalError when it fails."""
        params = self.params(request)
        try:
            raw = await self.client.messages.with_raw_response.create(**params)
            data = await raw.http_response.aread()
        except (self._anthropic.AnthropicError, ValueError) as error:
            raise translate_sdk_error(error, self._anthropic) from None
        return response_from_message(decode_json_body(data))

    # Message Batches -------------------------------------------------------------------------------------

    async def submit_batch(self, requests: dict[str, Request]) -> str:
        """Create a Message Batch of the requests (custom id -> request); return its id."""
        entries = [{"custom_id": custom_id, "params": _flatten_extra_body(self.params(request))}
                   for custom_id, request in requests.items()]
        try:
            # NOTE: if this call times out after the server created the batch, the retry
            # creates a second one; the first is then never read (and may be billed).
            batch = await self.client.messages.batches.create(requests=entries)
        except (self._anthropic.AnthropicError, ValueError) as error:
            raise translate_sdk_error(error, self._anthropic) from None
        return batch.id

    async def batch_ended(self, batch_id: str) -> bool:
        """Tell whether a batch has finished processing."""
        try:
            batch = await self.client.messages.batches.retrieve(batch_id)
        except (self._anthropic.AnthropicError, ValueError) as error:
            raise translate_sdk_error(error, self._anthropic) from None
        return batch.processing_status == "ended"

    async def batch_results(self, batch_id: str, requests: dict[str, Request]) -> dict[str, BatchOutcome]:
        """Read a finished batch's results: custom id -> Response or error."""
        outcomes: dict[str, BatchOutcome] = {}
        try:
            results = await self.client.messages.batches.results(batch_id)
            async for entry in results:
                if entry.custom_id in requests:
                    outcomes[entry.custom_id] = _result_outcome(entry.result.model_dump())
        except (self._anthropic.AnthropicError, ValueError) as error:
            raise translate_sdk_error(error, self._anthropic) from None
        return outcomes


def _flatten_extra_body(params: dict[str, Any]) -> dict[str, Any]:
    """Put the extra body fields of a request into its parameters, as a batch entry carries them."""
    params = dict(params)
    params.update(params.pop("extra_body", {}))
    return params


def _result_outcome(result: dict[str, Any]) -> BatchOutcome:
    kind = result.get("type")
    if kind == "succeeded":
        try:
            return response_from_message(result.get("message"))
        except TransientError as error:
            return error
    if kind == "errored":
        detail = (result.get("error") or {}).get("error") or {}
        error_type = detail.get("type")
        message = str(detail.get("message") or error_type)
        if error_type in FATAL_ERROR_TYPES:
            return classify_status(FATAL_ERROR_TYPES[error_type], {"error": detail}, None, message)
        return TransientError(TRANSIENT_ERROR_KINDS.get(error_type, BATCH_LINE_FAILED), f"{error_type}: {message}")
    # canceled or expired: the request was not processed and is sent again
    return TransientError(BATCH_LINE_FAILED, f"{kind}: the batch did not process this request")


def response_from_message(body: Any) -> Response:
    """Read a Messages API reply into a Response; a body of another shape is malformed.

    The reply is the concatenated text blocks; a reply without any text block
    (only thinking, or nothing at all) has no reply text.
    """
    try:
        blocks = body["content"]
        stop_reason = body.get("stop_reason")
        if not isinstance(blocks, list):
            raise TypeError
    except (KeyError, TypeError, AttributeError):
        raise TransientError(MALFORMED, "the reply has no content list") from None
    texts = [block.get("text") for block in blocks if isinstance(block, dict) and block.get("type") == "text"]
    if not all(isinstance(text, str) for text in texts):
        raise TransientError(MALFORMED, "a text block of the reply has no text")
    return Response(
        reply="".join(texts) if texts else None,
        finish_reason=stop_reason if isinstance(stop_reason, str) else None,
        model_returned=body.get("model") if isinstance(body.get("model"), str) else None,
        usage=body.get("usage") if isinstance(body.get("usage"), dict) else {},
    )

