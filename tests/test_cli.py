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
    shutil.copytree(project_root / "data" / "dilemmas", tmp_path / "data" / "dilemmas")
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


# psych::alpha(items5); psych::omega(items5, nfactors=1) in R 4.2.2 Patched (2022-11-10), psych 2.2.9
ITEMS5 = Path(__file__).parent / "data" / "items5.csv"
ITEMS5_ALPHA_RAW = 0.752709567576546
ITEMS5_ALPHA_STD = 0.761528408117884
ITEMS5_FELDT = (0.684118411362401, 0.810179736944285)
ITEMS5_OMEGA = 0.78053333009564


def write_items(path: Path, rows: list[list], header: list[str] | None = None) -> Path:
    header = header or [f"i{number}" for number in range(1, len(rows[0]) + 1)]
    path.write_text("\n".join(",".join(map(str, row)) for row in [header] + rows) + "\n", encoding="utf-8")
    return path


def reliability_output(*arguments) -> dict:
    result = run("reliability", *arguments)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def reliability_error(*arguments) -> str:
    result = run("reliability", *arguments)
    assert result.returncode == 2, result.stdout
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_reliability_key_order():
    keys = list(reliability_output("--items", ITEMS5))
    assert keys[:5] == ["alpha_raw", "alpha_std", "feldt_ci", "omega_total", "n"]


def test_reliability_alpha_raw():
    assert reliability_output("--items", ITEMS5)["alpha_raw"] == pytest.approx(ITEMS5_ALPHA_RAW, abs=1e-12)


def test_reliability_alpha_std():
    assert reliability_output("--items", ITEMS5)["alpha_std"] == pytest.approx(ITEMS5_ALPHA_STD, abs=1e-12)


def test_reliability_feldt_interval():
    assert reliability_output("--items", ITEMS5)["feldt_ci"] == pytest.approx(list(ITEMS5_FELDT), abs=1e-12)


def test_reliability_omega_total():
    assert reliability_output("--items", ITEMS5)["omega_total"] == pytest.approx(ITEMS5_OMEGA, abs=1e-6)


def test_reliability_cases_and_items():
    output = reliability_output("--items", ITEMS5)
    assert (output["n"], output["k"], output["n_dropped"]) == (150, 5, 0)


def test_reliability_drops_incomplete_rows(tmp_path):
    rows = [[1, 2, 3], [2, 3, 3], ["", 4, 4], [4, 4, 6], [5, "NA", 5], [6, 5, 6]]
    output = reliability_output("--items", write_items(tmp_path / "items.csv", rows))
    assert (output["n"], output["n_dropped"]) == (4, 2)


def test_reliability_constant_item_prints_null(tmp_path):
    rows = [[1, 4, 2], [3, 4, 3], [5, 4, 6], [2, 4, 2]]
    result = run("reliability", "--items", write_items(tmp_path / "items.csv", rows))
    assert result.returncode == 0, result.stderr
    assert "NaN" not in result.stdout
    output = json.loads(result.stdout)
    assert output["alpha_std"] is None
    assert output["omega_total"] is None
    assert output["constant_items"] == ["i2"]
    assert output["reason"] == "item i2 constant across rows, so standardized alpha and omega are undefined"


def test_reliability_no_variance_prints_null(tmp_path):
    output = reliability_output("--items", write_items(tmp_path / "items.csv", [[3, 3]] * 5))
    assert output["feldt_ci"] == [None, None]
    assert output["reason"].startswith("no variance")


def test_reliability_semicolon_delimiter(tmp_path):
    path = tmp_path / "items.csv"
    path.write_text(ITEMS5.read_text(encoding="utf-8").replace(",", ";"), encoding="utf-8")
    output = reliability_output("--items", path, "--delimiter", ";")
    assert output["alpha_raw"] == pytest.approx(ITEMS5_ALPHA_RAW, abs=1e-12)


def test_reliability_missing_file(tmp_path):
    line = reliability_error("--items", tmp_path / "absent.csv")
    assert f"{tmp_path / 'absent.csv'}: items file not found; check the --items path" in line


def test_reliability_one_column(tmp_path):
    path = tmp_path / "items.csv"
    path.write_text("score\n1\n2\n3\n4\n", encoding="utf-8")
    line = reliability_error("--items", path)
    assert "items.csv: line 1: found 1 column, but a scale needs at least 2 items" in line


def test_reliability_one_column_suggests_delimiter(tmp_path):
    path = tmp_path / "items.csv"
    path.write_text("a;b\n1;2\n2;3\n3;5\n", encoding="utf-8")
    assert "pass --delimiter ';'" in reliability_error("--items", path)


def test_reliability_text_cell(tmp_path):
    rows = [[1, 2, 3], [2, "high", 3], [4, 4, 6], [5, 5, 5]]
    line = reliability_error("--items", write_items(tmp_path / "items.csv", rows))
    assert "items.csv: line 3, column 'i2': 'high' is not a number; write every rating as a number" in line


def test_reliability_too_few_complete_rows(tmp_path):
    rows = [[1, 2, 3], [2, "", 3], [4, 4, 6]]
    line = reliability_error("--items", write_items(tmp_path / "items.csv", rows))
    assert ("items.csv: line 3, column 'i2': 2 complete rows (1 with a missing cell), need at least 3; "
            "add rows with a number in every column") in line


def test_reliability_empty_file(tmp_path):
    path = tmp_path / "items.csv"
    path.write_text("", encoding="utf-8")
    assert "items.csv: the file is empty; add a header row" in reliability_error("--items", path)


def test_reliability_header_only(tmp_path):
    path = tmp_path / "items.csv"
    path.write_text("a,b,c\n", encoding="utf-8")
    assert "items.csv: 0 complete rows (0 with a missing cell), need at least 3" in reliability_error("--items", path)


def test_reliability_ragged_row(tmp_path):
    path = tmp_path / "items.csv"
    path.write_text("a,b\n1,2\n2,3,4\n3,3\n", encoding="utf-8")
    assert "items.csv: line 3: 3 fields, but the header has 2" in reliability_error("--items", path)


def test_reliability_duplicate_column(tmp_path):
    line = reliability_error("--items", write_items(tmp_path / "items.csv", [[1, 2]] * 4, header=["a", "a"]))
    assert "items.csv: column 'a': appears twice in the header (columns 1 and 2)" in line


def test_reliability_unnamed_column(tmp_path):
    line = reliability_error("--items", write_items(tmp_path / "items.csv", [[1, 2, 3]] * 4, header=["a", "", "c"]))
    assert "items.csv: line 1, column 2: the column has no name" in line


# --- mds ---------------------------------------------------------------------
# These call the command's entry point in-process (one subprocess test checks the
# installed command) because each subprocess costs about two seconds.

# R 4.2.2 Patched, smacof 2.1-7: smacofSym(circ10, ndim=2, type='ordinal', init='torgerson',
# eps=1e-12, itmax=1e5) gives stress-1 0.0109436675341308 in 119 iterations, and
# Procrustes(X=cbind(cos(a), sin(a)), conf) with a = 2*pi*(0:9)/10 gives congruence
# 0.99812411972815, alienation 0.0612228847483104 and dilation 1.48507392913281.
from test_smacof import CIRC10  # the matrix of the smacof reference runs

CIRC10_LABELS = ["SE", "CO", "TR", "BE", "UN", "SD", "ST", "HE", "AC", "PO"]
CIRC10_ROWS = CIRC10.tolist()


def write_matrix(path: Path, labels=CIRC10_LABELS, rows=CIRC10_ROWS, row_names=False) -> Path:
    lines = [("," if row_names else "") + ",".join(labels)]
    for label, row in zip(labels, rows):
        lines.append((f"{label}," if row_names else "") + ",".join(str(value) for value in row))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def mds_call(capsys, *arguments):
    from llmvalues.cli import main

    status = main(["mds", *map(str, arguments)])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_mds_matches_smacof(tmp_path, capsys):
    path = write_matrix(tmp_path / "circ10.csv")
    status, out, _ = mds_call(capsys, "--dissimilarities", path, "--eps", "1e-12", "--max-iterations", "100000",
                              "--circle-order", ",".join(CIRC10_LABELS))
    assert status == 0
    output = json.loads(out)
    assert output["stress1"] == pytest.approx(0.0109436675341308, abs=1e-6)
    assert output["iterations"] == 119
    assert output["procrustes"]["congruence"] == pytest.approx(0.99812411972815, abs=1e-6)
    assert output["procrustes"]["alienation"] == pytest.approx(0.0612228847483104, abs=1e-6)
    assert output["procrustes"]["dilation"] == pytest.approx(1.48507392913281, abs=1e-6)
    assert output["out_of_order"] == []
    assert list(output["configuration"]) == CIRC10_LABELS


def test_mds_row_names_accepted(tmp_path, capsys):
    path = write_matrix(tmp_path / "named.csv", row_names=True)
    status, out, _ = mds_call(capsys, "--dissimilarities", path, "--type", "ratio", "--eps", "1e-12")
    assert status == 0
    assert json.loads(out)["stress1"] == pytest.approx(0.0309704331436619, abs=1e-6)


def test_mds_theory_start(tmp_path, capsys):
    path = write_matrix(tmp_path / "circ10.csv")
    status, out, _ = mds_call(capsys, "--dissimilarities", path, "--init", "theory",
                              "--circle-order", ",".join(CIRC10_LABELS))
    assert status == 0
    assert json.loads(out)["stress1"] < 0.02


def test_mds_start_from_file(tmp_path, capsys):
    path = write_matrix(tmp_path / "circ10.csv")
    start = tmp_path / "start.csv"
    start.write_text("point,x,y\n" + "".join(f"{label},{index},{index % 3}\n"
                                               for index, label in enumerate(CIRC10_LABELS)), encoding="utf-8")
    status, out, _ = mds_call(capsys, "--dissimilarities", path, "--init", start)
    assert status == 0
    assert json.loads(out)["converged"] is True


def test_mds_installed_command(tmp_path):
    result = run("mds", "--dissimilarities", write_matrix(tmp_path / "circ10.csv"), "--type", "interval",
                 "--eps", "1e-12")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["stress1"] == pytest.approx(0.029879620261996, abs=1e-6)


def asymmetric_rows():
    rows = [list(row) for row in CIRC10_ROWS]
    rows[0][1] = 0.9
    return rows


def negative_rows():
    rows = [list(row) for row in CIRC10_ROWS]
    rows[2][3] = rows[3][2] = -0.5
    return rows


MDS_BAD_INPUTS = [
    ("asymmetric", lambda path: write_matrix(path, rows=asymmetric_rows()), (),
     "rows 'SE' and 'CO': not symmetric"),
    ("negative", lambda path: write_matrix(path, rows=negative_rows()), (), "negative dissimilarity"),
    ("not square", lambda path: write_matrix(path, rows=CIRC10_ROWS[:9]), (), "9 rows of numbers for 10 point names"),
    ("text cell", lambda path: path.write_text("a,b,c\n0,x,1\n1,0,1\n1,1,0\n"), (), "line 2, column 'b': 'x' is not a number"),
    ("empty", lambda path: path.write_text(""), (), "the file is empty"),
    ("two points", lambda path: path.write_text("a,b\n0,1\n1,0\n"), (), "an MDS needs at least 3"),
    ("theory without order", lambda path: write_matrix(path), ("--init", "theory"), "needs the circle order"),
    ("unknown code in order", lambda path: write_matrix(path), ("--circle-order", "SE,XX"), "'XX' is not a point"),
    ("incomplete order", lambda path: write_matrix(path), ("--circle-order", "SE,CO"), "the point 'TR' is missing"),
    ("missing start file", lambda path: write_matrix(path), ("--init", "absent.csv"), "configuration file not found"),
]


@pytest.mark.parametrize("name, make, extra, message", MDS_BAD_INPUTS, ids=[case[0] for case in MDS_BAD_INPUTS])
def test_mds_bad_input(tmp_path, capsys, name, make, extra, message):
    path = tmp_path / "matrix.csv"
    make(path)
    status, out, err = mds_call(capsys, "--dissimilarities", path, *extra)
    assert status == 2
    assert out == ""
    assert message in err
    assert err.count("\n") == 1


def test_mds_missing_matrix_file(tmp_path, capsys):
    status, _, err = mds_call(capsys, "--dissimilarities", tmp_path / "absent.csv")
    assert status == 2
    assert "absent.csv: dissimilarities file not found" in err


# --- lda ---------------------------------------------------------------------


def write_iris(path: Path) -> Path:
    from sklearn.datasets import load_iris

    data = load_iris(as_frame=True)
    table = data.data.copy()
    table["species"] = data.target.map(dict(enumerate(data.target_names)))
    table.to_csv(path, index=False)
    return path


def lda_call(capsys, *arguments):
    from llmvalues.cli import main

    status = main(["lda", *map(str, arguments)])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_lda_iris_matches_mass(tmp_path, capsys):
    # R 4.2.2 Patched, MASS 7.3-58.2: MASS::lda(Species ~ ., iris) gives proportion of trace
    # 0.991212604965367 and 0.00878739503463279 and a training accuracy of 0.98.
    status, out, _ = lda_call(capsys, "--data", write_iris(tmp_path / "iris.csv"), "--group", "species")
    assert status == 0
    output = json.loads(out)
    assert output["proportion_of_trace"] == pytest.approx([0.991212604965367, 0.00878739503463279], abs=1e-12)
    assert output["training_accuracy"] == 0.98
    assert output["solver"] == "svd"
    assert output["confusion_matrix"]["labels"] == ["setosa", "versicolor", "virginica"]
    assert sum(map(sum, output["confusion_matrix"]["counts"])) == 150
    assert 0.9 < output["loo_accuracy"] <= 1.0


def test_lda_installed_command(tmp_path):
    result = run("lda", "--data", write_iris(tmp_path / "iris.csv"), "--group", "species", "--permutations", "5")
    assert result.returncode == 0, result.stderr
    output = json.loads(result.stdout)
    assert list(output)[:3] == ["loo_accuracy", "proportion_of_trace", "confusion_matrix"]
    assert output["permutation"]["permutations"] == 5


LDA_BAD_INPUTS = [
    ("unknown group column", "g,x\na,1\nb,2\n", "kind", "column 'kind': not found in the header"),
    ("text predictor", "g,x\na,1\nb,high\n", "g", "line 3, column 'x': 'high' is not a number"),
    ("one group", "g,x\na,1\na,2\na,3\n", "g", "needs at least 2 groups"),
    ("ragged row", "g,x\na,1,5\n", "g", "line 2: 3 fields, but the header has 2"),
    ("empty", "", "g", "the file is empty"),
]


@pytest.mark.parametrize("name, text, group, message", LDA_BAD_INPUTS, ids=[case[0] for case in LDA_BAD_INPUTS])
def test_lda_bad_input(tmp_path, capsys, name, text, group, message):
    path = tmp_path / "data.csv"
    path.write_text(text, encoding="utf-8")
    status, out, err = lda_call(capsys, "--data", path, "--group", group)
    assert status == 2
    assert out == ""
    assert message in err
    assert err.count("\n") == 1


@pytest.mark.parametrize("option, value", [("--eps", "-1"), ("--eps", "nan"), ("--max-iterations", "0"),
                                           ("--seed", "-5"), ("--random-starts", "-2")])
def test_mds_bad_option_one_line(tmp_path, option, value):
    result = run("mds", "--dissimilarities", write_matrix(tmp_path / "circ10.csv"), f"{option}={value}")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert option in result.stderr


def test_mds_scale_free(tmp_path, capsys):
    tiny = [[value * 1e-200 for value in row] for row in CIRC10_ROWS]
    _, plain, _ = mds_call(capsys, "--dissimilarities", write_matrix(tmp_path / "plain.csv"))
    status, scaled, _ = mds_call(capsys, "--dissimilarities", write_matrix(tmp_path / "tiny.csv", rows=tiny))
    assert status == 0
    assert json.loads(scaled)["stress1"] == pytest.approx(json.loads(plain)["stress1"], rel=1e-9)


def test_mds_huge_value_rejected(tmp_path, capsys):
    rows = [list(row) for row in CIRC10_ROWS]
    rows[0][1] = rows[1][0] = 1e200
    status, _, err = mds_call(capsys, "--dissimilarities", write_matrix(tmp_path / "huge.csv", rows=rows))
    assert status == 2
    assert "line 2, column 'CO': '1e+200' is too large" in err


def test_mds_collapsed_start_names_file(tmp_path, capsys):
    start = tmp_path / "start.csv"
    start.write_text("point,x,y\n" + "".join(f"{label},1,1\n" for label in CIRC10_LABELS), encoding="utf-8")
    status, _, err = mds_call(capsys, "--dissimilarities", write_matrix(tmp_path / "circ10.csv"), "--init", start)
    assert status == 2
    assert err.startswith(f"llmvalues: error: {start}: the start configuration has all points in one place")


def test_mds_init_keyword_any_case(tmp_path, capsys):
    status, _, _ = mds_call(capsys, "--dissimilarities", write_matrix(tmp_path / "circ10.csv"), "--init", "Torgerson")
    assert status == 0


def test_mds_ties_null_for_ratio(tmp_path, capsys):
    _, out, _ = mds_call(capsys, "--dissimilarities", write_matrix(tmp_path / "circ10.csv"), "--type", "ratio")
    assert json.loads(out)["ties"] is None


def test_reliability_tab_delimiter(tmp_path):
    path = tmp_path / "items.tsv"
    path.write_text("a\tb\tc\n1\t2\t2\n2\t3\t3\n3\t3\t4\n4\t5\t5\n", encoding="utf-8")
    result = run("reliability", "--items", path, "--delimiter", "tab")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["n"] == 4


def test_reliability_long_delimiter_rejected(tmp_path):
    result = run("reliability", "--items", tmp_path / "x.csv", "--delimiter", ";;")
    assert result.returncode == 2
    assert "must be one character or the word tab" in result.stderr


def test_check_params_missing_norms(tmp_path, project_root):
    params = tmp_path / "params.yaml"
    text = (project_root / "params.yaml").read_text(encoding="utf-8")
    params.write_text(text.replace("file: data/norms/human-centered-means.csv", "file: data/norms/absent.csv"),
                      encoding="utf-8")
    shutil.copytree(project_root / "llmvalues" / "instruments", tmp_path / "llmvalues" / "instruments")
    shutil.copytree(project_root / "data" / "dilemmas", tmp_path / "data" / "dilemmas")
    result = run("check-params", "--params", params, cwd=tmp_path)
    assert result.returncode == 2
    assert "data/norms/absent.csv: norms file not found; check norms.file in params.yaml" in result.stderr


def test_lda_solver_choices_match_engine():
    from llmvalues.cli import LDA_SOLVERS
    from llmvalues.discriminant import SOLVERS

    assert LDA_SOLVERS == SOLVERS


# R 4.2.2 Patched: glm(chose_a ~ value_diff + model, binomial) on tests/data/dilemmas.csv gives a
# value_diff coefficient of 0.783377339103952; sandwich 3.0-2 vcovCL(fit, cluster = ~dilemma,
# type = "HC1") its standard error 0.115686508406991.
DILEMMA_DATA = Path(__file__).parent / "data" / "dilemmas.csv"


def dilemma_fit_call(capsys, *arguments):
    from llmvalues.cli import main

    status = main(["dilemma-fit", *map(str, arguments)])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_dilemma_fit_matches_r(capsys):
    status, out, _ = dilemma_fit_call(capsys, "--data", DILEMMA_DATA, "--permutations", "19", "--seed", "3")
    assert status == 0
    output = json.loads(out)
    assert output["side"]["slope"] == pytest.approx(0.783377339103952, abs=1e-6)
    assert output["side"]["se_cluster"][1] == pytest.approx(0.115686508406991, abs=1e-6)
    assert output["side"]["clusters"] == 24
    assert output["strength"]["terms"][:5] == ["1|2", "2|3", "3|4", "4|5", "5|6"]
    assert output["permutation"]["permutations"] == 19
    assert output["permutation"]["shuffle"] == "dilemmas"


DILEMMA_BAD_INPUTS = [
    ("missing column", "model,trial,dilemma,chose_a\nm,1,d1,1\n", "column 'value_diff': missing"),
    ("side coded 2", "model,trial,dilemma,value_diff,chose_a\nm,1,d1,0.5,2\n",
     "column 'chose_a', line 2: invalid value 2: expected 0 or 1"),
    ("text value difference", "model,trial,dilemma,value_diff,chose_a\nm,1,d1,high,1\n",
     "column 'value_diff', line 2: invalid value 'high'"),
    ("empty", "", "not a readable CSV"),
    ("repeated column", "model,trial,dilemma,value_diff,chose_a,chose_a\nm,1,d1,0.5,1,0\n",
     "column 'chose_a': given twice in the header"),
    ("semicolons", "model;trial;dilemma;value_diff;chose_a\nm;1;d1;0.5;1\n", "give the file's separator with --delimiter"),
    ("empty side", "model,trial,dilemma,value_diff,chose_a\nm,1,d1,0.5,1\nm,1,d2,0.5,\n",
     "column 'chose_a', line 3: missing value"),
]


@pytest.mark.parametrize("name, text, message", DILEMMA_BAD_INPUTS, ids=[case[0] for case in DILEMMA_BAD_INPUTS])
def test_dilemma_fit_bad_input(tmp_path, capsys, name, text, message):
    path = tmp_path / "answers.csv"
    path.write_text(text, encoding="utf-8")
    status, out, err = dilemma_fit_call(capsys, "--data", path)
    assert status == 2
    assert out == ""
    assert message in err
    assert err.count("\n") == 1


def test_dilemma_fit_bad_confidence(tmp_path):
    result = run("dilemma-fit", "--data", DILEMMA_DATA, "--confidence", "1.5")
    assert result.returncode == 2
    assert "must be a number between 0 and 1" in result.stderr


def test_check_dilemmas_shipped_set(project_root):
    result = run("check-dilemmas", project_root / "data" / "dilemmas" / "mental-health-v1.yaml")
    assert result.returncode == 0, result.stderr
    output = json.loads(result.stdout)
    assert output["dilemmas"] == 32
    assert all(pair["opposing"] and pair["both_directions"] for pair in output["pairs"])


def test_check_dilemmas_bad_file(tmp_path):
    path = tmp_path / "set.csv"
    path.write_text("id,setting,scenario,option_a,option_b,value_a,value_b,notes\n"
                    "d1,,A case.,Do this.,Do that.,SDA,XYZ,\n", encoding="utf-8")
    result = run("check-dilemmas", path)
    assert result.returncode == 2
    assert "line 2: value_b" in result.stderr
    assert "XYZ" in result.stderr


def test_dilemma_fit_partial_strength_and_fallback(tmp_path, capsys):
    table = pd.read_csv(DILEMMA_DATA)
    table.loc[::7, "strength"] = None
    table = table.drop(index=[3, 50])  # two answers without a scale point
    path = tmp_path / "answers.csv"
    table.to_csv(path, index=False, sep=";")
    status, out, err = dilemma_fit_call(capsys, "--data", path, "--delimiter", ";", "--permutations", "9")
    assert status == 0, err
    output = json.loads(out)
    assert output["side"]["n"] == len(table)
    assert output["strength"]["n"] == int(table["strength"].notna().sum())
    assert output["permutation"]["shuffle"] == "rows"
    assert "whole dilemmas could not be shuffled" in output["permutation"]["note"]
