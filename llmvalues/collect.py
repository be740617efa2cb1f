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

import asyncio
import dataclasses
import hashlib
import json
import logging
import os
import random
import time
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Generator, Iterable

from . import __version__
from .errors import InputError
from .dilemma_answers import DILEMMAS, FILE_ORDER, dilemma_seed, parse_dilemma_reply, shown_order
from .dilemma_answers import scale_text as dilemma_scale_text
from .dilemmas import Dilemma, DilemmaSet, load_dilemma_set
from .instrument import Instrument
from .outputs import atomic_write_text
from .limits import RequestLimiter
from .parsing import COUNTED_STATUSES, TRUNCATION_REASONS, parse_block_reply, parse_reply
from .prompts import (Template, render_block, render_block_prefix, render_dilemma, render_dilemma_prefix, render_item,
                      render_item_prefix, resolve_template)
from .providers import LLAMA_CPP_DEFAULTS, REMOTE_DEFAULTS, Provider, Request, Response
from .records import QUESTIONNAIRE
from .retry import (CONNECTION, TIMEOUT, FatalError, RetriesExhausted, RetryPolicy, RetryStopped, TransientError,
                    call_with_retries, with_timeout)
from .spending import Price, SpendingCap, max_request_cost, recorded_cost, reply_cost
from .weights import check_weights, file_sha256

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


def drop_partial_line(path: Path) -> None:
    """Remove a final line without its newline: a write cut short by a kill, never a complete line."""
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):
        with path.open("r+b") as stream:
            stream.truncate(data.rfind(b"\n") + 1)


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
        drop_partial_line(self.path)
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

    def get(self, key: str) -> dict[str, Any] | None:
        return self.records.get(key)

    def spend(self) -> float:
        """Return the recorded cost of every answer in the store, in US dollars (unknown costs count 0)."""
        return sum(recorded_cost(record) or 0.0 for record in self.records.values())

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
    temperature: float | None  # None: not sent, the provider's default
    top_p: float | None
    max_tokens: int
    form: str
    engine: dict[str, Any]  # provider settings that can change results (n_batch, base_url ...)
    # A truncated reply is asked once more with this budget; 0 turns that off.
    truncation_max_tokens: int = 0
    # How requests are sent; none of these changes a reply, so none is part of a key.
    concurrency: int = 1
    requests_per_minute: int = 0
    timeout_s: float = 60.0
    retry: RetryPolicy = RetryPolicy()
    batch: bool = False
    batch_poll_s: float = 30.0
    price: Price | None = None  # None: unknown for a remote model, free for a local one
    max_spend_usd: float | None = None


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _sampling(settings: Settings, mode: str | None = None, max_tokens: int | None = None) -> dict[str, Any]:
    """Return the settings a request is sent with; they are recorded and part of its key.

    ``mode`` overrides ``settings.mode``: a dilemma is always one request of its own.
    ``max_tokens`` overrides the budget (the retry of a truncated reply).
    """
    mode = mode or settings.mode
    if settings.answer_mode == "logprobs":
        # One forward pass and no sampling: temperature and top_p cannot change the result.
        return {"max_tokens": 1, "constrain": "none", "distribution": True, **settings.engine}
    return {
        "temperature": settings.temperature,
        "top_p": settings.top_p,
        "max_tokens": max_tokens or settings.max_tokens,
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


@dataclass(frozen=True)
class PreparedRequest:
    """One request, ready to send: its key, what is sent, and the record fields known before the reply."""

    key: str
    request: Request
    fields: dict[str, Any]  # trial, attempt, seed, sampling, battery, item ... of the record


@dataclass(frozen=True)
class Cell:
    """One unit of collection: an item (item mode), a whole trial (block mode) or a dilemma.

    ``prepare(attempt, max_tokens)`` builds the request of that attempt, with a
    larger budget than the settings' when ``max_tokens`` is given.
    """

    label: str  # for logs and messages, such as "trial 3, item 12"
    prepare: Callable[[int, int | None], PreparedRequest]


class _NotSent(Exception):
    """A request that was waiting for its turn when the run began to stop."""


class CollectionStopped(Exception):
    """The run stopped before every cell was answered; what was answered is stored."""

    def __init__(self, cause: str, fix: str):
        super().__init__(f"{cause}; {fix}")
        self.cause = cause
        self.fix = fix


class Collector:
    """Collect one model's answers for the current params: the questionnaire, then the dilemmas.

    Requests run concurrently (``settings.concurrency`` at a time, the local model
    one at a time) and each answer is appended to the store as it arrives. The
    view's records come back in the fixed order whatever the order of arrival.
    """

    def __init__(self, settings: Settings, instrument: Instrument, template: Template, store: Store,
                 provider_factory: Callable[[], Provider], dilemmas: DilemmaBattery | None = None,
                 log: logging.Logger | None = None):
        self.settings = settings
        self.instrument = instrument
        self.template = template
        self.dilemmas = dilemmas
        self.store = store
        self.log = log or logging.getLogger(__name__)
        self._provider_factory = provider_factory
        self._provider: Provider | None = None
        self.sent = 0
        self.reused = 0
        self.retries: Counter = Counter()  # kind of transient failure -> retries
        self.spending = SpendingCap(settings.max_spend_usd, spent=store.spend())
        self._stop: CollectionStopped | InputError | None = None
        self._limiter: RequestLimiter | None = None
        self._stop_event: asyncio.Event | None = None  # set by stop(); created inside the event loop
        self._progress: Callable[[int], None] | None = None

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

    def cells(self) -> list[Cell]:
        """Return every cell in the view's fixed order.

        The order is the questionnaire (trial, item, attempt), then the dilemmas
        (trial, dilemma in file order, attempt).
        """
        cells = []
        for trial in range(1, self.settings.trials + 1):
            order = trial_order(self.instrument.items, trial, self.settings.item_order, self.settings.seed)
            if self.settings.mode == "item":
                cells.extend(self._item_cell(trial, item) for item in sorted(order))
            else:
                cells.append(self._block_cell(trial, order))
        if self.dilemmas is not None:
            for trial in range(1, self.settings.trials + 1):
                cells.extend(self._dilemma_cell(trial, dilemma) for dilemma in self.dilemmas.dilemma_set.dilemmas)
        return cells

    def run(self, progress: Callable[[int], None] | None = None) -> list[dict[str, Any]]:
        """Collect every cell; return the records of the view in their fixed order.

        Raises CollectionStopped when a request fails for good (an error that
        retrying cannot fix, retries used up) or the spending cap is reached;
        every answer received before that is stored.
        """
        self._progress = progress
        return asyncio.run(self._run())

    async def _run(self) -> list[dict[str, Any]]:
        self._stop_event = asyncio.Event()
        try:
            if self.settings.batch:
                from .batches import BatchRunner

                return await BatchRunner(self).run()
            return await self._run_direct()
        finally:
            await self._close_provider()

    async def _close_provider(self) -> None:
        # A remote client's connections belong to this event loop: close them before it ends.
        close = getattr(self._provider, "aclose", None)
        if close is not None:
            await close()
            self._provider = None

    async def _run_direct(self) -> list[dict[str, Any]]:
        self._limiter = RequestLimiter(self.settings.concurrency, self.settings.requests_per_minute)
        results = await asyncio.gather(*(self._collect_cell(cell) for cell in self.cells()))
        if self._stop is not None:
            raise self._stop
        return [record for records in results for record in records]

    # Cells and their attempts ------------------------------------------------------------------------------

    def _item_cell(self, trial: int, item: int) -> Cell:
        content = render_item(self.template, self.instrument, item, self.settings.form)
        prefix = render_item_prefix(self.template, self.instrument)
        return Cell(f"trial {trial}, item {item}", lambda attempt, max_tokens: self._prepare(
            content, trial, item=item, items=None, numbering=None, attempt=attempt, max_tokens=max_tokens,
            prefix=prefix))

    def _block_cell(self, trial: int, order: list[int]) -> Cell:
        content = render_block(self.template, self.instrument, order, self.settings.form)
        prefix = render_block_prefix(self.template, self.instrument, len(order))
        numbering = {str(position): item for position, item in enumerate(order, start=1)}
        return Cell(f"trial {trial} (block)", lambda attempt, max_tokens: self._prepare(
            content, trial, item=None, items=order, numbering=numbering, attempt=attempt, max_tokens=max_tokens,
            prefix=prefix))

    def _dilemma_cell(self, trial: int, dilemma: Dilemma) -> Cell:
        order = shown_order(self.settings.seed, trial, dilemma.id)
        first, second = (dilemma.option_a, dilemma.option_b) if order == FILE_ORDER else \
            (dilemma.option_b, dilemma.option_a)
        content = render_dilemma(self.dilemmas.template, dilemma.scenario, first, second, dilemma_scale_text())
        prefix = render_dilemma_prefix(self.dilemmas.template, dilemma_scale_text())
        return Cell(f"trial {trial}, dilemma {dilemma.id}", lambda attempt, max_tokens: self._prepare_dilemma(
            content, trial, dilemma.id, order, attempt, max_tokens, prefix))

    def attempts(self, cell: Cell) -> Generator[PreparedRequest, dict[str, Any], list[dict[str, Any]]]:
        """Walk a cell's attempts: yield each request, receive its record, return the records.

        An invalid answer is asked again, at most ``reasks`` more times. A truncated
        one is first asked again with ``truncation_max_tokens`` (when that is larger),
        which does not use up a re-ask; later attempts keep the larger budget.
        """
        records: list[dict[str, Any]] = []
        attempt = 0
        reasks_left = self.settings.reasks
        budget: int | None = None
        while True:
            record = yield cell.prepare(attempt, budget)
            records.append(record)
            if not self._needs_reask(record):
                return records
            if budget is None and self._can_raise_budget(record):
                budget = self.settings.truncation_max_tokens
            elif reasks_left > 0:
                reasks_left -= 1
            else:
                return records
            attempt += 1

    def stored_attempts(self, cell: Cell) -> tuple[list[dict[str, Any]], PreparedRequest | None]:
        """Follow a cell's attempts through the store: (records so far, next request to send or None)."""
        walk = self.attempts(cell)
        prepared = next(walk)
        try:
            while True:
                record = self.store.get(prepared.key)
                if record is None:
                    return [], prepared
                prepared = walk.send(record)
        except StopIteration as done:
            return done.value, None

    def _can_raise_budget(self, record: dict[str, Any]) -> bool:
        return (self.settings.answer_mode == "text" and record["finish_reason"] in TRUNCATION_REASONS
                and self.settings.truncation_max_tokens > record["sampling"]["max_tokens"])

    async def _collect_cell(self, cell: Cell) -> list[dict[str, Any]]:
        walk = self.attempts(cell)
        prepared = next(walk)
        try:
            while True:
                record = self.store.get(prepared.key)
                if record is not None:
                    self.reused += 1
                else:
                    record = await self._send(prepared, cell)
                    if record is None:
                        return []  # the run is stopping
                prepared = walk.send(record)
        except StopIteration as done:
            if self._progress:
                self._progress(1)
            return done.value

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

    # Requests ------------------------------------------------------------------------------------------------

    def _prepare(self, content: Any, trial: int, *, item: int | None, items: list[int] | None,
                 numbering: dict[str, int] | None, attempt: int, max_tokens: int | None,
                 prefix: Any = None) -> PreparedRequest:
        settings = self.settings
        seed = call_seed(settings.seed, trial, item if item is not None else 0, attempt)
        sampling = _sampling(settings, max_tokens=max_tokens)
        key = request_key({
            "provider": settings.provider, "model": settings.model, "content": content, "sampling": sampling,
            "answer_mode": settings.answer_mode, "seed": seed, "trial": trial, "attempt": attempt,
        })
        fields = {
            "battery": QUESTIONNAIRE, "mode": settings.mode, "template": self.template.id,
            "instrument": self.instrument.id, "form": settings.form, "item": item, "items": items,
            "numbering": numbering, "trial": trial, "attempt": attempt, "seed": seed, "sampling": sampling,
        }
        return PreparedRequest(key, self._request(content, seed, sampling, len(items) if items else 0, prefix), fields)

    def _prepare_dilemma(self, content: Any, trial: int, dilemma: str, order: str, attempt: int,
                         max_tokens: int | None, prefix: Any = None) -> PreparedRequest:
        settings = self.settings
        seed = dilemma_seed(settings.seed, trial, dilemma, attempt)
        sampling = _sampling(settings, mode="item", max_tokens=max_tokens)
        key = request_key({
            "provider": settings.provider, "model": settings.model, "battery": DILEMMAS, "dilemma": dilemma,
            "shown_order": order, "content": content, "sampling": sampling, "answer_mode": settings.answer_mode,
            "seed": seed, "trial": trial, "attempt": attempt,
        })
        fields = {
            "battery": DILEMMAS, "mode": "item", "template": self.dilemmas.template.id,
            "instrument": self.dilemmas.dilemma_set.id, "form": None, "item": None, "items": None,
            "numbering": None, "dilemma": dilemma, "shown_order": order, "trial": trial, "attempt": attempt,
            "seed": seed, "sampling": sampling,
        }
        return PreparedRequest(key, self._request(content, seed, sampling, 0, prefix), fields)

    def _request(self, content: Any, seed: int, sampling: dict[str, Any], block_size: int, prefix: Any) -> Request:
        return Request(
            content=content,
            temperature=self.settings.temperature,
            top_p=self.settings.top_p,
            max_tokens=sampling["max_tokens"],
            seed=seed,
            constrain=sampling["constrain"],
            block_size=block_size,
            distribution=sampling["distribution"],
            prefix=prefix,
        )

    def request_bound(self, prepared: PreparedRequest) -> float:
        """Return the most a request can cost (0 when its price is unknown or it is free)."""
        if self.settings.price is None:
            return 0.0
        return max_request_cost(self.settings.price, prepared.request.content, prepared.request.max_tokens,
                                batch=self.settings.batch)

    def stop(self, cause: str, fix: str) -> None:
        """Stop starting requests and end backoff waits; the first cause is the one reported."""
        if self._stop is None:
            self._stop = CollectionStopped(cause, fix)
            self.log.error("stopping: %s; %s", cause, fix)
            if self._stop_event is not None:
                self._stop_event.set()

    @property
    def stopping(self) -> bool:
        return self._stop is not None

    def reserve_or_stop(self, bound: float) -> bool:
        """Reserve a request's cost bound; stop the run when the spending cap could be exceeded."""
        if self.spending.reserve(bound):
            return True
        self.stop(f"spending cap reached: ${self.spending.spent:.4f} spent on {self.settings.slug} "
                  f"(all runs), ${self.spending.reserved:.4f} reserved by requests in flight, the next request "
                  f"could cost up to ${bound:.4f}, cap ${self.spending.cap:.4f}",
                  f"raise models.{self.settings.slug}.max_spend_usd to continue; every answer so far is stored")
        return False

    async def _send(self, prepared: PreparedRequest, cell: Cell) -> dict[str, Any] | None:
        """Send a request (retrying transient failures) and store its answer; None when the run stops."""
        if self.stopping:
            return None

        def on_retry(number: int, error: TransientError, delay: float) -> None:
            self.retries[error.kind] += 1
            self.log.info("retry %d/%d of %s (request %s): %s; waiting %.2f s", number, self.settings.retry.retries,
                          cell.label, prepared.key[:12], error, delay)

        try:
            (response, bound, requested_at, latency), retries = await call_with_retries(
                lambda: self._try(prepared), self.settings.retry, on_retry=on_retry, stop=self._stop_event)
        except (_NotSent, RetryStopped):
            return None
        except InputError as error:
            # A setting that only the first request needs, such as the API key: every
            # other cell would fail the same way, so the run stops with this error.
            if self._stop is None:
                self._stop = error
                self.log.error("stopping: %s", error)
                self._stop_event.set()
            return None
        except FatalError as error:
            self.stop(f"{cell.label}: {error.cause}", error.fix)
            return None
        except RetriesExhausted as error:
            self.stop(f"{cell.label}: {error}", self.exhausted_fix(error))
            return None
        record = self.make_record(prepared, response, requested_at=requested_at, latency_s=latency, retries=retries)
        self.spending.settle(bound, record["cost_usd"])
        self.store.append(record)
        self.sent += 1
        return record

    def exhausted_fix(self, error: RetriesExhausted) -> str:
        """Say what to do when a request kept failing."""
        if error.last.kind in (CONNECTION, TIMEOUT):
            where = self.settings.engine.get("base_url") or "the provider"
            return (f"check that {where} can be reached (models.{self.settings.slug}.base_url) and that "
                    f"timeout_s suits the model, then run collect again to resume (answers so far are stored)")
        return "the provider keeps failing: wait, then run collect again to resume (answers so far are stored)"

    async def _try(self, prepared: PreparedRequest) -> tuple[Response, float, str, float]:
        """Send one try once a slot is free.

        Returns the reply, the cost bound reserved for it, the time it was sent and
        its latency in seconds (the wait for a slot and earlier tries left out).
        """
        async with self._limiter:
            if self.stopping:
                raise _NotSent  # it waited for a slot while the run began to stop
            bound = self.request_bound(prepared)
            if not await self._reserve(bound):
                raise _NotSent
            requested_at = _now()
            started = time.perf_counter()
            try:
                if self.settings.provider == "llama_cpp":
                    # In-process and one at a time: a timeout could not interrupt it.
                    response = await self.provider.acomplete(prepared.request)
                else:
                    response = await with_timeout(self._send_unless_stopping(prepared.request),
                                                  self.settings.timeout_s)
            except BaseException:
                # NOTE: a try that timed out may still be billed; the cap then counts it as free.
                self.spending.release(bound)
                raise
            return response, bound, requested_at, round(time.perf_counter() - started, 4)

    async def _reserve(self, bound: float) -> bool:
        """Reserve a request's cost bound, waiting while requests in flight may free enough.

        The bounds of requests in flight are several times their cost, so the cap
        stops the run only when the bound does not fit with nothing else in flight.
        """
        while not self.spending.reserve(bound):
            if self.spending.in_flight == 0 or self.stopping:
                self.reserve_or_stop(bound)
                return False
            await asyncio.sleep(0.02)
        return True

    async def _send_unless_stopping(self, request: Request) -> Response:
        # wait_for runs this as a task of its own, which starts a moment later: the run may
        # have begun to stop in between.
        if self.stopping:
            raise _NotSent
        return await self.provider.acomplete(request)

    def make_record(self, prepared: PreparedRequest, response: Response, *, requested_at: str,
                    latency_s: float | None, retries: int, batch_id: str | None = None) -> dict[str, Any]:
        """Build the record of a request from its reply."""
        settings = self.settings
        error = response.error
        if error is None and settings.answer_mode == "logprobs" and response.distribution is None:
            error = response.logprobs_error or "the provider returned no digit distribution"
        if settings.provider == "llama_cpp":
            cost = 0.0
        else:
            cost = reply_cost(settings.price, response.usage, batch=batch_id is not None)
        return {
            "key": prepared.key,
            "model": settings.slug,
            "provider": settings.provider,
            "model_requested": settings.model,
            "model_returned": response.model_returned,
            "system_fingerprint": response.system_fingerprint,
            "answer_mode": settings.answer_mode,
            "reply": None if settings.answer_mode == "logprobs" else response.reply,
            "finish_reason": response.finish_reason,
            "distribution": response.distribution,
            "usage": response.usage,
            "latency_s": latency_s,
            "cost_usd": cost,
            "requested_at": requested_at,
            "received_at": _now(),
            "retries": retries,
            "batch_id": batch_id,
            "error": error,
            "package_version": __version__,
            **prepared.fields,
        }

    def summary(self) -> str:
        """Return one line on what this run did: requests, retries by kind, spend."""
        retries = sum(self.retries.values())
        kinds = ", ".join(f"{count} after {kind}" for kind, count in sorted(self.retries.items()))
        spend = f", ${self.spending.spent:.4f} spent on this model in all runs" if self.settings.price else ""
        return (f"{self.sent} requests sent, {self.reused} reused, {retries} retries"
                + (f" ({kinds})" if kinds else "") + spend)


def write_view(path: str | Path, records: list[dict[str, Any]]) -> None:
    """Rewrite a model's view with exactly ``records``, one JSON object per line."""
    atomic_write_text(path, "".join(json.dumps(record, sort_keys=True, ensure_ascii=False) + "\n"
                                    for record in records))


# Model-entry keys of each kind of provider; the others are rejected for it.
LOCAL_ONLY_KEYS = ("model_path", "n_ctx", "n_batch", "n_threads", "reuse_prefix")
REMOTE_ONLY_KEYS = ("api_key_env", "base_url", "concurrency", "requests_per_minute", "timeout_s", "retries",
                    "backoff_s", "max_backoff_s", "batch", "batch_poll_s", "max_spend_usd")
# Collect settings a model entry may set for itself.
PER_MODEL_KEYS = ("temperature", "top_p", "max_tokens", "constrain")


def settings_from_params(slug: str, entry: dict[str, Any], collect: dict[str, Any], form: str,
                         prices: dict[str, dict[str, float]] | None = None) -> Settings:
    """Combine a model's entry with the settings every model shares and the price table."""
    engine: dict[str, Any] = {}
    if entry["provider"] == "llama_cpp":
        # n_ctx and n_batch can change the logits, so they are part of each request's
        # key; the thread count only changes speed.
        engine = {name: entry.get(name, LLAMA_CPP_DEFAULTS[name]) for name in ("n_ctx", "n_batch")}
        # Evaluating the shared prompt prefix apart from the rest can change the logits
        # (it does for gemma-3-270m's dilemmas), so it is part of the key too. It is left
        # out when off, so that answers stored before prefix reuse existed keep their keys.
        if entry.get("reuse_prefix", LLAMA_CPP_DEFAULTS["reuse_prefix"]):
            engine["reuse_prefix"] = True
        if entry.get("model_path"):
            # A GGUF file of one's own is identified by its content: another file at the
            # same path must not reuse the stored answers.
            engine["model_path"] = entry["model_path"]
            engine["model_sha256"] = file_sha256(Path(entry["model_path"]))
    elif entry.get("base_url"):
        # Another server may serve another model under the same name, and answers of a
        # test server must never be reused for the provider's own API.
        engine = {"base_url": entry["base_url"].rstrip("/")}
    # Every Settings field named like a key of the collect section takes that key's value,
    # unless the model entry sets it for this model.
    shared = {field.name: collect[field.name] for field in dataclasses.fields(Settings) if field.name in collect}
    shared.update({name: entry[name] for name in PER_MODEL_KEYS if name in entry})
    if entry["provider"] == "anthropic":
        shared["distribution"] = False  # the API has no log-probabilities; records say so
        # Recent Claude models reject sampling settings: only a model entry's own are sent.
        shared["temperature"] = entry.get("temperature")
        shared["top_p"] = entry.get("top_p")
    remote: dict[str, Any] = {}
    if entry["provider"] != "llama_cpp":
        value = {name: entry.get(name, default) for name, default in REMOTE_DEFAULTS.items()}
        price = (prices or {}).get(entry["model"])
        remote = {
            "concurrency": value["concurrency"],
            "requests_per_minute": value["requests_per_minute"],
            "timeout_s": value["timeout_s"],
            "retry": RetryPolicy(retries=value["retries"], backoff_s=value["backoff_s"],
                                 max_backoff_s=value["max_backoff_s"]),
            "batch": value["batch"],
            "batch_poll_s": value["batch_poll_s"],
            "price": Price(**price) if price else None,
            "max_spend_usd": entry.get("max_spend_usd"),
        }
    return Settings(slug=slug, provider=entry["provider"], model=entry["model"], form=form, engine=engine,
                    **shared, **remote)


def check_provider_settings(params: dict[str, Any], slug: str, template: Template, source: str = "params.yaml") -> None:
    """Check the settings a model's provider can honour; raise InputError before any request.

    The API key is not read here: answers already stored are reused without it,
    so that anyone can re-run the pipeline from a committed store. It is read when
    the first request must be sent, and a missing key stops the run there.
    """
    entry = params["models"][slug]
    provider = entry["provider"]
    field = f"models.{slug}"
    wrong = LOCAL_ONLY_KEYS if provider != "llama_cpp" else REMOTE_ONLY_KEYS
    for name in wrong:
        if name in entry:
            kind = "llama_cpp models" if provider != "llama_cpp" else "remote providers"
            raise InputError(source, f"{field}.{name}", f"only applies to {kind}, not to {provider}",
                             "remove it from this model's entry")
    if provider == "llama_cpp":
        for name in ("temperature", "top_p"):
            if name in entry and entry[name] is None:
                raise InputError(source, f"{field}.{name}", "llama_cpp samples with a number, not null",
                                 f"give a number, or remove {name} from this model's entry")
        return
    if provider == "openai_compatible" and "base_url" not in entry:
        raise InputError(source, f"{field}.base_url", "missing key: an openai_compatible model needs its server's URL",
                         "add base_url, such as http://127.0.0.1:8000/v1")
    constrain = entry.get("constrain", params["collect"]["constrain"])
    if constrain != "none":
        raise InputError(source, f"{field}.constrain",
                         f"constrain: {constrain} needs a grammar, which only the llama_cpp provider applies",
                         "add constrain: none to this model's entry (or set collect.constrain: none)")
    if template.format != "chat":
        raise InputError(source, f"{field}.template", f"the template {template.id} is a completion prompt, "
                         f"but the {provider} provider takes chat messages", "choose a chat template")
    if provider == "anthropic" and params["collect"]["answer_mode"] == "logprobs":
        raise InputError(source, "collect.answer_mode", "the Anthropic API returns no log-probabilities",
                         "use answer_mode: text, or leave this model out of a logprobs study")
    if entry.get("batch") and provider == "openai_compatible":
        raise InputError(source, f"{field}.batch", "batch mode needs the OpenAI Batch API or Anthropic's "
                         "Message Batches, which compatible servers do not offer", "remove batch: true")
    if "max_spend_usd" in entry and entry["model"] not in params.get("prices", {}):
        raise InputError(source, f"{field}.max_spend_usd", f"no price for the model id {entry['model']!r}",
                         f"add prices.{entry['model']}: {{input: ..., output: ...}} in US dollars per million "
                         "tokens, or remove the cap")


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
    check_provider_settings(params, slug, template, source)
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
    if entry["provider"] != "llama_cpp" and template.format != "chat":
        raise InputError(source, field, f"the template {template.id} is a completion prompt, but the "
                         f"{entry['provider']} provider takes chat messages", "choose a chat template such as dilemma-chat-v1")
    return DilemmaBattery(load_dilemma_set(root / params["dilemmas"]["file"]), template)
