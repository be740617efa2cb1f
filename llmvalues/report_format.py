"""Number formats shared by the report's sections: fixed decimals, "n/a" for a missing number."""

from __future__ import annotations

import math
from typing import Any

MISSING = "n/a"


def format_number(value: Any, decimals: int = 2) -> str:
    """Format a number at fixed decimals. None and NaN become "n/a", and -0.00 becomes 0.00."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return MISSING
    text = f"{float(value):.{decimals}f}"
    return f"{0.0:.{decimals}f}" if float(text) == 0 else text


def format_percent(rate: Any) -> str:
    """Format a rate from 0 to 1 as a percentage with one decimal, or "n/a"."""
    if rate is None or (isinstance(rate, float) and not math.isfinite(rate)):
        return MISSING
    return f"{100 * float(rate):.1f}%"


def format_p(value: Any) -> str:
    """Format a p value with three decimals, or "< 0.001" below that; "n/a" when missing."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return MISSING
    return "< 0.001" if float(value) < 0.001 else f"{float(value):.3f}"
