"""The request and response shapes that every provider shares."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, Union


@dataclass(frozen=True)
class Request:
    """One call to a model.

    ``content`` is a list of chat messages, or a prompt string for a completion
    template. ``constrain`` limits decoding: ``digit`` to one digit 1-6, ``block``
    to lines "N: digit" for N in 1..``block_size``, ``none`` leaves it free.
    ``distribution`` asks for the probabilities of the digits 1-6 as the next token.
    ``prefix`` is the part of ``content`` that every request of its template shares in
    a run (see ``Template.render_prefix``), or None. A local provider may evaluate it
    once and reuse it; it must never change which reply a request gets from one run
    to the next. Remote providers ignore it.
    """

    content: list[dict[str, str]] | str
    temperature: float | None  # None: the provider's default (not sent)
    top_p: float | None
    max_tokens: int
    seed: int
    constrain: str = "none"
    block_size: int = 0
    distribution: bool = False
    prefix: list[dict[str, str]] | str | None = None


@dataclass
class Response:
    """A model's reply to one request, or the error that prevented one."""

    reply: str | None
    finish_reason: str | None
    model_returned: str | None
    usage: dict[str, Any] = field(default_factory=dict)
    distribution: dict[str, Any] | None = None
    error: str | None = None
    system_fingerprint: str | None = None  # the backend configuration OpenAI reports
    # Why no digit distribution could be read although one was requested.
    logprobs_error: str | None = None


class Provider(Protocol):
    """Anything that can answer a Request.

    ``acomplete`` sends the request once. A remote provider raises
    ``llmvalues.retry.TransientError`` or ``FatalError`` when it fails; the caller retries.
    """

    model_id: str
    supports_logprobs: bool
    supports_batch: bool

    async def acomplete(self, request: Request) -> Response:
        ...


# The outcome of one request in a batch: its reply or its error. A request that ended
# with a TransientError goes into the next batch, and a FatalError stops the run.
BatchOutcome = Union[Response, Exception]
