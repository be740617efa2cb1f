"""Request costs: prices from params.yaml, the cost of a reply, and the spending cap.

Prices are US dollars per million tokens, keyed by the provider's model id::

    prices:
      gpt-4o-mini: {input: 0.15, output: 0.60, batch_factor: 0.5}

``batch_factor`` multiplies both prices for requests sent through a batch API
(both OpenAI and Anthropic bill batches at half price at the time of writing).
A model without a price has an unknown cost (null in its records); a local model
costs nothing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

# Token counts in a usage object: OpenAI and compatible servers, then Anthropic.
INPUT_TOKEN_FIELDS = ("prompt_tokens", "input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens")
OUTPUT_TOKEN_FIELDS = ("completion_tokens", "output_tokens")
# A reply's tokens can never exceed the bytes of its text, and each chat message adds a
# few tokens of formatting: this bounds the input tokens of a request before it is sent.
TOKENS_PER_MESSAGE = 16


@dataclass(frozen=True)
class Price:
    """US dollars per million input and output tokens, and the factor for batch requests."""

    input: float
    output: float
    batch_factor: float = 1.0

    def cost(self, input_tokens: int, output_tokens: int, *, batch: bool = False) -> float:
        """Return the cost in US dollars of a request with these token counts."""
        factor = self.batch_factor if batch else 1.0
        return factor * (input_tokens * self.input + output_tokens * self.output) / 1_000_000


def token_counts(usage: dict[str, Any] | None) -> tuple[int, int] | None:
    """Return (input tokens, output tokens) from a provider's usage object, or None without usage."""
    if not usage:
        return None
    input_tokens = sum(int(usage.get(name) or 0) for name in INPUT_TOKEN_FIELDS)
    output_tokens = sum(int(usage.get(name) or 0) for name in OUTPUT_TOKEN_FIELDS)
    if input_tokens == 0 and output_tokens == 0:
        return None
    return input_tokens, output_tokens


def reply_cost(price: Price | None, usage: dict[str, Any] | None, *, batch: bool = False) -> float | None:
    """Return the cost of one reply, or None when the price or the token counts are unknown."""
    counts = token_counts(usage)
    if price is None or counts is None:
        return None
    return price.cost(*counts, batch=batch)


def recorded_cost(record: dict[str, Any]) -> float | None:
    """Return a record's ``cost_usd`` when it is a finite number, else None (unknown)."""
    cost = record.get("cost_usd")
    if isinstance(cost, (int, float)) and not isinstance(cost, bool) and math.isfinite(cost):
        return float(cost)
    return None


def max_request_cost(price: Price, content: list[dict[str, str]] | str, max_tokens: int, *,
                     batch: bool = False) -> float:
    """Return an upper bound of a request's cost before it is sent.

    Input tokens are bounded by the UTF-8 bytes of the text plus a formatting
    allowance per message, output tokens by ``max_tokens``. The bound is several
    times the usual cost (English averages about four bytes per token), which
    makes the cap stop a little early rather than late.
    """
    if isinstance(content, str):
        input_bound = len(content.encode("utf-8")) + TOKENS_PER_MESSAGE
    else:
        input_bound = sum(len(message["content"].encode("utf-8")) + TOKENS_PER_MESSAGE for message in content)
    return price.cost(input_bound, max_tokens, batch=batch)


class SpendingCap:
    """Keep the spend on one model below a cap: reserve a request's bound before sending it.

    ``spent`` starts from what the model's store already records, so the cap
    bounds the total over all runs. A request is sent only if the spend so far,
    the reservations of the requests in flight and its own bound stay within the
    cap. ``cap`` of None means no cap; the spend is still counted.
    """

    def __init__(self, cap: float | None, spent: float = 0.0):
        self.cap = cap
        self.spent = spent
        self.reserved = 0.0
        self.in_flight = 0  # reservations not yet settled or released

    def reserve(self, bound: float) -> bool:
        """Reserve ``bound`` dollars for a request; False when that could exceed the cap."""
        if self.cap is not None and self.spent + self.reserved + bound > self.cap:
            return False
        self.reserved += bound
        self.in_flight += 1
        return True

    def settle(self, bound: float, cost: float | None) -> None:
        """Release a reservation and add the request's actual cost (the bound when unknown)."""
        self._unreserve(bound)
        self.spent += bound if cost is None or math.isnan(cost) else cost

    def release(self, bound: float) -> None:
        """Release a reservation of a request that was not sent or got no reply."""
        self._unreserve(bound)

    def _unreserve(self, bound: float) -> None:
        # Subtracting the floats that were added can leave a remainder such as 1e-20, so
        # the sum is reset when the last reservation goes: callers wait for exactly 0.
        self.in_flight = max(0, self.in_flight - 1)
        self.reserved = 0.0 if self.in_flight == 0 else max(0.0, self.reserved - bound)
