"""Dilemma answers: the shown order, the preference scale, and reading a reply in value terms.

Each model answers every dilemma in every trial on a 6-point scale from
"definitely option A" (1) to "definitely option B" (6), where A and B are the
options as shown. The shown order is counterbalanced: for each dilemma it
alternates from trial to trial, and a seeded coin per dilemma decides whether
trial 1 shows the file's order or the reverse, so within a trial about half of
the dilemmas are reversed.

The analysis works in the file's terms, whatever the shown order was:

- ``chose_a`` is 1 when the reply favours the file's first option (option A);
- ``strength`` is 6 for "definitely A" and 1 for "definitely B";
- ``chose_shown_first`` is 1 when the reply favours the option shown first, which
  measures position bias.

A reply gets a status from the questionnaire's taxonomy (``llmvalues.parsing``),
plus ``no_choice`` for a reply that picks both options or neither.
"""

from __future__ import annotations

import hashlib
import math
import re
from typing import Any

import pandas as pd

from .cleaning import mark_used
from .errors import InputError
from .records import check_reply_fields, check_trial_and_attempt
from .parsing import AMBIGUOUS, COUNTED_STATUSES, REFUSAL, STATUSES, UNPARSEABLE, VALID, ParsedReply, parse_reply

DILEMMAS = "dilemmas"  # the battery name in collected records
FILE_ORDER = "AB"  # the file's option A shown first
REVERSED = "BA"  # the file's option B shown first
SHOWN_ORDERS = (FILE_ORDER, REVERSED)
SCALE_POINTS = 6

# The preference scale as shown; "option A" is the option shown first.
DILEMMA_LABELS = {
    1: "Definitely option A",
    2: "Probably option A",
    3: "Leaning towards option A",
    4: "Leaning towards option B",
    5: "Probably option B",
    6: "Definitely option B",
}

NO_CHOICE = "no_choice"
DILEMMA_STATUSES = STATUSES + (NO_CHOICE,)

# Words that pick both options or neither. They are read only when the reply gives
# no scale point, so "both matter, but 2" is a valid 2.
_NO_CHOICE_CUE = re.compile(
    r"\b(?:both|neither|none of (?:them|these|the two)|no preference|equally|"
    r"(?:can ?not|can't|cannot|could not|couldn't|won't|will not|unable to) (?:choose|decide|pick))\b"
)

_SIDE = re.compile(r"\boption\s+([ab])\b")

CHOICE_COLUMNS = (
    "model", "trial", "dilemma", "value_a", "value_b", "attempt", "shown_order", "status", "rating",
    "strength", "chose_a", "chose_shown_first", "counted", "used", "rating_source", "digit_mass",
    "note", "finish_reason", "template", "dilemma_set", "model_returned", "key", "reply",
)
CHOICE_TEXT_COLUMNS = ("reply", "note", "model_returned", "template")


def scale_text() -> str:
    """Return the preference scale as "N = label" lines, for the {scale} placeholder."""
    return "\n".join(f"{point} = {label}" for point, label in DILEMMA_LABELS.items())


def dilemma_seed(base_seed: int, trial: int, dilemma: str, attempt: int) -> int:
    """Derive the sampling seed of one dilemma call from (trial, dilemma id, attempt); 0 <= seed < 2**31."""
    digest = hashlib.sha256(f"{base_seed}:{trial}:dilemma:{dilemma}:{attempt}".encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF


def shown_order(base_seed: int, trial: int, dilemma: str) -> str:
    """Return the order in which a trial shows a dilemma's options: "AB" (file order) or "BA".

    The order alternates over trials, so each dilemma is shown both ways equally
    often (to within one trial). A seeded coin per dilemma sets the order of trial 1.
    """
    digest = hashlib.sha256(f"{base_seed}:order:{dilemma}".encode()).digest()
    coin = digest[0] & 1
    return REVERSED if (trial + coin) % 2 == 0 else FILE_ORDER


def parse_dilemma_reply(text: str | None, *, finish_reason: str | None = None,
                        error: str | None = None) -> ParsedReply:
    """Classify a reply to one dilemma and read its scale point (as shown, 1 = definitely option A).

    The questionnaire's parser reads digits, number words and the scale's labels. A
    reply without a counted scale point that picks both options or neither gets
    the status ``no_choice``. One that names a single side ("option B") without a
    scale point stays unparseable, because its strength would be a guess.
    """
    parsed = parse_reply(text, labels=DILEMMA_LABELS, finish_reason=finish_reason, error=error)
    if parsed.status not in (UNPARSEABLE, REFUSAL, AMBIGUOUS):
        return parsed
    sides = set(_SIDE.findall(text.lower()))
    if len(sides) == 1 and parsed.status == UNPARSEABLE:
        # "Option B. Neither is perfect." picks a side, but without a scale point.
        return ParsedReply(UNPARSEABLE, note="the reply names a side but gives no scale point")
    if _NO_CHOICE_CUE.search(text.lower()):
        note = "the reply picks both options or neither"
        if parsed.status == AMBIGUOUS:
            note += "; candidates " + ", ".join(f"{value:g}" for value in parsed.candidates)
        return ParsedReply(NO_CHOICE, candidates=parsed.candidates, note=note)
    return parsed


def in_file_terms(rating: int, order: str) -> dict[str, int]:
    """Turn a shown scale point into the file's terms: strength, chose_a and chose_shown_first."""
    if order not in SHOWN_ORDERS:
        raise ValueError(f"shown order must be one of {', '.join(SHOWN_ORDERS)}, got {order!r}")
    shown_first = int(rating <= SCALE_POINTS // 2)
    strength = SCALE_POINTS + 1 - rating if order == FILE_ORDER else rating
    return {
        "strength": strength,
        "chose_a": shown_first if order == FILE_ORDER else 1 - shown_first,
        "chose_shown_first": shown_first,
    }


def _distribution_point(record: dict[str, Any]) -> ParsedReply:
    """Read the most probable scale point of a logprobs-mode record.

    The ordinal model needs whole scale points, so a dilemma uses the argmax of the
    digit distribution (never its mean).
    """
    distribution = record["distribution"]
    return ParsedReply(VALID, rating=int(distribution["argmax"]),
                       note=f"argmax of the digit distribution, digit mass {distribution['digit_mass']:.4g}")


def validate_dilemma_record(record: dict[str, Any], source: str, where: str,
                            expected_set: str | None = None) -> None:
    """Check the fields that only dilemma records carry; raise InputError on the first problem."""
    def fail(name: str, problem: str) -> None:
        raise InputError(source, f"{where}: {name}", problem, "restore the file from git or re-run collect")

    for name in ("dilemma", "shown_order"):
        if name not in record:
            fail(name, "missing field of a dilemma record")
    if not isinstance(record["dilemma"], str) or not record["dilemma"]:
        fail("dilemma", "must be a dilemma id")
    if record["shown_order"] not in SHOWN_ORDERS:
        fail("shown_order", f"must be one of {', '.join(SHOWN_ORDERS)}, got {record['shown_order']!r}")
    check_trial_and_attempt(record, fail)
    check_reply_fields(record, fail)
    if record["reply"] is None and record["error"] is None and record["distribution"] is None:
        fail("distribution", "a record without a reply needs the digit distribution")
    if expected_set is not None and record["instrument"] != expected_set:
        raise InputError(source, f"{where}: instrument",
                         f"the record answers the dilemma set {record['instrument']!r} but params.yaml selects "
                         f"{expected_set!r}", "re-run collect so that the view matches dilemmas.file")


def choices_table(records_by_model: dict[str, list[dict[str, Any]]], values: dict[str, tuple[str, str]], *,
                  sources: dict[str, str] | None = None, dilemma_set: str | None = None) -> pd.DataFrame:
    """Read every dilemma record into one row per (model, trial, dilemma, attempt).

    ``values`` maps each dilemma id of the current set to (value of A, value of B),
    and ``dilemma_set`` is the set's id when records must match it. Records of
    another set or of dilemmas not in the set are an error: the view must match
    the current params. For each (model, trial, dilemma) one row is marked ``used``:
    the first counted attempt, or the last attempt when none counted.
    """
    rows = []
    for model, records in records_by_model.items():
        source = (sources or {}).get(model, f"records of model {model}")
        seen: dict[tuple[int, str, int], str] = {}
        for number, record in enumerate(records, start=1):
            if record["battery"] != DILEMMAS:
                continue
            where = f"record {number}"
            validate_dilemma_record(record, source, where, dilemma_set)
            dilemma = record["dilemma"]
            if dilemma not in values:
                raise InputError(source, f"{where}: dilemma", f"{dilemma!r} is not in the current dilemma set",
                                 "re-run collect so that the view matches dilemmas.file in params.yaml")
            cell = (record["trial"], dilemma, record["attempt"])
            if cell in seen:
                raise InputError(source, f"trial {cell[0]}, dilemma {cell[1]}, attempt {cell[2]}",
                                 f"answered by two records (keys {seen[cell]} and {record['key']})",
                                 "a view holds one record per attempt: re-run collect to rewrite it")
            seen[cell] = record["key"]
            rows.append(_choice_row(model, record, values[dilemma]))
    table = pd.DataFrame(rows, columns=list(CHOICE_COLUMNS))
    table = table.astype({"trial": int, "attempt": int, "counted": bool, "used": bool})
    order = {model: position for position, model in enumerate(records_by_model)}
    dilemma_order = {dilemma: position for position, dilemma in enumerate(values)}
    table = table.assign(_model=table["model"].map(order), _dilemma=table["dilemma"].map(dilemma_order))
    table = table.sort_values(["_model", "trial", "_dilemma", "attempt"], kind="stable")
    table = table.drop(columns=["_model", "_dilemma"]).reset_index(drop=True)
    table["used"] = mark_used(table, ["model", "trial", "dilemma"])
    return table


def _choice_row(model: str, record: dict[str, Any], values: tuple[str, str]) -> dict[str, Any]:
    if record["reply"] is None and record["error"] is None:
        parsed, source_kind = _distribution_point(record), "distribution"
    else:
        parsed = parse_dilemma_reply(record["reply"], finish_reason=record["finish_reason"], error=record["error"])
        source_kind = "reply"
    terms = {"strength": math.nan, "chose_a": math.nan, "chose_shown_first": math.nan}
    if parsed.counted:
        terms = in_file_terms(parsed.rating, record["shown_order"])
    distribution = record["distribution"] or {}
    return {
        "model": model,
        "trial": record["trial"],
        "dilemma": record["dilemma"],
        "value_a": values[0],
        "value_b": values[1],
        "attempt": record["attempt"],
        "shown_order": record["shown_order"],
        "status": parsed.status,
        "rating": parsed.rating if parsed.counted else math.nan,
        **terms,
        "counted": parsed.counted,
        "used": False,
        "rating_source": source_kind,
        "digit_mass": distribution.get("digit_mass", math.nan),
        "note": parsed.note,
        "finish_reason": record["finish_reason"],
        "template": record["template"],
        "dilemma_set": record["instrument"],
        "model_returned": record["model_returned"],
        "key": record["key"],
        "reply": record["reply"],
    }


def status_counts(table: pd.DataFrame, models: list[str]) -> dict[str, dict[str, int]]:
    """Count the statuses of the used answers per model (every status, zeros included)."""
    used = table[table["used"]]
    return {model: {status: int(((used["model"] == model) & (used["status"] == status)).sum())
                    for status in DILEMMA_STATUSES}
            for model in models}


def counted_choices(table: pd.DataFrame) -> pd.DataFrame:
    """Return the used, counted answers: the rows the analysis models."""
    rows = table[table["used"] & table["status"].isin(COUNTED_STATUSES)]
    return rows.astype({"strength": int, "chose_a": int, "chose_shown_first": int}).reset_index(drop=True)
