"""Human norms: reference means of the 19 values on the centered metric.

A norms file is a UTF-8 CSV file read with the ``csv`` module, so nothing in it is
executed. It starts with a header block of comment lines ``# key: value``:

- ``source`` (required): where the numbers were taken from;
- ``citation`` (required): the publication the numbers describe;
- ``metric`` (required): must be ``centered`` (raw value score minus the
  respondent's mean rating, MRAT);
- ``caveat`` (optional, may repeat): one known limitation per line.

A line with only ``#`` is allowed as a spacer. The header block is followed by a
table with the columns ``value`` (a value code), ``mean`` and the optional
``sd`` and ``group`` (a country or sample). A row with an empty group gives an
overall mean. Each group, and the overall rows if there are any, must give all
19 values once. ``docs/norms.md`` describes the format and the shipped file.
"""

from __future__ import annotations

import csv
import difflib
import io
import math
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from .errors import InputError
from .values import CIRCLE_ORDER, SCALE_MAX, SCALE_MIN

METRIC = "centered"
REQUIRED_HEADER_KEYS = ("source", "citation", "metric")
REPEATABLE_HEADER_KEYS = ("caveat",)
REQUIRED_COLUMNS = ("value", "mean")
OPTIONAL_COLUMNS = ("sd", "group")

# A centered score is a raw score minus a mean rating, both on the 1-6 scale.
CENTERED_LIMIT = float(SCALE_MAX - SCALE_MIN)

_FORMAT_HINT = "see docs/norms.md for the format"


@dataclass
class Norms:
    """A validated norms file.

    Attributes
    ----------
    path : str
        The file, as given to ``load_norms``.
    source, citation, metric : str
        The header values; ``metric`` is always ``"centered"``.
    caveats : list of str
        The ``caveat`` header lines, in file order.
    rows : DataFrame
        The table in file order, with the columns ``group`` (an empty string for
        an overall row), ``value``, ``mean`` and ``sd`` (NaN where not given).
    means : Series
        The overall mean of each value, indexed by value code in circle order.
    """

    path: str
    source: str
    citation: str
    metric: str
    caveats: list[str]
    rows: pd.DataFrame
    means: pd.Series

    @property
    def groups(self) -> list[str]:
        """The named groups, in file order (empty when the file gives overall rows only)."""
        named = self.rows.loc[self.rows["group"] != "", "group"]
        return list(dict.fromkeys(named))

    @property
    def has_overall_rows(self) -> bool:
        """Whether the file gives overall means itself (rows with an empty group)."""
        return bool((self.rows["group"] == "").any())


def load_norms(path: str | Path) -> Norms:
    """Read and validate a norms file.

    The overall means are the rows with an empty group when the file has them.
    When the file gives only group rows, the overall mean of a value is the
    unweighted mean of its group means: each group counts once, whatever its
    sample size, because the format carries no sample sizes.

    Parameters
    ----------
    path : str or Path
        The CSV file, UTF-8 (a byte-order mark is allowed).

    Returns
    -------
    Norms

    Raises
    ------
    InputError
        On one line naming the file, the line or field, and the fix. Raised for
        a missing or empty file, a missing or repeated header key, a metric
        other than ``centered`` and an unknown or missing column. Also raised
        for an unknown, missing or duplicate value code, a mean or sd that is
        not a number, a negative sd, and a group that lacks some of the 19 values.
    """
    source = str(path)
    lines = _read_lines(Path(path))
    header, table_start = _parse_header(lines, source)
    rows = _parse_table(lines, table_start, source)
    means = _overall_means(rows)
    return Norms(
        path=source,
        source=header["source"],
        citation=header["citation"],
        metric=header["metric"],
        caveats=header["caveat"],
        rows=rows,
        means=means,
    )


def _read_lines(path: Path) -> list[str]:
    source = str(path)
    if not path.is_file():
        raise InputError(source, None, "norms file not found", "check norms.file in params.yaml")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise InputError(source, None, "norms file is not UTF-8 text", "save the file as UTF-8") from None
    if not text.strip():
        raise InputError(source, None, "the norms file is empty",
                         "add the header lines source, citation and metric and a table of value means; "
                         + _FORMAT_HINT)
    return text.splitlines(keepends=True)


def _parse_header(lines: list[str], source: str) -> tuple[dict, int]:
    """Parse the leading comment lines and return the header and the index of the first table line."""
    header: dict = {"caveat": []}
    first_line_of: dict[str, int] = {}
    known = REQUIRED_HEADER_KEYS + REPEATABLE_HEADER_KEYS
    index = 0
    while index < len(lines):
        line = lines[index].strip()
        number = index + 1
        if line and not line.startswith("#"):
            break
        index += 1
        body = line[1:].strip()
        if not body:
            continue
        key, colon, value = body.partition(":")
        key, value = key.strip(), value.strip()
        if not colon:
            raise InputError(source, f"line {number}", f"header line is not '# key: value': {line!r}",
                             f"write '# key: value' with one of the keys {', '.join(known)}")
        if key not in known:
            raise InputError(source, f"line {number}", f"unknown header key {key!r}", _suggest(key, known))
        if not value:
            raise InputError(source, f"line {number}", f"header key {key!r} has no value",
                             f"write the {key} after '# {key}:'")
        if key in REPEATABLE_HEADER_KEYS:
            header[key].append(value)
            continue
        if key in first_line_of:
            raise InputError(source, f"line {number}", f"header key {key!r} given twice (first on line "
                             f"{first_line_of[key]})", "give it once; only caveat may repeat")
        first_line_of[key] = number
        header[key] = value

    for key in REQUIRED_HEADER_KEYS:
        if key not in header:
            raise InputError(source, "header", f"missing header key {key!r}",
                             f"add a line '# {key}: ...' at the top of the file; " + _FORMAT_HINT)
    if header["metric"] != METRIC:
        raise InputError(source, f"line {first_line_of['metric']}, metric",
                         f"metric must be {METRIC!r}, got {header['metric']!r}",
                         "give means on the centered metric (raw value score minus the respondent's mean "
                         "rating, MRAT) and write '# metric: centered'")
    return header, index


def _parse_table(lines: list[str], start: int, source: str) -> pd.DataFrame:
    reader = csv.reader(io.StringIO("".join(lines[start:])), strict=True)
    columns: list[str] | None = None
    records: list[dict] = []
    first_line_of: dict[tuple[str, str], int] = {}
    try:
        for fields in reader:
            number = start + reader.line_num
            cells = [field.strip() for field in fields]
            if not any(cells):
                continue
            if cells[0].startswith("#"):
                raise InputError(source, f"line {number}", "comment line inside the table",
                                 "move it to the header block at the top of the file")
            if columns is None:
                columns = _check_columns(cells, source, number)
                continue
            if len(cells) != len(columns):
                raise InputError(source, f"line {number}", f"{len(cells)} fields, expected {len(columns)} "
                                 f"({', '.join(columns)})", "give one field per column; leave an optional one empty")
            record = _parse_row(dict(zip(columns, cells)), source, number)
            key = (record["group"], record["value"])
            if key in first_line_of:
                within = f" in group {record['group']!r}" if record["group"] else ""
                raise InputError(source, f"line {number}, column 'value'",
                                 f"duplicate value code {record['value']!r}{within} (first on line "
                                 f"{first_line_of[key]})", "give each value once per group")
            first_line_of[key] = number
            records.append(record)
    except csv.Error as error:
        raise InputError(source, f"line {start + reader.line_num}", f"not a readable CSV row ({error})",
                         "check the quotes and separators") from None

    if columns is None:
        raise InputError(source, "table", "no table after the header lines",
                         "add the row 'value,mean' and one row per value; " + _FORMAT_HINT)
    if not records:
        raise InputError(source, "table", "the table has no rows", "add one row per value (19 in all)")
    _check_complete(records, source)
    return pd.DataFrame(records, columns=["group", "value", "mean", "sd"])


def _check_columns(cells: list[str], source: str, number: int) -> list[str]:
    known = REQUIRED_COLUMNS + OPTIONAL_COLUMNS
    for position, name in enumerate(cells):
        if name not in known:
            raise InputError(source, f"line {number}", f"unknown column {name!r}",
                             _suggest(name, known) + " (sd and group are optional)")
        if name in cells[:position]:
            raise InputError(source, f"line {number}", f"column {name!r} given twice", "give each column once")
    for name in REQUIRED_COLUMNS:
        if name not in cells:
            raise InputError(source, f"line {number}", f"missing column {name!r}",
                             f"the table needs the columns {' and '.join(REQUIRED_COLUMNS)}")
    return cells


def _parse_row(cells: dict[str, str], source: str, number: int) -> dict:
    code = cells["value"]
    if not code:
        raise InputError(source, f"line {number}, column 'value'", "missing value code",
                         f"write one of {', '.join(CIRCLE_ORDER)}")
    if code not in CIRCLE_ORDER:
        raise InputError(source, f"line {number}, column 'value'", f"unknown value code {code!r}",
                         _suggest(code, CIRCLE_ORDER))
    mean = _parse_number(cells["mean"], "mean", source, number, required=True)
    if abs(mean) > CENTERED_LIMIT:
        raise InputError(source, f"line {number}, column 'mean'",
                         f"mean {cells['mean']} is outside -{CENTERED_LIMIT:g} to {CENTERED_LIMIT:g}, the range of a "
                         "centered score on the 1-6 scale", "check that the file holds centered means, not raw means")
    sd = _parse_number(cells.get("sd", ""), "sd", source, number, required=False)
    if sd < 0:
        raise InputError(source, f"line {number}, column 'sd'", f"sd must not be negative, got {cells['sd']}",
                         "write the standard deviation, a number of at least 0")
    return {"group": cells.get("group", ""), "value": code, "mean": mean, "sd": sd}


def _parse_number(text: str, column: str, source: str, number: int, *, required: bool) -> float:
    """Parse a finite number. An empty optional cell is NaN."""
    where = f"line {number}, column '{column}'"
    if not text:
        if required:
            raise InputError(source, where, f"missing {column}", "write a number, such as -0.26")
        return math.nan
    try:
        parsed = float(text)
    except ValueError:
        raise InputError(source, where, f"{column} must be a number, got {text!r}",
                         "write a number with a '.' decimal point, such as -0.26") from None
    if not math.isfinite(parsed):
        raise InputError(source, where, f"{column} must be a finite number, got {text!r}",
                         "write a number, or leave an optional sd empty")
    return parsed


def _check_complete(records: list[dict], source: str) -> None:
    """Require all 19 values in each group and in the overall rows, if any."""
    present: dict[str, set[str]] = {}
    for record in records:
        present.setdefault(record["group"], set()).add(record["value"])
    for group, codes in present.items():
        missing = [code for code in CIRCLE_ORDER if code not in codes]
        if missing:
            where = f"group {group!r}" if group else "column 'value'"
            raise InputError(source, where, f"missing value code(s) {', '.join(missing)}",
                             f"give all {len(CIRCLE_ORDER)} values" + (" in every group" if group else ""))


def _overall_means(rows: pd.DataFrame) -> pd.Series:
    overall = rows[rows["group"] == ""]
    if len(overall):
        means = overall.set_index("value")["mean"]
    else:
        # Each group counts once: the format has no sample sizes to weight by.
        means = rows.groupby("value")["mean"].mean()
    return means.reindex(list(CIRCLE_ORDER)).rename("mean")


def _suggest(name: str, known: tuple[str, ...]) -> str:
    """Return a fix naming the closest known name, or listing them all."""
    by_case = [option for option in known if option.lower() == name.lower()]
    close = by_case or difflib.get_close_matches(name, known, n=1)
    listed = f"use one of {', '.join(known)}"
    return f"did you mean {close[0]!r}? {listed[0].upper()}{listed[1:]}" if close else listed
