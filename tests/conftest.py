"""Shared test helpers: collected records written the way the collect stage writes them."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def make_record(model: str, trial: int, *, item: int | None = None, items: list[int] | None = None,
                reply: str | None = "4", attempt: int = 0, **fields) -> dict:
    """Build one questionnaire record with every field of the record format."""
    mode = "item" if items is None else "block"
    key_source = json.dumps([model, trial, item, items, attempt, reply], sort_keys=True)
    record = {
        "key": hashlib.sha256(key_source.encode()).hexdigest(),
        "model": model,
        "provider": "llama_cpp",
        "model_requested": f"{model}-weights",
        "model_returned": f"{model}-weights",
        "battery": "pvq",
        "mode": mode,
        "answer_mode": "text",
        "template": "portrait-v1",
        "instrument": "llmvalues-portraits-v1",
        "form": "neutral",
        "trial": trial,
        "item": item,
        "items": items,
        "numbering": None,
        "attempt": attempt,
        "seed": 1000 * trial + (item or 0) * 10 + attempt,
        "sampling": {"temperature": 0.7, "top_p": 1.0, "max_tokens": 16},
        "reply": reply,
        "finish_reason": "stop",
        "distribution": None,
        "usage": {"prompt_tokens": 50, "completion_tokens": 1},
        "latency_s": 0.25,
        "cost_usd": 0.0,
        "requested_at": "2026-01-01T00:00:00Z",
        "received_at": "2026-01-01T00:00:01Z",
        "error": None,
        "package_version": "0.1.0",
    }
    record.update(fields)
    return record


def make_dilemma_record(model: str, trial: int, dilemma: str, *, reply: str | None = "2", shown_order: str = "AB",
                        attempt: int = 0, **fields) -> dict:
    """Build one dilemma record: a questionnaire record's fields plus ``dilemma`` and ``shown_order``."""
    record = make_record(model, trial, item=None, reply=reply, attempt=attempt)
    key_source = json.dumps([model, trial, dilemma, shown_order, attempt, reply], sort_keys=True)
    record.update({
        "key": hashlib.sha256(key_source.encode()).hexdigest(),
        "battery": "dilemmas",
        "template": "dilemma-chat-v1",
        "instrument": "llmvalues-mental-health-v1",
        "form": None,
        "dilemma": dilemma,
        "shown_order": shown_order,
    })
    record.update(fields)
    return record


def write_jsonl(path: Path, records: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(record) + "\n" for record in records), encoding="utf-8")
    return path


def distribution(probabilities: list[float], digit_mass: float = 0.9) -> dict:
    """A digit distribution as the logprobs answer mode records it."""
    mean = sum((point + 1) * p for point, p in enumerate(probabilities))
    argmax = max(range(6), key=lambda point: probabilities[point]) + 1
    return {
        "probabilities": {str(point + 1): p for point, p in enumerate(probabilities)},
        "digit_mass": digit_mass,
        "mean": mean,
        "argmax": argmax,
    }


@pytest.fixture
def project_root() -> Path:
    return PROJECT_ROOT
