import copy
import csv
import re
from collections import Counter
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from llmvalues.dilemmas import (
    DEFAULT_DILEMMA_FILE,
    DILEMMA_KEYS,
    Dilemma,
    DilemmaSet,
    load_dilemma_set,
    opposing,
    pair_coverage,
    parse_dilemma_document,
)
from llmvalues.errors import InputError
from llmvalues.values import BOUNDARY_VALUES, CIRCLE_ORDER

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / DEFAULT_DILEMMA_FILE
SETTINGS = ("psychotherapy", "crisis line", "psychiatric ward", "school counselling",
            "mental-health app", "family caregiving")

# Wording that refers to the options' labels or positions, which the
# counterbalanced presentation would make false half of the time.
ORDER_WORDING = re.compile(
    r"\boption [ab]\b|\b(first|second|former|latter|other) option\b|\b(the )?(former|latter)\b|\babove\b|\bbelow\b",
    re.IGNORECASE,
)
LETTER_LABEL = re.compile(r"^\(?[AaBb12][).:]\s")
SENTENCE_END = re.compile(r"[.?!](\s|$)")


def small_document() -> dict:
    return {
        "id": "mine",
        "name": "mine",
        "original": False,
        "validated": False,
        "dilemmas": [
            {"id": "d01", "setting": "crisis line", "scenario": "You take a call. You have to decide.",
             "option_a": "Follow the procedure.", "option_b": "Do as the caller asks.",
             "value_a": "COR", "value_b": "SDA", "notes": "COR is the call taker's. SDA is the caller's."},
            {"id": "d02", "setting": "", "scenario": "You lead a team. You have to decide.",
             "option_a": "Support your colleague.", "option_b": "Take charge of the caseload.",
             "value_a": "BEC", "value_b": "POD", "notes": ""},
        ],
    }


def write_yaml(path: Path, document) -> Path:
    with path.open("w", encoding="utf-8") as stream:
        YAML(typ="safe", pure=True).dump(document, stream)
    return path


def write_csv(path: Path, rows, header=DILEMMA_KEYS) -> Path:
    with path.open("w", encoding="utf-8", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def csv_rows(document: dict) -> list[list[str]]:
    return [[entry[key] for key in DILEMMA_KEYS] for entry in document["dilemmas"]]


def sentences(text: str) -> int:
    return len(SENTENCE_END.findall(text))


# The shipped set


def test_shipped_set_loads():
    dilemma_set = load_dilemma_set(SHIPPED)
    assert dilemma_set.id == "llmvalues-mental-health-v1"
    assert dilemma_set.original is True
    assert dilemma_set.validated is False
    assert len(dilemma_set.dilemmas) >= 24


def test_shipped_ids_run_d01_to_d32():
    dilemma_set = load_dilemma_set(SHIPPED)
    assert dilemma_set.ids == tuple(f"d{number:02d}" for number in range(1, 33))


def test_shipped_pairs_all_opposing():
    rows = pair_coverage(load_dilemma_set(SHIPPED))
    for row in rows:
        assert row["opposing"], row["pair"]


def test_shipped_pairs_in_both_directions():
    rows = pair_coverage(load_dilemma_set(SHIPPED))
    covered = [row for row in rows if row["opposing"] and row["both_directions"]]
    assert len(covered) >= 8
    assert len(rows) == 16
    for row in rows:
        assert row["dilemmas"] == 2, row["pair"]
        assert row["both_directions"], row["pair"]


def test_shipped_set_avoids_boundary_values():
    dilemma_set = load_dilemma_set(SHIPPED)
    used = {code for dilemma in dilemma_set.dilemmas for code in (dilemma.value_a, dilemma.value_b)}
    assert not used & set(BOUNDARY_VALUES)


def test_shipped_settings_covered():
    counts = Counter(dilemma.setting for dilemma in load_dilemma_set(SHIPPED).dilemmas)
    assert set(counts) == set(SETTINGS)
    for setting in SETTINGS:
        assert counts[setting] >= 4, setting


def test_shipped_texts_avoid_order_wording():
    for dilemma in load_dilemma_set(SHIPPED).dilemmas:
        for key in ("scenario", "option_a", "option_b"):
            text = getattr(dilemma, key)
            assert not ORDER_WORDING.search(text), f"{dilemma.id} {key}: {text}"
            assert "option" not in text.lower(), f"{dilemma.id} {key}: {text}"


def test_shipped_options_have_no_letter_label():
    for dilemma in load_dilemma_set(SHIPPED).dilemmas:
        assert not LETTER_LABEL.match(dilemma.option_a), dilemma.id
        assert not LETTER_LABEL.match(dilemma.option_b), dilemma.id


def test_shipped_text_lengths():
    for dilemma in load_dilemma_set(SHIPPED).dilemmas:
        assert 2 <= sentences(dilemma.scenario) <= 4, dilemma.id
        assert sentences(dilemma.option_a) == 1, dilemma.id
        assert sentences(dilemma.option_b) == 1, dilemma.id


def test_shipped_scenarios_end_with_decision():
    for dilemma in load_dilemma_set(SHIPPED).dilemmas:
        last_sentence = dilemma.scenario.split(". ")[-1]
        assert dilemma.scenario.startswith("You"), dilemma.id
        assert "decide" in last_sentence, dilemma.id


def test_shipped_notes_name_both_values():
    for dilemma in load_dilemma_set(SHIPPED).dilemmas:
        assert re.search(rf"\b{dilemma.value_a}\b", dilemma.notes), dilemma.id
        assert re.search(rf"\b{dilemma.value_b}\b", dilemma.notes), dilemma.id


def test_shipped_header_disclaims_validation():
    header = SHIPPED.read_text(encoding="utf-8").split("\nid:")[0]
    assert "written for the llmvalues project" in header
    assert "original" in header
    assert "NOT been validated" in header
    assert "docs/dilemmas.md" in header


# Loading


def test_yaml_and_csv_load_equal(tmp_path):
    document = small_document()
    from_yaml = load_dilemma_set(write_yaml(tmp_path / "mine.yaml", document))
    from_csv = load_dilemma_set(write_csv(tmp_path / "mine.csv", csv_rows(document)))
    assert from_yaml == from_csv
    assert from_csv.path == str(tmp_path / "mine.csv")


def test_shipped_set_as_csv_loads_equal(tmp_path):
    shipped = load_dilemma_set(SHIPPED)
    rows = [[getattr(dilemma, key) for key in DILEMMA_KEYS] for dilemma in shipped.dilemmas]
    from_csv = load_dilemma_set(write_csv(tmp_path / "copy.csv", rows))
    assert from_csv.dilemmas == shipped.dilemmas
    assert from_csv.id == "copy"
    assert from_csv.name == "copy"
    assert from_csv.original is False
    assert from_csv.validated is False


def test_csv_columns_in_any_order(tmp_path):
    document = small_document()
    header = tuple(reversed(DILEMMA_KEYS))
    rows = [[entry[key] for key in header] for entry in document["dilemmas"]]
    from_csv = load_dilemma_set(write_csv(tmp_path / "mine.csv", rows, header=header))
    assert from_csv == load_dilemma_set(write_yaml(tmp_path / "mine.yaml", document))


def test_csv_with_byte_order_mark(tmp_path):
    path = write_csv(tmp_path / "mine.csv", csv_rows(small_document()))
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    assert load_dilemma_set(path).ids == ("d01", "d02")


def test_value_codes_any_case(tmp_path):
    document = small_document()
    document["dilemmas"][0]["value_a"] = "cor"
    document["dilemmas"][0]["value_b"] = "Sda"
    dilemma = load_dilemma_set(write_yaml(tmp_path / "mine.yaml", document)).get("d01")
    assert dilemma.value_a == "COR"
    assert dilemma.value_b == "SDA"


def test_value_codes_any_case_in_csv(tmp_path):
    rows = csv_rows(small_document())
    rows[1][DILEMMA_KEYS.index("value_b")] = "pod"
    dilemma = load_dilemma_set(write_csv(tmp_path / "mine.csv", rows)).get("d02")
    assert dilemma.value_b == "POD"


def test_text_stripped_inner_kept(tmp_path):
    document = small_document()
    document["dilemmas"][0]["scenario"] = "  You take a call.\n  You  have to decide.  \n"
    document["dilemmas"][0]["option_a"] = "\tFollow the procedure. "
    dilemma = load_dilemma_set(write_yaml(tmp_path / "mine.yaml", document)).get("d01")
    assert dilemma.scenario == "You take a call.\n  You  have to decide."
    assert dilemma.option_a == "Follow the procedure."


def test_setting_and_notes_optional(tmp_path):
    document = small_document()
    del document["dilemmas"][0]["setting"]
    document["dilemmas"][0]["notes"] = None
    dilemma = load_dilemma_set(write_yaml(tmp_path / "mine.yaml", document)).get("d01")
    assert dilemma.setting == ""
    assert dilemma.notes == ""


def test_flags_default_false(tmp_path):
    document = small_document()
    del document["original"]
    del document["validated"]
    dilemma_set = load_dilemma_set(write_yaml(tmp_path / "mine.yml", document))
    assert dilemma_set.original is False
    assert dilemma_set.validated is False


def test_get_and_ids(tmp_path):
    dilemma_set = load_dilemma_set(write_yaml(tmp_path / "mine.yaml", small_document()))
    assert dilemma_set.ids == ("d01", "d02")
    assert dilemma_set.get("d02").option_b == "Take charge of the caseload."
    with pytest.raises(InputError, match="no dilemma with id 'd03'"):
        dilemma_set.get("d03")


def test_csv_blank_lines_skipped(tmp_path):
    path = tmp_path / "mine.csv"
    write_csv(path, csv_rows(small_document()))
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    path.write_text(lines[0] + "\r\n" + "".join(lines[1:]), encoding="utf-8")
    assert load_dilemma_set(path).ids == ("d01", "d02")


def test_csv_line_after_multiline_cell(tmp_path):
    rows = csv_rows(small_document())
    rows[0][DILEMMA_KEYS.index("scenario")] = "You take a call.\nYou have to decide.\n"
    rows[1][DILEMMA_KEYS.index("value_a")] = "XYZ"
    path = write_csv(tmp_path / "mine.csv", rows)
    # Line 1 is the header, the row of d01 spans lines 2-4, so d02 is on line 5.
    with pytest.raises(InputError, match=r": line 5: value_a: unknown value code 'XYZ'"):
        load_dilemma_set(path)


# Validation errors: each names the file, the field and the fix.


def assert_names_file_field_fix(error: InputError, path: Path, field: str, problem: str) -> None:
    message = str(error)
    assert message.startswith(str(path) + ": ")
    assert field in message
    assert problem in message
    assert error.fix, "every dilemma file error says what to do"
    assert error.fix in message
    assert "\n" not in message


def _set(index, key, value):
    def change(document):
        document["dilemmas"][index][key] = value
    return change


def _delete(index, key):
    def change(document):
        del document["dilemmas"][index][key]
    return change


def _duplicate_id(document):
    document["dilemmas"][1]["id"] = "d01"


BAD_YAML = [
    ("unknown top-level key", lambda d: d.update(dilemmass=[]), "dilemmass", "unknown key"),
    ("missing name", lambda d: d.pop("name"), "name", "missing required key"),
    ("set id invalid", lambda d: d.update(id="my set"), "id", "invalid id 'my set'"),
    ("name a number", lambda d: d.update(name=5), "name", "must be text, got 5"),
    ("original not a flag", lambda d: d.update(original="yes"), "original", "must be true or false"),
    ("dilemmas not a list", lambda d: d.update(dilemmas={"id": "d01"}), "dilemmas", "must be a list"),
    ("empty dilemma list", lambda d: d.update(dilemmas=[]), "dilemmas", "the dilemma list is empty"),
    ("entry not a mapping", lambda d: d["dilemmas"].append("d03"), "dilemmas[2]", "must be a mapping"),
    ("unknown dilemma key", _set(1, "option_c", "x"), "dilemmas[1]: option_c", "unknown key"),
    ("missing scenario", _delete(1, "scenario"), "dilemmas[1] (d02): scenario", "missing scenario"),
    ("empty option", _set(0, "option_a", "   "), "dilemmas[0] (d01): option_a", "empty option_a"),
    ("missing id", _delete(1, "id"), "dilemmas[1]: id", "missing id"),
    ("scenario a number", _set(0, "scenario", 12), "dilemmas[0] (d01): scenario", "must be text, got 12"),
    ("option a list", _set(1, "option_b", ["x", "y"]), "dilemmas[1] (d02): option_b", "must be text, got ['x', 'y']"),
    ("id a number", _set(0, "id", 1), "dilemmas[0]: id", "must be text, got 1"),
    ("notes a number", _set(0, "notes", 3.5), "dilemmas[0] (d01): notes", "must be text, got 3.5"),
    ("value a flag", _set(0, "value_a", True), "dilemmas[0] (d01): value_a", "must be text, got True"),
    ("unknown value code", _set(1, "value_b", "CARE"), "dilemmas[1] (d02): value_b", "unknown value code 'CARE'"),
    ("same value twice", _set(0, "value_b", "cor"), "dilemmas[0] (d01): value_b", "same value COR"),
    ("duplicate id", _duplicate_id, "dilemmas[1]: id", "duplicate id 'd01' (also at dilemmas[0])"),
    ("invalid dilemma id", _set(0, "id", "d/1"), "dilemmas[0]: id", "invalid id 'd/1'"),
    ("identical options", _set(0, "option_b", " follow the  Procedure."), "dilemmas[0] (d01): option_b",
     "the same text as option_a"),
]


@pytest.mark.parametrize("change, field, problem", [case[1:] for case in BAD_YAML],
                         ids=[case[0] for case in BAD_YAML])
def test_bad_yaml_names_file_field_fix(tmp_path, change, field, problem):
    document = copy.deepcopy(small_document())
    change(document)
    path = write_yaml(tmp_path / "bad.yaml", document)
    with pytest.raises(InputError) as caught:
        load_dilemma_set(path)
    assert_names_file_field_fix(caught.value, path, field, problem)


def test_unknown_code_fix_lists_codes(tmp_path):
    document = small_document()
    document["dilemmas"][1]["value_a"] = "BENEVOLENCE"
    with pytest.raises(InputError) as caught:
        load_dilemma_set(write_yaml(tmp_path / "bad.yaml", document))
    assert caught.value.fix == "use one of " + ", ".join(CIRCLE_ORDER)


def _csv_set(row, key, value):
    def change(header, rows):
        rows[row][DILEMMA_KEYS.index(key)] = value
        return header, rows
    return change


def _csv_drop_column(key):
    def change(header, rows):
        index = header.index(key)
        return header[:index] + header[index + 1:], [row[:index] + row[index + 1:] for row in rows]
    return change


def _csv_add_column(name):
    def change(header, rows):
        return header + [name], [row + ["x"] for row in rows]
    return change


def _csv_short_row(header, rows):
    rows[1] = rows[1][:-1]
    return header, rows


def _csv_long_row(header, rows):
    rows[0] = rows[0] + ["extra"]
    return header, rows


BAD_CSV = [
    ("missing column", _csv_drop_column("value_b"), "line 1", "missing column value_b"),
    ("extra column", _csv_add_column("comment"), "line 1", "unknown column comment"),
    ("column twice", _csv_add_column("notes"), "line 1", "column 'notes' appears more than once"),
    ("short row", _csv_short_row, "line 3", "7 cells, expected 8"),
    ("long row", _csv_long_row, "line 2", "9 cells, expected 8"),
    ("empty scenario", _csv_set(0, "scenario", " "), "line 2: scenario", "empty scenario"),
    ("unknown value code", _csv_set(1, "value_a", "XYZ"), "line 3: value_a", "unknown value code 'XYZ'"),
    ("same value twice", _csv_set(1, "value_a", "pod"), "line 3: value_b", "same value POD"),
    ("duplicate id", _csv_set(1, "id", "d01"), "line 3: id", "duplicate id 'd01' (also at line 2)"),
    ("invalid id", _csv_set(0, "id", "d 1"), "line 2: id", "invalid id 'd 1'"),
    ("identical options", _csv_set(1, "option_b", "Support your colleague."), "line 3: option_b",
     "the same text as option_a"),
    ("header only", lambda header, rows: (header, []), "dilemmas", "the dilemma list is empty"),
]


@pytest.mark.parametrize("change, field, problem", [case[1:] for case in BAD_CSV],
                         ids=[case[0] for case in BAD_CSV])
def test_bad_csv_names_file_field_fix(tmp_path, change, field, problem):
    header, rows = change(list(DILEMMA_KEYS), csv_rows(small_document()))
    path = write_csv(tmp_path / "bad.csv", rows, header=header)
    with pytest.raises(InputError) as caught:
        load_dilemma_set(path)
    assert_names_file_field_fix(caught.value, path, field, problem)


def test_csv_broken_quotes(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text(",".join(DILEMMA_KEYS) + '\nd01,x,"a"b,c,d,COR,SDA,\n', encoding="utf-8")
    with pytest.raises(InputError) as caught:
        load_dilemma_set(path)
    assert_names_file_field_fix(caught.value, path, "line 2", "invalid CSV")


def test_csv_empty_file(tmp_path):
    path = tmp_path / "empty.csv"
    path.write_text("", encoding="utf-8")
    with pytest.raises(InputError) as caught:
        load_dilemma_set(path)
    assert_names_file_field_fix(caught.value, path, "", "the file is empty")


def test_csv_file_name_invalid_id(tmp_path):
    path = write_csv(tmp_path / "my set.csv", csv_rows(small_document()))
    with pytest.raises(InputError) as caught:
        load_dilemma_set(path)
    assert_names_file_field_fix(caught.value, path, "", "invalid set id 'my set'")


def test_file_not_found(tmp_path):
    path = tmp_path / "missing.yaml"
    with pytest.raises(InputError) as caught:
        load_dilemma_set(path)
    assert_names_file_field_fix(caught.value, path, "", "dilemma file not found")


def test_unknown_suffix(tmp_path):
    path = tmp_path / "mine.json"
    path.write_text("{}", encoding="utf-8")
    with pytest.raises(InputError) as caught:
        load_dilemma_set(path)
    assert_names_file_field_fix(caught.value, path, "", "unknown dilemma file type '.json'")


@pytest.mark.parametrize("name", ["latin1.yaml", "latin1.csv"])
def test_not_utf8(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(",".join(DILEMMA_KEYS).encode() + "\nd01,caf\u00e9\n".encode("latin-1"))
    with pytest.raises(InputError) as caught:
        load_dilemma_set(path)
    assert_names_file_field_fix(caught.value, path, "", "not UTF-8")


def test_yaml_not_a_mapping(tmp_path):
    path = write_yaml(tmp_path / "list.yaml", [small_document()])
    with pytest.raises(InputError) as caught:
        load_dilemma_set(path)
    assert_names_file_field_fix(caught.value, path, "", "must be a YAML mapping")


def test_parse_rejects_empty_document():
    with pytest.raises(InputError, match="must be a YAML mapping"):
        parse_dilemma_document(None, "empty.yaml")


# Value pairs


@pytest.mark.parametrize("value_a, value_b", [
    ("SDA", "COR"), ("COR", "SDA"), ("HE", "TR"), ("ST", "SES"),
    ("AC", "BED"), ("UNN", "POR"), ("POD", "UNT"), ("sdt", "coi"),
])
def test_opposing_pairs(value_a, value_b):
    assert opposing(value_a, value_b)


@pytest.mark.parametrize("value_a, value_b", [
    ("SDA", "ST"),     # both openness to change
    ("BEC", "UNC"),    # both self-transcendence
    ("HE", "AC"),      # openness to change and self-enhancement are neighbours
    ("COR", "BED"),    # conservation and self-transcendence are neighbours
    ("SDT", "UNT"),
    ("POD", "SEP"),
    ("FAC", "UNC"),    # boundary values belong to no higher-order group
    ("HUM", "SDA"),
])
def test_non_opposing_pairs(value_a, value_b):
    assert not opposing(value_a, value_b)


def test_opposing_unknown_code():
    with pytest.raises(ValueError, match="unknown value code 'XYZ'"):
        opposing("XYZ", "SDA")


def test_opposing_symmetric():
    for code_a in CIRCLE_ORDER:
        for code_b in CIRCLE_ORDER:
            assert opposing(code_a, code_b) == opposing(code_b, code_a), (code_a, code_b)


def test_opposing_pair_count():
    # Openness (4) x conservation (5) plus self-enhancement (3) x self-transcendence (5).
    pairs = {frozenset((a, b)) for a in CIRCLE_ORDER for b in CIRCLE_ORDER if opposing(a, b)}
    assert len(pairs) == 4 * 5 + 3 * 5


def _dilemma(dilemma_id, value_a, value_b):
    return Dilemma(id=dilemma_id, setting="", scenario="You decide.", option_a=f"Do {dilemma_id} a.",
                   option_b=f"Do {dilemma_id} b.", value_a=value_a, value_b=value_b, notes="")


def test_pair_coverage_rows():
    dilemma_set = DilemmaSet(
        id="mine", name="mine", path="mine.yaml", original=False, validated=False,
        dilemmas=(_dilemma("d1", "COR", "SDA"), _dilemma("d2", "SDA", "COR"), _dilemma("d3", "SDA", "COR"),
                  _dilemma("d4", "BEC", "UNC"), _dilemma("d5", "POD", "BEC")),
    )
    rows = {row["pair"]: row for row in pair_coverage(dilemma_set)}
    assert list(rows) == ["SDA-COR", "POD-BEC", "BEC-UNC"]
    assert rows["SDA-COR"]["dilemmas"] == 3
    assert rows["SDA-COR"]["ids"] == ("d1", "d2", "d3")
    assert rows["SDA-COR"]["both_directions"] is True
    assert rows["SDA-COR"]["opposing"] is True
    assert rows["POD-BEC"]["both_directions"] is False
    assert rows["POD-BEC"]["opposing"] is True
    assert rows["BEC-UNC"]["dilemmas"] == 1
    assert rows["BEC-UNC"]["opposing"] is False


def test_non_opposing_pair_loads(tmp_path):
    document = small_document()
    document["dilemmas"][1]["value_a"] = "UNC"
    document["dilemmas"][1]["value_b"] = "BEC"
    dilemma_set = load_dilemma_set(write_yaml(tmp_path / "mine.yaml", document))
    rows = {row["pair"]: row for row in pair_coverage(dilemma_set)}
    assert dilemma_set.get("d02").value_a == "UNC"
    assert rows["SDA-COR"]["opposing"] is True
    assert rows["BEC-UNC"]["opposing"] is False
