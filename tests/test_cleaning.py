import json

import numpy as np
import pytest

from conftest import distribution, make_record, write_jsonl
from llmvalues.cleaning import ANSWER_COLUMNS, clean_records, ratings_table
from llmvalues.errors import InputError
from llmvalues.parsing import DEFAULT_LABELS, STATUSES
from llmvalues.records import read_records
from llmvalues.values import SCORING_KEY


def clean(records_by_model, **settings):
    return clean_records(records_by_model, key=SCORING_KEY, labels=DEFAULT_LABELS, **settings)


def full_trial(model, trial, reply="4"):
    return [make_record(model, trial, item=item, reply=reply) for item in range(1, 58)]


def test_one_row_per_answer_with_value_code():
    answers, quality = clean({"m": full_trial("m", 1) + full_trial("m", 2, reply="Like me")})
    assert list(answers.columns) == list(ANSWER_COLUMNS)
    assert len(answers) == 114
    assert answers["used"].all()
    assert set(answers.loc[answers["trial"] == 2, "rating"]) == {5.0}
    assert answers.loc[answers["item"] == 23, "value"].unique().tolist() == ["SDT"]
    assert quality["models"]["m"]["status_counts"]["valid"] == 114
    assert quality["models"]["m"]["counted_rate"] == 1.0
    assert quality["models"]["m"]["missing_answers"] == 0
    assert set(quality["models"]["m"]["status_counts"]) == set(STATUSES)


def test_reask_uses_first_counted_attempt():
    records = full_trial("m", 1)
    records[4] = make_record("m", 1, item=5, reply="3 or 4", attempt=0)
    records.append(make_record("m", 1, item=5, reply="6", attempt=1))
    records.append(make_record("m", 1, item=5, reply="2", attempt=2))
    answers, quality = clean({"m": records})
    cell = answers[answers["item"] == 5]
    assert cell["attempt"].tolist() == [0, 1, 2]
    assert cell["status"].tolist() == ["ambiguous", "valid", "valid"]
    assert cell["used"].tolist() == [False, True, False]
    assert quality["models"]["m"]["reasked_answers"] == 1
    assert quality["models"]["m"]["attempt_status_counts"]["ambiguous"] == 1


def test_uncounted_cell_uses_last_attempt():
    records = full_trial("m", 1)
    records[6] = make_record("m", 1, item=7, reply="As an AI I have no values.", attempt=0)
    records.append(make_record("m", 1, item=7, reply="0", attempt=1))
    answers, quality = clean({"m": records})
    used = answers[(answers["item"] == 7) & answers["used"]]
    assert used["status"].tolist() == ["out_of_range"]
    assert np.isnan(used["rating"].iloc[0])
    assert np.isnan(ratings_table(answers, ["m"]).loc[("m", 1), 7])
    assert quality["models"]["m"]["status_counts"]["out_of_range"] == 1


def test_block_record_maps_lines_to_items():
    items = list(range(57, 0, -1))
    reply = "\n".join(f"{item}: {1 + item % 6}" for item in range(1, 58))
    answers, _ = clean({"m": [make_record("m", 1, items=items, reply=reply)]})
    assert len(answers) == 57
    row = answers[answers["item"] == 10].iloc[0]
    assert row["rating"] == 1 + 10 % 6
    assert row["mode"] == "block"


def test_distribution_rating_choices():
    probabilities = [0.0, 0.1, 0.2, 0.4, 0.1, 0.2]
    record = make_record("m", 1, item=1, reply="5", answer_mode="logprobs", distribution=distribution(probabilities))
    by_reply, _ = clean({"m": [record]})
    assert by_reply["rating"].iloc[0] == 5
    assert by_reply["rating_source"].iloc[0] == "reply"
    by_mean, quality = clean({"m": [record]}, rating_source="distribution")
    assert by_mean["rating"].iloc[0] == pytest.approx(4.1)
    assert quality["models"]["m"]["mean_digit_mass"] == 0.9
    by_argmax, _ = clean({"m": [record]}, rating_source="distribution", distribution_rating="argmax")
    assert by_argmax["rating"].iloc[0] == 4


def test_distribution_only_record_and_low_mass():
    probabilities = [0.5, 0.5, 0.0, 0.0, 0.0, 0.0]
    record = make_record("m", 1, item=1, reply=None, answer_mode="logprobs",
                         distribution=distribution(probabilities, digit_mass=0.2))
    answers, _ = clean({"m": [record]})
    assert answers["rating"].iloc[0] == 1.5
    low, _ = clean({"m": [record]}, min_digit_mass=0.5)
    assert low["status"].iloc[0] == "unparseable"
    assert "below clean.min_digit_mass" in low["note"].iloc[0]


def test_error_and_truncated_records():
    records = [
        make_record("m", 1, item=1, reply=None, error="HTTP 503 after 5 retries"),
        make_record("m", 1, item=2, reply="5", finish_reason="length"),
    ]
    answers, _ = clean({"m": records})
    assert answers["status"].tolist() == ["error", "truncated"]


def test_missing_answers_are_counted():
    records = full_trial("m", 1)[:50]
    _, quality = clean({"m": records})
    assert quality["models"]["m"]["missing_answers"] == 7


def test_duplicate_attempt_is_an_error():
    records = full_trial("m", 1) + [make_record("m", 1, item=3, reply="2")]
    with pytest.raises(InputError, match="trial 1, item 3, attempt 0: answered by two records"):
        clean({"m": records}, sources={"m": "data/raw/m.jsonl"})


def test_models_keep_params_order():
    answers, _ = clean({"zeta": full_trial("zeta", 1), "alpha": full_trial("alpha", 1)})
    assert answers["model"].unique().tolist() == ["zeta", "alpha"]
    table = ratings_table(answers, ["zeta", "alpha"])
    assert [model for model, _ in table.index] == ["zeta", "alpha"]


def test_other_batteries_are_left_alone():
    dilemma = make_record("m", 1, item=None, battery="dilemmas", mode="dilemma")
    answers, quality = clean({"m": full_trial("m", 1) + [dilemma]})
    assert len(answers) == 57
    assert quality["models"]["m"]["records"] == 57


def test_read_records_validates_each_line(tmp_path):
    path = write_jsonl(tmp_path / "m.jsonl", full_trial("m", 1))
    assert len(list(read_records(path, "m"))) == 57

    broken = tmp_path / "broken.jsonl"
    broken.write_text(json.dumps(make_record("m", 1, item=1)) + "\n{not json\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"broken\.jsonl: line 2: invalid JSON"):
        list(read_records(broken, "m"))

    cases = [
        ({"trial": 0}, "line 1: trial: must be an integer of at least 1"),
        ({"trial": "1"}, "line 1: trial: must be an integer"),
        ({"item": 58}, "line 1: item: must be an item number 1-57"),
        ({"model": "other"}, "line 1: model: is 'other'"),
        ({"mode": "batch"}, "line 1: mode: must be one of item, block"),
        ({"reply": 5}, "line 1: reply: must be text or null"),
        ({"distribution": {"probabilities": {"1": 1.0}}}, "line 1: distribution.probabilities"),
    ]
    for change, expected in cases:
        record = make_record("m", 1, item=1)
        record.update(change)
        bad = write_jsonl(tmp_path / "bad.jsonl", [record])
        with pytest.raises(InputError) as caught:
            list(read_records(bad, "m"))
        assert expected in str(caught.value), change

    record = make_record("m", 1, item=1)
    del record["seed"]
    missing_field = write_jsonl(tmp_path / "missing.jsonl", [record])
    with pytest.raises(InputError, match="line 1: seed: missing record field"):
        list(read_records(missing_field, "m"))


def test_missing_view_is_an_error(tmp_path):
    with pytest.raises(InputError, match=r"gpt-4o.jsonl: no collected records for model 'gpt-4o'"):
        list(read_records(tmp_path / "gpt-4o.jsonl", "gpt-4o"))


def test_empty_view_is_an_error():
    with pytest.raises(InputError, match=r"data/raw/m.jsonl: no questionnaire records"):
        clean({"m": []}, sources={"m": "data/raw/m.jsonl"})


def test_record_from_other_params_is_an_error(tmp_path):
    records = full_trial("m", 1)
    records[3]["form"] = "female"
    path = write_jsonl(tmp_path / "m.jsonl", records)
    expected = {"instrument": "llmvalues-portraits-v1", "form": "neutral"}
    with pytest.raises(InputError, match="line 4: form: the record has 'female' but params.yaml selects 'neutral'"):
        list(read_records(path, "m", expected))


def test_counted_rate_is_over_expected_answers():
    records = full_trial("m", 1)[:19]
    _, quality = clean({"m": records})
    assert quality["models"]["m"]["expected_answers"] == 57
    assert quality["models"]["m"]["counted_rate"] == pytest.approx(19 / 57)
    assert quality["models"]["m"]["status_rates"]["valid"] == 1.0
