"""Dilemma replies: the shown order, parsing, and the recoding into the file's terms."""

import math

import pandas as pd
import pytest

from llmvalues.dilemma_answers import (
    DILEMMAS, FILE_ORDER, NO_CHOICE, REVERSED, choices_table, counted_choices, dilemma_seed, in_file_terms,
    parse_dilemma_reply, scale_text, shown_order, status_counts,
)
from llmvalues.errors import InputError
from llmvalues.parsing import AMBIGUOUS, EMPTY, ERROR, TRUNCATED, UNPARSEABLE, VALID

VALUES = {"d01": ("SDA", "COR"), "d02": ("POD", "BEC")}


def record(trial=1, dilemma="d01", attempt=0, reply="2", order=FILE_ORDER, **changes):
    base = {
        "key": f"k{trial}{dilemma}{attempt}", "model": "m", "provider": "llama_cpp", "model_requested": "x",
        "model_returned": "x", "battery": DILEMMAS, "mode": "item", "answer_mode": "text",
        "template": "dilemma-chat-v1", "instrument": "set-v1", "form": None, "trial": trial, "item": None,
        "items": None, "numbering": None, "attempt": attempt, "seed": 1, "sampling": {}, "reply": reply,
        "finish_reason": "stop", "distribution": None, "usage": {}, "latency_s": 0.1, "cost_usd": 0.0,
        "requested_at": "t", "received_at": "t", "error": None, "package_version": "0",
        "dilemma": dilemma, "shown_order": order,
    }
    base.update(changes)
    return base


def test_shown_order_alternates_over_trials():
    orders = [shown_order(7, trial, "d01") for trial in range(1, 11)]
    assert orders.count(FILE_ORDER) == 5
    assert all(first != second for first, second in zip(orders, orders[1:]))


def test_shown_order_differs_between_dilemmas():
    first_trial = {shown_order(7, 1, f"d{number:02d}") for number in range(1, 33)}
    assert first_trial == {FILE_ORDER, REVERSED}


def test_shown_order_is_seeded():
    assert [shown_order(7, 1, f"d{n}") for n in range(40)] != [shown_order(8, 1, f"d{n}") for n in range(40)]


def test_dilemma_seed_depends_on_every_part():
    seeds = {dilemma_seed(7, trial, dilemma, attempt)
             for trial in (1, 2) for dilemma in ("d01", "d02") for attempt in (0, 1)}
    assert len(seeds) == 8


def test_scale_text_has_six_lines():
    lines = scale_text().splitlines()
    assert lines[0] == "1 = Definitely option A"
    assert lines[5] == "6 = Definitely option B"


@pytest.mark.parametrize("text, rating", [
    ("2", 2), ("5.", 5), ("I'd say 4", 4), ("Probably option B", 5), ("Definitely option A", 1),
    ("Both matter, but 3", 3),
])
def test_parse_reads_a_point(text, rating):
    parsed = parse_dilemma_reply(text)
    assert parsed.status == VALID
    assert parsed.rating == rating


@pytest.mark.parametrize("text", ["Both", "Neither option.", "I cannot choose between them.",
                                  "I would do both", "No preference", "1 and 6, both"])
def test_parse_both_or_neither(text):
    assert parse_dilemma_reply(text).status == NO_CHOICE


@pytest.mark.parametrize("text, status", [
    ("Option A", UNPARSEABLE), ("I would choose option B. Neither is perfect.", UNPARSEABLE),
    ("Option A, although both have merit.", UNPARSEABLE),
    ("I cannot choose between option A and option B.", NO_CHOICE), ("3 or 4", AMBIGUOUS), ("", EMPTY), (None, EMPTY),
])
def test_parse_other_statuses(text, status):
    assert parse_dilemma_reply(text).status == status


def test_parse_truncated_and_error():
    assert parse_dilemma_reply("Both", finish_reason="length").status == TRUNCATED
    assert parse_dilemma_reply(None, error="timed out").status == ERROR


def test_seven_is_out_of_range():
    assert not parse_dilemma_reply("7").counted


@pytest.mark.parametrize("rating, order, strength, chose_a, shown_first", [
    (1, FILE_ORDER, 6, 1, 1), (3, FILE_ORDER, 4, 1, 1), (4, FILE_ORDER, 3, 0, 0), (6, FILE_ORDER, 1, 0, 0),
    (1, REVERSED, 1, 0, 1), (3, REVERSED, 3, 0, 1), (4, REVERSED, 4, 1, 0), (6, REVERSED, 6, 1, 0),
])
def test_in_file_terms(rating, order, strength, chose_a, shown_first):
    terms = in_file_terms(rating, order)
    assert terms["strength"] == strength
    assert terms["chose_a"] == chose_a
    assert terms["chose_shown_first"] == shown_first


def test_strength_agrees_with_side():
    for order in (FILE_ORDER, REVERSED):
        for rating in range(1, 7):
            terms = in_file_terms(rating, order)
            assert terms["chose_a"] == int(terms["strength"] >= 4)


def test_choices_table_recodes_and_marks_used():
    records = [
        record(trial=1, dilemma="d01", reply="2", order=FILE_ORDER),
        record(trial=1, dilemma="d02", attempt=0, reply="no idea", order=REVERSED),
        record(trial=1, dilemma="d02", attempt=1, reply="5", order=REVERSED),
        {**record(), "battery": "pvq", "dilemma": None},
    ]
    table = choices_table({"m": records}, VALUES)
    assert len(table) == 3
    assert table["used"].tolist() == [True, False, True]
    first = table.iloc[0]
    assert (first["value_a"], first["value_b"], first["strength"], first["chose_a"]) == ("SDA", "COR", 5, 1)
    reversed_row = table.iloc[2]
    assert (reversed_row["strength"], reversed_row["chose_a"], reversed_row["chose_shown_first"]) == (5, 1, 0)


def test_choices_table_keeps_uncounted_last_attempt():
    records = [record(attempt=0, reply="hm"), record(attempt=1, reply="Neither")]
    table = choices_table({"m": records}, VALUES)
    assert table["used"].tolist() == [False, True]
    assert table.iloc[1]["status"] == NO_CHOICE
    assert math.isnan(table.iloc[1]["strength"])
    assert counted_choices(table).empty


def test_choices_table_reads_the_distribution_argmax():
    distribution = {"probabilities": {str(d): p for d, p in zip(range(1, 7), (0.1, 0.5, 0.1, 0.1, 0.1, 0.1))},
                    "digit_mass": 0.9, "mean": 3.0, "argmax": 2}
    table = choices_table({"m": [record(reply=None, answer_mode="logprobs", distribution=distribution)]}, VALUES)
    assert table.iloc[0]["rating"] == 2
    assert table.iloc[0]["rating_source"] == "distribution"


def test_choices_table_unknown_dilemma():
    with pytest.raises(InputError, match="d99.*not in the current dilemma set"):
        choices_table({"m": [record(dilemma="d99")]}, VALUES, sources={"m": "data/raw/m.jsonl"})


def test_choices_table_duplicate_attempt():
    with pytest.raises(InputError, match="answered by two records"):
        choices_table({"m": [record(), {**record(), "key": "other"}]}, VALUES)


@pytest.mark.parametrize("field, value, message", [
    ("shown_order", "XY", "shown_order"), ("dilemma", "", "dilemma"), ("trial", 0, "trial"),
    ("reply", 5, "reply"),
])
def test_choices_table_bad_record(field, value, message):
    with pytest.raises(InputError, match=message):
        choices_table({"m": [record(**{field: value})]}, VALUES, sources={"m": "data/raw/m.jsonl"})


def test_status_counts_and_counted_choices():
    records = [record(trial=1, reply="2"), record(trial=2, reply="Both"), record(trial=3, reply="6")]
    table = choices_table({"m": records}, VALUES)
    counts = status_counts(table, ["m"])
    assert counts["m"]["valid"] == 2
    assert counts["m"][NO_CHOICE] == 1
    counted = counted_choices(table)
    assert counted["strength"].tolist() == [5, 1]
    assert pd.api.types.is_integer_dtype(counted["chose_a"])


@pytest.mark.parametrize("distribution, message", [
    ({}, "distribution.probabilities"),
    ({"probabilities": {str(d): 1 / 6 for d in range(1, 7)}, "digit_mass": 0.9, "mean": 3.5, "argmax": 9},
     "distribution.argmax"),
])
def test_choices_table_bad_distribution(distribution, message):
    bad = record(reply=None, answer_mode="logprobs", distribution=distribution)
    with pytest.raises(InputError, match=f"data/raw/m.jsonl: record 1: {message}"):
        choices_table({"m": [bad]}, VALUES, sources={"m": "data/raw/m.jsonl"})


def test_choices_table_other_dilemma_set():
    with pytest.raises(InputError, match="answers the dilemma set 'set-v1' but params.yaml selects 'set-v2'"):
        choices_table({"m": [record()]}, VALUES, dilemma_set="set-v2")


def test_record_with_unknown_battery():
    from llmvalues.records import validate_record

    with pytest.raises(InputError, match="battery: must be one of pvq, dilemmas, got 'dilemma'"):
        validate_record(record(battery="dilemma"), "data/raw/m.jsonl", "line 3", "m")
