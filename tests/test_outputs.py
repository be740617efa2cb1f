import json
import math

import pandas as pd
import pytest

from llmvalues.outputs import atomic_write_text, csv_text, json_text, round_significant


def test_round_significant():
    assert round_significant(1 / 3) == 0.33333333
    assert round_significant(123456789.0) == 123456790.0
    assert round_significant(0.0) == 0.0
    assert math.isnan(round_significant(float("nan")))


def test_json_text_sorted_and_rounded():
    text = json_text({"b": 2 / 3, "a": float("nan"), "c": [1, 0.1 + 0.2]})
    assert text.endswith("\n")
    assert json.loads(text) == {"a": None, "b": 0.66666667, "c": [1, 0.3]}
    assert text.index('"a"') < text.index('"b"')


def test_csv_text_escapes_formulas_in_text_columns_only():
    table = pd.DataFrame({"reply": ["=1+1", "@SUM(A1)", "-2", "+x", "plain", "-2+A1"],
                          "rating": [-1.0, 2.0, 3.0, 4.0, 5.0, 6.0]})
    lines = csv_text(table, text_columns=("reply",)).splitlines()
    assert lines[1] == "'=1+1,-1"
    assert lines[2] == "'@SUM(A1),2"
    assert lines[3] == "-2,3"  # a plain number is not a formula
    assert lines[4] == "'+x,4"
    assert lines[5] == "plain,5"
    assert lines[6] == "'-2+A1,6"


def test_csv_text_rounds_floats_to_eight_digits():
    table = pd.DataFrame({"x": [1 / 3, 2.0]})
    assert csv_text(table).splitlines()[1:] == ["0.33333333", "2"]


def test_atomic_write_leaves_old_file_on_failure(tmp_path):
    path = tmp_path / "out.txt"
    atomic_write_text(path, "old\n")

    with pytest.raises(TypeError):
        atomic_write_text(path, 12345)  # not text: the write fails before the rename
    assert path.read_text() == "old\n"
    assert [entry.name for entry in tmp_path.iterdir()] == ["out.txt"]


def test_written_file_follows_umask(tmp_path):
    import os
    import stat

    from llmvalues.outputs import atomic_write_text

    previous = os.umask(0o022)
    try:
        atomic_write_text(tmp_path / "out.txt", "x\n")
    finally:
        os.umask(previous)
    assert stat.S_IMODE((tmp_path / "out.txt").stat().st_mode) == 0o644


def test_metrics_keep_numbers_and_split_intervals():
    from llmvalues.outputs import numeric_metrics

    summary = {"correction": "holm", "n": 3, "fitted": True, "rate": float("nan"), "missing": None,
               "models": {"a": {"rho": 0.5, "rho_ci": [0.1, 0.9], "values": ["SDT"], "note": "",
                                "trace": [0.7, 0.3], "empty": {"reason": "x"}}}}
    assert numeric_metrics(summary) == {
        "n": 3, "fitted": True,
        "models": {"a": {"rho": 0.5, "rho_ci": {"lower": 0.1, "upper": 0.9}, "trace": {"1": 0.7, "2": 0.3}}},
    }


def test_study_metrics_are_numbers_only():
    import json

    from conftest import PROJECT_ROOT

    def leaves(value):
        if isinstance(value, dict):
            for item in value.values():
                yield from leaves(item)
        else:
            yield value

    for path in sorted((PROJECT_ROOT / "reports" / "metrics").glob("*.json")):
        values = list(leaves(json.loads(path.read_text(encoding="utf-8"))))
        assert values, path
        assert all(isinstance(value, (int, float)) for value in values), path
