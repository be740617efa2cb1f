"""Questionnaire files: loading, validation and the built-in instruments.

An instrument file is YAML (read with a safe loader) holding the items of a
57-item portrait questionnaire keyed to the PVQ-RR scoring key. The format is
documented in ``docs/instruments.md``. The package ships one instrument, its own
original items; a licensed PVQ-RR file in the same format can be used instead.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import InputError
from .yamlfile import load_yaml
from .values import CIRCLE_ORDER, N_ITEMS, SCALE_MAX, SCALE_MIN, SCORING_KEY

BUILTIN_DIR = Path(__file__).parent / "instruments"
DEFAULT_INSTRUMENT_ID = "llmvalues-portraits-v1"
FORMS = ("neutral", "male", "female")

_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_REQUIRED_KEYS = ("id", "name", "language", "scale", "forms", "items")
_OPTIONAL_KEYS = ("original", "validated", "source", "licence", "question")


@dataclass(frozen=True)
class Item:
    number: int
    value: str
    texts: dict[str, str]  # form -> item text


@dataclass(frozen=True)
class Instrument:
    """A validated questionnaire: 57 items, their value codes and the 1-6 answer scale."""

    id: str
    name: str
    language: str
    forms: tuple[str, ...]
    scale_labels: dict[int, str]
    items: dict[int, Item]
    original: bool
    validated: bool
    source: str
    licence: str
    question: str
    path: str

    @property
    def key(self) -> dict[int, str]:
        """Item number -> value code."""
        return {number: item.value for number, item in self.items.items()}

    def text(self, item: int, form: str) -> str:
        """Return the text of ``item`` in gender ``form``."""
        if form not in self.forms:
            raise InputError(self.path, "forms", f"this instrument has no '{form}' form",
                             f"choose one of {', '.join(self.forms)}")
        return self.items[item].texts[form]


def builtin_instruments() -> dict[str, Path]:
    """Map the id of each instrument shipped with the package to its file."""
    found = {}
    for path in sorted(BUILTIN_DIR.glob("*.yaml")):
        found[path.stem] = path
    return found


def resolve_instrument(reference: str | Path) -> Instrument:
    """Load an instrument given a file path or the id of a built-in instrument."""
    path = Path(reference)
    if path.suffix in (".yaml", ".yml") or path.exists():
        return load_instrument(path)
    builtins = builtin_instruments()
    if str(reference) in builtins:
        return load_instrument(builtins[str(reference)])
    raise InputError(
        str(reference), None, "not an instrument file and not the id of a built-in instrument",
        f"give the path of a .yaml instrument file or one of: {', '.join(builtins)}",
    )


def select_instrument(settings: dict[str, Any], params_source: str, root: str | Path = ".") -> Instrument:
    """Load the instrument that the ``instrument`` section of params.yaml selects.

    ``settings`` holds ``file`` (relative to ``root``, the project folder) and
    ``form``. Problems with the selection are reported against the params file;
    problems inside the instrument file against that file.
    """
    path = Path(root) / settings["file"]
    if not path.is_file():
        raise InputError(params_source, "instrument.file", f"instrument file not found: {settings['file']}",
                         f"give the path of an instrument file, such as {_builtin_path_hint()}")
    instrument = load_instrument(path)
    if settings["form"] not in instrument.forms:
        raise InputError(params_source, "instrument.form",
                         f"the instrument {instrument.id} has no '{settings['form']}' form",
                         f"choose one of {', '.join(instrument.forms)}")
    return instrument


def _builtin_path_hint() -> str:
    return f"llmvalues/instruments/{DEFAULT_INSTRUMENT_ID}.yaml"


def load_instrument(path: str | Path) -> Instrument:
    """Read and validate an instrument file; raise InputError naming the file, item and fix."""
    path = Path(path)
    source = str(path)
    if not path.is_file():
        raise InputError(source, None, "instrument file not found",
                         "check instrument.file in params.yaml or the --instrument option")
    document = load_yaml(path, what="instrument file")
    return parse_instrument(document, source)


def parse_instrument(document: Any, source: str) -> Instrument:
    """Validate a parsed instrument document (see ``load_instrument``)."""
    if not isinstance(document, dict):
        raise InputError(source, None, "the file must be a YAML mapping of keys such as id, scale and items",
                         "see docs/instruments.md for the format")
    unknown = sorted(set(map(str, document)) - set(_REQUIRED_KEYS) - set(_OPTIONAL_KEYS))
    if unknown:
        raise InputError(source, unknown[0], "unknown key",
                         f"use only {', '.join(_REQUIRED_KEYS + _OPTIONAL_KEYS)}")
    for key in _REQUIRED_KEYS:
        if key not in document:
            raise InputError(source, key, "missing required key", "see docs/instruments.md for the format")

    instrument_id = _text(document, "id", source)
    if not _ID_PATTERN.match(instrument_id):
        raise InputError(source, "id", f"invalid id '{instrument_id}'",
                         "use letters, digits, '.', '_' and '-' only, starting with a letter or digit")
    forms = _forms(document["forms"], source)
    scale_labels = _scale(document["scale"], source)
    items = _items(document["items"], forms, source)

    return Instrument(
        id=instrument_id,
        name=_text(document, "name", source),
        language=_text(document, "language", source),
        forms=forms,
        scale_labels=scale_labels,
        items=items,
        original=_flag(document, "original", source, default=False),
        validated=_flag(document, "validated", source, default=False),
        source=_text(document, "source", source, required=False),
        licence=_text(document, "licence", source, required=False),
        question=_text(document, "question", source, required=False),
        path=source,
    )


def _text(document: dict, key: str, source: str, required: bool = True) -> str:
    value = document.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or not value.strip():
        raise InputError(source, key, "must be non-empty text", f"write a value for '{key}'")
    return value.strip()


def _flag(document: dict, key: str, source: str, default: bool) -> bool:
    value = document.get(key, default)
    if not isinstance(value, bool):
        raise InputError(source, key, f"must be true or false, got {value!r}", "write true or false")
    return value


def _forms(value: Any, source: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not value:
        raise InputError(source, "forms", "must be a non-empty list",
                         f"list the gender forms the file provides, from {', '.join(FORMS)}")
    for form in value:
        if form not in FORMS:
            raise InputError(source, "forms", f"unknown form {form!r}", f"use {', '.join(FORMS)}")
    if len(set(value)) != len(value):
        raise InputError(source, "forms", "a form is listed twice", "list each form once")
    return tuple(value)


def _scale(value: Any, source: str) -> dict[int, str]:
    fix = f"the scale must run from {SCALE_MIN} to {SCALE_MAX} with one label per point"
    if not isinstance(value, dict):
        raise InputError(source, "scale", "must be a mapping with min, max and labels", fix)
    unknown = sorted(set(map(str, value)) - {"min", "max", "labels"})
    if unknown:
        raise InputError(source, f"scale.{unknown[0]}", "unknown key", "use min, max and labels")
    if value.get("min") != SCALE_MIN or value.get("max") != SCALE_MAX or isinstance(value.get("min"), bool):
        raise InputError(source, "scale", f"wrong scale {value.get('min')!r} to {value.get('max')!r}", fix)
    labels = value.get("labels")
    expected = list(range(SCALE_MIN, SCALE_MAX + 1))
    if not isinstance(labels, dict) or set(labels) != set(expected):
        raise InputError(source, "scale.labels", "must give labels for exactly the points 1, 2, 3, 4, 5, 6", fix)
    checked: dict[int, str] = {}
    for point in expected:
        label = labels[point]
        if not isinstance(label, str):
            raise InputError(source, f"scale.labels.{point}", f"must be text, got {label!r}",
                             "write the label's words, in quotes if they look like a number")
        if not label.strip():
            raise InputError(source, f"scale.labels.{point}", "must be non-empty text", fix)
        for other, text in checked.items():
            if " ".join(text.lower().split()) == " ".join(label.lower().split()):
                raise InputError(source, f"scale.labels.{point}", f"same label as point {other}: {label.strip()!r}",
                                 "give each point of the scale its own label")
        checked[point] = label.strip()
    return checked


def _items(value: Any, forms: tuple[str, ...], source: str) -> dict[int, Item]:
    if not isinstance(value, list):
        raise InputError(source, "items", "must be a list of item entries", "see docs/instruments.md")
    items: dict[int, Item] = {}
    allowed = {"item", "value", *FORMS}
    for position, entry in enumerate(value, start=1):
        where = f"items entry {position}"
        if not isinstance(entry, dict):
            raise InputError(source, where, "must be a mapping with item, value and one text per form",
                             "see docs/instruments.md")
        number = entry.get("item")
        if isinstance(number, bool) or not isinstance(number, int):
            raise InputError(source, where, f"item number must be an integer, got {number!r}",
                             f"write 'item: N' with N from 1 to {N_ITEMS}")
        if not 1 <= number <= N_ITEMS:
            raise InputError(source, f"item {number}", f"item number out of range 1-{N_ITEMS}",
                             f"number the items 1 to {N_ITEMS}")
        where = f"item {number}"
        if number in items:
            raise InputError(source, where, "duplicate item number", "give each item number exactly once")
        unknown = sorted(set(map(str, entry)) - allowed)
        if unknown:
            raise InputError(source, f"{where}.{unknown[0]}", "unknown key",
                             f"use item, value and the forms {', '.join(forms)}")
        code = entry.get("value")
        if code not in SCORING_KEY.values():
            raise InputError(source, f"{where}.value", f"unknown value code {code!r}",
                             f"use one of {', '.join(CIRCLE_ORDER)}")
        if code != SCORING_KEY[number]:
            raise InputError(source, f"{where}.value",
                             f"the PVQ-RR scoring key puts item {number} under {SCORING_KEY[number]}, not {code}",
                             "check the item number and the value code")
        texts = {}
        for form in forms:
            text = entry.get(form)
            if text is not None and not isinstance(text, str):
                raise InputError(source, f"{where}.{form}", f"must be text, got {text!r}",
                                 "write the item text, in quotes if it looks like a number")
            if text is None or not text.strip():
                raise InputError(source, f"{where}.{form}", "missing item text",
                                 f"write the {form} form of item {number}, or drop '{form}' from forms")
            texts[form] = text.strip()
        items[number] = Item(number=number, value=code, texts=texts)
    missing = [number for number in range(1, N_ITEMS + 1) if number not in items]
    if missing:
        listed = ", ".join(map(str, missing[:10])) + (" ..." if len(missing) > 10 else "")
        raise InputError(source, f"item {missing[0]}", f"missing item (missing: {listed})",
                         f"the instrument needs all items 1 to {N_ITEMS}")
    return dict(sorted(items.items()))
