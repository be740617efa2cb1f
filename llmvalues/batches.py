"""Collect through a provider's batch API: submit, poll, download, store, and resume.

A run in batch mode works in rounds. Each round gathers the next request of
every cell that is not yet answered (the first ask, or the re-ask of an invalid
answer), submits them as one batch, waits for it, and stores each answer under
its request key, which is also the batch line's ``custom_id``. Requests that the
batch could not answer (server errors, expiry) go into the next round.

The ledger ``data/store/<model>.batches.jsonl`` records every batch as soon as
it is submitted, with everything needed to turn its results into records. A
run that was interrupted between submit and download finds the open batch
there and downloads it, instead of paying for the same requests twice.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any, Awaitable, Callable, TypeVar

from .errors import InputError
from .providers import Request, Response
from .retry import BATCH_LINE_FAILED, FatalError, RetriesExhausted, TransientError, call_with_retries, with_timeout

from .collect import PreparedRequest, _now, drop_partial_line

if TYPE_CHECKING:
    from .collect import Cell, Collector

T = TypeVar("T")
SUBMITTED = "submitted"
COLLECTED = "collected"
# A batch the provider failed, or no longer knows: its requests go into a new batch.
ABANDONED = "abandoned"
# Requests per batch: an OpenAI batch file may hold up to 50,000 requests and 200 MB
# (the openai client 3.63's docstring of batches.create); larger rounds are split.
# NOTE: the file size is not checked, and Anthropic's own limits were not looked up.
MAX_BATCH_REQUESTS = 50_000


def ledger_path(store_path: str | Path) -> Path:
    """Return the batch ledger that belongs to a store: data/store/<model>.batches.jsonl."""
    store_path = Path(store_path)
    return store_path.with_name(store_path.stem + ".batches.jsonl")


class BatchLedger:
    """The append-only file of a model's batches: one line when submitted, one when collected."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.entries: list[dict[str, Any]] = []
        if self.path.exists():
            # A cut line described a batch that was never recorded; nothing may be appended to it.
            drop_partial_line(self.path)
            with self.path.open(encoding="utf-8") as stream:
                for number, line in enumerate(stream, start=1):
                    try:
                        self.entries.append(json.loads(line))
                    except json.JSONDecodeError:
                        raise InputError(str(self.path), f"line {number}", "not a ledger entry",
                                         "restore the file from git; it is only ever appended to") from None

    def open_batches(self) -> list[dict[str, Any]]:
        """Return the submitted batches that were neither collected nor abandoned, oldest first."""
        closed = {entry["batch_id"] for entry in self.entries if entry["event"] in (COLLECTED, ABANDONED)}
        return [entry for entry in self.entries if entry["event"] == SUBMITTED and entry["batch_id"] not in closed]

    def append(self, entry: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as stream:
            stream.write(json.dumps(entry, sort_keys=True, ensure_ascii=False) + "\n")
            stream.flush()
            os.fsync(stream.fileno())
        self.entries.append(entry)


class BatchRunner:
    """Run one model's collection through its provider's batch API."""

    def __init__(self, collector: Collector):
        self.collector = collector
        self.settings = collector.settings
        self.ledger = BatchLedger(ledger_path(collector.store.path))
        self.failures: Counter = Counter()  # request key -> batches that returned no answer for it
        self.stored_now: set[str] = set()  # keys whose answers this run stored
        self._done_cells = 0

    async def run(self) -> list[dict[str, Any]]:
        """Collect every cell through batches; return the view's records in their fixed order."""
        collector = self.collector
        cells = collector.cells()
        for entry in self.ledger.open_batches():
            if self._origin(entry) != self._origin(None):
                collector.log.info("leaving open batch %s alone: it went to %s, not to the current %s",
                                   entry["batch_id"], self._origin(entry), self._origin(None))
                continue
            collector.log.info("resuming batch %s (%d requests) submitted at %s", entry["batch_id"],
                               len(entry["requests"]), entry["submitted_at"])
            await self._finish(entry, committed=True)
            self._report_progress(cells)
            if collector.stopping:
                break
        while not collector.stopping:
            pending = self._pending(cells)
            if not pending:
                break
            chosen = self._within_cap(pending)
            if not chosen:
                break
            entry = await self._submit(chosen)
            if entry is None:
                break
            await self._finish(entry, committed=False)
            self._report_progress(cells)
        if collector.stopping:
            raise collector._stop
        view = []
        for cell in cells:
            records, _ = collector.stored_attempts(cell)
            view.extend(records)
        collector.reused = sum(1 for record in view if record["key"] not in self.stored_now)
        return view

    def _origin(self, entry: dict[str, Any] | None) -> tuple[str, str, str | None]:
        """Return where a ledger entry's batch went (or the current settings': None)."""
        if entry is None:
            return self.settings.provider, self.settings.model, self.settings.engine.get("base_url")
        return entry["provider"], entry["model"], entry.get("base_url")

    def _pending(self, cells: list[Cell]) -> dict[str, tuple[PreparedRequest, Cell]]:
        pending = {}
        for cell in cells:
            _, prepared = self.collector.stored_attempts(cell)
            if prepared is not None:
                pending[prepared.key] = (prepared, cell)
        return pending

    def _report_progress(self, cells: list[Cell]) -> None:
        done = sum(1 for cell in cells if self.collector.stored_attempts(cell)[1] is None)
        if self.collector._progress and done > self._done_cells:
            self.collector._progress(done - self._done_cells)
        self._done_cells = done

    def _within_cap(self, pending: dict[str, tuple[PreparedRequest, Cell]]) -> list[tuple[PreparedRequest, Cell]]:
        """Reserve the cost bound of as many pending requests as the cap and the batch size allow.

        Requests that do not fit wait for a later round, when the actual costs of
        this one are known. The run stops only when not even one request fits.
        """
        chosen = []
        for prepared, cell in pending.values():
            if len(chosen) == MAX_BATCH_REQUESTS:
                break
            bound = self.collector.request_bound(prepared)
            if not self.collector.spending.reserve(bound):
                if not chosen:
                    self.collector.reserve_or_stop(bound)
                break
            chosen.append((prepared, cell))
        return chosen

    async def _submit(self, chosen: list[tuple[PreparedRequest, Cell]]) -> dict[str, Any] | None:
        requests = {prepared.key: prepared.request for prepared, _ in chosen}
        batch_id = await self._call(lambda: self.collector.provider.submit_batch(requests), "submitting a batch")
        if batch_id is None:
            for prepared, _ in chosen:
                self.collector.spending.release(self.collector.request_bound(prepared))
            return None
        # NOTE: a kill between the provider creating the batch and this line reaching the
        # disk loses the batch id; the next run then submits the same requests again.
        entry = {
            "event": SUBMITTED,
            "batch_id": batch_id,
            "provider": self.settings.provider,
            "model": self.settings.model,
            "base_url": self.settings.engine.get("base_url"),
            "submitted_at": _now(),
            "requests": [{"key": prepared.key, "label": cell.label, "request": dataclasses.asdict(prepared.request),
                          "fields": prepared.fields} for prepared, cell in chosen],
        }
        self.ledger.append(entry)
        self.collector.log.info("submitted batch %s with %d requests", batch_id, len(chosen))
        return entry

    async def _finish(self, entry: dict[str, Any], *, committed: bool) -> None:
        """Wait for a batch, store its answers and count what it did not answer.

        ``committed`` batches come from an earlier run: their cost bounds are
        reserved here without checking the cap, because they were already sent.
        """
        collector = self.collector
        batch_id = entry["batch_id"]
        prepared = {line["key"]: (PreparedRequest(line["key"], Request(**line["request"]), line["fields"]),
                                  line["label"]) for line in entry["requests"]}
        bounds = {key: collector.request_bound(request) for key, (request, _) in prepared.items()}
        if committed:
            for bound in bounds.values():
                collector.spending.reserved += bound
        polls = 0
        while True:
            ended = await self._call(lambda: collector.provider.batch_ended(batch_id), f"polling batch {batch_id}",
                                     abandon=batch_id)
            if ended is None:
                return  # stopping; unless abandoned, the batch stays open in the ledger for the next run
            if ended:
                break
            polls += 1
            collector.log.debug("batch %s still running (poll %d)", batch_id, polls)
            await asyncio.sleep(self.settings.batch_poll_s)
        requests = {key: request.request for key, (request, _) in prepared.items()}
        outcomes = await self._call(lambda: collector.provider.batch_results(batch_id, requests),
                                    f"downloading batch {batch_id}", abandon=batch_id)
        if outcomes is None:
            return
        answered = failed = 0
        for key, (request, label) in prepared.items():
            outcome = outcomes.get(key)
            if isinstance(outcome, Response):
                if collector.store.get(key) is None:
                    record = collector.make_record(request, outcome, requested_at=entry["submitted_at"],
                                                   latency_s=None, retries=self.failures[key], batch_id=batch_id)
                    collector.spending.settle(bounds[key], record["cost_usd"])
                    collector.store.append(record)
                    collector.sent += 1
                    self.stored_now.add(key)
                else:
                    collector.spending.release(bounds[key])
                answered += 1
                continue
            collector.spending.release(bounds[key])
            failed += 1
            if isinstance(outcome, FatalError):
                collector.stop(f"{label}: {outcome.cause}", outcome.fix)
                continue
            error = outcome if isinstance(outcome, TransientError) else \
                TransientError(BATCH_LINE_FAILED, "the batch's results have no line for this request")
            self.failures[key] += 1
            collector.retries[error.kind] += 1
            collector.log.info("batch %s did not answer %s (request %s): %s; it goes into the next batch",
                               batch_id, label, key[:12], error)
            if self.failures[key] > self.settings.retry.retries:
                collector.stop(f"{label}: {self.failures[key]} batches returned no answer, last: {error}",
                               "the provider keeps failing: wait, then run collect again to resume")
        self.ledger.append({"event": COLLECTED, "batch_id": batch_id, "collected_at": _now(),
                            "answered": answered, "failed": failed})
        collector.log.info("collected batch %s: %d answered, %d to send again", batch_id, answered, failed)

    async def _call(self, call: Callable[[], Awaitable[T]], what: str, abandon: str | None = None) -> T | None:
        """Run one batch API call with the retry layer; None (and the run stopping) when it fails for good.

        With ``abandon``, an error that retrying cannot fix marks that batch abandoned
        in the ledger, so that the next run sends its requests in a new batch
        instead of asking for the failed one again.
        """
        collector = self.collector

        def on_retry(number: int, error: TransientError, delay: float) -> None:
            collector.retries[error.kind] += 1
            collector.log.info("retry %d/%d of %s: %s; waiting %.2f s", number, self.settings.retry.retries, what,
                               error, delay)

        try:
            result, _ = await call_with_retries(lambda: with_timeout(call(), self.settings.timeout_s),
                                                self.settings.retry, on_retry=on_retry)
            return result
        except FatalError as error:
            fix = error.fix
            if abandon is not None:
                self.ledger.append({"event": ABANDONED, "batch_id": abandon, "abandoned_at": _now(),
                                    "reason": error.cause})
                fix = (f"{fix}; batch {abandon} is marked abandoned in {self.ledger.path}, so the next run "
                       "sends its unanswered requests in a new batch")
            collector.stop(f"{what}: {error.cause}", fix)
        except RetriesExhausted as error:
            collector.stop(f"{what}: {error}", "wait, then run collect again: open batches are resumed")
        return None
