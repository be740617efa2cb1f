"""Turn collected records into one row per answer, each with its status and rating.

Every attempt at every (model, trial, item) becomes a row; nothing is dropped.
For each cell one row is marked ``used``: the first attempt whose status is
counted (valid or hedged), or the last attempt when none is. Scoring reads the
used rows only.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pandas as pd

from .errors import InputError
from .parsing import COUNTED_STATUSES, STATUSES, UNPARSEABLE, VALID, ParsedReply, parse_block_reply, parse_reply
from .records import QUESTIONNAIRE
from .spending import recorded_cost
from .values import N_ITEMS

ANSWER_COLUMNS = (
    "model", "trial", "item", "value", "attempt", "mode", "answer_mode", "status", "rating",
    "counted", "used", "rating_source", "digit_mass", "distribution_mean", "distribution_argmax",
    "candidates", "note", "finish_reason", "template", "instrument", "form", "model_returned",
    "key", "reply",
)
TEXT_COLUMNS = ("reply", "note", "model_returned", "template")


def _distribution_rating(distribution: dict, how: str, min_digit_mass: float) -> ParsedReply:
    mass = distribution["digit_mass"]
    if mass < min_digit_mass:
        return ParsedReply(UNPARSEABLE, note=f"digit mass {mass:.4g} is below clean.min_digit_mass {min_digit_mass}")
    rating = distribution["mean"] if how == "mean" else int(distribution["argmax"])
    return ParsedReply(VALID, rating=rating)


def _uses_distribution(record: dict, rating_source: str) -> bool:
    """Decide which rating a record contributes: its sampled reply or its digit distribution.

    When a record contains both, ``rating_source`` decides; otherwise the one it has is used.
    """
    if record["distribution"] is None or record["error"]:
        return False
    has_reply = record["reply"] is not None
    return rating_source == "distribution" or not has_reply


def parse_record(record: dict, *, labels: dict[int, str], rating_source: str,
                 distribution_rating: str, min_digit_mass: float) -> tuple[dict[int, ParsedReply], list[int], str]:
    """Parse one questionnaire record into (item -> ParsedReply, unexpected item lines, rating source)."""
    if record["mode"] == "item":
        if _uses_distribution(record, rating_source):
            parsed = _distribution_rating(record["distribution"], distribution_rating, min_digit_mass)
            return {record["item"]: parsed}, [], "distribution"
        parsed = parse_reply(record["reply"], labels=labels, finish_reason=record["finish_reason"],
                             error=record["error"])
        return {record["item"]: parsed}, [], "reply"
    numbering = None
    if record["numbering"] is not None:
        numbering = {int(label): item for label, item in record["numbering"].items()}
    block = parse_block_reply(record["reply"], record["items"], numbering=numbering, labels=labels,
                              finish_reason=record["finish_reason"], error=record["error"])
    return block.items, list(block.unexpected_items), "reply"


def clean_records(
    records_by_model: dict[str, list[dict[str, Any]]],
    *,
    key: dict[int, str],
    labels: dict[int, str],
    rating_source: str = "reply",
    distribution_rating: str = "mean",
    min_digit_mass: float = 0.0,
    sources: dict[str, str] | None = None,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Parse every questionnaire record and summarize answer quality.

    Parameters
    ----------
    records_by_model : dict of str to list of dict
        Validated records (see ``llmvalues.records``) per model slug, in the
        order the models should appear in the outputs.
    key : dict of int to str
        Item number -> value code (the instrument's scoring key).
    labels : dict of int to str
        The instrument's scale labels, used to read label answers.
    rating_source : {"reply", "distribution"}
        Which rating counts when a record holds both a reply and a digit distribution.
    distribution_rating : {"mean", "argmax"}
        How a digit distribution becomes a rating.
    min_digit_mass : float
        A distribution whose digits had less probability mass than this is unparseable.
    sources : dict of str to str, optional
        Model slug -> file the records came from, for error messages.

    Returns
    -------
    answers : DataFrame
        One row per (model, trial, item, attempt), columns ``ANSWER_COLUMNS``.
    quality : dict
        Counts and rates per model and status (the content of quality.json).
    """
    rows = []
    unexpected_counts: Counter = Counter()
    record_counts: Counter = Counter()
    for model, records in records_by_model.items():
        seen: dict[tuple[int, int, int], str] = {}
        for record in records:
            if record["battery"] != QUESTIONNAIRE:
                continue
            record_counts[model] += 1
            parsed, unexpected, source_kind = parse_record(
                record, labels=labels, rating_source=rating_source,
                distribution_rating=distribution_rating, min_digit_mass=min_digit_mass,
            )
            unexpected_counts[model] += len(unexpected)
            for item, result in parsed.items():
                cell = (record["trial"], item, record["attempt"])
                if cell in seen:
                    raise InputError(
                        (sources or {}).get(model, f"records of model {model}"),
                        f"trial {cell[0]}, item {cell[1]}, attempt {cell[2]}",
                        f"answered by two records (keys {seen[cell]} and {record['key']})",
                        "a view holds one record per attempt: re-run collect to rewrite it",
                    )
                seen[cell] = record["key"]
                distribution = record["distribution"] or {}
                rows.append({
                    "model": model,
                    "trial": record["trial"],
                    "item": item,
                    "value": key[item],
                    "attempt": record["attempt"],
                    "mode": record["mode"],
                    "answer_mode": record["answer_mode"],
                    "status": result.status,
                    "rating": float(result.rating) if result.rating is not None else float("nan"),
                    "counted": result.counted,
                    "used": False,
                    "rating_source": source_kind,
                    "digit_mass": distribution.get("digit_mass", float("nan")),
                    "distribution_mean": distribution.get("mean", float("nan")),
                    "distribution_argmax": distribution.get("argmax", float("nan")),
                    "candidates": ";".join(f"{value:g}" for value in result.candidates),
                    "note": result.note,
                    "finish_reason": record["finish_reason"],
                    "template": record["template"],
                    "instrument": record["instrument"],
                    "form": record["form"],
                    "model_returned": record["model_returned"],
                    "key": record["key"],
                    "reply": record["reply"],
                })

    for model in records_by_model:
        if record_counts[model] == 0:
            raise InputError((sources or {}).get(model, f"records of model {model}"), None,
                             "no questionnaire records", "re-run collect for this model, "
                             "or remove it from models in params.yaml")

    answers = pd.DataFrame(rows, columns=list(ANSWER_COLUMNS))
    if answers.empty:
        answers = answers.astype({"trial": int, "item": int, "attempt": int, "rating": float,
                                  "counted": bool, "used": bool})
    order = {model: position for position, model in enumerate(records_by_model)}
    answers["model_order"] = answers["model"].map(order)
    answers = answers.sort_values(["model_order", "trial", "item", "attempt"], kind="stable")
    answers = answers.drop(columns="model_order").reset_index(drop=True)
    answers["used"] = mark_used(answers, ["model", "trial", "item"])

    quality = summarize_quality(answers, list(records_by_model), record_counts, unexpected_counts)
    for model, records in records_by_model.items():
        quality["models"][model].update(summarize_collection(records))
    quality["rating_source"] = rating_source
    quality["distribution_rating"] = distribution_rating
    return answers, quality


def mark_used(answers: pd.DataFrame, cell: list[str]) -> pd.Series:
    """Mark per cell the first counted attempt, or the last attempt when none counted.

    ``cell`` names the columns of a cell, such as model, trial and item. ``answers``
    must be sorted by attempt within each cell.
    """
    used = pd.Series(False, index=answers.index)
    if answers.empty:
        return used
    has_counted = answers.groupby(cell, sort=False)["counted"].transform("any").astype(bool)
    first_counted = answers[answers["counted"]].groupby(cell, sort=False).head(1).index
    last_attempt = answers[~has_counted].groupby(cell, sort=False).tail(1).index
    used[first_counted] = True
    used[last_attempt] = True
    return used


def summarize_quality(answers: pd.DataFrame, models: list[str], record_counts: Counter,
                      unexpected_counts: Counter) -> dict[str, Any]:
    """Count statuses per model: of the used answers, and of every attempt."""
    summary: dict[str, Any] = {"models": {}}
    for model in models:
        rows = answers[answers["model"] == model]
        used = rows[rows["used"]]
        trials = sorted(used["trial"].unique().tolist())
        cells = len(used)
        status_counts = {status: int((used["status"] == status).sum()) for status in STATUSES}
        attempt_counts = {status: int((rows["status"] == status).sum()) for status in STATUSES}
        attempts_per_cell = rows.groupby(["trial", "item"]).size()
        from_distribution = rows[rows["rating_source"] == "distribution"]
        with_distribution = rows[rows["digit_mass"].notna()]
        expected = len(trials) * N_ITEMS
        summary["models"][model] = {
            "records": int(record_counts[model]),
            "trials": len(trials),
            "expected_answers": expected,
            "answers": cells,
            "missing_answers": expected - cells,
            "status_counts": status_counts,
            "status_rates": {status: (count / cells if cells else None) for status, count in status_counts.items()},
            "counted_rate": (sum(status_counts[status] for status in COUNTED_STATUSES) / expected) if expected else None,
            "attempt_status_counts": attempt_counts,
            "reasked_answers": int((attempts_per_cell > 1).sum()),
            "unexpected_item_lines": int(unexpected_counts[model]),
            "distribution_answers": len(from_distribution),
            "distribution_records": len(with_distribution),
            "mean_digit_mass": float(with_distribution["digit_mass"].mean()) if len(with_distribution) else None,
            "min_digit_mass": float(with_distribution["digit_mass"].min()) if len(with_distribution) else None,
        }
    return summary


def summarize_collection(records: list[dict[str, Any]]) -> dict[str, Any]:
    """Sum what collecting a model's view cost, over every battery.

    ``spend_usd`` adds the recorded costs; ``unpriced_records`` counts records of
    a remote model whose cost is unknown (no price in params.yaml), which the sum
    leaves out. ``retries`` adds the failed tries before each answer.
    """
    spend = 0.0
    unpriced = retries = 0
    for record in records:
        cost = recorded_cost(record)
        if cost is None:
            unpriced += 1
        else:
            spend += cost
        count = record.get("retries")
        if isinstance(count, int) and not isinstance(count, bool):
            retries += count
    return {"all_records": len(records), "spend_usd": spend, "unpriced_records": unpriced, "retries": retries}


def ratings_table(answers: pd.DataFrame, models: list[str]) -> pd.DataFrame:
    """Pivot the used answers into one row per (model, trial) and one column per item 1-57.

    A cell is NaN when its used answer was not counted (so never a default rating).
    """
    used = answers[answers["used"]]
    counted = used["status"].isin(COUNTED_STATUSES)
    ratings = used["rating"].where(counted)
    table = (
        pd.DataFrame({"model": used["model"], "trial": used["trial"], "item": used["item"], "rating": ratings})
        .pivot(index=["model", "trial"], columns="item", values="rating")
        .reindex(columns=range(1, N_ITEMS + 1))
    )
    table.columns = list(range(1, N_ITEMS + 1))
    order = {model: position for position, model in enumerate(models)}
    index = sorted(table.index, key=lambda pair: (order.get(pair[0], len(order)), pair[1]))
    return table.loc[index] if index else table
