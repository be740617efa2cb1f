"""Write output files atomically and byte-for-byte reproducibly.

Tracked outputs hold nothing that changes between runs: floats are rounded to 8
significant digits, JSON keys are sorted, lines end in ``\\n``. Every file is
written to a temporary file in the same folder and renamed into place, so a
failed or interrupted run never leaves a partly written output.
"""

from __future__ import annotations

import io
import json
import math
import os
import re
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd

SIGNIFICANT_DIGITS = 8
FLOAT_FORMAT = f"%.{SIGNIFICANT_DIGITS}g"

# A spreadsheet runs a cell that starts with one of these as a formula.
_FORMULA_PREFIXES = ("=", "+", "-", "@")
_PLAIN_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


def _file_mode() -> int:
    """Return the mode a newly created file gets under the process's umask (0o644 under umask 022)."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename.

    The file gets the permissions of any newly created file (mkstemp alone
    would leave it readable by its owner only).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as stream:
            stream.write(text)
        os.chmod(temporary, _file_mode())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def round_significant(value: float, digits: int = SIGNIFICANT_DIGITS) -> float:
    """Round a float to ``digits`` significant digits (NaN and infinities unchanged)."""
    if value == 0 or not math.isfinite(value):
        return value
    return float(f"{value:.{digits}g}")


def _json_ready(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(key): _json_ready(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_ready(item) for item in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()  # numpy scalar -> Python scalar
    if isinstance(value, float):
        return round_significant(value) if math.isfinite(value) else None
    return value


def json_text(document: Any) -> str:
    """Serialize to JSON with sorted keys, rounded floats and NaN written as null."""
    return json.dumps(_json_ready(document), indent=2, sort_keys=True, ensure_ascii=False, allow_nan=False) + "\n"


def write_json(path: str | Path, document: Any) -> None:
    atomic_write_text(path, json_text(document))


def escape_formula(text: Any) -> Any:
    """Prefix text that a spreadsheet would run as a formula with an apostrophe.

    Text that is a plain number ("-1", "+5") is left alone: a spreadsheet reads it
    as a number, not a formula.
    """
    if isinstance(text, str) and text.startswith(_FORMULA_PREFIXES) and not _PLAIN_NUMBER.fullmatch(text):
        return "'" + text
    return text


def csv_text(table: pd.DataFrame, *, text_columns: tuple[str, ...] = ()) -> str:
    """Render a table as CSV with floats at 8 significant digits.

    Cells in ``text_columns`` (free text such as model replies) are escaped with
    ``escape_formula``; numeric columns are written as numbers.
    """
    table = table.copy()
    for column in text_columns:
        table[column] = table[column].map(escape_formula)
    buffer = io.StringIO()
    table.to_csv(buffer, index=False, float_format=FLOAT_FORMAT, lineterminator="\n")
    return buffer.getvalue()


def write_csv(path: str | Path, table: pd.DataFrame, *, text_columns: tuple[str, ...] = ()) -> None:
    atomic_write_text(path, csv_text(table, text_columns=text_columns))


def numeric_metrics(document: Any) -> dict[str, Any]:
    """Keep the numbers of a nested summary, the form ``dvc metrics show`` and ``diff`` read.

    Numbers and booleans are kept under their keys. A list of numbers becomes a
    mapping: a two-number interval under a key ending in ``ci`` gets the keys
    ``lower`` and ``upper``, any other list the keys ``1``, ``2``, ... Text, lists
    of text, nulls (undefined statistics) and emptied mappings are left out: the
    stage's full summary, with the reasons and settings, is a separate file.
    """
    kept = _numbers_only(_json_ready(document), "")
    return kept if isinstance(kept, dict) else {}


def _numbers_only(value: Any, key: str) -> Any:
    if isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, dict):
        kept = {name: _numbers_only(item, name) for name, item in value.items()}
        kept = {name: item for name, item in kept.items() if item is not None}
        return kept or None
    if isinstance(value, list) and value and all(
            isinstance(item, (int, float)) and not isinstance(item, bool) for item in value):
        if key.endswith("ci") and len(value) == 2:
            return {"lower": value[0], "upper": value[1]}
        return {str(position): item for position, item in enumerate(value, start=1)}
    return None
