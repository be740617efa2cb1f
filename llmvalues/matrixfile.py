"""Read the CSV inputs of the analysis commands: a dissimilarity matrix and a start
configuration (``llmvalues mds``), a table of scores with a group column (``llmvalues lda``).

Both readers use the csv module and report bad input as ``InputError`` naming the
file, the line or column, and the fix.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import InputError
from .responses import MISSING_CELLS


def _read_rows(path: Path, what: str, fix: str, option: str) -> list[tuple[int, list[str]]]:
    source = str(path)
    if not path.is_file():
        raise InputError(source, None, f"{what} file not found", f"check the {option} path")
    rows = []
    try:
        with path.open(encoding="utf-8-sig", newline="") as stream:
            reader = csv.reader(stream)
            for fields in reader:
                if fields and any(field.strip() for field in fields):
                    rows.append((reader.line_num, [field.strip() for field in fields]))
    except UnicodeDecodeError:
        raise InputError(source, None, "not UTF-8 text", "save the CSV as UTF-8") from None
    except csv.Error as error:
        raise InputError(source, None, f"not a readable CSV ({error})", "save the file as comma-separated values") from None
    if not rows:
        raise InputError(source, None, "the file is empty", fix)
    return rows


# Beyond this size, squares and sums of squares overflow double precision.
MAX_MAGNITUDE = 1e150


def _number(text: str, source: str, where: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise InputError(source, where, f"{text!r} is not a number", "write every cell as a number") from None
    if math.isnan(value):
        raise InputError(source, where, "missing value", "write a number in every cell")
    if math.isinf(value):
        raise InputError(source, where, f"{text!r} is not a finite number", "write a finite number in every cell")
    if not abs(value) < MAX_MAGNITUDE:
        raise InputError(source, where, f"{text!r} is too large",
                         f"rescale the data so that every number is below {MAX_MAGNITUDE:g}")
    return value


def read_dissimilarities(path: Path) -> tuple[list[str], np.ndarray]:
    """Read a square, symmetric dissimilarity matrix with a header row of point names.

    The rows follow the header's order. A first column of row names is accepted
    when its header cell is empty; the names must then repeat the header.
    Returns the names and the matrix.
    """
    source = str(path)
    fix = "write a header row of point names, then one row of numbers per point in the same order"
    rows = _read_rows(path, "dissimilarities", fix, "--dissimilarities")
    _, header = rows[0]
    data_rows = rows[1:]
    has_row_names = header[0] == ""
    names = header[1:] if has_row_names else header
    if len(names) < 3:
        separator = next((other for other in (";", "\t", "|") if other in header[0]), None)
        hint = (f"the file looks separated by {'tab' if separator == chr(9) else repr(separator)}; save it "
                "with commas" if separator else fix)
        raise InputError(source, "line 1", f"found {len(names)} point name{'s' if len(names) != 1 else ''}, "
                         "an MDS needs at least 3", hint)
    if len(set(names)) != len(names) or "" in names:
        duplicate = next((name for name in names if names.count(name) > 1 or not name), "")
        raise InputError(source, "line 1", f"the point name {duplicate!r} is empty or appears twice",
                         "give every point its own name")
    if len(data_rows) != len(names):
        if len(data_rows) == len(names) - 1 and data_rows and data_rows[0][1][0] == names[0]:
            raise InputError(source, "line 1", f"the first header cell is {names[0]!r}, but the rows start with "
                             "their names", "leave the first header cell empty when each row starts with its name")
        raise InputError(source, None, f"{len(data_rows)} rows of numbers for {len(names)} point names",
                         "give one row per point: the matrix must be square")

    matrix = np.empty((len(names), len(names)))
    for index, (line, fields) in enumerate(data_rows):
        if has_row_names:
            if fields[0] != names[index]:
                raise InputError(source, f"line {line}", f"row name {fields[0]!r} where {names[index]!r} was expected",
                                 "list the rows in the order of the header")
            fields = fields[1:]
        if len(fields) != len(names):
            raise InputError(source, f"line {line}", f"{len(fields)} numbers, expected {len(names)}", fix)
        matrix[index] = [_number(cell, source, f"line {line}, column '{name}'") for cell, name in zip(fields, names)]

    for index, name in enumerate(names):
        if matrix[index, index] != 0:
            raise InputError(source, f"row '{name}'", f"diagonal value {matrix[index, index]:g}, expected 0",
                             "set every diagonal cell to 0")
    negative = np.argwhere(matrix < 0)
    if negative.size:
        row, column = negative[0]
        raise InputError(source, f"row '{names[row]}', column '{names[column]}'", "negative dissimilarity",
                         "dissimilarities must be 0 or more")
    asymmetric = np.argwhere(~np.isclose(matrix, matrix.T, rtol=1e-9, atol=1e-12))
    if asymmetric.size:
        row, column = asymmetric[0]
        raise InputError(source, f"rows '{names[row]}' and '{names[column]}'",
                         f"not symmetric ({matrix[row, column]:g} against {matrix[column, row]:g})",
                         "make the cell (i, j) equal to the cell (j, i)")
    return names, (matrix + matrix.T) / 2.0


def read_configuration(path: Path, names: list[str], ndim: int = 2) -> np.ndarray:
    """Read a start configuration: a CSV with the columns ``point``, ``x`` and ``y``, one row per point.

    Returns the coordinates in the order of ``names``.
    """
    source = str(path)
    fix = "write the columns point,x,y with one row per point of the dissimilarity matrix"
    rows = _read_rows(path, "configuration", fix, "--init")
    _, header = rows[0]
    if header != ["point", "x", "y"][: ndim + 1]:
        raise InputError(source, "line 1", f"header {','.join(header)!r}", fix)
    coordinates: dict[str, list[float]] = {}
    for line, fields in rows[1:]:
        if len(fields) != ndim + 1:
            raise InputError(source, f"line {line}", f"{len(fields)} fields, expected {ndim + 1}", fix)
        if fields[0] in coordinates:
            raise InputError(source, f"line {line}", f"point {fields[0]!r} appears twice", "list each point once")
        coordinates[fields[0]] = [_number(cell, source, f"line {line}, column '{axis}'")
                                  for cell, axis in zip(fields[1:], ("x", "y"))]
    missing = [name for name in names if name not in coordinates]
    if missing:
        raise InputError(source, None, f"no row for the point {missing[0]!r}", fix)
    extra = [name for name in coordinates if name not in names]
    if extra:
        raise InputError(source, None, f"the point {extra[0]!r} is not in the dissimilarity matrix", fix)
    return np.array([coordinates[name] for name in names])


def read_grouped_table(path: Path, group: str) -> tuple[pd.DataFrame, pd.Series, int]:
    """Read a table of numeric predictors with one text column of group labels.

    Returns the predictors (NaN for an empty or NA cell), the groups and the
    number of rows with a missing predictor (kept as NaN; the analysis drops them).
    """
    source = str(path)
    fix = "write a header row, one column of group labels and numeric columns for the predictors"
    rows = _read_rows(path, "data", fix, "--data")
    _, header = rows[0]
    if group not in header:
        raise InputError(source, f"column '{group}'", "not found in the header",
                         f"pass --group with one of: {', '.join(header)}")
    if len(set(header)) != len(header) or "" in header:
        duplicate = next((name for name in header if header.count(name) > 1 or not name), "")
        raise InputError(source, "line 1", f"the column name {duplicate!r} is empty or appears twice",
                         "give every column its own name")
    predictors = [name for name in header if name != group]
    if not predictors:
        raise InputError(source, "line 1", "no predictor columns besides the group column", fix)
    labels, values, missing = [], [], 0
    for line, fields in rows[1:]:
        if len(fields) != len(header):
            raise InputError(source, f"line {line}", f"{len(fields)} fields, but the header has {len(header)}", fix)
        record = dict(zip(header, fields))
        if not record[group]:
            raise InputError(source, f"line {line}, column '{group}'", "missing group label", "label every row")
        labels.append(record[group])
        row = []
        for name in predictors:
            cell = record[name]
            if cell.lower() in MISSING_CELLS:
                row.append(math.nan)
            else:
                row.append(_number(cell, source, f"line {line}, column '{name}'"))
        missing += any(math.isnan(value) for value in row)
        values.append(row)
    if not values:
        raise InputError(source, None, "no data rows", fix)
    return pd.DataFrame(values, columns=predictors), pd.Series(labels, name=group), missing
