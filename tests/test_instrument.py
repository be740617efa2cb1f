import copy
import re
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from llmvalues.errors import InputError
from llmvalues.instrument import (
    DEFAULT_INSTRUMENT_ID,
    builtin_instruments,
    load_instrument,
    parse_instrument,
    resolve_instrument,
)
from llmvalues.values import SCORING_KEY
from llmvalues.yamlfile import load_yaml

BUILTIN = builtin_instruments()[DEFAULT_INSTRUMENT_ID]


def builtin_document() -> dict:
    return load_yaml(BUILTIN, what="instrument file")


def write_yaml(path: Path, document) -> Path:
    with path.open("w", encoding="utf-8") as stream:
        YAML(typ="safe", pure=True).dump(document, stream)
    return path


def test_builtin_instrument_is_complete():
    instrument = resolve_instrument(DEFAULT_INSTRUMENT_ID)
    assert instrument.id == DEFAULT_INSTRUMENT_ID
    assert instrument.key == SCORING_KEY
    assert instrument.forms == ("neutral", "male", "female")
    assert instrument.original is True
    assert instrument.validated is False
    assert instrument.scale_labels[1] == "Not like me at all"
    assert instrument.scale_labels[6] == "Very much like me"


def test_builtin_items_are_distinct_in_every_form():
    instrument = resolve_instrument(DEFAULT_INSTRUMENT_ID)
    for form in instrument.forms:
        texts = [instrument.text(item, form) for item in range(1, 58)]
        assert len(set(texts)) == 57


def test_builtin_forms_differ_only_in_pronouns():
    instrument = resolve_instrument(DEFAULT_INSTRUMENT_ID)

    def pronouns_masked(text, words):
        return re.sub(rf"\b({'|'.join(words)})\b", "<pronoun>", text)

    for item in range(1, 58):
        neutral = instrument.text(item, "neutral")
        male = instrument.text(item, "male")
        female = instrument.text(item, "female")
        assert len({neutral, male, female}) == 3, item
        assert not re.search(r"\b(he|him|his|himself|she|her|herself)\b", neutral), item
        assert pronouns_masked(male, ["himself", "him", "his"]) == pronouns_masked(female, ["herself", "her"]), item


def test_builtin_file_disclaims_pvq_rr():
    header = BUILTIN.read_text(encoding="utf-8")[:1200]
    assert "NOT the\n# PVQ-RR" in header
    assert "NOT been validated" in header


def test_resolve_accepts_a_path(tmp_path):
    path = write_yaml(tmp_path / "copy.yaml", builtin_document())
    assert resolve_instrument(str(path)).path == str(path)


def test_unknown_form_is_an_input_error():
    instrument = resolve_instrument(DEFAULT_INSTRUMENT_ID)
    with pytest.raises(InputError, match="no 'plural' form"):
        instrument.text(1, "plural")


def test_licensed_style_file_with_two_forms(tmp_path):
    document = builtin_document()
    document["id"] = "pvq-rr-en"
    document["original"] = False
    document["forms"] = ["male", "female"]
    for entry in document["items"]:
        del entry["neutral"]
    instrument = load_instrument(write_yaml(tmp_path / "pvq.yaml", document))
    assert instrument.forms == ("male", "female")
    assert instrument.original is False


def _without_item(document, number):
    document["items"] = [entry for entry in document["items"] if entry["item"] != number]


def _duplicate_item(document, number):
    entry = next(entry for entry in document["items"] if entry["item"] == number)
    document["items"].append(copy.deepcopy(entry))


def _set_item(document, number, key, value):
    entry = next(entry for entry in document["items"] if entry["item"] == number)
    if value is None:
        del entry[key]
    else:
        entry[key] = value


BAD_DOCUMENTS = [
    ("missing item", lambda d: _without_item(d, 23), "item 23", "missing item"),
    ("duplicate item", lambda d: _duplicate_item(d, 40), "item 40", "duplicate item number"),
    ("unknown value code", lambda d: _set_item(d, 5, "value", "UNX"), "item 5.value", "unknown value code 'UNX'"),
    ("value against the key", lambda d: _set_item(d, 5, "value", "SDT"), "item 5.value", "puts item 5 under UNC"),
    ("missing text", lambda d: _set_item(d, 12, "female", None), "item 12.female", "missing item text"),
    ("empty text", lambda d: _set_item(d, 12, "male", "  "), "item 12.male", "missing item text"),
    ("item out of range", lambda d: _set_item(d, 12, "item", 58), "item 58", "out of range"),
    ("item number as text", lambda d: _set_item(d, 12, "item", "12"), "items entry", "must be an integer"),
    ("scale 1 to 7", lambda d: d["scale"].update(max=7), "scale", "wrong scale 1 to 7"),
    ("scale from 0", lambda d: d["scale"].update(min=0), "scale", "wrong scale 0 to 6"),
    ("missing label", lambda d: d["scale"]["labels"].pop(3), "scale.labels", "exactly the points"),
    ("unknown top-level key", lambda d: d.update(itmes=[]), "itmes", "unknown key"),
    ("unknown item key", lambda d: _set_item(d, 3, "nuetral", "x"), "item 3.nuetral", "unknown key"),
    ("missing id", lambda d: d.pop("id"), "id", "missing required key"),
    ("id with a slash", lambda d: d.update(id="a/b"), "id", "invalid id"),
    ("unknown form", lambda d: d.update(forms=["neutral", "plural"]), "forms", "unknown form 'plural'"),
    ("original not a flag", lambda d: d.update(original="yes"), "original", "must be true or false"),
    ("two points with one label", lambda d: d["scale"]["labels"].update({6: "like me"}), "scale.labels.6",
     "same label as point 5"),
    ("label written as a number", lambda d: d["scale"]["labels"].update({6: 6}), "scale.labels.6",
     "must be text, got 6"),
    ("item text written as a number", lambda d: _set_item(d, 9, "neutral", 5), "item 9.neutral", "must be text, got 5"),
]


@pytest.mark.parametrize("change, field, problem", [case[1:] for case in BAD_DOCUMENTS],
                         ids=[case[0] for case in BAD_DOCUMENTS])
def test_bad_instrument_names_file_field_and_fix(tmp_path, change, field, problem):
    document = builtin_document()
    change(document)
    path = write_yaml(tmp_path / "bad.yaml", document)
    with pytest.raises(InputError) as caught:
        load_instrument(path)
    message = str(caught.value)
    assert message.startswith(str(path) + ": ")
    assert field in message
    assert problem in message
    assert caught.value.fix, "every instrument error says what to do"
    assert "\n" not in message


def test_invalid_yaml_names_the_line(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("id: x\nitems: [\n  - item: 1\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"broken\.yaml: line \d+: invalid YAML"):
        load_instrument(path)


def test_key_given_twice_is_an_error(tmp_path):
    path = tmp_path / "twice.yaml"
    path.write_text("id: a\nid: b\n", encoding="utf-8")
    with pytest.raises(InputError, match="invalid YAML"):
        load_instrument(path)


def test_missing_file_and_unknown_id():
    with pytest.raises(InputError, match="instrument file not found"):
        load_instrument("no/such/file.yaml")
    with pytest.raises(InputError, match="not the id of a built-in instrument"):
        resolve_instrument("pvq-rr-en")


def test_top_level_must_be_a_mapping():
    with pytest.raises(InputError, match="must be a YAML mapping"):
        parse_instrument(["not", "a", "mapping"], "list.yaml")
