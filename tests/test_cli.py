"""The installed ``llmvalues`` command, run as a user runs it."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

COMMAND = Path(sys.executable).parent / "llmvalues"


def run(*arguments, cwd=None):
    return subprocess.run([str(COMMAND), *map(str, arguments)], capture_output=True, text=True, cwd=cwd, timeout=120)


def write_responses(path: Path, rows: list[list]) -> Path:
    header = ["id"] + [f"item{number}" for number in range(1, 58)]
    path.write_text("\n".join(",".join(map(str, row)) for row in [header] + rows) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("text, status, rating", [
    ("5", "valid", 5),
    ("On a scale of 1 to 6, I'd say 5", "valid", 5),
    ("3 or 4", "ambiguous", None),
    ("7", "out_of_range", None),
    ("As an AI I have no personal values.", "refusal", None),
])
def test_parse_reply_prints_status_and_rating(text, status, rating):
    result = run("parse-reply", "--text", text)
    assert result.returncode == 0, result.stderr
    output = json.loads(result.stdout)
    assert output["status"] == status
    assert output["rating"] == rating


def test_parse_reply_truncated():
    output = json.loads(run("parse-reply", "--text", "5", "--finish-reason", "length").stdout)
    assert output == {"status": "truncated", "rating": None, "candidates": [], "note": "finish reason length"}


def test_score_writes_csv_and_summary(tmp_path):
    responses = write_responses(tmp_path / "people.csv", [["=cmd", *([4] * 57)], ["P2", *([2] * 56), ""]])
    output = tmp_path / "scores.csv"
    result = run("score", "--responses", responses, "--output", output)
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary == {"output": str(output), "respondents": 2, "instrument": "llmvalues-portraits-v1",
                       "missing_mrat": 0}
    scores = pd.read_csv(output)
    assert scores["id"].tolist() == ["'=cmd", "P2"]
    assert scores.loc[0, "mrat"] == 4
    assert scores.loc[0, "UNT_centered"] == 0
    assert scores.loc[1, "UNT_n"] == 2
    assert "self_transcendence_raw" in scores.columns


def test_score_to_standard_output(tmp_path):
    responses = write_responses(tmp_path / "people.csv", [["P1", *([3] * 57)]])
    result = run("score", "--responses", responses)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0].startswith("id,n_valid,mrat,SDT_n")


def test_score_with_instrument_file(tmp_path, project_root):
    responses = write_responses(tmp_path / "people.csv", [["P1", *([3] * 57)]])
    instrument = project_root / "llmvalues" / "instruments" / "llmvalues-portraits-v1.yaml"
    result = run("score", "--responses", responses, "--instrument", instrument)
    assert result.returncode == 0, result.stderr


def test_score_bad_rating_writes_nothing(tmp_path):
    row = ["P1", *([3] * 57)]
    row[20] = 9
    responses = write_responses(tmp_path / "people.csv", [row])
    output = tmp_path / "scores.csv"
    result = run("score", "--responses", responses, "--output", output)
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "people.csv: line 2 (respondent 'P1'), column 'item20': rating 9 is outside 1-6" in lines[0]
    assert not output.exists()
    assert sorted(path.name for path in tmp_path.iterdir()) == ["people.csv"]


def test_score_unknown_instrument(tmp_path):
    responses = write_responses(tmp_path / "people.csv", [["P1", *([3] * 57)]])
    result = run("score", "--responses", responses, "--instrument", "pvq-rr")
    assert result.returncode == 2
    assert "pvq-rr: not an instrument file and not the id of a built-in instrument" in result.stderr
    assert "Traceback" not in result.stderr


def test_score_bad_threshold(tmp_path):
    responses = write_responses(tmp_path / "people.csv", [["P1", *([3] * 57)]])
    result = run("score", "--responses", responses, "--min-valid-items-per-value", "5")
    assert result.returncode == 2
    assert "argument --min-valid-items-per-value: must be a whole number from 1 to 3, got 5" in result.stderr


def test_score_identifier_clashing_with_a_score_column(tmp_path):
    header = ["mrat"] + [f"item{number}" for number in range(1, 58)]
    path = tmp_path / "clash.csv"
    path.write_text(",".join(header) + "\n" + ",".join(["x"] + ["3"] * 57) + "\n", encoding="utf-8")
    result = run("score", "--responses", path)
    assert result.returncode == 2
    assert "column 'mrat': clashes with a score column" in result.stderr


def test_missing_subcommand_shows_usage():
    result = run()
    assert result.returncode == 2
    assert "usage: llmvalues" in result.stderr


def test_parse_reply_from_file_and_stdin(tmp_path):
    path = tmp_path / "reply.txt"
    path.write_text("Rating: " + "well, " * 30000 + "5", encoding="utf-8")
    assert json.loads(run("parse-reply", "--file", path).stdout)["rating"] == 5
    piped = subprocess.run([str(COMMAND), "parse-reply", "--file", "-"], input="-1", capture_output=True,
                           text=True, timeout=120)
    assert json.loads(piped.stdout)["status"] == "out_of_range"


def test_parse_reply_text_starting_with_dash():
    assert json.loads(run("parse-reply", "--text=-5").stdout)["status"] == "out_of_range"


def test_score_output_is_a_folder(tmp_path):
    responses = write_responses(tmp_path / "people.csv", [["P1", *([3] * 57)]])
    result = run("score", "--responses", responses, "--output", tmp_path)
    assert result.returncode == 2
    assert f"{tmp_path}: is a folder; give --output a file name" in result.stderr


def test_score_output_under_a_file(tmp_path):
    responses = write_responses(tmp_path / "people.csv", [["P1", *([3] * 57)]])
    result = run("score", "--responses", responses, "--output", responses / "scores.csv")
    assert result.returncode == 2
    assert "cannot write the file" in result.stderr
    assert "Traceback" not in result.stderr


def test_score_semicolon_delimiter(tmp_path):
    path = tmp_path / "people.csv"
    header = ["id"] + [f"item{number}" for number in range(1, 58)]
    path.write_text(";".join(header) + "\n" + ";".join(["P1"] + ["3"] * 57) + "\n", encoding="utf-8")
    result = run("score", "--responses", path, "--delimiter", ";")
    assert result.returncode == 0, result.stderr


def test_check_instrument_builtin():
    result = run("check-instrument", "llmvalues-portraits-v1")
    assert result.returncode == 0, result.stderr
    output = json.loads(result.stdout)
    assert output["items"] == 57
    assert output["forms"] == ["neutral", "male", "female"]
    assert output["original"] is True


def test_check_params_shipped(project_root):
    result = run("check-params", cwd=project_root)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["instrument"] == "llmvalues-portraits-v1"


def test_check_params_bad_selection(tmp_path, project_root):
    text = (project_root / "params.yaml").read_text(encoding="utf-8")
    shutil.copytree(project_root / "llmvalues" / "instruments", tmp_path / "llmvalues" / "instruments")
    cases = [
        ("file: llmvalues/instruments/llmvalues-portraits-v1.yaml", "file: data/instruments/absent.yaml",
         "params.yaml: instrument.file: instrument file not found: data/instruments/absent.yaml"),
        ("form: neutral", "form: plural", "params.yaml: instrument.form: invalid value 'plural'"),
        ("template: portrait-completion-v1", "template: portrait-block-chat-v1",
         "params.yaml: models.gemma3-270m.template: the template portrait-block-chat-v1 is for block mode"),
    ]
    for old, new, expected in cases:
        (tmp_path / "params.yaml").write_text(text.replace(old, new), encoding="utf-8")
        result = run("check-params", cwd=tmp_path)
        assert result.returncode == 2, new
        assert expected in result.stderr, new
