"""Score respondents on the 19 values, the ten basic values and the four higher-order values.

A respondent is one person in human data and one trial of one model in model
data. Scoring follows Schwartz's PVQ-RR instructions:

- raw value score: the mean of the value's valid items;
- MRAT: the respondent's mean rating over all valid items (scale use);
- centered score: raw score minus MRAT (not divided by a standard deviation).

Centered scores are for correlations, t tests, ANOVA and values as dependent
variables; raw scores for discriminant analysis, values as predictors and
reliability.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .values import (
    BASIC_VALUES,
    CIRCLE_ORDER,
    HIGHER_ORDER_VALUES,
    N_ITEMS,
    SCALE_MAX,
    SCALE_MIN,
    SCORING_KEY,
)

DEFAULT_MIN_VALID_PER_VALUE = 2
DEFAULT_MIN_VALID_FOR_MRAT = 46


def score_columns() -> list[str]:
    """Return the columns of a scores table in their fixed order."""
    columns = ["n_valid", "mrat"]
    columns += [f"{code}_n" for code in CIRCLE_ORDER]
    columns += [f"{code}_raw" for code in CIRCLE_ORDER]
    columns += [f"{code}_centered" for code in CIRCLE_ORDER]
    for group in (BASIC_VALUES, HIGHER_ORDER_VALUES):
        columns += [f"{name}_raw" for name in group]
        columns += [f"{name}_centered" for name in group]
    return columns


def score_responses(
    ratings: pd.DataFrame,
    *,
    key: dict[int, str] | None = None,
    min_valid_per_value: int = DEFAULT_MIN_VALID_PER_VALUE,
    min_valid_for_mrat: int = DEFAULT_MIN_VALID_FOR_MRAT,
) -> pd.DataFrame:
    """Compute value scores for each respondent (row) of a respondents x items table.

    Parameters
    ----------
    ratings : DataFrame
        One row per respondent, columns the item numbers 1-57 (int), ratings on
        the 1-6 scale as numbers, NaN for a missing or invalid answer. Ratings
        need not be whole numbers (a rating read from a probability distribution
        is its mean).
    key : dict of int to str, optional
        Item number -> value code; the PVQ-RR scoring key by default.
    min_valid_per_value : int, default=2
        A value with fewer valid items (of its three) is missing (NaN).
    min_valid_for_mrat : int, default=46
        MRAT, and with it every centered score, is missing when fewer items are valid.

    Returns
    -------
    DataFrame
        Same index as ``ratings``, columns as ``score_columns()``: ``n_valid``,
        ``mrat``, per value ``<CODE>_n``, ``<CODE>_raw`` and ``<CODE>_centered``,
        then ``<name>_raw`` and ``<name>_centered`` for the basic and the
        higher-order values. A basic value is the mean of the items of its
        refined values and a higher-order value the mean of its value scores;
        either is missing when one of its values is.
    """
    key = SCORING_KEY if key is None else key
    if not 1 <= min_valid_per_value <= 3:
        raise ValueError(f"min_valid_per_value must be 1, 2 or 3, got {min_valid_per_value}")
    if not 1 <= min_valid_for_mrat <= N_ITEMS:
        raise ValueError(f"min_valid_for_mrat must be from 1 to {N_ITEMS}, got {min_valid_for_mrat}")
    expected = sorted(key)
    if sorted(ratings.columns) != expected:
        missing = sorted(set(expected) - set(ratings.columns))
        extra = sorted(set(ratings.columns) - set(expected), key=str)
        raise ValueError(f"ratings must have one column per item 1-{N_ITEMS}; missing {missing}, extra {extra}")

    values = ratings[expected].to_numpy(dtype=float)
    observed = values[~np.isnan(values)]
    if observed.size and (observed.min() < SCALE_MIN or observed.max() > SCALE_MAX):
        raise ValueError(f"ratings must lie within {SCALE_MIN}-{SCALE_MAX}; found {observed.min()} to {observed.max()}")
    table = pd.DataFrame(values, index=ratings.index, columns=expected)

    valid = table.notna()
    n_valid = valid.sum(axis=1)
    mrat = table.mean(axis=1).where(n_valid >= min_valid_for_mrat)

    out: dict[str, pd.Series] = {"n_valid": n_valid, "mrat": mrat}
    items_of = {code: [item for item in expected if key[item] == code] for code in CIRCLE_ORDER}
    counts = {code: valid[items_of[code]].sum(axis=1) for code in CIRCLE_ORDER}
    raw = {
        code: table[items_of[code]].mean(axis=1).where(counts[code] >= min_valid_per_value)
        for code in CIRCLE_ORDER
    }
    for code in CIRCLE_ORDER:
        out[f"{code}_n"] = counts[code]
    for code in CIRCLE_ORDER:
        out[f"{code}_raw"] = raw[code]
    for code in CIRCLE_ORDER:
        out[f"{code}_centered"] = raw[code] - mrat

    for name, codes in BASIC_VALUES.items():
        items = [item for code in codes for item in items_of[code]]
        complete = pd.concat([raw[code].notna() for code in codes], axis=1).all(axis=1)
        basic = table[items].mean(axis=1).where(complete)
        out[f"{name}_raw"] = basic
        out[f"{name}_centered"] = basic - mrat
    for name, codes in HIGHER_ORDER_VALUES.items():
        # mean with skipna=False: missing when any of its values is missing
        higher = pd.concat([raw[code] for code in codes], axis=1).mean(axis=1, skipna=False)
        out[f"{name}_raw"] = higher
        out[f"{name}_centered"] = higher - mrat

    scores = pd.DataFrame(out, index=ratings.index)
    return scores[score_columns()]
