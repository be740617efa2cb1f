"""Dilemma files: loading, validation and the value pairs a set covers.

A dilemma set is a list of short care scenarios, each with two options that
serve two values of Schwartz's refined theory. A set is read from YAML or from
CSV, as the file's suffix says. Both formats are documented in
``docs/dilemmas.md``. The project's own set is
``data/dilemmas/mental-health-v1.yaml``: original and not validated.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import InputError
from .values import CIRCLE_ORDER, HIGHER_ORDER_VALUES, VALUE_BY_CODE
from .yamlfile import load_yaml

DEFAULT_DILEMMA_FILE = "data/dilemmas/mental-health-v1.yaml"

# The keys of one dilemma, in the order of the CSV columns in docs/dilemmas.md.
DILEMMA_KEYS = ("id", "setting", "scenario", "option_a", "option_b", "value_a", "value_b", "notes")
_OPTIONAL_DILEMMA_KEYS = ("setting", "notes")
_REQUIRED_SET_KEYS = ("id", "name", "dilemmas")
_OPTIONAL_SET_KEYS = ("language", "original", "validated", "source", "licence")

_YAML_SUFFIXES = (".yaml", ".yml")
_CSV_SUFFIX = ".csv"
_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_ID_FIX = "use letters, digits, '.', '_' and '-' only, starting with a letter or digit"

# Hints for the fix of an error about a missing or empty key.
_KEY_HINTS = {
    "id": "a short id such as d01",
    "scenario": "the scenario, ending with the decision to make",
    "option_a": "one option, as an action in one sentence",
    "option_b": "the other option, as an action in one sentence",
    "value_a": "the code of the value that option_a serves",
    "value_b": "the code of the value that option_b serves",
}

# Higher-order values on opposite sides of the circle. A dilemma that sets a
# value of one group against a value of the other is a sharp conflict.
_OPPOSING_GROUPS = (
    frozenset({"openness_to_change", "conservation"}),
    frozenset({"self_enhancement", "self_transcendence"}),
)


@dataclass(frozen=True)
class Dilemma:
    """One scenario with two options, each tagged with the value code it serves."""

    id: str
    setting: str
    scenario: str
    option_a: str
    option_b: str
    value_a: str
    value_b: str
    notes: str


@dataclass(frozen=True)
class DilemmaSet:
    """A validated list of dilemmas with unique ids.

    ``path`` is left out of comparisons, so the same set read from two files
    compares equal.
    """

    id: str
    name: str
    path: str = field(compare=False)
    original: bool
    validated: bool
    dilemmas: tuple[Dilemma, ...]

    @property
    def ids(self) -> tuple[str, ...]:
        """Dilemma ids in file order."""
        return tuple(dilemma.id for dilemma in self.dilemmas)

    def get(self, dilemma_id: str) -> Dilemma:
        """Return the dilemma with id ``dilemma_id``, or raise InputError if the set has none."""
        for dilemma in self.dilemmas:
            if dilemma.id == dilemma_id:
                return dilemma
        raise InputError(self.path, dilemma_id, f"no dilemma with id '{dilemma_id}' in the set {self.id}",
                         f"use one of {', '.join(self.ids)}")


def load_dilemma_set(path: str | Path) -> DilemmaSet:
    """Read and validate a YAML or CSV dilemma file, raising InputError that names the file, field and fix."""
    path = Path(path)
    source = str(path)
    if not path.is_file():
        raise InputError(source, None, "dilemma file not found",
                         "check dilemmas.file in params.yaml, or the path given")
    suffix = path.suffix.lower()
    if suffix in _YAML_SUFFIXES:
        return parse_dilemma_document(load_yaml(path, what="dilemma file"), source)
    if suffix == _CSV_SUFFIX:
        return _load_csv(path)
    raise InputError(source, None, f"unknown dilemma file type '{path.suffix}'",
                     "save the set as a .yaml, .yml or .csv file (see docs/dilemmas.md)")


def parse_dilemma_document(document: Any, source: str) -> DilemmaSet:
    """Validate a parsed YAML dilemma document (see ``load_dilemma_set``)."""
    if not isinstance(document, dict):
        raise InputError(source, None, "the file must be a YAML mapping with the keys id, name and dilemmas",
                         "see docs/dilemmas.md for the format")
    allowed = _REQUIRED_SET_KEYS + _OPTIONAL_SET_KEYS
    unknown = sorted(set(map(str, document)) - set(allowed))
    if unknown:
        raise InputError(source, unknown[0], "unknown key", f"use only {', '.join(allowed)}")
    for key in _REQUIRED_SET_KEYS:
        if key not in document:
            raise InputError(source, key, "missing required key", "see docs/dilemmas.md for the format")

    set_id = _header_text(document, "id", source, required=True)
    if not _ID_PATTERN.match(set_id):
        raise InputError(source, "id", f"invalid id '{set_id}'", _ID_FIX)
    for key in ("language", "source", "licence"):
        _header_text(document, key, source, required=False)

    entries = document["dilemmas"]
    if not isinstance(entries, list):
        raise InputError(source, "dilemmas", f"must be a list of dilemmas, got {type(entries).__name__}",
                         "write each dilemma as a list entry starting with '- id:'")
    labelled = []
    for index, entry in enumerate(entries):
        label = f"dilemmas[{index}]"
        if not isinstance(entry, dict):
            raise InputError(source, label, f"must be a mapping of the keys {', '.join(DILEMMA_KEYS)}",
                             "see docs/dilemmas.md for the format")
        unknown = sorted(set(map(str, entry)) - set(DILEMMA_KEYS))
        if unknown:
            raise InputError(source, f"{label}: {unknown[0]}", "unknown key", f"use only {', '.join(DILEMMA_KEYS)}")
        labelled.append((label, entry))

    return DilemmaSet(
        id=set_id,
        name=_header_text(document, "name", source, required=True),
        path=source,
        original=_flag(document, "original", source),
        validated=_flag(document, "validated", source),
        dilemmas=_build_dilemmas(labelled, source, label_with_id=True),
    )


def opposing(value_a: str, value_b: str) -> bool:
    """Tell whether two value codes belong to opposing higher-order values.

    Openness to change opposes conservation, and self-enhancement opposes
    self-transcendence. The boundary values FAC and HUM belong to no group, so
    a pair with either is never opposing. Codes are matched in any case; an
    unknown code raises ValueError.
    """
    group_a = _higher_order_group(value_a)
    group_b = _higher_order_group(value_b)
    if group_a is None or group_b is None:
        return False
    return frozenset({group_a, group_b}) in _OPPOSING_GROUPS


def pair_coverage(dilemma_set: DilemmaSet) -> list[dict[str, Any]]:
    """Count the dilemmas of each unordered value pair in a set, one row per pair.

    Each row contains ``pair`` (the two codes in circle order, such as "SDA-COR"),
    ``dilemmas`` (the number of dilemmas with that pair), ``ids`` (their ids),
    ``both_directions`` (whether each code of the pair is value_a in at least one
    of them) and ``opposing`` (see ``opposing``). Rows follow circle order.
    """
    by_pair: dict[tuple[str, str], list[Dilemma]] = {}
    for dilemma in dilemma_set.dilemmas:
        pair = tuple(sorted((dilemma.value_a, dilemma.value_b), key=CIRCLE_ORDER.index))
        by_pair.setdefault(pair, []).append(dilemma)

    rows = []
    for pair in sorted(by_pair, key=lambda codes: (CIRCLE_ORDER.index(codes[0]), CIRCLE_ORDER.index(codes[1]))):
        members = by_pair[pair]
        first_values = {dilemma.value_a for dilemma in members}
        rows.append({
            "pair": f"{pair[0]}-{pair[1]}",
            "dilemmas": len(members),
            "ids": tuple(dilemma.id for dilemma in members),
            "both_directions": first_values == set(pair),
            "opposing": opposing(*pair),
        })
    return rows


def _higher_order_group(code: str) -> str | None:
    if not isinstance(code, str) or code.upper() not in VALUE_BY_CODE:
        raise ValueError(f"unknown value code {code!r}; use one of {', '.join(CIRCLE_ORDER)}")
    for group, members in HIGHER_ORDER_VALUES.items():
        if code.upper() in members:
            return group
    return None


def _header_text(document: dict, key: str, source: str, required: bool) -> str:
    value = document.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str):
        raise InputError(source, key, f"must be text, got {value!r}",
                         "write the text, in quotes if it looks like a number or a date")
    if not value.strip():
        raise InputError(source, key, "must be non-empty text", f"write a value for '{key}'")
    return value.strip()


def _flag(document: dict, key: str, source: str) -> bool:
    value = document.get(key, False)
    if not isinstance(value, bool):
        raise InputError(source, key, f"must be true or false, got {value!r}", "write true or false")
    return value


def _build_dilemmas(labelled: list[tuple[str, dict]], source: str, label_with_id: bool) -> tuple[Dilemma, ...]:
    """Validate each (label, entry) pair and check the ids are unique.

    The label names the entry in errors ("dilemmas[3]" or "line 5"). With
    ``label_with_id`` the errors after the id check also name the id, as in
    "dilemmas[3] (d04): value_b".
    """
    if not labelled:
        raise InputError(source, "dilemmas", "the dilemma list is empty", "add at least one dilemma")
    dilemmas = []
    first_label: dict[str, str] = {}
    for label, entry in labelled:
        dilemma = _build_dilemma(entry, source, label, label_with_id)
        if dilemma.id in first_label:
            raise InputError(source, f"{label}: id", f"duplicate id '{dilemma.id}' (also at {first_label[dilemma.id]})",
                             "give each dilemma its own id")
        first_label[dilemma.id] = label
        dilemmas.append(dilemma)
    return tuple(dilemmas)


def _build_dilemma(entry: dict, source: str, label: str, label_with_id: bool) -> Dilemma:
    dilemma_id = _cell_text(entry, "id", source, label)
    if not _ID_PATTERN.match(dilemma_id):
        raise InputError(source, f"{label}: id", f"invalid id '{dilemma_id}'", _ID_FIX)
    if label_with_id:
        label = f"{label} ({dilemma_id})"

    option_a = _cell_text(entry, "option_a", source, label)
    option_b = _cell_text(entry, "option_b", source, label)
    # Options that differ only in case or spacing would read as the same choice.
    if " ".join(option_a.casefold().split()) == " ".join(option_b.casefold().split()):
        raise InputError(source, f"{label}: option_b", "the same text as option_a",
                         "write two different options, each serving its own value")
    value_a = _value_code(entry, "value_a", source, label)
    value_b = _value_code(entry, "value_b", source, label)
    if value_a == value_b:
        raise InputError(source, f"{label}: value_b", f"both options serve the same value {value_a}",
                         "tag the options with two different values, ideally from opposing higher-order groups")

    return Dilemma(
        id=dilemma_id,
        setting=_cell_text(entry, "setting", source, label),
        scenario=_cell_text(entry, "scenario", source, label),
        option_a=option_a,
        option_b=option_b,
        value_a=value_a,
        value_b=value_b,
        notes=_cell_text(entry, "notes", source, label),
    )


def _cell_text(entry: dict, key: str, source: str, label: str) -> str:
    """Return the stripped text of ``key``. Only setting and notes may be missing or empty."""
    where = f"{label}: {key}"
    value = entry.get(key)
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise InputError(source, where, f"must be text, got {value!r}",
                         "write the text, in quotes if it looks like a number, a date or a list")
    text = value.strip()
    if not text and key not in _OPTIONAL_DILEMMA_KEYS:
        problem = "empty" if key in entry else "missing"
        raise InputError(source, where, f"{problem} {key}", f"write {_KEY_HINTS[key]}")
    return text


def _value_code(entry: dict, key: str, source: str, label: str) -> str:
    text = _cell_text(entry, key, source, label)
    code = text.upper()
    if code not in VALUE_BY_CODE:
        raise InputError(source, f"{label}: {key}", f"unknown value code '{text}'",
                         f"use one of {', '.join(CIRCLE_ORDER)}")
    return code


def _load_csv(path: Path) -> DilemmaSet:
    """Read a CSV dilemma file, whose name without the suffix gives the set's id and name."""
    source = str(path)
    set_id = path.stem
    if not _ID_PATTERN.match(set_id):
        raise InputError(source, None, f"the file name gives the invalid set id '{set_id}'",
                         f"rename the file: {_ID_FIX}")
    return DilemmaSet(
        id=set_id,
        name=set_id,
        path=source,
        original=False,
        validated=False,
        dilemmas=_build_dilemmas(_csv_entries(path), source, label_with_id=False),
    )


def _csv_entries(path: Path) -> list[tuple[str, dict]]:
    """Return ("line N", {column: cell}) for each data row of a CSV dilemma file."""
    source = str(path)
    try:
        # utf-8-sig also accepts the byte order mark that spreadsheet programs write.
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InputError(source, None, "dilemma file is not UTF-8 text", "save the file as UTF-8") from None

    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    rows = []
    try:
        end_line = 0
        for row in reader:
            # A quoted cell can span lines, so a row starts one line after the previous row ended.
            rows.append((end_line + 1, row))
            end_line = reader.line_num
    except csv.Error as error:
        raise InputError(source, f"line {reader.line_num}", f"invalid CSV ({error})",
                         "check the quotes: a cell containing a comma, a quote or a line break "
                         "must be in double quotes, with inner quotes doubled") from None

    if not rows:
        raise InputError(source, None, "the file is empty", f"write a header row: {','.join(DILEMMA_KEYS)}")
    header = [cell.strip() for cell in rows[0][1]]
    _check_csv_header(header, source)

    entries = []
    for line, row in rows[1:]:
        if not row:
            continue  # the csv module returns [] for a blank line
        if len(row) != len(header):
            raise InputError(source, f"line {line}", f"{len(row)} cells, expected {len(header)}",
                             "give every row one cell per column, and quote cells that contain a comma")
        entries.append((f"line {line}", dict(zip(header, row))))
    return entries


def _check_csv_header(header: list[str], source: str) -> None:
    fix = f"the header row must hold exactly the columns {','.join(DILEMMA_KEYS)}"
    for column in header:
        if header.count(column) > 1:
            raise InputError(source, "line 1", f"column '{column}' appears more than once", fix)
    missing = [key for key in DILEMMA_KEYS if key not in header]
    if missing:
        noun = "column" if len(missing) == 1 else "columns"
        raise InputError(source, "line 1", f"missing {noun} {', '.join(missing)}", fix)
    extra = [column for column in header if column not in DILEMMA_KEYS]
    if extra:
        noun = "column" if len(extra) == 1 else "columns"
        raise InputError(source, "line 1", f"unknown {noun} {', '.join(extra)}", fix)
