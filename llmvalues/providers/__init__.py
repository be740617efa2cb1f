"""Providers send one request to a model and return its reply.

Every provider takes a ``Request`` and returns a ``Response``; ``create_provider``
builds the provider a model entry of params.yaml names. This release has the
in-process llama.cpp provider for the embedded models.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import InputError
from .base import Provider, Request, Response

# Engine settings of the llama_cpp provider when a model entry leaves them out.
LLAMA_CPP_DEFAULTS = {"n_ctx": 4096, "n_batch": 512, "n_threads": 2}


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
    raise InputError(source, f"models.{slug}.provider", f"the {entry['provider']} provider is not available yet",
                     "use llama_cpp for now")


__all__ = ["Provider", "Request", "Response", "create_provider"]
