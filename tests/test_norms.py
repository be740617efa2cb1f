"""Norms files: the shipped file, overall and group means, and one-line errors for bad files."""

import math

import pytest

from conftest import PROJECT_ROOT
from llmvalues.errors import InputError
from llmvalues.norms import load_norms
from llmvalues.values import CIRCLE_ORDER

SHIPPED = PROJECT_ROOT / "data" / "norms" / "human-centered-means.csv"

# Rozen et al. (2025), Table 2, human data, as given to the project: the numbers
# the shipped file must contain unchanged.
PUBLISHED_MEANS = {
    "BEC": 0.79, "BED": 0.72, "SDA": 0.60, "SDT": 0.58, "UNC": 0.50, "UNT": 0.37, "SES": 0.32,
    "SEP": 0.28, "HE": 0.23, "AC": 0.08, "FAC": 0.05, "UNN": -0.10, "ST": -0.11, "COI": -0.16,
    "HUM": -0.20, "COR": -0.26, "TR": -0.72, "POR": -1.33, "POD": -1.40,
}

HEADER = "# source: a test table\n# citation: A. Author (2024)\n# metric: centered\n"
# With HEADER, the column line is line 4 and the row of CIRCLE_ORDER[k] is line 5 + k.
FIRST_ROW_LINE = 5


def rows_text(mean_of=lambda position: (position - 9) / 10, group: str | None = None,
              codes=CIRCLE_ORDER) -> str:
    suffix = f",{group}" if group is not None else ""
    return "".join(f"{code},{mean_of(position)}{suffix}\n" for position, code in enumerate(codes))


def write(tmp_path, text: str, name: str = "norms.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def valid_text() -> str:
    return HEADER + "value,mean\n" + rows_text()


# --- The shipped file --------------------------------------------------------


def test_shipped_file_holds_published_means():
    norms = load_norms(SHIPPED)
    assert norms.means.to_dict() == PUBLISHED_MEANS
    assert norms.metric == "centered"
    assert norms.groups == []


def test_shipped_means_sum_to_offset():
    norms = load_norms(SHIPPED)
    assert math.isclose(norms.means.sum(), 0.24, abs_tol=1e-9)


def test_shipped_file_states_its_caveats():
    norms = load_norms(SHIPPED)
    text = " ".join(norms.caveats)
    assert "Secondary source" in text
    assert "+0.24" in text
    assert "(POR)" in text
    assert "(POD)" in text
    assert "swapped" in text
    assert "No standard deviations" in text
    assert "Rozen" in norms.source
    assert "Schwartz" in norms.citation
    assert "1005-1019" in norms.citation


# --- Reading -----------------------------------------------------------------


def test_means_follow_circle_order(tmp_path):
    shuffled = list(reversed(CIRCLE_ORDER))
    text = HEADER + "value,mean\n" + "".join(f"{code},{CIRCLE_ORDER.index(code) / 10}\n" for code in shuffled)
    norms = load_norms(write(tmp_path, text))
    assert list(norms.means.index) == list(CIRCLE_ORDER)
    assert norms.means["SDT"] == 0.0
    assert norms.means["UNT"] == pytest.approx(1.8)


def test_group_means_are_unweighted(tmp_path):
    # Group A gives 0.05 * k for the k-th value, group B 0.15 * k: the unweighted mean is 0.1 * k.
    text = (HEADER + "value,mean,group\n" + rows_text(lambda k: 0.05 * k, "A")
            + rows_text(lambda k: 0.15 * k, "B"))
    norms = load_norms(write(tmp_path, text))
    assert norms.groups == ["A", "B"]
    assert not norms.has_overall_rows
    for position, code in enumerate(CIRCLE_ORDER):
        assert norms.means[code] == pytest.approx(0.1 * position)


def test_overall_rows_take_precedence(tmp_path):
    text = (HEADER + "value,mean,group\n" + rows_text(lambda k: 1.0, "A") + rows_text(lambda k: -1.0, ""))
    norms = load_norms(write(tmp_path, text))
    assert norms.has_overall_rows
    assert norms.groups == ["A"]
    assert (norms.means == -1.0).all()


def test_empty_sd_is_nan(tmp_path):
    lines = [f"{code},0.1,{'' if code == 'HE' else 0.5}" for code in CIRCLE_ORDER]
    norms = load_norms(write(tmp_path, HEADER + "value,mean,sd\n" + "\n".join(lines) + "\n"))
    sds = norms.rows.set_index("value")["sd"]
    assert math.isnan(sds["HE"])
    assert sds["SDT"] == 0.5


def test_caveats_spacers_and_bom(tmp_path):
    text = "\ufeff" + HEADER + "#\n# caveat: first\n# caveat: second, with a comma\n\nvalue,mean\n" + rows_text()
    norms = load_norms(write(tmp_path, text))
    assert norms.caveats == ["first", "second, with a comma"]
    assert norms.source == "a test table"


# --- Errors ------------------------------------------------------------------


def replace_row(code: str, new_line: str) -> str:
    text = valid_text()
    old = next(line for line in text.splitlines() if line.startswith(f"{code},"))
    return text.replace(old + "\n", new_line + "\n")


def row_line(code: str) -> int:
    return FIRST_ROW_LINE + CIRCLE_ORDER.index(code)


BAD_FILES = [
    # (case, file text, field named, problem, fix)
    ("empty file", "", None, "the norms file is empty", "add the header lines"),
    ("blank file", "\n  \n", None, "the norms file is empty", "add the header lines"),
    ("missing source", valid_text().replace("# source: a test table\n", ""), "header",
     "missing header key 'source'", "add a line '# source: ...'"),
    ("missing citation", valid_text().replace("# citation: A. Author (2024)\n", ""), "header",
     "missing header key 'citation'", "add a line '# citation: ...'"),
    ("missing metric", valid_text().replace("# metric: centered\n", ""), "header",
     "missing header key 'metric'", "add a line '# metric: ...'"),
    ("raw metric", valid_text().replace("metric: centered", "metric: raw"), "line 3, metric",
     "metric must be 'centered', got 'raw'", "write '# metric: centered'"),
    ("repeated source", "# source: again\n" + valid_text(), "line 2",
     "header key 'source' given twice (first on line 1)", "only caveat may repeat"),
    ("misspelt key", valid_text().replace("# citation:", "# citaton:"), "line 2",
     "unknown header key 'citaton'", "did you mean 'citation'?"),
    ("header without colon", "# just a note\n" + valid_text(), "line 1",
     "header line is not '# key: value'", "write '# key: value'"),
    ("header without value", valid_text().replace("# source: a test table", "# source:"), "line 1",
     "header key 'source' has no value", "write the source"),
    ("no table", HEADER, "table", "no table after the header lines", "add the row 'value,mean'"),
    ("no rows", HEADER + "value,mean\n", "table", "the table has no rows", "add one row per value"),
    ("unknown column", valid_text().replace("value,mean", "value,mean,weight"), "line 4",
     "unknown column 'weight'", "use one of value, mean, sd, group"),
    ("missing mean column", HEADER + "value,sd\n" + rows_text(), "line 4",
     "missing column 'mean'", "the table needs the columns value and mean"),
    ("repeated column", HEADER + "value,mean,mean\n", "line 4", "column 'mean' given twice",
     "give each column once"),
    ("unknown code", replace_row("POD", "POW,-1.4"), f"line {row_line('POD')}, column 'value'",
     "unknown value code 'POW'", "Use one of SDT, SDA"),
    ("lowercase code", replace_row("BEC", "bec,0.8"), f"line {row_line('BEC')}, column 'value'",
     "unknown value code 'bec'", "did you mean 'BEC'?"),
    ("empty code", replace_row("HE", ",0.2"), f"line {row_line('HE')}, column 'value'",
     "missing value code", "write one of SDT"),
    ("missing code", replace_row("HUM", ""), "column 'value'", "missing value code(s) HUM",
     "give all 19 values"),
    ("duplicate code", replace_row("ST", "SDT,0.1"), f"line {row_line('ST')}, column 'value'",
     f"duplicate value code 'SDT' (first on line {row_line('SDT')})", "give each value once"),
    ("text mean", replace_row("AC", "AC,high"), f"line {row_line('AC')}, column 'mean'",
     "mean must be a number, got 'high'", "write a number with a '.' decimal point"),
    ("empty mean", replace_row("AC", "AC,"), f"line {row_line('AC')}, column 'mean'", "missing mean",
     "write a number"),
    ("nan mean", replace_row("AC", "AC,nan"), f"line {row_line('AC')}, column 'mean'",
     "mean must be a finite number, got 'nan'", "write a number"),
    ("raw-sized mean", replace_row("AC", "AC,5.5"), f"line {row_line('AC')}, column 'mean'",
     "mean 5.5 is outside -5 to 5", "not raw means"),
    ("too many fields", replace_row("TR", "TR,0.1,0.2"), f"line {row_line('TR')}",
     "3 fields, expected 2 (value, mean)", "give one field per column"),
    ("comment in table", replace_row("TR", "# TR to follow"), f"line {row_line('TR')}",
     "comment line inside the table", "move it to the header block"),
    ("open quote", valid_text() + '"UNT,0.1\n', None, "not a readable CSV row", "check the quotes"),
]


@pytest.mark.parametrize("case, text, field, problem, fix", BAD_FILES, ids=[case[0] for case in BAD_FILES])
def test_bad_file_is_one_line_error(tmp_path, case, text, field, problem, fix):
    path = write(tmp_path, text)
    with pytest.raises(InputError) as caught:
        load_norms(path)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: ")
    if field is not None:
        assert message.startswith(f"{path}: {field}: "), message
    assert problem in message
    assert fix in message


def test_text_sd_is_an_error(tmp_path):
    lines = [f"{code},0.1,{'wide' if code == 'SEP' else 0.5}" for code in CIRCLE_ORDER]
    path = write(tmp_path, HEADER + "value,mean,sd\n" + "\n".join(lines) + "\n")
    with pytest.raises(InputError, match=rf"line {row_line('SEP')}, column 'sd': sd must be a number, got 'wide'"):
        load_norms(path)


def test_negative_sd_is_an_error(tmp_path):
    lines = [f"{code},0.1,{-0.3 if code == 'SES' else 0.5}" for code in CIRCLE_ORDER]
    path = write(tmp_path, HEADER + "value,mean,sd\n" + "\n".join(lines) + "\n")
    with pytest.raises(InputError) as caught:
        load_norms(path)
    assert str(caught.value) == (f"{path}: line {row_line('SES')}, column 'sd': sd must not be negative, got -0.3; "
                                 "write the standard deviation, a number of at least 0")


def test_duplicate_code_within_group(tmp_path):
    group_b = rows_text(group="B").replace("UNT,", "UNN,", 1)
    path = write(tmp_path, HEADER + "value,mean,group\n" + rows_text(group="A") + group_b)
    # Group B's rows start after group A's 19 rows; its UNT row (the last) repeats UNN.
    line = FIRST_ROW_LINE + 19 + CIRCLE_ORDER.index("UNT")
    with pytest.raises(InputError, match=rf"line {line}, column 'value': duplicate value code 'UNN' in group 'B'"):
        load_norms(path)


def test_group_missing_a_value(tmp_path):
    codes = [code for code in CIRCLE_ORDER if code != "COR"]
    path = write(tmp_path, HEADER + "value,mean,group\n" + rows_text(group="A") + rows_text(group="B", codes=codes))
    with pytest.raises(InputError, match=r"group 'B': missing value code\(s\) COR; give all 19 values in every group"):
        load_norms(path)


def test_missing_file_names_the_param(tmp_path):
    with pytest.raises(InputError, match=r"norms file not found; check norms.file in params.yaml"):
        load_norms(tmp_path / "absent.csv")


def test_non_utf8_file(tmp_path):
    path = tmp_path / "latin1.csv"
    path.write_bytes((HEADER.replace("A. Author", "A. M\u00fcller") + "value,mean\n" + rows_text()).encode("latin-1"))
    with pytest.raises(InputError, match="not UTF-8 text; save the file as UTF-8"):
        load_norms(path)
