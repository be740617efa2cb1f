"""The one retry layer of remote requests: which failures are retried, and how long to wait.

The provider SDK clients are created with ``max_retries=0``, so every retry,
its count and its wait happen here. A provider turns what went wrong into one
of two exceptions:

- ``TransientError``: worth another try. Rate limits (429), server errors (5xx),
  overloaded (529), timeouts, dropped connections and malformed response bodies.
- ``FatalError``: another try would fail the same way or cost money for nothing.
  400, 401, 403, 404, 422 and an exhausted quota or credit (429
  ``insufficient_quota``, 402, Anthropic's ``billing_error``).
  It carries the cause and what to do, and it stops the run.

``call_with_retries`` waits with exponential backoff and full jitter, and at
least as long as the server's Retry-After asks, then gives up with a
``RetriesExhausted`` after the configured number of retries.
"""

from __future__ import annotations

import asyncio
import email.utils
import random
import time
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Mapping, TypeVar

T = TypeVar("T")

# Kinds of transient failure, the keys of the retry counts in the run log.
RATE_LIMITED = "429 rate limit"
SERVER_ERROR = "5xx server error"
OVERLOADED = "529 overloaded"
TIMEOUT = "timeout"
CONNECTION = "dropped connection"
MALFORMED = "malformed body"
BATCH_LINE_FAILED = "batch line without an answer"

# The fix for each non-retryable HTTP status, as the stop message gives it.
FIXES = {
    400: "the provider rejected the request as invalid: check the model's settings in params.yaml "
         "(max_tokens, temperature, top_p, logprobs) against what this model accepts",
    401: "the API key was rejected: check the environment variable named by api_key_env",
    403: "the API key has no access to this model or endpoint: check the key's project and permissions",
    404: "the model or endpoint was not found: check the model id and base_url in params.yaml",
    422: "the provider could not process the request: check the model's settings in params.yaml",
}
QUOTA_FIX = "the account's quota or credit is exhausted: add credit or raise the limit, then run collect again"


class TransientError(Exception):
    """A failure that another try may not repeat; ``retry_after`` is the server's wish in seconds."""

    def __init__(self, kind: str, detail: str, retry_after: float | None = None):
        super().__init__(f"{kind}: {detail}")
        self.kind = kind
        self.detail = detail
        self.retry_after = retry_after


class FatalError(Exception):
    """A failure that retrying cannot fix: the run stops with the cause and the fix."""

    def __init__(self, cause: str, fix: str):
        super().__init__(f"{cause}; {fix}")
        self.cause = cause
        self.fix = fix


class RetryStopped(Exception):
    """The run began to stop while a request waited to be retried."""


class RetriesExhausted(Exception):
    """A request still failed after every allowed retry."""

    def __init__(self, last: TransientError, retries: int):
        super().__init__(f"still failing after {retries} retries, last: {last}")
        self.last = last
        self.retries = retries


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry one request."""

    retries: int = 8  # retries after the first try
    backoff_s: float = 1.0  # upper bound of the first wait; it doubles with each retry
    max_backoff_s: float = 60.0  # cap of the doubled bound
    max_retry_after_s: float = 600.0  # a longer Retry-After is not honoured: the retry waits this long

    def delay(self, retry_number: int, retry_after: float | None, rng: random.Random) -> float:
        """Return the wait before retry ``retry_number`` (from 1): full jitter, at least Retry-After."""
        bound = min(self.max_backoff_s, self.backoff_s * 2 ** (retry_number - 1))
        jittered = rng.uniform(0, bound)
        if retry_after is None:
            return jittered
        return max(min(retry_after, self.max_retry_after_s), jittered)


def parse_retry_after(headers: Mapping[str, str] | None, now: float | None = None) -> float | None:
    """Read how long the server asks us to wait, in seconds, from response headers.

    ``retry-after-ms`` (OpenAI and Anthropic send it) wins over ``retry-after``,
    which may be seconds or an HTTP date. Returns None when neither is usable.
    """
    if not headers:
        return None
    lowered = {str(name).lower(): value for name, value in headers.items()}
    milliseconds = lowered.get("retry-after-ms")
    if milliseconds is not None:
        try:
            value = float(milliseconds) / 1000
            if value >= 0:
                return value
        except ValueError:
            pass
    seconds = lowered.get("retry-after")
    if seconds is None:
        return None
    try:
        value = float(seconds)
        return value if value >= 0 else None
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(seconds).timestamp()
    except (TypeError, ValueError):
        return None
    return max(0.0, when - (time.time() if now is None else now))


def classify_status(status: int, body: Any, headers: Mapping[str, str] | None, message: str) -> Exception:
    """Turn an HTTP error status into a TransientError or a FatalError.

    ``body`` is the decoded error body (OpenAI: ``{"error": {"code": ...}}``,
    Anthropic: ``{"type": "error", "error": {"type": ...}}``), or None.
    """
    code = _error_code(body)
    if status == 402 or code in ("insufficient_quota", "billing_error"):
        return FatalError(f"{status} {code or 'payment required'}: {message}", QUOTA_FIX)
    if status == 429:
        return TransientError(RATE_LIMITED, message, parse_retry_after(headers))
    if status == 529:
        return TransientError(OVERLOADED, message, parse_retry_after(headers))
    if status >= 500 or status in (408, 409):
        # 408 request timeout and 409 conflict are transient as well (both SDKs retry them).
        return TransientError(SERVER_ERROR, f"{status} {message}", parse_retry_after(headers))
    fix = FIXES.get(status, "check the request settings in params.yaml")
    return FatalError(f"{status} {code or 'error'}: {message}", fix)


def _error_code(body: Any) -> str | None:
    if not isinstance(body, dict):
        return None
    error = body.get("error", body)
    if isinstance(error, dict):
        details = error.get("details")
        if isinstance(details, dict) and isinstance(details.get("error_code"), str):
            return details["error_code"]  # Anthropic's specific code, next to its general type
        for name in ("code", "type"):
            if isinstance(error.get(name), str):
                return error[name]
    return None


async def call_with_retries(call: Callable[[], Awaitable[T]], policy: RetryPolicy, *,
                            on_retry: Callable[[int, TransientError, float], None] | None = None,
                            rng: random.Random | None = None, stop: asyncio.Event | None = None) -> tuple[T, int]:
    """Await ``call()`` until it succeeds; return its result and the number of retries it took.

    ``on_retry(retry_number, error, delay)`` is called before each wait. A
    FatalError propagates at once; after ``policy.retries`` retries the last
    TransientError is raised inside RetriesExhausted. When ``stop`` is set during
    a wait, the wait ends at once with RetryStopped. ``call`` must bound its own
    time (see ``with_timeout``), so that one hung request cannot stall a run.
    """
    rng = rng or random.Random()
    retry_number = 0
    while True:
        try:
            return await call(), retry_number
        except TransientError as error:
            retry_number += 1
            if retry_number > policy.retries:
                raise RetriesExhausted(error, policy.retries) from None
            delay = policy.delay(retry_number, error.retry_after, rng)
            if on_retry is not None:
                on_retry(retry_number, error, delay)
            await _wait(delay, stop)


async def _wait(delay: float, stop: asyncio.Event | None) -> None:
    if stop is None:
        await asyncio.sleep(delay)
        return
    try:
        await asyncio.wait_for(stop.wait(), delay)
    except asyncio.TimeoutError:
        return
    raise RetryStopped


async def with_timeout(awaitable: Awaitable[T], timeout_s: float) -> T:
    """Await ``awaitable`` for at most ``timeout_s`` seconds; a timeout is a TransientError."""
    try:
        return await asyncio.wait_for(awaitable, timeout_s)
    except asyncio.TimeoutError:
        raise TransientError(TIMEOUT, f"no complete reply within {timeout_s:g} s") from None
