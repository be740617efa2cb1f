"""The record format of collected answers, and a reader that validates it.

One JSON object per line in ``data/raw/<model>.jsonl``, one per request. The
fields every record carries (values may be null where they do not apply):

===================  ===========================================================
key                  hash of everything that determines the request
model                the model's slug in params.yaml
provider             llama_cpp, openai, anthropic or openai_compatible
model_requested      the model id sent to the provider
model_returned       the model id the provider reported
battery              ``pvq`` for the questionnaire, ``dilemmas`` for the dilemmas
mode                 ``item`` (one item per request) or ``block`` (a whole trial)
answer_mode          ``text`` or ``logprobs``
template             id of the prompt template
instrument           id of the instrument
form                 gender form of the item texts: neutral, male or female
trial                simulated respondent, from 1
item                 item number (item mode); null in block mode
items                item numbers asked, in the order shown (block mode)
numbering            number printed in the prompt -> item number (block mode, optional)
attempt              0 for the first ask, 1, 2 ... for re-asks of an invalid answer
seed                 the sampling seed of this call
sampling             temperature, top_p, max_tokens ... as sent
reply                the reply text exactly as returned
finish_reason        the provider's finish reason
distribution         logprobs mode: probabilities of 1-6 renormalized over the
                     digits, ``digit_mass`` before renormalizing, ``mean``, ``argmax``
usage                token counts as reported
latency_s            seconds from sending the request to its reply (the try that
                     succeeded; null for a batch)
cost_usd             estimated cost
requested_at         UTC time the request was sent (ISO 8601): the try that
                     succeeded, or the batch's submission
received_at          UTC time the reply arrived
error                message of a failed request, else null
package_version      llmvalues version that collected the record
===================  ===========================================================

Fields that records collected by earlier versions lack (readers use ``get``):

===================  ===========================================================
system_fingerprint   the backend configuration the provider reported (OpenAI)
retries              failed tries before this answer (retried errors, batch rounds)
batch_id             the provider's batch that answered it, else null
===================  ===========================================================

Which of these fields describe the collection event rather than the answer
(``EVENT_FIELDS``) matters when two runs are compared: a resumed run or a run
with injected faults has the same records except for them.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Iterator

from .errors import InputError
from .values import N_ITEMS, SCALE_MAX, SCALE_MIN

RECORD_FIELDS = (
    "key", "model", "provider", "model_requested", "model_returned", "battery", "mode",
    "answer_mode", "template", "instrument", "form", "trial", "item", "items", "numbering",
    "attempt", "seed", "sampling", "reply", "finish_reason", "distribution", "usage",
    "latency_s", "cost_usd", "requested_at", "received_at", "error", "package_version",
)
OPTIONAL_RECORD_FIELDS = ("system_fingerprint", "retries", "batch_id")
EVENT_FIELDS = ("latency_s", "requested_at", "received_at", "retries", "batch_id", "package_version")
QUESTIONNAIRE = "pvq"
# The questionnaire and the dilemmas (``llmvalues.dilemma_answers.DILEMMAS``).
BATTERIES = (QUESTIONNAIRE, "dilemmas")
MODES = ("item", "block")
ANSWER_MODES = ("text", "logprobs")
DIGITS = tuple(str(point) for point in range(SCALE_MIN, SCALE_MAX + 1))


def read_records(path: str | Path, model: str,
                 expected: dict[str, Any] | None = None) -> Iterator[dict[str, Any]]:
    """Yield the validated records of one model's view file, in file order.

    ``expected`` maps record fields to the values the current params select (such
    as ``instrument`` and ``form``). A questionnaire record with another value is
    an error, because a view must contain only what the current params request.

    Raises InputError naming the file, the line and the field of the first bad
    record. A missing file is an error too: the model is listed in params.yaml
    but nothing was collected for it.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(str(path), None, f"no collected records for model '{model}'",
                         "collect its answers into this file (record format: llmvalues/records.py) "
                         "or remove the model from models in params.yaml")
    with path.open(encoding="utf-8") as stream:
        for number, line in enumerate(stream, start=1):
            if not line.strip():
                continue
            where = f"line {number}"
            try:
                record = json.loads(line)
            except json.JSONDecodeError as error:
                raise InputError(str(path), where, f"invalid JSON ({error.msg})",
                                 "restore the file from git or re-run collect") from None
            validate_record(record, str(path), where, model)
            if record["battery"] == QUESTIONNAIRE:
                for name, value in (expected or {}).items():
                    if record[name] != value:
                        raise InputError(str(path), f"{where}: {name}",
                                         f"the record has {record[name]!r} but params.yaml selects {value!r}",
                                         "re-run collect so that the view matches the current params")
            yield record


def validate_record(record: Any, source: str, where: str, model: str) -> None:
    """Check one record's fields and types; raise InputError on the first problem."""
    if not isinstance(record, dict):
        raise InputError(source, where, "a record must be a JSON object", "restore the file or re-run collect")
    missing = [name for name in RECORD_FIELDS if name not in record]
    if missing:
        raise InputError(source, f"{where}: {missing[0]}", "missing record field",
                         f"records need the fields {', '.join(RECORD_FIELDS)}")

    def fail(name: str, problem: str) -> None:
        raise InputError(source, f"{where}: {name}", problem, "restore the file or re-run collect")

    if not isinstance(record["key"], str) or not record["key"]:
        fail("key", "must be non-empty text")
    if record["model"] != model:
        fail("model", f"is {record['model']!r} but this is the view of model {model!r}")
    if record["battery"] not in BATTERIES:
        fail("battery", f"must be one of {', '.join(BATTERIES)}, got {record['battery']!r}")
    if record["battery"] != QUESTIONNAIRE:
        return  # other batteries (dilemmas) are validated by their own stage
    if record["mode"] not in MODES:
        fail("mode", f"must be one of {', '.join(MODES)}, got {record['mode']!r}")
    if record["answer_mode"] not in ANSWER_MODES:
        fail("answer_mode", f"must be one of {', '.join(ANSWER_MODES)}, got {record['answer_mode']!r}")
    check_trial_and_attempt(record, fail)
    if record["mode"] == "item":
        if not _is_item_number(record["item"]):
            fail("item", f"must be an item number 1-{N_ITEMS}, got {record['item']!r}")
    else:
        items = record["items"]
        if not isinstance(items, list) or not items or not all(_is_item_number(item) for item in items):
            fail("items", f"must be a non-empty list of item numbers 1-{N_ITEMS}")
        if len(set(items)) != len(items):
            fail("items", "lists an item twice")
        numbering = record["numbering"]
        if numbering is not None:
            if not isinstance(numbering, dict) or not all(
                str(label).isdigit() and _is_item_number(item) for label, item in numbering.items()
            ):
                fail("numbering", "must map printed numbers to item numbers")
    check_reply_fields(record, fail)


def check_trial_and_attempt(record: dict[str, Any], fail) -> None:
    """Check that trial (from 1) and attempt (from 0) are whole numbers; ``fail(field, problem)`` on a problem."""
    for name, minimum in (("trial", 1), ("attempt", 0)):
        value = record[name]
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            fail(name, f"must be an integer of at least {minimum}, got {value!r}")


def check_reply_fields(record: dict[str, Any], fail) -> None:
    """Check the reply, finish reason, error and digit distribution of any battery's record."""
    for name in ("reply", "finish_reason", "error"):
        if record[name] is not None and not isinstance(record[name], str):
            fail(name, "must be text or null")
    if record["distribution"] is not None:
        validate_distribution(record["distribution"], fail)


def _is_item_number(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= N_ITEMS


def validate_distribution(distribution: Any, fail) -> None:
    """Check a digit distribution's fields; call ``fail(field, problem)`` on the first problem."""
    if not isinstance(distribution, dict):
        fail("distribution", "must be an object with probabilities, digit_mass, mean and argmax")
    probabilities = distribution.get("probabilities")
    if not isinstance(probabilities, dict) or sorted(probabilities) != list(DIGITS):
        fail("distribution.probabilities", f"must give a probability for each of {', '.join(DIGITS)}")
    values = [probabilities[digit] for digit in DIGITS]
    if not all(_is_number(value) and value >= 0 for value in values):
        fail("distribution.probabilities", "must be non-negative numbers")
    if abs(sum(values) - 1.0) > 1e-6:
        fail("distribution.probabilities", f"must sum to 1 over the digits, sum is {sum(values)}")
    mass = distribution.get("digit_mass")
    if not _is_number(mass) or not 0 <= mass <= 1 + 1e-9:
        fail("distribution.digit_mass", "must be a number from 0 to 1")
    mean = distribution.get("mean")
    if not _is_number(mean) or not SCALE_MIN <= mean <= SCALE_MAX:
        fail("distribution.mean", f"must be a number from {SCALE_MIN} to {SCALE_MAX}")
    if distribution.get("argmax") not in range(SCALE_MIN, SCALE_MAX + 1):
        fail("distribution.argmax", f"must be a whole number from {SCALE_MIN} to {SCALE_MAX}")


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
