import numpy as np
import pytest

from llmvalues.errors import InputError
from llmvalues.responses import read_responses


def write_csv(path, header, rows):
    path.write_text("\n".join([",".join(header)] + [",".join(map(str, row)) for row in rows]) + "\n",
                    encoding="utf-8")
    return path


def items_header(prefix="item"):
    return [f"{prefix}{number}" for number in range(1, 58)]


def test_reads_ids_and_ratings(tmp_path):
    path = write_csv(tmp_path / "r.csv", ["id", "country"] + items_header(),
                     [["P1", "NZ"] + [3] * 57, ["P2", "IL"] + [""] + [5] * 56])
    identifiers, ratings = read_responses(path)
    assert list(identifiers.columns) == ["id", "country"]
    assert list(ratings.columns) == list(range(1, 58))
    assert ratings.loc[0, 1] == 3
    assert np.isnan(ratings.loc[1, 1])


@pytest.mark.parametrize("header", [
    [str(number) for number in range(1, 58)],
    [f"PVQ_{number}" for number in range(1, 58)],
    [f"q{number}" for number in range(57, 0, -1)],
])
def test_item_column_names(tmp_path, header):
    path = write_csv(tmp_path / "r.csv", header, [list(range(1, 7)) * 9 + [1, 2, 3]])
    _, ratings = read_responses(path)
    assert ratings.shape == (1, 57)


def test_bad_cells(tmp_path):
    cases = [
        ("five", "line 2 (respondent 'P1'), column 'item12'", "'five' is not a number"),
        ("7", "column 'item12'", "rating 7 is outside 1-6"),
        ("0", "column 'item12'", "rating 0 is outside 1-6"),
        ("4.5", "column 'item12'", "rating 4.5 is not a whole number"),
    ]
    for cell, field, problem in cases:
        row = ["P1"] + [3] * 57
        row[12] = cell
        path = write_csv(tmp_path / "r.csv", ["id"] + items_header(), [row])
        with pytest.raises(InputError) as caught:
            read_responses(path)
        message = str(caught.value)
        assert message.startswith(str(path)), cell
        assert field in message, cell
        assert problem in message, cell
        assert caught.value.fix, cell


def test_fractional_ratings_with_continuous(tmp_path):
    row = ["P1"] + [3] * 56 + ["4.25"]
    path = write_csv(tmp_path / "r.csv", ["id"] + items_header(), [row])
    _, ratings = read_responses(path, continuous=True)
    assert ratings.loc[0, 57] == 4.25


def test_wrong_item_count(tmp_path):
    path = write_csv(tmp_path / "r.csv", ["id"] + items_header()[:56], [["P1"] + [3] * 56])
    with pytest.raises(InputError, match="found 56 item columns, expected 57; no column for item 57"):
        read_responses(path)


def test_item_number_outside_questionnaire(tmp_path):
    path = write_csv(tmp_path / "r.csv", items_header() + ["item58"], [[3] * 58])
    with pytest.raises(InputError, match="column 'item58': item number 58 is outside 1-57"):
        read_responses(path)


def test_duplicate_item_column(tmp_path):
    path = write_csv(tmp_path / "r.csv", items_header() + ["q5"], [[3] * 58])
    with pytest.raises(InputError, match="item 5 also appears as column 'item5'"):
        read_responses(path)


def test_empty_and_missing_files(tmp_path):
    header_only = write_csv(tmp_path / "h.csv", items_header(), [])
    with pytest.raises(InputError, match="no respondent rows"):
        read_responses(header_only)
    blank = tmp_path / "blank.csv"
    blank.write_text("", encoding="utf-8")
    with pytest.raises(InputError, match="the file is empty"):
        read_responses(blank)
    with pytest.raises(InputError, match="responses file not found"):
        read_responses(tmp_path / "absent.csv")


def test_duplicate_header_name(tmp_path):
    path = write_csv(tmp_path / "r.csv", items_header() + ["item5"], [[3] * 58])
    with pytest.raises(InputError, match=r"column 'item5': appears twice in the header \(columns 5 and 58\)"):
        read_responses(path)


def test_row_with_missing_fields(tmp_path):
    path = write_csv(tmp_path / "r.csv", ["id"] + items_header(), [["P1"] + [3] * 57, ["P2"] + [3] * 29])
    with pytest.raises(InputError, match="r.csv: line 3: 30 fields, but the header has 58"):
        read_responses(path)


def test_line_numbers_count_blank_lines_and_quoted_breaks(tmp_path):
    header = ",".join(["id"] + items_header())
    good = ",".join(["P1"] + ["3"] * 57)
    bad = ",".join(['"P\n2"'] + ["3"] * 56 + ["x"])
    path = tmp_path / "r.csv"
    path.write_text("\n".join([header, "", good, bad]) + "\n", encoding="utf-8")
    with pytest.raises(InputError, match="line 4 \\(respondent 'P\n2'\\), column 'item57'"):
        read_responses(path)


def test_semicolon_file_is_recognized(tmp_path):
    path = tmp_path / "r.csv"
    path.write_text(";".join(["id"] + items_header()) + "\n" + ";".join(["P1"] + ["3"] * 57) + "\n",
                    encoding="utf-8")
    with pytest.raises(InputError, match="looks separated by ';'; save it with commas, or pass --delimiter ';'"):
        read_responses(path)
    _, ratings = read_responses(path, delimiter=";")
    assert ratings.shape == (1, 57)


def test_byte_order_mark_and_crlf(tmp_path):
    path = tmp_path / "r.csv"
    text = ",".join(["id"] + items_header()) + "\r\n" + ",".join(["P1"] + ["2"] * 57) + "\r\n"
    path.write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    identifiers, ratings = read_responses(path)
    assert list(identifiers.columns) == ["id"]
    assert ratings.loc[0, 1] == 2


@pytest.mark.parametrize("token", ["NA", "nan", "N/A", "null", "."])
def test_missing_answer_tokens(tmp_path, token):
    path = write_csv(tmp_path / "r.csv", items_header(), [[token] + [3] * 56])
    _, ratings = read_responses(path)
    assert np.isnan(ratings.loc[0, 1])
