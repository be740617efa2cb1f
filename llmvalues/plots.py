"""Tidy CSV files for ``dvc plots``: one file per model, so each model is its own series.

DVC draws every file of a plot folder as a series and, with ``dvc plots diff``,
every file of every experiment, so a folder with one file per model compares
models within a run and each model across runs. The ``plots:`` section of
dvc.yaml names the folders and their axes.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from .outputs import write_csv
from .values import CIRCLE_ORDER

# A model slug has only lowercase letters, digits and hyphens, so this file name cannot be a model's.
HUMAN_SERIES = "human_means"


def write_series(folder: str | Path, table: pd.DataFrame, by: str, columns: list[str]) -> list[Path]:
    """Write one CSV per value of ``by`` (a model or unit) with ``columns``, replacing the folder's CSVs.

    Files left from an earlier run (a model since removed) are deleted first, so
    the folder holds exactly the current series. Returns the paths written.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob("*.csv"):
        stale.unlink()
    written = []
    for name, rows in table.groupby(by, sort=False):
        path = folder / f"{name}.csv"
        write_csv(path, rows[columns].reset_index(drop=True), text_columns=tuple(
            column for column in columns if rows[column].dtype == object))
        written.append(path)
    return written


def circle_positions(values: pd.Series) -> pd.Series:
    """Return each value code's position on the circle, 1 (SDT) to 19 (UNT), the x axis of value plots."""
    positions = {code: position for position, code in enumerate(CIRCLE_ORDER, start=1)}
    return values.map(positions)
