"""Read a wide CSV of questionnaire responses: one row per respondent, one column per item.

Item columns are recognized by name: ``1`` ... ``57``, or the number after a
prefix ``item``, ``pvq`` or ``q`` (``item23``, ``PVQ_23``, ``q23``). Every other
column is an identifier and is copied to the scores. An empty cell, or one of
``NA``, ``NaN``, ``N/A``, ``null`` and ``.`` (in any case), is a missing answer.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path
from typing import Callable

import pandas as pd

from .errors import InputError
from .values import N_ITEMS, SCALE_MAX, SCALE_MIN

_ITEM_COLUMN = re.compile(r"^(?:item|pvq|q)?[ _-]?(\d+)$", re.IGNORECASE)
MISSING_CELLS = ("", "na", "nan", "n/a", "null", ".")
_DECIMAL = r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)"


def read_responses(path: str | Path, *, continuous: bool = False,
                   delimiter: str = ",") -> tuple[pd.DataFrame, pd.DataFrame]:
    """Read and check a responses CSV.

    Parameters
    ----------
    path : str or Path
        The CSV file, UTF-8 (a byte-order mark is allowed), one header row.
    continuous : bool, default=False
        Accept ratings that are not whole numbers (such as the mean of a model's
        digit distribution). Without it, 4.5 is an error.
    delimiter : str, default=","
        The field separator.

    Returns
    -------
    identifiers : DataFrame
        The non-item columns, in file order, as text.
    ratings : DataFrame
        Columns 1-57 as floats, NaN where the answer is missing.

    Raises
    ------
    InputError
        Naming the file, the line and column, and the fix: for a missing, duplicate
        or unknown item column, a row with the wrong number of fields, text in a
        rating cell, or a rating outside 1-6.
    """
    source = str(path)
    header, rows, lines = _read_rows(Path(path), delimiter)
    table = pd.DataFrame(rows, columns=header, dtype=str)
    table.index = range(len(table))

    item_columns: dict[int, str] = {}
    identifier_columns = []
    for column in table.columns:
        match = _ITEM_COLUMN.match(str(column).strip())
        if not match:
            identifier_columns.append(column)
            continue
        number = int(match.group(1))
        if not 1 <= number <= N_ITEMS:
            raise InputError(source, f"column '{column}'", f"item number {number} is outside 1-{N_ITEMS}",
                             f"the questionnaire has items 1 to {N_ITEMS}; rename or remove the column")
        if number in item_columns:
            raise InputError(source, f"column '{column}'",
                             f"item {number} also appears as column '{item_columns[number]}'",
                             "keep one column per item")
        item_columns[number] = column
    missing = [number for number in range(1, N_ITEMS + 1) if number not in item_columns]
    if missing:
        found = len(item_columns)
        raise InputError(source, f"item {missing[0]}",
                         f"found {found} item columns, expected {N_ITEMS}; no column for item {missing[0]}",
                         f"name the item columns 1 to {N_ITEMS} (or item1 to item{N_ITEMS})")

    label_column = identifier_columns[0] if identifier_columns else None
    ratings = pd.DataFrame(
        {number: _ratings_column(table, column, continuous, source, label_column, lines)
         for number, column in sorted(item_columns.items())},
        index=table.index,
    )
    return table[identifier_columns].copy(), ratings


def read_csv_rows(path: Path, delimiter: str, *, what: str, option: str,
                  check_header: Callable[[list[str], str, str], None], row_fix: str,
                  empty_fix: str) -> tuple[list[str], list[list[str]], list[int]]:
    """Return a CSV file's header, its data rows as text and the line on which each row starts.

    Blank lines are skipped and every other row must have as many fields as the
    header. ``check_header(header, source, delimiter)`` raises for a bad header.
    Errors name the file as the ``what`` file read through ``option``.
    """
    source = str(path)
    if not path.is_file():
        raise InputError(source, None, f"{what} file not found", f"check the {option} path")
    header: list[str] | None = None
    rows: list[list[str]] = []
    lines: list[int] = []
    try:
        with path.open(encoding="utf-8-sig", newline="") as stream:
            reader = csv.reader(stream, delimiter=delimiter)
            last_line = 0
            for fields in reader:
                start, last_line = last_line + 1, reader.line_num
                if not fields:
                    continue
                if header is None:
                    header = [name.strip() for name in fields]
                    check_header(header, source, delimiter)
                    continue
                if len(fields) != len(header):
                    raise InputError(source, f"line {start}",
                                     f"{len(fields)} fields, but the header has {len(header)}", row_fix)
                rows.append(fields)
                lines.append(start)
    except UnicodeDecodeError:
        raise InputError(source, None, "not UTF-8 text", "save the CSV as UTF-8") from None
    except csv.Error as error:
        raise InputError(source, None, f"not a readable CSV ({error})",
                         "save the file as comma-separated values with one header row") from None
    if header is None:
        raise InputError(source, None, "the file is empty", empty_fix)
    return header, rows, lines


def _read_rows(path: Path, delimiter: str) -> tuple[list[str], list[list[str]], list[int]]:
    header, rows, lines = read_csv_rows(
        path, delimiter, what="responses", option="--responses", check_header=_check_header,
        row_fix="give every row one field per column (an empty field for a missing answer)",
        empty_fix="add a header row and one row per respondent")
    if not rows:
        raise InputError(str(path), None, "no respondent rows", "add one row per respondent below the header")
    return header, rows, lines


def _check_header(header: list[str], source: str, delimiter: str) -> None:
    if len(header) == 1:
        for other in (";", "\t", "|"):
            if other != delimiter and other in header[0]:
                shown = "tab" if other == "\t" else f"'{other}'"
                raise InputError(source, "line 1", f"the header is a single column; the file looks separated by {shown}",
                                 f"save it with commas, or pass --delimiter {shown}")
    seen: dict[str, int] = {}
    for position, name in enumerate(header, start=1):
        if name in seen:
            raise InputError(source, f"column '{name}'",
                             f"appears twice in the header (columns {seen[name]} and {position})",
                             "give every column its own name")
        seen[name] = position


def _ratings_column(table: pd.DataFrame, column: str, continuous: bool, source: str,
                    label_column: str | None, lines: list[int]) -> pd.Series:
    cells = table[column].str.strip()
    missing = cells.str.lower().isin(MISSING_CELLS)
    numeric = cells.str.fullmatch(_DECIMAL)

    def first(mask: pd.Series) -> tuple[str, str]:
        row = mask.idxmax()
        line = lines[row]
        respondent = f" (respondent '{table.at[row, label_column]}')" if label_column else ""
        return f"line {line}{respondent}, column '{column}'", cells[row]

    not_number = ~missing & ~numeric
    if not_number.any():
        where, cell = first(not_number)
        raise InputError(source, where, f"{cell!r} is not a number",
                         f"write ratings as numbers {SCALE_MIN}-{SCALE_MAX}, "
                         "or leave the cell empty for a missing answer")
    values = pd.to_numeric(cells.where(~missing), errors="raise").astype(float)
    outside = values.notna() & ((values < SCALE_MIN) | (values > SCALE_MAX))
    if outside.any():
        where, cell = first(outside)
        raise InputError(source, where, f"rating {cell} is outside {SCALE_MIN}-{SCALE_MAX}",
                         "correct the rating, or leave the cell empty for a missing answer")
    fractional = values.notna() & (values != values.round())
    if fractional.any() and not continuous:
        where, cell = first(fractional)
        raise InputError(source, where, f"rating {cell} is not a whole number",
                         "correct it, or pass --continuous for ratings that are means of digit distributions")
    return values
