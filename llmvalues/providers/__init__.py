"""Providers send one request to a model and return its reply.

Every provider takes a ``Request`` and returns a ``Response``; ``create_provider``
builds the provider a model entry of params.yaml names: the in-process llama.cpp
provider for the embedded models, OpenAI, Anthropic, or any OpenAI-compatible
server at a ``base_url``. API keys are read from the environment variable the
entry names and are never stored.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..errors import InputError
from .base import Provider, Request, Response

# Engine settings of the llama_cpp provider when a model entry leaves them out.
LLAMA_CPP_DEFAULTS = {"n_ctx": 4096, "n_batch": 512, "n_threads": 2, "reuse_prefix": True}
# Request settings of remote models when a model entry leaves them out: concurrent
# requests, requests per minute (0: no limit), seconds per try, retries per request,
# the first backoff bound and its cap in seconds, and seconds between batch polls.
REMOTE_DEFAULTS = {"concurrency": 8, "requests_per_minute": 0, "timeout_s": 60.0, "retries": 8,
                   "backoff_s": 1.0, "max_backoff_s": 60.0, "batch": False, "batch_poll_s": 30.0}
REMOTE_PROVIDERS = ("openai", "anthropic", "openai_compatible")
# The environment variable of each provider's key when a model entry names none.
DEFAULT_KEY_VARIABLES = {"openai": "OPENAI_API_KEY", "anthropic": "ANTHROPIC_API_KEY"}
# Sent to an OpenAI-compatible server whose entry names no key variable: local servers
# usually need none, but the client requires some key.
NO_KEY = "no-key"


def api_key_variable(entry: dict[str, Any]) -> str | None:
    """Return the name of the environment variable that holds a model's API key, if it needs one."""
    return entry.get("api_key_env") or DEFAULT_KEY_VARIABLES.get(entry["provider"])


def read_api_key(slug: str, entry: dict[str, Any], source: str = "params.yaml") -> str:
    """Return a remote model's API key from its environment variable.

    Raises InputError, naming the variable but never a value, when it is unset or empty.
    """
    variable = api_key_variable(entry)
    if variable is None:
        return NO_KEY
    value = os.environ.get(variable, "").strip()
    if not value:
        raise InputError(source, f"models.{slug}.api_key_env",
                         f"the environment variable {variable} that should hold the API key is not set or empty",
                         f"export {variable}=... in the shell that runs collect (keys are never read from files)")
    return value


def create_provider(slug: str, entry: dict[str, Any], *, source: str = "params.yaml",
                    models_dir: Path | None = None) -> Provider:
    """Build the provider for the model ``slug`` from its params entry."""
    if entry["provider"] == "llama_cpp":
        from ..weights import MODELS_DIR, locate_weights
        from .llama_cpp import LlamaCppProvider

        field = f"models.{slug}"
        path = locate_weights(entry["model"], entry.get("model_path"), source=source, field=field,
                              models_dir=models_dir or MODELS_DIR)
        settings = {name: entry.get(name, default) for name, default in LLAMA_CPP_DEFAULTS.items()}
        return LlamaCppProvider(path, model_id=entry["model"], **settings)
    api_key = read_api_key(slug, entry, source)
    timeout_s = entry.get("timeout_s", REMOTE_DEFAULTS["timeout_s"])
    if entry["provider"] == "anthropic":
        from .anthropic_messages import AnthropicMessagesProvider

        return AnthropicMessagesProvider(entry["model"], api_key=api_key, base_url=entry.get("base_url"),
                                         timeout_s=timeout_s)
    from .openai_chat import OpenAIChatProvider

    return OpenAIChatProvider(entry["model"], api_key=api_key, base_url=entry.get("base_url"), timeout_s=timeout_s,
                              compatible=entry["provider"] == "openai_compatible")


__all__ = ["Provider", "Request", "Response", "create_provider", "read_api_key", "REMOTE_DEFAULTS",
           "REMOTE_PROVIDERS", "LLAMA_CPP_DEFAULTS"]
