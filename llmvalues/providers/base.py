"""The request and response shapes that every provider shares."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class Request:
    """One call to a model.

    ``content`` is a list of chat messages, or a prompt string for a completion
    template. ``constrain`` limits decoding: ``digit`` to one digit 1-6, ``block``
    to lines "N: digit" for N in 1..``block_size``, ``none`` leaves it free.
    ``distribution`` asks for the probabilities of the digits 1-6 as the next token.
    """

    content: list[dict[str, str]] | str
    temperature: float
    top_p: float
    max_tokens: int
    seed: int
    constrain: str = "none"
    block_size: int = 0
    distribution: bool = False


@dataclass
class Response:
    """A model's reply to one request, or the error that prevented one."""

    reply: str | None
    finish_reason: str | None
    model_returned: str | None
    usage: dict[str, Any] = field(default_factory=dict)
    distribution: dict[str, Any] | None = None
    error: str | None = None


class Provider(Protocol):
    """Anything that can answer a Request."""

    model_id: str

    def complete(self, request: Request) -> Response:
        ...
