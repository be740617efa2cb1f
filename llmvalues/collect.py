"""Put the questionnaire and the dilemmas to one model: plan the requests, reuse stored answers, send the rest.

Every request has a key: the sha256 of everything that determines it (provider,
model, messages, sampling settings, seed, trial, attempt). Answers live in an
append-only store, ``data/store/<model>.jsonl``, which keeps every answer ever
collected. A request whose key is in the store is never sent again, so a run
that was interrupted resumes where it stopped, and a sweep that returns to an
earlier setting costs nothing. The view ``data/raw/<model>.jsonl`` is rewritten
on every run with exactly the records the current params ask for, in a fixed
order: the questionnaire (trial, then item, then attempt), then the dilemmas
(trial, then dilemma in file order, then attempt).

Each call's seed derives from (trial, item or dilemma, attempt), so a re-ask of an
invalid answer is a new draw and the result of a call does not depend on which
calls ran before it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import random
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterable

from . import __version__
from .errors import InputError
from .dilemma_answers import DILEMMAS, FILE_ORDER, dilemma_seed, parse_dilemma_reply, shown_order
from .dilemma_answers import scale_text as dilemma_scale_text
from .dilemmas import Dilemma, DilemmaSet, load_dilemma_set
from .instrument import Instrument
from .outputs import atomic_write_text
from .parsing import COUNTED_STATUSES, parse_block_reply, parse_reply
from .prompts import Template, render_block, render_dilemma, render_item, resolve_template
from .weights import check_weights, file_sha256
from .providers import LLAMA_CPP_DEFAULTS, Provider, Request, Response
from .records import QUESTIONNAIRE

DIGIT = "digit"
BLOCK = "block"


def call_seed(base_seed: int, trial: int, item: int, attempt: int) -> int:
    """Derive the sampling seed of one call from (trial, item, attempt); 0 <= seed < 2**31."""
    digest = hashlib.sha256(f"{base_seed}:{trial}:{item}:{attempt}".encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF


def trial_order(items: Iterable[int], trial: int, item_order: str, base_seed: int) -> list[int]:
    """Return the order in which a trial shows the items: fixed, or a permutation seeded by the trial."""
    ordered = sorted(items)
    if item_order == "fixed":
        return ordered
    rng = random.Random(call_seed(base_seed, trial, 0, -1))
    rng.shuffle(ordered)
    return ordered


def request_key(payload: dict[str, Any]) -> str:
    """Hash a request's defining fields (canonical JSON) into its key."""
    text = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class Store:
    """The append-only file of every answer collected for one model.

    A line is appended and flushed to disk as soon as its answer arrives, so a
    crash loses at most the request in flight. A final line without its newline
    (a write cut short by a kill) is not a complete record and is removed on open.
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.records: dict[str, dict[str, Any]] = {}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if not self.path.exists():
            self.path.touch()
        self._drop_partial_line()
        with self.path.open(encoding="utf-8") as stream:
            for number, line in enumerate(stream, start=1):
                if line.strip():
                    try:
                        record = json.loads(line)
                        key = record["key"]
                    except (json.JSONDecodeError, KeyError, TypeError):
                        raise InputError(str(self.path), f"line {number}", "not a stored record",
                                         "restore the store from git; it is only ever appended to") from None
                    self.records[key] = record

    def _drop_partial_line(self) -> None:
        data = self.path.read_bytes()
        if data and not data.endswith(b"\n"):
            keep = data.rfind(b"\n") + 1
            with self.path.open("r+b") as stream:
                stream.truncate(keep)

    def get(self, key: str) -> dict[str, Any] | None:
        return self.records.get(key)

    def append(self, record: dict[str, Any]) -> None:
        line = json.dumps(record, sort_keys=True, ensure_ascii=False) + "\n"
        with self.path.open("a", encoding="utf-8") as stream:
            stream.write(line)
            stream.flush()
            os.fsync(stream.fileno())
        self.records[record["key"]] = record


@dataclass(frozen=True)
class Settings:
    """The collection settings of one model, from params.yaml."""

    slug: str
    provider: str
    model: str
    trials: int
    mode: str  # item or block
    answer_mode: str  # text or logprobs
    constrain: str  # none or digit (item mode); none or block lines (block mode)
    distribution: bool  # in text mode, also record the digit distribution
    item_order: str  # fixed or shuffled
    seed: int
    reasks: int
    temperature: float
    top_p: float
    max_tokens: int
    form: str
    engine: dict[str, Any]  # provider settings that can change results (n_batch ...)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _sampling(settings: Settings, mode: str | None = None) -> dict[str, Any]:
    """Return the settings a request is sent with; they are recorded and part of its key.

    ``mode`` overrides ``settings.mode``: a dilemma is always one request of its own.
    """
    mode = mode or settings.mode
    if settings.answer_mode == "logprobs":
        # One forward pass and no sampling: temperature and top_p cannot change the result.
        return {"max_tokens": 1, "constrain": "none", "distribution": True, **settings.engine}
    return {
        "temperature": settings.temperature,
        "top_p": settings.top_p,
        "max_tokens": settings.max_tokens,
        "constrain": settings.constrain,
        # The digit distribution describes a one-digit answer; in block mode the first
        # token of the reply is a line number, so no distribution is recorded there.
        "distribution": settings.distribution and mode == "item",
        **settings.engine,
    }


@dataclass(frozen=True)
class DilemmaBattery:
    """The dilemma set a model answers after the questionnaire, with its prompt template."""

    dilemma_set: DilemmaSet
    template: Template


class Collector:
    """Collect one model's answers for the current params: the questionnaire, then the dilemmas."""

    def __init__(self, settings: Settings, instrument: Instrument, template: Template, store: Store,
                 provider_factory: Callable[[], Provider], dilemmas: DilemmaBattery | None = None):
        self.settings = settings
        self.instrument = instrument
        self.template = template
        self.dilemmas = dilemmas
        self.store = store
        self._provider_factory = provider_factory
        self._provider: Provider | None = None
        self.sent = 0
        self.reused = 0

    @property
    def provider(self) -> Provider:
        # Loading weights takes seconds: only do it when a request must be sent.
        if self._provider is None:
            self._provider = self._provider_factory()
        return self._provider

    def total_cells(self) -> int:
        per_trial = len(self.instrument.items) if self.settings.mode == "item" else 1
        if self.dilemmas is not None:
            per_trial += len(self.dilemmas.dilemma_set.dilemmas)
        return self.settings.trials * per_trial

    def run(self, progress: Callable[[int], None] | None = None) -> list[dict[str, Any]]:
        """Collect every cell; return the records of the view in their fixed order.

        The order is the questionnaire (trial, item, attempt), then the dilemmas
        (trial, dilemma in file order, attempt).
        """
        view: list[dict[str, Any]] = []
        for trial in range(1, self.settings.trials + 1):
            order = trial_order(self.instrument.items, trial, self.settings.item_order, self.settings.seed)
            if self.settings.mode == "item":
                for item in sorted(order):
                    view.extend(self._collect_item(trial, item))
                    if progress:
                        progress(1)
            else:
                view.extend(self._collect_block(trial, order))
                if progress:
                    progress(1)
        if self.dilemmas is not None:
            for trial in range(1, self.settings.trials + 1):
                for dilemma in self.dilemmas.dilemma_set.dilemmas:
                    view.extend(self._collect_dilemma(trial, dilemma))
                    if progress:
                        progress(1)
        return view

    def _collect_item(self, trial: int, item: int) -> list[dict[str, Any]]:
        content = render_item(self.template, self.instrument, item, self.settings.form)
        return self._ask_until_counted(
            lambda attempt: self._answer(content, trial, item=item, items=None, numbering=None, attempt=attempt))

    def _collect_block(self, trial: int, order: list[int]) -> list[dict[str, Any]]:
        content = render_block(self.template, self.instrument, order, self.settings.form)
        numbering = {str(position): item for position, item in enumerate(order, start=1)}
        return self._ask_until_counted(
            lambda attempt: self._answer(content, trial, item=None, items=order, numbering=numbering, attempt=attempt))

    def _collect_dilemma(self, trial: int, dilemma: Dilemma) -> list[dict[str, Any]]:
        order = shown_order(self.settings.seed, trial, dilemma.id)
        first, second = (dilemma.option_a, dilemma.option_b) if order == FILE_ORDER else \
            (dilemma.option_b, dilemma.option_a)
        content = render_dilemma(self.dilemmas.template, dilemma.scenario, first, second, dilemma_scale_text())
        return self._ask_until_counted(
            lambda attempt: self._answer_dilemma(content, trial, dilemma.id, order, attempt))

    def _ask_until_counted(self, ask: Callable[[int], dict[str, Any]]) -> list[dict[str, Any]]:
        """Ask once, then again while the answer is invalid, at most ``reasks`` more times.

        ``ask(attempt)`` returns the record of that attempt, stored or newly sent.
        """
        attempts = []
        for attempt in range(self.settings.reasks + 1):
            record = ask(attempt)
            attempts.append(record)
            if not self._needs_reask(record):
                break
        return attempts

    def _needs_reask(self, record: dict[str, Any]) -> bool:
        """Tell whether an answer is invalid and a re-ask could change it."""
        if self.settings.answer_mode == "logprobs":
            return False  # one forward pass: asking again gives the same distribution
        if record["battery"] == DILEMMAS:
            parsed = parse_dilemma_reply(record["reply"], finish_reason=record["finish_reason"], error=record["error"])
            return not parsed.counted
        labels = self.instrument.scale_labels
        if record["mode"] == "item":
            parsed = parse_reply(record["reply"], labels=labels, finish_reason=record["finish_reason"],
                                 error=record["error"])
            return parsed.status not in COUNTED_STATUSES
        numbering = {int(label): item for label, item in record["numbering"].items()}
        block = parse_block_reply(record["reply"], record["items"], numbering=numbering, labels=labels,
                                  finish_reason=record["finish_reason"], error=record["error"])
        return any(parsed.status not in COUNTED_STATUSES for parsed in block.items.values())

    def _answer(self, content: Any, trial: int, *, item: int | None, items: list[int] | None,
                numbering: dict[str, int] | None, attempt: int) -> dict[str, Any]:
        settings = self.settings
        seed = call_seed(settings.seed, trial, item if item is not None else 0, attempt)
        sampling = _sampling(settings)
        key = request_key({
            "provider": settings.provider, "model": settings.model, "content": content, "sampling": sampling,
            "answer_mode": settings.answer_mode, "seed": seed, "trial": trial, "attempt": attempt,
        })
        fields = {
            "battery": QUESTIONNAIRE, "mode": settings.mode, "template": self.template.id,
            "instrument": self.instrument.id, "form": settings.form, "item": item, "items": items,
            "numbering": numbering,
        }
        return self._send(key, content, trial, attempt, seed, sampling, fields, block_size=len(items) if items else 0)

    def _answer_dilemma(self, content: Any, trial: int, dilemma: str, order: str, attempt: int) -> dict[str, Any]:
        settings = self.settings
        seed = dilemma_seed(settings.seed, trial, dilemma, attempt)
        sampling = _sampling(settings, mode="item")
        key = request_key({
            "provider": settings.provider, "model": settings.model, "battery": DILEMMAS, "dilemma": dilemma,
            "shown_order": order, "content": content, "sampling": sampling, "answer_mode": settings.answer_mode,
            "seed": seed, "trial": trial, "attempt": attempt,
        })
        fields = {
            "battery": DILEMMAS, "mode": "item", "template": self.dilemmas.template.id,
            "instrument": self.dilemmas.dilemma_set.id, "form": None, "item": None, "items": None,
            "numbering": None, "dilemma": dilemma, "shown_order": order,
        }
        return self._send(key, content, trial, attempt, seed, sampling, fields, block_size=0)

    def _send(self, key: str, content: Any, trial: int, attempt: int, seed: int, sampling: dict[str, Any],
              fields: dict[str, Any], *, block_size: int) -> dict[str, Any]:
        """Return the stored answer of ``key``, or send the request and store its answer."""
        stored = self.store.get(key)
        if stored is not None:
            self.reused += 1
            return stored

        settings = self.settings
        request = Request(
            content=content,
            temperature=settings.temperature,
            top_p=settings.top_p,
            max_tokens=sampling["max_tokens"],
            seed=seed,
            constrain=sampling["constrain"],
            block_size=block_size,
            distribution=sampling["distribution"],
        )
        requested_at = _now()
        started = time.perf_counter()
        response: Response = self.provider.complete(request)
        latency = time.perf_counter() - started
        record = {
            "key": key,
            "model": settings.slug,
            "provider": settings.provider,
            "model_requested": settings.model,
            "model_returned": response.model_returned,
            "answer_mode": settings.answer_mode,
            "trial": trial,
            "attempt": attempt,
            "seed": seed,
            "sampling": sampling,
            "reply": None if settings.answer_mode == "logprobs" else response.reply,
            "finish_reason": response.finish_reason,
            "distribution": response.distribution,
            "usage": response.usage,
            "latency_s": round(latency, 4),
            "cost_usd": 0.0,
            "requested_at": requested_at,
            "received_at": _now(),
            "error": response.error,
            "package_version": __version__,
            **fields,
        }
        self.store.append(record)
        self.sent += 1
        return record


def write_view(path: str | Path, records: list[dict[str, Any]]) -> None:
    """Rewrite a model's view with exactly ``records``, one JSON object per line."""
    atomic_write_text(path, "".join(json.dumps(record, sort_keys=True, ensure_ascii=False) + "\n"
                                    for record in records))


def settings_from_params(slug: str, entry: dict[str, Any], collect: dict[str, Any], form: str) -> Settings:
    """Combine a model's entry with the settings every model shares."""
    engine: dict[str, Any] = {}
    if entry["provider"] == "llama_cpp":
        # n_ctx and n_batch can change the logits, so they are part of each request's
        # key; the thread count only changes speed.
        engine = {name: entry.get(name, LLAMA_CPP_DEFAULTS[name]) for name in ("n_ctx", "n_batch")}
        if entry.get("model_path"):
            # A GGUF file of one's own is identified by its content: another file at the
            # same path must not reuse the stored answers.
            engine["model_path"] = entry["model_path"]
            engine["model_sha256"] = file_sha256(Path(entry["model_path"]))
    # Every Settings field named like a key of the collect section takes that key's value.
    shared = {field.name: collect[field.name] for field in dataclasses.fields(Settings) if field.name in collect}
    return Settings(slug=slug, provider=entry["provider"], model=entry["model"], form=form, engine=engine, **shared)


def select_template(params: dict[str, Any], slug: str, source: str = "params.yaml") -> Template:
    """Check a model's collection settings and return its prompt template.

    Raises InputError, naming the params key, for an unknown model, an unknown or
    unsuitable template, logprobs in block mode, or weights that cannot be found,
    so that a bad setting stops a run before its first request.
    """
    if slug not in params["models"]:
        raise InputError(source, f"models.{slug}", "no such model",
                         f"add it under models, or use one of {', '.join(params['models'])}")
    entry = params["models"][slug]
    collect = params["collect"]
    if collect["mode"] == "block" and collect["answer_mode"] == "logprobs":
        raise InputError(source, "collect.answer_mode", "logprobs reads one digit, so it needs item mode",
                         "use collect.mode: item, or answer_mode: text")
    if "template" in entry:
        field, reference = f"models.{slug}.template", entry["template"]
    elif collect["mode"] == "item":
        field, reference = "collect.template", collect["template"]
    else:
        field, reference = "collect.block_template", collect["block_template"]
    template = resolve_template(reference, source, field)
    if template.mode != collect["mode"]:
        raise InputError(source, field,
                         f"the template {template.id} is for {template.mode} mode, but collect.mode is {collect['mode']}",
                         f"choose a {collect['mode']}-mode template, or leave this model out of a "
                         f"{collect['mode']}-mode study")
    if entry["provider"] == "llama_cpp":
        check_weights(entry["model"], entry.get("model_path"), source=source, field=f"models.{slug}")
    return template


def select_dilemma_battery(params: dict[str, Any], slug: str, source: str = "params.yaml",
                           root: Path = Path(".")) -> DilemmaBattery:
    """Load the dilemma set of params.yaml and the model's dilemma template.

    Raises InputError, naming the params key, for an unknown or unsuitable template
    and for an invalid dilemma file, so that a bad setting stops a run before its
    first request.
    """
    entry = params["models"][slug]
    if "dilemma_template" in entry:
        field, reference = f"models.{slug}.dilemma_template", entry["dilemma_template"]
    else:
        field, reference = "dilemmas.template", params["dilemmas"]["template"]
    template = resolve_template(reference, source, field)
    if template.mode != "dilemma":
        raise InputError(source, field, f"the template {template.id} is for {template.mode} mode, not for dilemmas",
                         "choose a dilemma-mode template such as dilemma-chat-v1 or dilemma-completion-v1")
    return DilemmaBattery(load_dilemma_set(root / params["dilemmas"]["file"]), template)
